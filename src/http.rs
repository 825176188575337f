//! One HTTP client for both services: timeouts, retries with jittered backoff, an overall
//! deadline, proxies and trust roots (via `network`), and the mapping of AWS error responses
//! (docs/refresh-and-locking.md, docs/sso-services.md).
//!
//! A request that must not arrive twice (one carrying a refresh token, which the service may
//! rotate) is sent again only when the earlier try provably never reached the service (no
//! connection was made) or the service itself answered 429 or 5xx; a timeout, a connection broken
//! after it was made, or a gateway's 502/504 may hide an answer that was given (see
//! docs/reliability.md).
//!
//! The ureq agents are built on the first request, never before: a plain one for `http://`
//! endpoints, and one per CA bundle for TLS, whose root set (platform store, Mozilla roots, the
//! bundle) is loaded only then. The credential cache-hit path costs nothing here. Requests and responses carry secrets
//! (bearer tokens, refresh tokens), so neither type implements Debug, and nothing here logs a
//! header or a body.

use crate::network::{self, CaBundle, NetworkError, ProxyConfig, Route};
use crate::sanitize::{host_of, sanitize};
use serde_json::{Map, Value};
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
pub const MAX_TRIES: u32 = 3;
/// First backoff step; each retry doubles it, and the actual pause is a random part of it.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest pause between tries, including a server's Retry-After.
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// Largest response body we read.
const BODY_LIMIT: u64 = 1 << 20;

#[derive(Clone)]
pub struct HttpSettings {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// No request starts, and none runs, past this instant.
    pub deadline: Option<Instant>,
    pub max_tries: u32,
    pub proxies: ProxyConfig,
    pub debug: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            user_agent: format!("aws-sso-process/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            deadline: None,
            max_tries: MAX_TRIES,
            proxies: ProxyConfig::default(),
            debug: false,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    /// Only for the start URL's redirect (docs/login.md): the answer has no body.
    Head,
    Post,
}

/// One API call. `op` names the operation in messages ("CreateToken").
pub struct Request<'a> {
    pub op: &'static str,
    pub method: Method,
    /// Base endpoint plus path, without a query string.
    pub url: String,
    pub query: Vec<(&'static str, &'a str)>,
    pub headers: Vec<(&'static str, &'a str)>,
    pub body: Option<Vec<u8>>,
    /// Extra certificate authorities for this endpoint (`AWS_CA_BUNDLE` / `ca_bundle`).
    pub ca_bundle: Option<&'a CaBundle>,
    /// Whether sending it twice does no harm. `false`: a try that may have reached the service is
    /// not repeated (see `worth_another_try`).
    pub idempotent: bool,
    /// An instant this call, every try included, must not outlast (besides the run's deadline).
    pub deadline: Option<Instant>,
    /// The query carries credentials (the console's getSigninToken): never sent in clear text
    /// through a proxy, and no message of the HTTP client that might repeat the URL is kept.
    pub secret_query: bool,
}

pub struct Response {
    pub op: &'static str,
    pub host: String,
    pub status: u16,
    /// `x-amzn-ErrorType`, when the service sent it.
    pub error_type: Option<String>,
    /// `Retry-After` in seconds, when sent.
    pub retry_after: Option<Duration>,
    /// `Location`, when sent (redirects are never followed here).
    pub location: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum HttpErrorKind {
    /// No connection was made (refused, unreachable, connect timed out): nothing was sent.
    Connect(String),
    /// The connection broke after it was made (reset, closed early): the request may have arrived.
    Broken(String),
    /// No complete answer in time: the request may have arrived.
    Timeout,
    /// The run's overall deadline passed.
    Deadline,
    /// The TLS handshake failed (most often: a certificate no trusted root vouches for).
    Tls(String),
    /// The proxy would not open a tunnel to the host.
    Proxy(String),
    /// The network settings cannot be used (CA bundle, proxy URL); nothing was sent.
    Setup(NetworkError),
    /// Anything else ureq reports (bad URL, TLS, protocol).
    Other(String),
}

#[derive(Debug)]
pub struct HttpError {
    pub op: &'static str,
    pub host: String,
    pub kind: HttpErrorKind,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let HttpError { op, host, kind } = self;
        match kind {
            HttpErrorKind::Connect(why) | HttpErrorKind::Broken(why) => {
                write!(f, "{op} request to {host} failed: {why}")
            }
            HttpErrorKind::Timeout => write!(f, "{op} request to {host} timed out"),
            HttpErrorKind::Deadline => write!(f, "{op} request to {host} gave up: the run's time limit was reached"),
            HttpErrorKind::Tls(why) => write!(f, "{op} request to {host} failed: TLS handshake failed: {why}"),
            HttpErrorKind::Proxy(why) => write!(f, "{op} request to {host} failed: {why}"),
            HttpErrorKind::Setup(why) => write!(f, "{op} request to {host} was not sent: {why}"),
            HttpErrorKind::Other(why) => write!(f, "{op} request to {host} failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl HttpError {
    /// Whether the request may have reached the service: false only when it provably did not (no
    /// connection, no proxy tunnel, nothing sent). A TLS error may come after the request went out.
    pub fn may_have_arrived(&self) -> bool {
        !matches!(
            self.kind,
            HttpErrorKind::Connect(_) | HttpErrorKind::Proxy(_) | HttpErrorKind::Setup(_) | HttpErrorKind::Deadline
        )
    }
}

/// An error answer from a service, or an answer that is not what the API promises.
#[derive(Debug)]
pub struct ServiceError {
    pub op: &'static str,
    pub host: String,
    pub status: u16,
    /// The error shape name (`InvalidGrantException`), or `MalformedResponse`.
    pub code: String,
    /// The service's description, sanitised and shortened; never a token.
    pub message: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} failed with HTTP {}: {}", self.op, self.host, self.status, self.code)?;
        if !self.message.is_empty() {
            write!(f, " ({})", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// What an API call can fail with: the transport, or the service's answer.
#[derive(Debug)]
pub enum CallError {
    Http(HttpError),
    Service(ServiceError),
}

impl CallError {
    /// A 2xx answer from `url` whose body does not fit the API of `op`.
    pub fn malformed(op: &'static str, url: &str, what: String) -> CallError {
        CallError::Service(ServiceError {
            op,
            host: host_of(url),
            status: 200,
            code: ServiceError::MALFORMED.to_owned(),
            message: what,
        })
    }

    /// Whether the request may have done its work at the service without its answer reaching
    /// us: a transport error after it may have arrived, or a gateway's 502/504 (it passed the
    /// request on and got no good answer back).
    pub fn answer_may_be_lost(&self) -> bool {
        match self {
            CallError::Http(e) => e.may_have_arrived(),
            CallError::Service(e) => is_gateway_failure(e.status),
        }
    }

    /// The service error shape, when the service answered with one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            CallError::Service(e) => Some(e),
            CallError::Http(_) => None,
        }
    }
}

impl ServiceError {
    pub const MALFORMED: &'static str = "MalformedResponse";

    /// The error of a non-2xx response, worked out the way botocore does (docs/sso-services.md).
    pub fn from_response(resp: &Response) -> ServiceError {
        let body: Option<Map<String, Value>> = serde_json::from_slice(&resp.body).ok();
        let text = |key: &str| body.as_ref().and_then(|b| b.get(key)).and_then(Value::as_str).map(str::to_owned);
        let code = resp
            .error_type
            .clone()
            .or_else(|| text("code"))
            .or_else(|| text("Code"))
            .or_else(|| text("__type"))
            .map(|c| shape_name(&c))
            .or_else(|| text("error").map(|e| oauth_error_shape(&e)))
            .unwrap_or_else(|| {
                if body.is_none() && !resp.body.is_empty() {
                    format!("HTTP {} with a body that is not JSON", resp.status)
                } else {
                    resp.status.to_string()
                }
            });
        let message =
            text("error_description").or_else(|| text("message")).or_else(|| text("Message")).unwrap_or_default();
        ServiceError { op: resp.op, host: resp.host.clone(), status: resp.status, code, message: short(&message) }
    }

    /// A 2xx answer whose body does not fit the API.
    pub fn malformed(resp: &Response, what: impl Into<String>) -> ServiceError {
        ServiceError {
            op: resp.op,
            host: resp.host.clone(),
            status: resp.status,
            code: Self::MALFORMED.to_owned(),
            message: what.into(),
        }
    }

    pub fn is(&self, shape: &str) -> bool {
        self.code == shape
    }
}

/// `AuthorizationPendingException:http://internal.amazon.com/coral/...` → `AuthorizationPendingException`;
/// `com.amazonaws.switchboard.portal#UnauthorizedException` → `UnauthorizedException`.
/// Sanitised and shortened like the message: it comes from the server and reaches the terminal.
fn shape_name(raw: &str) -> String {
    let cut = raw.split(':').next().unwrap_or(raw);
    short(cut.rsplit('#').next().unwrap_or(cut).trim())
}

/// OAuth `error` values of SSO OIDC bodies, as shape names.
fn oauth_error_shape(error: &str) -> String {
    match error {
        "authorization_pending" => "AuthorizationPendingException",
        "slow_down" => "SlowDownException",
        "expired_token" => "ExpiredTokenException",
        "access_denied" => "AccessDeniedException",
        "invalid_client" => "InvalidClientException",
        "invalid_grant" => "InvalidGrantException",
        "invalid_request" => "InvalidRequestException",
        "invalid_scope" => "InvalidScopeException",
        "unauthorized_client" => "UnauthorizedClientException",
        "unsupported_grant_type" => "UnsupportedGrantTypeException",
        "invalid_client_metadata" => "InvalidClientMetadataException",
        "invalid_redirect_uri" => "InvalidRedirectUriException",
        "server_error" => "InternalServerException",
        other => return sanitize(other),
    }
    .to_owned()
}

/// Server text for a message: without any secret of this run (removed before the cut, see
/// `sanitize`), inert, at most 200 characters.
fn short(s: &str) -> String {
    crate::sanitize::shortened(s, 200)
}

pub struct Http {
    settings: HttpSettings,
    /// For `http://` endpoints reached directly or through an `http://` proxy: no roots at all,
    /// so it can never make an unverified TLS connection.
    plain: OnceCell<ureq::Agent>,
    /// Platform and Mozilla roots, loaded on the first TLS request.
    base_roots: OnceCell<Vec<ureq::tls::Certificate<'static>>>,
    /// One TLS agent per CA bundle used in this run (normally one). Agents are cheap handles.
    tls: RefCell<Vec<(Option<PathBuf>, ureq::Agent)>>,
    /// Starts as `settings.deadline`; a login lifts it while the user signs in (minutes), then sets a new one.
    deadline: Cell<Option<Instant>>,
}

impl Http {
    pub fn new(settings: HttpSettings) -> Http {
        let deadline = Cell::new(settings.deadline);
        Http { settings, plain: OnceCell::new(), base_roots: OnceCell::new(), tls: RefCell::new(Vec::new()), deadline }
    }

    /// Replaces the overall deadline (`None`: only the per-request timeouts apply).
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
    }

    fn config(&self, roots: ureq::tls::RootCerts) -> ureq::Agent {
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(self.settings.connect_timeout))
            .timeout_global(Some(self.settings.request_timeout))
            .user_agent(&self.settings.user_agent)
            .max_redirects(0)
            // Never the proxy ureq would read from the process environment: each request sets
            // its own route (see `network`).
            .proxy(None)
            .tls_config(tls)
            .build();
        // ureq's connector, but `http://` through a proxy in absolute form (see `network`).
        let connector = network::Connector::new(config.clone());
        ureq::Agent::with_parts(config, connector, ureq::unversioned::resolver::DefaultResolver::default())
    }

    /// The agent for a request: plain when no TLS is involved, else the one trusting `bundle`.
    fn agent(&self, needs_tls: bool, bundle: Option<&CaBundle>) -> Result<ureq::Agent, NetworkError> {
        if !needs_tls {
            return Ok(self
                .plain
                .get_or_init(|| self.config(ureq::tls::RootCerts::Specific(Default::default())))
                .clone());
        }
        let key = bundle.map(|b| b.path.clone());
        if let Some((_, agent)) = self.tls.borrow().iter().find(|(k, _)| *k == key) {
            return Ok(agent.clone());
        }
        let started = Instant::now();
        let extra = bundle.map(network::load_bundle).transpose()?.unwrap_or_default();
        let extra_count = extra.len();
        let base = self.base_roots.get_or_init(|| {
            let (roots, from_platform) = network::base_roots();
            self.debug(|| {
                format!("trust roots: {from_platform} from the platform store, {} bundled", roots.len() - from_platform)
            });
            roots
        });
        let agent = self.config(network::root_set(base, extra));
        self.debug(|| match bundle {
            Some(b) => format!(
                "trust roots: {extra_count} more from {} ({}); set up in {} ms",
                b.path.display(),
                b.source_name,
                started.elapsed().as_millis()
            ),
            None => format!("trust roots set up in {} ms", started.elapsed().as_millis()),
        });
        self.tls.borrow_mut().push((key, agent.clone()));
        Ok(agent)
    }

    fn debug(&self, message: impl FnOnce() -> String) {
        if self.settings.debug {
            errln!("aws-sso-process: debug: {}", sanitize(&message()));
        }
    }

    /// Sends `req`, retrying 429, 5xx and broken connections (at most `max_tries` tries, jittered
    /// exponential backoff, never past the deadline). Any status comes back as a `Response`.
    pub fn send(&self, req: &Request) -> Result<Response, HttpError> {
        let host = host_of(&req.url);
        let setup = |e: NetworkError| HttpError { op: req.op, host: host.clone(), kind: HttpErrorKind::Setup(e) };
        let route = self.settings.proxies.route(&req.url).map_err(setup)?;
        let https = is_https(&req.url);
        if let Some(route) = route.as_ref().filter(|_| req.secret_query && !https) {
            return Err(HttpError {
                op: req.op,
                host: host.clone(),
                kind: HttpErrorKind::Proxy(format!(
                    "plain http through the proxy {} ({}) would put credentials in its access log; add {host} to \
                     NO_PROXY, or use https",
                    route.shown, route.var
                )),
            });
        }
        let agent = self.agent(https || route.as_ref().is_some_and(|r| r.tls), req.ca_bundle).map_err(setup)?;
        self.debug(|| match &route {
            Some(r) => format!(
                "{} {host}: through the proxy {} ({}), {}",
                req.op,
                r.shown,
                r.var,
                if https { "in a CONNECT tunnel" } else { "in absolute form" }
            ),
            None if self.settings.proxies.is_empty() => format!("{} {host}: direct", req.op),
            None => format!("{} {host}: direct (no proxy for this host)", req.op),
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let timeout = match self.remaining(req) {
                Some((left, limit)) if left < Duration::from_millis(50) => {
                    // The run's deadline is its own error; a call's own time limit is a timeout.
                    let kind = if limit == Limit::Run { HttpErrorKind::Deadline } else { HttpErrorKind::Timeout };
                    return Err(HttpError { op: req.op, host, kind });
                }
                Some((left, _)) => left.min(self.settings.request_timeout),
                None => self.settings.request_timeout,
            };
            let mut result = self.send_once(&agent, route.as_ref(), req, &host, timeout);
            if req.secret_query
                && let Err(HttpError { kind: HttpErrorKind::Other(text), .. }) = &mut result
                && !text.starts_with(HOST_NOT_FOUND)
            {
                // ureq's messages for a bad URI and the like repeat the URL, query included.
                *text = "the HTTP client refused the request URL".to_owned();
            }
            self.debug(|| {
                let outcome = match &result {
                    Ok(r) => format!("HTTP {}", r.status),
                    Err(e) => e.to_string(),
                };
                format!("{} {host} try {attempt}: {outcome} in {} ms", req.op, started.elapsed().as_millis())
            });
            if !worth_another_try(&result, req.idempotent) || attempt >= self.settings.max_tries {
                return result;
            }
            let pause = pause(attempt, result.as_ref().ok().and_then(|r| r.retry_after));
            if self.remaining(req).is_some_and(|(left, _)| left <= pause) {
                return result;
            }
            std::thread::sleep(pause);
        }
    }

    /// Time left for `req`: until the run's deadline or the request's own, whichever comes first.
    fn remaining(&self, req: &Request) -> Option<(Duration, Limit)> {
        let run = self.deadline.get().map(|d| (d, Limit::Run));
        let own = req.deadline.map(|d| (d, Limit::Call));
        let (at, limit) = match (run, own) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some((at.saturating_duration_since(Instant::now()), limit))
    }

    fn send_once(
        &self,
        agent: &ureq::Agent,
        route: Option<&Route>,
        req: &Request,
        host: &str,
        timeout: Duration,
    ) -> Result<Response, HttpError> {
        let err = |kind| HttpError { op: req.op, host: host.to_owned(), kind };
        let proxy = route.map(|r| r.proxy.clone());
        let result = match req.method {
            Method::Get | Method::Head => {
                let b = match req.method {
                    Method::Head => agent.head(&req.url),
                    _ => agent.get(&req.url),
                };
                let mut b = b.config().timeout_global(Some(timeout)).proxy(proxy).build();
                for (k, v) in &req.query {
                    b = b.query(*k, *v);
                }
                for (k, v) in &req.headers {
                    b = b.header(*k, *v);
                }
                b.call()
            }
            Method::Post => {
                let mut b = agent.post(&req.url).config().timeout_global(Some(timeout)).proxy(proxy).build();
                for (k, v) in &req.query {
                    b = b.query(*k, *v);
                }
                for (k, v) in &req.headers {
                    b = b.header(*k, *v);
                }
                // JSON unless the caller names its own type (STS's form-encoded Query API).
                let typed = req.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
                match &req.body {
                    Some(body) if typed => b.send(&body[..]),
                    Some(body) => b.header("content-type", "application/json").send(&body[..]),
                    None => b.send_empty(),
                }
            }
        };
        let mut resp = result.map_err(|e| err(classify(e, route)))?;
        let status = resp.status().as_u16();
        // Plain HTTP through a proxy goes in absolute form (see `network`): a 407 is the proxy's
        // own answer, never the service's, and so is an error that the proxy marks as its own.
        if route.is_some() && !is_https(&req.url) && (status == 407 || (status >= 400 && from_proxy(&resp))) {
            return Err(err(HttpErrorKind::Proxy(proxy_refusal(&status.to_string(), route, "request"))));
        }
        let error_type = resp.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body =
            resp.body_mut().with_config().limit(BODY_LIMIT).read_to_vec().map_err(|e| err(classify(e, route)))?;
        Ok(Response { op: req.op, host: host.to_owned(), status, error_type, retry_after, location, body })
    }
}

/// Which time limit applies to a call.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Limit {
    Run,
    Call,
}

/// Whether a try that failed is worth another one (tries and time permitting). Throttling, server
/// errors and transport failures may pass. A request that must not arrive twice is repeated only
/// when the earlier try provably did not arrive (no connection was made) or the service answered
/// it: not after a timeout, a connection broken after it was made, or a gateway's 502/504.
fn worth_another_try(result: &Result<Response, HttpError>, idempotent: bool) -> bool {
    match result {
        Ok(r) => status_worth_another_try(r.status, idempotent),
        Err(e) => failure_worth_another_try(&e.kind, idempotent),
    }
}

fn status_worth_another_try(status: u16, idempotent: bool) -> bool {
    status == 429 || (status >= 500 && (idempotent || !is_gateway_failure(status)))
}

fn failure_worth_another_try(kind: &HttpErrorKind, idempotent: bool) -> bool {
    match kind {
        HttpErrorKind::Connect(_) => true,
        HttpErrorKind::Broken(_) | HttpErrorKind::Timeout => idempotent,
        _ => false,
    }
}

/// The same rule for callers that retry whole (idempotent) calls themselves, such as `list`, whose
/// every try must also wait for the rate limiter.
pub fn call_worth_another_try(e: &CallError) -> bool {
    match e {
        CallError::Service(e) => status_worth_another_try(e.status, true),
        CallError::Http(e) => failure_worth_another_try(&e.kind, true),
    }
}

/// 502 Bad Gateway and 504 Gateway Timeout: an intermediary passed the request on and got no
/// (good) answer back, so the service may have acted on it.
fn is_gateway_failure(status: u16) -> bool {
    matches!(status, 502 | 504)
}

/// Whether an error answer is the proxy's own: Squid's `X-Squid-Error`, or a `Proxy-Status`
/// naming an error (RFC 9209), rather than an answer of the server passed on.
fn from_proxy<B>(resp: &ureq::http::Response<B>) -> bool {
    let headers = resp.headers();
    headers.contains_key("x-squid-error")
        || headers.get_all("proxy-status").iter().any(|v| v.to_str().is_ok_and(|v| v.contains("error=")))
}

fn is_https(url: &str) -> bool {
    url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or_default())
}

/// The pause before try `attempt + 1`: jittered backoff, or longer when the server asked for it
/// with Retry-After (honoured up to the cap).
fn pause(attempt: u32, retry_after: Option<Duration>) -> Duration {
    backoff(attempt).max(retry_after.unwrap_or_default().min(BACKOFF_CAP))
}

/// What a ureq error says, and in particular whether the request provably never left: only a
/// connection that was never made proves that. ureq names the phase of a timeout when the phase's
/// own limit ran out (resolve, connect); a timeout of the whole call may have come at any phase.
/// The I/O errors kept as `Connect` are the ones `connect(2)` gives: an established TCP
/// connection reports a reset (ECONNRESET), not a refusal, and an unreachable host only after
/// minutes of retransmissions, beyond any of our time limits (docs/reliability.md).
/// Our own words for a name that does not resolve (no URL in them).
const HOST_NOT_FOUND: &str = "host not found";

fn classify(e: ureq::Error, route: Option<&Route>) -> HttpErrorKind {
    let kind = classify_error(e, route);
    // Through a proxy, the connection that was never made, or the host that was not found, is the
    // proxy's: say which one, and where its setting came from (docs/networks.md).
    match (kind, route) {
        (HttpErrorKind::Connect(why), Some(route)) => {
            HttpErrorKind::Connect(format!("{why} at the proxy {}", route.named()))
        }
        (HttpErrorKind::Other(why), Some(route)) if why == HOST_NOT_FOUND => {
            HttpErrorKind::Other(format!("{why} for the proxy {}", route.named()))
        }
        (kind, _) => kind,
    }
}

fn classify_error(e: ureq::Error, route: Option<&Route>) -> HttpErrorKind {
    use std::io::ErrorKind::{AddrNotAvailable, ConnectionRefused, HostUnreachable, NetworkUnreachable};
    match e {
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            HttpErrorKind::Connect("no connection within the connect timeout".to_owned())
        }
        ureq::Error::Timeout(_) => HttpErrorKind::Timeout,
        ureq::Error::Io(io) => match io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(tls) => HttpErrorKind::Tls(sanitize(&tls.to_string())),
            None if matches!(
                io.kind(),
                ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable
            ) =>
            {
                HttpErrorKind::Connect(io_reason(&io))
            }
            None => HttpErrorKind::Broken(io_reason(&io)),
        },
        ureq::Error::Rustls(tls) => HttpErrorKind::Tls(sanitize(&tls.to_string())),
        ureq::Error::ConnectionFailed => HttpErrorKind::Connect("connection failed".to_owned()),
        ureq::Error::HostNotFound => HttpErrorKind::Other(HOST_NOT_FOUND.to_owned()),
        ureq::Error::ConnectProxyFailed(why) => HttpErrorKind::Proxy(proxy_refusal(&why, route, "tunnel")),
        other => HttpErrorKind::Other(sanitize(&other.to_string())),
    }
}

/// ureq's "proxy server responded 407/407" (or the status of an absolute-form request, `what`
/// being "request" then) as a sentence naming the proxy and the status.
fn proxy_refusal(why: &str, route: Option<&Route>, what: &str) -> String {
    let proxy = route.map(|r| format!(" {} ({})", r.shown, r.var)).unwrap_or_default();
    let status = why.split(|c: char| !c.is_ascii_digit()).find(|t| t.len() == 3);
    match status {
        Some("407") => {
            let var = route.map(|r| r.var).unwrap_or("the proxy variable");
            format!("the proxy{proxy} refused the {what} with HTTP 407: check the user and password in {var}")
        }
        Some(code) => format!("the proxy{proxy} refused the {what} with HTTP {code}"),
        None => format!("the proxy{proxy} did not open a tunnel: {}", sanitize(why)),
    }
}

fn io_reason(io: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match io.kind() {
        ConnectionRefused => "connection refused (nothing listening)".to_owned(),
        ConnectionReset => "connection reset".to_owned(),
        ConnectionAborted => "connection aborted".to_owned(),
        UnexpectedEof => "connection closed before a complete response".to_owned(),
        TimedOut => "timed out".to_owned(),
        _ => sanitize(&io.to_string()),
    }
}

/// Jittered exponential backoff: before try `attempt + 1`, a random pause in the upper half of
/// base·2ⁿ⁻¹, capped.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn pause(self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1 << (attempt.max(1) - 1).min(10)).min(self.cap);
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let millis = ceiling.as_millis() as u64;
        Duration::from_millis(millis / 2 + random % (millis / 2 + 1))
    }
}

/// The client's own backoff.
const BACKOFF: Backoff = Backoff { base: BACKOFF_BASE, cap: BACKOFF_CAP };

fn backoff(attempt: u32) -> Duration {
    BACKOFF.pause(attempt)
}

/// A 2xx response's body as a JSON object, or a `MalformedResponse` error.
pub fn json_object(resp: &Response) -> Result<Map<String, Value>, ServiceError> {
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ServiceError::malformed(
            resp,
            format!("expected a JSON object, got {}", crate::cache::json_kind(&other)),
        )),
        Err(_) => Err(ServiceError::malformed(resp, "the response is not JSON (a proxy or captive portal answering?)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_request(url: &str) -> Request<'static> {
        Request {
            op: "GetSigninToken",
            method: Method::Get,
            url: url.to_owned(),
            query: vec![("Action", "getSigninToken"), ("Session", "{\"sessionKey\":\"SECRET-DO-NOT-LEAK\"}")],
            headers: Vec::new(),
            body: None,
            ca_bundle: None,
            idempotent: true,
            deadline: None,
            secret_query: true,
        }
    }

    #[test]
    fn a_request_with_credentials_in_its_query_never_shows_them_and_never_goes_through_a_proxy() {
        let http = Http::new(HttpSettings { max_tries: 1, ..HttpSettings::default() });
        // The HTTP client's own messages (here: a scheme it does not know) are withheld, since
        // some of them repeat the URL; connection errors, which never do, stay.
        let e = http.send(&secret_request("httpx://127.0.0.1:1/federation")).err().unwrap().to_string();
        assert!(e.ends_with("failed: the HTTP client refused the request URL"), "{e}");
        let e = http.send(&secret_request("http://127.0.0.1:1/federation")).err().unwrap().to_string();
        assert!(e.contains("connection refused"), "{e}");
        // Plain http through a proxy would put the query in the proxy's access log: refused unsent.
        let proxies = ProxyConfig::from_env(|k| (k == "HTTP_PROXY").then(|| "http://127.0.0.1:9".to_owned()));
        let http = Http::new(HttpSettings { proxies, ..HttpSettings::default() });
        let e = http.send(&secret_request("http://127.0.0.1:1/federation")).err().unwrap();
        assert!(matches!(e.kind, HttpErrorKind::Proxy(_)), "{e}");
        assert!(e.to_string().contains("NO_PROXY"), "{e}");
    }

    fn resp(status: u16, error_type: Option<&str>, body: &str) -> Response {
        Response {
            op: "CreateToken",
            host: "oidc.example".into(),
            status,
            error_type: error_type.map(str::to_owned),
            retry_after: None,
            location: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_code_rules_of_b15() {
        let cases = [
            (
                resp(
                    400,
                    Some("AuthorizationPendingException:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"),
                    r#"{"error":"authorization_pending","error_description":"Authorization is still pending"}"#,
                ),
                "AuthorizationPendingException",
            ),
            (resp(400, None, r#"{"error":"invalid_grant","error_description":"x"}"#), "InvalidGrantException"),
            (resp(401, None, r#"{"error":"invalid_client"}"#), "InvalidClientException"),
            (resp(500, None, r#"{"error":"server_error"}"#), "InternalServerException"),
            (
                resp(
                    401,
                    None,
                    r#"{"message":"Session token not found or invalid","__type":"com.amazonaws.switchboard.portal#UnauthorizedException"}"#,
                ),
                "UnauthorizedException",
            ),
            (resp(429, None, r#"{"code":"TooManyRequestsException"}"#), "TooManyRequestsException"),
            (resp(503, None, ""), "503"),
            (resp(502, None, "<html>bad gateway</html>"), "HTTP 502 with a body that is not JSON"),
        ];
        for (r, want) in cases {
            assert_eq!(ServiceError::from_response(&r).code, want);
        }
        let e = ServiceError::from_response(&resp(
            400,
            None,
            r#"{"error":"invalid_grant","error_description":"bad\u001b[31m"}"#,
        ));
        assert_eq!(e.message, "bad?[31m");
        assert_eq!(e.to_string(), "CreateToken at oidc.example failed with HTTP 400: InvalidGrantException (bad?[31m)");
    }

    #[test]
    fn error_codes_are_sanitised_like_messages() {
        // Found by the service_error fuzz target: the code came through verbatim.
        let mut r = resp(502, Some("Bad\u{1b}[31mgateway"), "");
        assert_eq!(ServiceError::from_response(&r).code, "Bad?[31mgateway");
        r = resp(400, None, r#"{"__type":"x#Evil\u0007Exception","message":"m"}"#);
        let e = ServiceError::from_response(&r);
        assert_eq!(e.code, "Evil?Exception");
        assert!(!e.to_string().chars().any(char::is_control));
        r = resp(400, None, &format!(r#"{{"code":"{}"}}"#, "A".repeat(500)));
        assert!(ServiceError::from_response(&r).code.chars().count() <= 201);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let b = backoff(attempt);
            assert!(pause(attempt, None) <= BACKOFF_CAP);
            assert!(b <= BACKOFF_CAP, "{attempt}: {b:?}");
            assert!(b >= BACKOFF_BASE / 2, "{attempt}: {b:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        assert!(pause(1, Some(Duration::from_secs(1))) == Duration::from_secs(1));
        assert!(pause(1, Some(Duration::from_secs(0))) <= BACKOFF_BASE);
        assert_eq!(pause(1, Some(Duration::from_secs(120))), BACKOFF_CAP);
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z").unwrap().to_utc();
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:02 GMT", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn what_is_tried_again() {
        let err = |kind| Err(HttpError { op: "CreateToken", host: "h".into(), kind });
        let status = |code| Ok(resp(code, None, ""));
        let refused = || err(classify(ureq::Error::Io(std::io::ErrorKind::ConnectionRefused.into()), None));
        let reset = || err(classify(ureq::Error::Io(std::io::ErrorKind::ConnectionReset.into()), None));
        let eof = || err(classify(ureq::Error::Io(std::io::ErrorKind::UnexpectedEof.into()), None));
        let connect_timeout = || err(classify(ureq::Error::Timeout(ureq::Timeout::Connect), None));
        let call_timeout = || err(classify(ureq::Error::Timeout(ureq::Timeout::Global), None));
        let answer_timeout = || err(classify(ureq::Error::Timeout(ureq::Timeout::RecvResponse), None));
        // (result, tried again when idempotent, when not, may have arrived)
        let cases: Vec<(Result<Response, HttpError>, bool, bool, bool)> = vec![
            (refused(), true, true, false),
            (connect_timeout(), true, true, false),
            (err(HttpErrorKind::Connect("connection failed".into())), true, true, false),
            (reset(), true, false, true),
            (eof(), true, false, true),
            (call_timeout(), true, false, true),
            (answer_timeout(), true, false, true),
            (err(HttpErrorKind::Tls("bad certificate".into())), false, false, true),
            (err(HttpErrorKind::Proxy("407".into())), false, false, false),
            (err(HttpErrorKind::Deadline), false, false, false),
            (err(HttpErrorKind::Other("host not found".into())), false, false, true),
            (status(429), true, true, false),
            (status(500), true, true, false),
            (status(503), true, true, false),
            (status(502), true, false, false),
            (status(504), true, false, false),
            (status(400), false, false, false),
            (status(200), false, false, false),
        ];
        for (i, (result, idempotent, once, arrived)) in cases.into_iter().enumerate() {
            assert_eq!(worth_another_try(&result, true), idempotent, "case {i}");
            assert_eq!(worth_another_try(&result, false), once, "case {i}");
            if let Err(e) = &result {
                assert_eq!(e.may_have_arrived(), arrived, "case {i}: {e}");
            }
        }
        let gateway = |code| CallError::Service(ServiceError::from_response(&resp(code, None, "")));
        assert!(gateway(504).answer_may_be_lost() && gateway(502).answer_may_be_lost());
        assert!(!gateway(500).answer_may_be_lost() && !gateway(400).answer_may_be_lost());
    }

    #[test]
    fn html_with_200_is_malformed() {
        let e = json_object(&resp(200, None, "<html>login</html>")).unwrap_err();
        assert_eq!(e.code, ServiceError::MALFORMED);
        assert!(e.to_string().contains("not JSON"), "{e}");
    }
}
