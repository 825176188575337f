//! Logging in to an SSO session the way `aws sso login` does (docs/shared-cache.md, docs/login-flows.md), writing the same
//! files so the AWS CLI and every SDK share the session.
//!
//! - The start URL is resolved first (`start_url`): a vanity URL's one redirect gives the URL for
//!   RegisterClient's `issuerUrl` and StartDeviceAuthorization, and may give the region.
//! - The client registration is the CLI's (docs/login.md): same fields, under a CLI cache key
//!   that describes what is stored there (the scopes registered with, for the flow), so the two tools
//!   reuse each other's registration when it fits and never put a different one under the other's key.
//!   Reused while at least 15 minutes remain and its grant types suit the flow.
//! - Authorization code + PKCE (docs/login-flows.md) for sso-sessions: a one-shot listener on 127.0.0.1, the
//!   `/authorize` URL on the resolved OIDC endpoint, `state` checked, 10 minutes at most.
//! - Device code (docs/login-flows.md) for legacy profiles, on request, and when there is no display or
//!   the session is remote (docs/login-flows.md): one CreateToken before the prompt, `slow_down` adds 5 s
//!   for good, `expired_token` and our own `expiresIn` deadline end it.
//! - Single-flight (docs/refresh-and-locking.md): the login runs under the session's token lock, so a second login
//!   (or auto-login) waits, then finds the fresh token and uses it instead of opening a browser.
//!
//! The token file (docs/shared-cache.md) is written atomically, under that lock, in the CLI's field order.

use crate::cache;
use crate::context::{Context, RUN_DEADLINE};
use crate::endpoints::Service;
use crate::error::Error;
use crate::http::CallError;
use crate::lock::{LockError, LockGuard};
use crate::oidc::{Oidc, TokenResponse};
use crate::prompt::Prompt;
use crate::sanitize::sanitize;
use crate::secret::Secret;
use crate::session::CachedToken;
use crate::start_url;
use crate::target::SessionTarget;
use crate::timefmt;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a login waits for another process's login of the same session.
pub const LOGIN_LOCK_WAIT: Duration = Duration::from_secs(600);
/// How long the PKCE flow waits for the browser to come back (the CLI's 600 s).
pub const PKCE_TIMEOUT: Duration = Duration::from_secs(600);
/// A cached registration is reused while at least this much of it remains (the CLI's rule).
pub const REGISTRATION_MIN_LEFT: TimeDelta = TimeDelta::minutes(15);
/// A token another process just obtained is used when more than this remains.
pub const FRESH_ENOUGH: TimeDelta = TimeDelta::minutes(15);
/// `interval` when StartDeviceAuthorization sends none (CLI v2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: `slow_down` adds this to the polling interval, for the rest of the login.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
pub const DEFAULT_SCOPES: [&str; 1] = ["sso:account:access"];
/// The registered redirect URI has no port; /authorize and CreateToken add the listener's (docs/login-flows.md).
pub const REGISTERED_REDIRECT_URI: &str = "http://127.0.0.1/oauth/callback";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const PKCE_GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];
/// Per-connection read limit and timeout on the redirect listener.
const CALLBACK_READ_TIMEOUT: Duration = Duration::from_secs(10);
const CALLBACK_MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Pkce,
    Device,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub flow: Flow,
    /// Open the browser (else only print the URL).
    pub open_browser: bool,
    pub redirect_port: Option<u16>,
}

/// Why a login runs, which decides when another process's fresh token makes it unnecessary.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The `login` command: always a new token, unless another login finished while we waited.
    Explicit,
    /// credential_process found the session gone: any token with more than 15 min left will do,
    /// except `distrusted`, one the portal already rejected.
    Auto { distrusted: Option<Secret> },
}

#[derive(Debug)]
pub enum Outcome {
    LoggedIn {
        expires_at: DateTime<Utc>,
    },
    /// Another process logged in (or refreshed) while this one waited for the lock.
    Reused {
        access_token: Secret,
        expires_at: DateTime<Utc>,
    },
}

/// The flow `login` uses: device code for legacy sessions, when asked, or on a remote or
/// display-less machine unless `--redirect-port` says a port is forwarded. The note says why the
/// device code flow was picked automatically.
pub fn choose_flow(
    ctx: &Context,
    target: &SessionTarget,
    use_device_code: bool,
    redirect_port: Option<u16>,
) -> Result<(Flow, Option<&'static str>), Error> {
    if target.session.name.is_none() {
        if redirect_port.is_some() {
            return Err(Error::Usage(
                "--redirect-port needs an sso-session: legacy profiles (sso_start_url in the profile) log in with a device code"
                    .into(),
            ));
        }
        return Ok((Flow::Device, None));
    }
    if use_device_code {
        return Ok((Flow::Device, None));
    }
    if redirect_port.is_some() {
        return Ok((Flow::Pkce, None));
    }
    if ctx.is_remote() {
        return Ok((Flow::Device, Some("this is an SSH session")));
    }
    if !ctx.has_display() {
        return Ok((Flow::Device, Some("there is no display (DISPLAY, WAYLAND_DISPLAY)")));
    }
    Ok((Flow::Pkce, None))
}

/// Logs in to `target` once, whatever the number of processes trying at the same time.
pub fn login(ctx: &Context, target: &SessionTarget, opts: &Options, mode: &Mode) -> Result<Outcome, Error> {
    let path = target.token_path.clone();
    let prompt = Prompt::open(ctx);
    // Waiting for another login and the login itself may take minutes: lift the run's deadline,
    // and give whatever follows (GetRoleCredentials) a fresh one.
    ctx.reset_deadline(None);
    let result = login_locked(ctx, target, opts, mode, &path, &prompt);
    ctx.reset_deadline(Some(RUN_DEADLINE));
    result
}

fn login_locked(
    ctx: &Context,
    target: &SessionTarget,
    opts: &Options,
    mode: &Mode,
    path: &Path,
    prompt: &Prompt,
) -> Result<Outcome, Error> {
    let before = current_token(path).map(|t| t.access_token);
    let (_guard, waited) = match LockGuard::acquire(path, Duration::ZERO) {
        Ok(guard) => (guard, false),
        Err(LockError::Timeout { .. }) => {
            prompt.line(&format!(
                "aws-sso-process: another process is logging in to {} (or refreshing it); waiting up to {} min",
                target.label,
                LOGIN_LOCK_WAIT.as_secs() / 60
            ));
            (LockGuard::acquire(path, LOGIN_LOCK_WAIT)?, true)
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(now_token) = current_token(path) {
        let fresh = now_token.expires_at - ctx.now() > FRESH_ENOUGH;
        let usable = match mode {
            Mode::Explicit => waited && before.as_ref() != Some(&now_token.access_token),
            Mode::Auto { distrusted } => distrusted.as_ref() != Some(&now_token.access_token),
        };
        if fresh && usable {
            ctx.debug(|| format!("{} has a fresh token now; no login needed", target.label));
            return Ok(Outcome::Reused { access_token: now_token.access_token, expires_at: now_token.expires_at });
        }
    }
    if let Mode::Auto { .. } = mode
        && !prompt.has_tty()
        && !ctx.can_open_browser()
    {
        return Err(Error::LoginRequired {
            what: format!(
                "the SSO session {} needs a login, and there is no terminal to prompt on and no browser to open",
                target.label
            ),
            login_args: target.login_args.clone(),
            cause: None,
        });
    }

    // PKCE binds its port before anything is sent, so a busy --redirect-port fails first.
    let listener = match opts.flow {
        Flow::Pkce => Some(bind_listener(opts.redirect_port)?),
        Flow::Device => None,
    };
    let resolved = start_url::resolve(ctx, target)?;
    let configured = target;
    let target = &configured.in_region(&resolved.region);
    let oidc = Oidc { http: ctx.http(), endpoint: ctx.endpoint_used(Service::Oidc, target.endpoint(Service::Oidc)?) };
    let reg = registration(ctx, &oidc, target, opts.flow, &resolved.url)?;
    let resp = match listener {
        Some(listener) => pkce_flow(ctx, &oidc, target, &reg, opts, prompt, listener)?,
        None => device_flow(ctx, &oidc, target, &reg, opts, prompt, &resolved.url)?,
    };
    let now = ctx.now();
    let expires_at = now + TimeDelta::seconds(resp.expires_in);
    cache::write_atomic(path, &token_doc(target, &resp, &reg, now))?;
    ctx.debug(|| format!("wrote the SSO token of {} to {}", target.label, path.display()));
    save_registration(ctx, &reg);
    if resolved.region != configured.session.region {
        // As the AWS CLI does after such a login: the region goes into the config.
        match start_url::save_region(configured, &resolved.region) {
            Ok(done) => prompt.line(&format!("aws-sso-process: {done}")),
            Err(why) => ctx.warn(format!(
                "the start URL of {} is in {}, but sso_region was not updated: {why}",
                target.label, resolved.region
            )),
        }
    }
    Ok(Outcome::LoggedIn { expires_at })
}

/// The token file as it is now, if it holds a usable token.
fn current_token(path: &Path) -> Option<CachedToken> {
    cache::read_object(path).ok().flatten().and_then(|doc| CachedToken::parse(doc).ok())
}

/// docs/shared-cache.md, in the CLI's key order; `refreshToken` only when the service sent one.
fn token_doc(target: &SessionTarget, resp: &TokenResponse, reg: &Registration, now: DateTime<Utc>) -> Value {
    let mut doc = Map::new();
    doc.insert("startUrl".into(), target.session.start_url.clone().into());
    doc.insert("region".into(), target.session.region.clone().into());
    doc.insert("accessToken".into(), resp.access_token.expose().into());
    doc.insert("expiresAt".into(), timefmt::format(now + TimeDelta::seconds(resp.expires_in)).into());
    doc.insert("clientId".into(), reg.client_id.clone().into());
    doc.insert("clientSecret".into(), reg.client_secret.expose().into());
    doc.insert("registrationExpiresAt".into(), timefmt::format(reg.expires_at).into());
    if let Some(rt) = &resp.refresh_token {
        doc.insert("refreshToken".into(), rt.expose().into());
    }
    Value::Object(doc)
}

// ---------------------------------------------------------------------------------------------------
// Client registration (docs/shared-cache.md).

pub struct Registration {
    pub client_id: String,
    pub client_secret: Secret,
    pub expires_at: DateTime<Utc>,
    /// A new registration's cache file and content, written only after a successful login.
    pending: Option<(PathBuf, Value)>,
}

/// No secret: neither the client secret nor the pending file's content (which holds it).
impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .field("pending", &self.pending.as_ref().map(|(path, _)| path))
            .finish_non_exhaustive()
    }
}

/// The scopes we register with: the session's `sso_registration_scopes`, else `sso:account:access`
/// (so the session gets a refresh token; docs/shared-cache.md). Legacy sessions register without scopes, as the CLI does.
pub fn wanted_scopes(target: &SessionTarget) -> Vec<String> {
    let s = &target.session;
    if s.name.is_none() {
        Vec::new()
    } else if s.scopes.is_empty() {
        DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        s.scopes.clone()
    }
}

/// The registration cache files a registration of ours for `flow` may live in, best first. Each
/// is a key the AWS CLI computes for a configuration under which it would store just such a
/// registration, so the key describes what is under it (docs/login.md):
/// - configured scopes: their key, for both flows (the CLI's flows share it and replace each other);
/// - legacy sessions: the key without scopes (no scopes are registered, as the CLI does);
/// - no scopes configured, PKCE: the key without scopes, where the CLI keeps its PKCE registration
///   (also made with `sso:account:access`), else the key for `sso:account:access`;
/// - no scopes configured, device code: only the key for `sso:account:access`. The CLI's device
///   registration under the key without scopes has no scopes (so no refresh token) and is not ours to
///   use or to replace.
fn registration_paths(target: &SessionTarget, flow: Flow) -> Vec<PathBuf> {
    let s = &target.session;
    let default: Vec<String> = DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    let keys: Vec<Option<&[String]>> = if s.name.is_none() {
        vec![None]
    } else if !s.scopes.is_empty() {
        vec![Some(&s.scopes)]
    } else if flow == Flow::Pkce {
        vec![None, Some(&default)]
    } else {
        vec![Some(&default)]
    };
    keys.into_iter()
        .map(|scopes| {
            let key = cache::registration_key(&s.start_url, &s.region, scopes, s.name.as_deref());
            target.registration_dir.join(format!("{key}.json"))
        })
        .collect()
}

fn registration(
    ctx: &Context,
    oidc: &Oidc,
    target: &SessionTarget,
    flow: Flow,
    issuer_url: &str,
) -> Result<Registration, Error> {
    let paths = registration_paths(target, flow);
    let scopes = wanted_scopes(target);
    // Where a new registration goes: the first file that holds nothing live of the other flow,
    // else the last one (with no scopes configured, the one that is not the CLI's own key).
    let mut write_to = None;
    for path in &paths {
        match cache::read_object(path) {
            Ok(Some(doc)) => match fit(&doc, flow, &scopes, ctx.now()) {
                Ok(reg) => {
                    ctx.debug(|| format!("reusing the client registration {}", path.display()));
                    return Ok(reg);
                }
                Err(unfit) => {
                    ctx.debug(|| format!("not reusing the client registration {}: it {}", path.display(), unfit.why));
                    if !unfit.live_other_flow && write_to.is_none() {
                        write_to = Some(path);
                    }
                }
            },
            Ok(None) => {
                ctx.debug(|| format!("no client registration in {}", path.display()));
                write_to.get_or_insert(path);
            }
            Err(e) => {
                ctx.debug(|| format!("not reusing a client registration: {}", crate::error::chain(&e)));
                write_to.get_or_insert(path);
            }
        }
    }
    let write_to = write_to.or(paths.last()).cloned().unwrap_or_default();

    let client_name = match &target.session.name {
        Some(name) => format!("botocore-client-{name}"),
        None => format!("botocore-client-{}", ctx.now().timestamp()),
    };
    let mut body = Map::new();
    body.insert("clientName".into(), client_name.into());
    body.insert("clientType".into(), "public".into());
    if !scopes.is_empty() {
        body.insert("scopes".into(), scopes.clone().into());
    }
    if flow == Flow::Pkce {
        body.insert("grantTypes".into(), json!(PKCE_GRANTS));
        body.insert("redirectUris".into(), json!([REGISTERED_REDIRECT_URI]));
        body.insert("issuerUrl".into(), issuer_url.into());
    }
    let resp = oidc
        .register_client(&Value::Object(body))
        .map_err(|e| failed(format!("cannot register a client for {}", target.label), e))?;
    let expires_at = timefmt::from_epoch_secs(resp.client_secret_expires_at).ok_or_else(|| Error::Other {
        what: "RegisterClient returned a clientSecretExpiresAt out of range".into(),
        hint: None,
    })?;
    let mut doc = Map::new();
    doc.insert("clientId".into(), resp.client_id.clone().into());
    doc.insert("clientSecret".into(), resp.client_secret.expose().into());
    doc.insert("expiresAt".into(), timefmt::format(expires_at).into());
    if !scopes.is_empty() {
        doc.insert("scopes".into(), scopes.into());
    }
    if flow == Flow::Pkce {
        doc.insert("grantTypes".into(), json!(PKCE_GRANTS));
    }
    // Written once the login succeeds: an interrupted or failed login leaves the cache as it was.
    let pending = Some((write_to, Value::Object(doc)));
    Ok(Registration { client_id: resp.client_id, client_secret: resp.client_secret, expires_at, pending })
}

/// Caches a registration made during this login (after the token was written).
fn save_registration(ctx: &Context, reg: &Registration) {
    let Some((path, doc)) = &reg.pending else { return };
    match cache::write_atomic(path, doc) {
        Ok(()) => ctx.debug(|| format!("cached the client registration in {}", path.display())),
        Err(e) => ctx.warn(format!("the client registration could not be cached: {}", crate::error::chain(&e))),
    }
}

/// Why a cached registration does not fit, never quoting a value; `live_other_flow` when it is a
/// valid registration of the other flow (someone's working registration, not to be replaced lightly).
#[derive(Debug)]
struct Unfit {
    why: String,
    live_other_flow: bool,
}

impl From<String> for Unfit {
    fn from(why: String) -> Unfit {
        Unfit { why, live_other_flow: false }
    }
}

impl From<&str> for Unfit {
    fn from(why: &str) -> Unfit {
        why.to_owned().into()
    }
}

/// A cached registration fit for `flow` and `scopes`, or why not.
fn fit(doc: &Map<String, Value>, flow: Flow, scopes: &[String], now: DateTime<Utc>) -> Result<Registration, Unfit> {
    let client_id = cache::str_field(doc, "clientId")?.filter(|s| !s.is_empty()).ok_or("has no clientId")?;
    let secret = cache::str_field(doc, "clientSecret")?.filter(|s| !s.is_empty()).ok_or("has no clientSecret")?;
    let expires_at = cache::str_field(doc, "expiresAt")?.and_then(timefmt::parse).ok_or("has no usable expiresAt")?;
    if expires_at - now < REGISTRATION_MIN_LEFT {
        return Err(format!("expires at {}", timefmt::format(expires_at)).into());
    }
    let list = |key: &str| -> Vec<&str> {
        doc.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    };
    let auth_code = list("grantTypes").contains(&"authorization_code");
    let other_flow = |why: &str| Unfit { why: why.to_owned(), live_other_flow: true };
    match flow {
        Flow::Pkce if !auth_code => return Err(other_flow("is not registered for the authorization code grant")),
        Flow::Device if auth_code => return Err(other_flow("is registered for the authorization code grant")),
        _ => {}
    }
    let have = list("scopes");
    if let Some(missing) = scopes.iter().find(|s| !have.contains(&s.as_str())) {
        return Err(format!("lacks the scope {missing}").into());
    }
    Ok(Registration { client_id: client_id.to_owned(), client_secret: Secret::new(secret), expires_at, pending: None })
}

// ---------------------------------------------------------------------------------------------------
// Device code (docs/login-flows.md).

fn device_flow(
    ctx: &Context,
    oidc: &Oidc,
    target: &SessionTarget,
    reg: &Registration,
    opts: &Options,
    prompt: &Prompt,
    start_url: &str,
) -> Result<TokenResponse, Error> {
    let auth = oidc
        .start_device_authorization(&reg.client_id, &reg.client_secret, start_url)
        .map_err(|e| failed(format!("cannot start the device authorization for {}", target.label), e))?;
    let deadline = Instant::now() + Duration::from_secs(auth.expires_in as u64);
    let mut interval = auth.interval.map(|s| Duration::from_secs(s as u64)).unwrap_or(DEFAULT_INTERVAL);
    let body = json!({
        "grantType": DEVICE_GRANT,
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "deviceCode": auth.device_code.expose(),
    });
    let mut shown = false;
    loop {
        match oidc.create_token(&body) {
            Ok(resp) => return Ok(resp),
            Err(e) => match e.service().map(|s| s.code.as_str()) {
                Some("AuthorizationPendingException") => {}
                Some("SlowDownException") => {
                    interval += SLOW_DOWN_STEP;
                    ctx.debug(|| format!("slow_down: polling every {} s from now on", interval.as_secs()));
                }
                Some("ExpiredTokenException") => return Err(device_expired(target)),
                Some("AccessDeniedException") => {
                    return Err(failed(format!("the sign-in to {} was denied", target.label), e));
                }
                _ => return Err(failed(format!("the device code login to {} failed", target.label), e)),
            },
        }
        if !shown {
            shown = true;
            let uri = sanitize(&auth.verification_uri);
            prompt
                .line(&format!("aws-sso-process: to sign in to {}, open this page and enter the code:", target.label));
            prompt.item(&uri, false);
            prompt.item(&sanitize(&auth.user_code), true);
            let complete = auth.verification_uri_complete.as_deref().map(sanitize);
            if let Some(complete) = &complete {
                prompt.line(&format!(
                    "  (or open {complete}, which fills in the code: check that it shows the same one)"
                ));
            }
            if opts.open_browser {
                match crate::browser::open(ctx, complete.as_deref().unwrap_or(&uri)) {
                    Ok(()) => prompt.line("aws-sso-process: opened the page in your browser"),
                    Err(why) => prompt.line(&format!("aws-sso-process: {why}; open the page by hand")),
                }
            }
        }
        let now = Instant::now();
        if now + interval > deadline {
            // The next poll would come after the code stopped working (our own deadline, docs/login-flows.md).
            wait_showing(prompt, deadline, deadline, "the code");
            return Err(device_expired(target));
        }
        wait_showing(prompt, now + interval, deadline, "the code");
    }
}

/// Sleeps until `until`, showing the time left before `deadline` (what expires: `what`) on the
/// status line, once a second on a terminal (Ctrl-C ends the wait; nothing has been written yet).
fn wait_showing(prompt: &Prompt, until: Instant, deadline: Instant, what: &str) {
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        let left = crate::prompt::minutes_seconds(deadline.saturating_duration_since(now));
        prompt.status(&format!("aws-sso-process: waiting for the sign-in ({what} expires in {left}; Ctrl-C to stop)"));
        std::thread::sleep(until.saturating_duration_since(now).min(Duration::from_secs(1)));
    }
}

fn device_expired(target: &SessionTarget) -> Error {
    Error::Other {
        what: format!("the device code for {} expired before the sign-in was approved", target.label),
        hint: Some(format!("run 'aws-sso-process login {}' again and approve it in time", target.login_args)),
    }
}

// ---------------------------------------------------------------------------------------------------
// Authorization code with PKCE (docs/login-flows.md).

fn bind_listener(port: Option<u16>) -> Result<TcpListener, Error> {
    TcpListener::bind(("127.0.0.1", port.unwrap_or(0))).map_err(|e| Error::Other {
        what: match port {
            Some(p) => format!("cannot listen on 127.0.0.1:{p} for the browser redirect: {e}"),
            None => format!("cannot listen on 127.0.0.1 for the browser redirect: {e}"),
        },
        hint: Some("pick another --redirect-port, or use --use-device-code".into()),
    })
}

fn pkce_flow(
    ctx: &Context,
    oidc: &Oidc,
    target: &SessionTarget,
    reg: &Registration,
    opts: &Options,
    prompt: &Prompt,
    listener: TcpListener,
) -> Result<TokenResponse, Error> {
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Other { what: format!("cannot read the redirect listener's port: {e}"), hint: None })?;
    let redirect_uri = format!("http://127.0.0.1:{port}/oauth/callback");
    let verifier = code_verifier()?;
    let state = uuid4()?;
    let url = authorize_url(
        &oidc.endpoint,
        &reg.client_id,
        &redirect_uri,
        &state,
        &wanted_scopes(target).join(" "),
        &code_challenge(&verifier),
    );
    prompt
        .line(&format!("aws-sso-process: to sign in to {}, open this URL in a browser on this machine:", target.label));
    prompt.item(&url, false);
    if opts.open_browser {
        match crate::browser::open(ctx, &url) {
            Ok(()) => prompt.line("aws-sso-process: opened the URL in your browser"),
            Err(why) => prompt.line(&format!("aws-sso-process: {why}; open the URL by hand")),
        }
    }
    let code = wait_for_code(ctx, &listener, &state, Instant::now() + PKCE_TIMEOUT, target, prompt);
    prompt.end_status();
    let code = code?;
    let body = json!({
        "grantType": "authorization_code",
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret.expose(),
        "redirectUri": redirect_uri,
        "codeVerifier": verifier,
        "code": code.expose(),
    });
    oidc.create_token(&body).map_err(|e| {
        if e.service().is_some_and(|s| s.is("ExpiredTokenException")) {
            Error::Other {
                what: format!("the authorization code for {} expired before it was redeemed", target.label),
                hint: Some(format!("run 'aws-sso-process login {}' again", target.login_args)),
            }
        } else {
            failed(format!("cannot redeem the authorization code for {}", target.label), e)
        }
    })
}

/// The /authorize URL: parameters in the CLI's order, `scopes` plural and `%20`-joined, the
/// challenge appended as it is (it is base64url already).
pub fn authorize_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    scopes: &str,
    challenge: &str,
) -> String {
    format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&state={}&code_challenge_method=S256&scopes={}&code_challenge={challenge}",
        endpoint.trim_end_matches('/'),
        encode(client_id),
        encode(redirect_uri),
        encode(state),
        encode(scopes)
    )
}

/// Percent-encodes everything but the RFC 3986 unreserved characters (Python `quote(safe='')`).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Waits for the browser's redirect and returns the authorization code. Any path is accepted
/// (as the CLI does); a request with neither `code` nor `error` (a favicon) is answered 404 and ignored.
fn wait_for_code(
    ctx: &Context,
    listener: &TcpListener,
    state: &str,
    deadline: Instant,
    target: &SessionTarget,
    prompt: &Prompt,
) -> Result<Secret, Error> {
    let mut shown_at: Option<Instant> = None;
    let io_err = |e: std::io::Error| Error::Other { what: format!("the redirect listener failed: {e}"), hint: None };
    listener.set_nonblocking(true).map_err(io_err)?;
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(Error::Other {
                        what: format!(
                            "timed out after {} min waiting for the browser sign-in to {}",
                            PKCE_TIMEOUT.as_secs() / 60,
                            target.label
                        ),
                        hint: Some(format!(
                            "run 'aws-sso-process login {}' again, or add --use-device-code to sign in on another device",
                            target.login_args
                        )),
                    });
                }
                if shown_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    shown_at = Some(Instant::now());
                    let left = crate::prompt::minutes_seconds(deadline.saturating_duration_since(Instant::now()));
                    prompt.status(&format!(
                        "aws-sso-process: waiting for the sign-in in the browser ({left} left; Ctrl-C to stop)"
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        let Some(query) = read_callback(&stream) else { continue };
        let param = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        if let Some(error) = param("error") {
            let detail = param("error_description").map(|d| format!(" ({})", sanitize(d))).unwrap_or_default();
            respond(&stream, 200, FAILURE_PAGE);
            return Err(Error::Other {
                what: format!(
                    "the browser sign-in to {} failed: the authorization server answered {}{detail}",
                    target.label,
                    sanitize(error)
                ),
                hint: Some(format!("run 'aws-sso-process login {}' again", target.login_args)),
            });
        }
        let Some(code) = param("code") else {
            respond(&stream, 404, "not found");
            continue;
        };
        if param("state") != Some(state) {
            respond(&stream, 400, FAILURE_PAGE);
            return Err(Error::Other {
                what: format!(
                    "the browser sign-in to {} came back with a state parameter that does not match this login",
                    target.label
                ),
                hint: Some(format!(
                    "run 'aws-sso-process login {}' again; if it keeps happening, another program is answering on 127.0.0.1",
                    target.login_args
                )),
            });
        }
        respond(&stream, 200, SUCCESS_PAGE);
        ctx.debug(|| "received the authorization code".to_owned());
        return Ok(Secret::new(code));
    }
}

const SUCCESS_PAGE: &str = "<!doctype html><title>aws-sso-process</title><p>Signed in. You can close this window and return to the terminal.</p>";
const FAILURE_PAGE: &str =
    "<!doctype html><title>aws-sso-process</title><p>The sign-in did not complete. See the terminal for details.</p>";

/// Reads one request head and returns its query parameters; `None` when it is not a readable GET.
fn read_callback(stream: &TcpStream) -> Option<Vec<(String, String)>> {
    let mut reader = stream;
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(CALLBACK_READ_TIMEOUT));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < CALLBACK_MAX_HEAD {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let first = text.lines().next()?;
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" {
        respond(stream, 405, "method not allowed");
        return None;
    }
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    Some(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect(),
    )
}

fn respond(mut stream: &TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).and_then(|()| stream.flush());
}

// ---------------------------------------------------------------------------------------------------
// PKCE material: randomness from the operating system (getrandom), SHA-256, base64url.

fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| Error::Other {
        what: format!("cannot read random bytes from the operating system: {e}"),
        hint: None,
    })?;
    Ok(buf)
}

const VERIFIER_CHARS: &[u8; 66] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// 64 characters drawn uniformly from `[A-Za-z0-9-._~]` (docs/login-flows.md): bytes of 198 or more are
/// dropped so that `% 66` favours no character.
fn code_verifier() -> Result<String, Error> {
    let mut out = String::with_capacity(64);
    while out.len() < 64 {
        for b in random_bytes::<96>()? {
            if b < 198 && out.len() < 64 {
                out.push(VERIFIER_CHARS[(b % 66) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// base64url(SHA-256(verifier)) without padding: 43 characters.
pub fn code_challenge(verifier: &str) -> String {
    base64url(&Sha256::digest(verifier.as_bytes()))
}

/// A random (version 4) UUID, as the CLI uses for `state`.
fn uuid4() -> Result<String, Error> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An OIDC call that failed, with what we were doing; the call's error stays the cause (and gives
/// the hint: TLS, proxy, throttling), as for a refresh.
fn failed(what: String, e: CallError) -> Error {
    Error::Failed { what, cause: Box::new(Error::from(e)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_debug_shows_no_secret() {
        let reg = Registration {
            client_id: "cid".into(),
            client_secret: Secret::new("SECRET-ONE"),
            expires_at: Utc::now(),
            pending: Some((PathBuf::from("/x.json"), json!({"clientSecret": "SECRET-ONE"}))),
        };
        let shown = format!("{reg:?}");
        assert!(shown.contains("cid") && shown.contains("/x.json") && !shown.contains("SECRET-ONE"), "{shown}");
    }

    #[test]
    fn rfc7636_appendix_b_challenge() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn base64url_without_padding() {
        for (input, want) in
            [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("\u{ff}\u{fe}", "w7_Dvg")]
        {
            assert_eq!(base64url(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn verifier_and_state_shapes() {
        let v = code_verifier().unwrap();
        assert_eq!(v.len(), 64);
        assert!(v.bytes().all(|b| VERIFIER_CHARS.contains(&b)), "{v}");
        assert_ne!(v, code_verifier().unwrap());
        assert_eq!(code_challenge(&v).len(), 43);
        let s = uuid4().unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!("89ab".contains(&s[19..20]), "{s}");
    }

    #[test]
    fn authorize_url_matches_the_cli() {
        let url = authorize_url(
            "https://oidc.us-east-1.amazonaws.com",
            "cid/+=",
            "http://127.0.0.1:8400/oauth/callback",
            "0b6c1a9e-0000-4000-8000-000000000000",
            "sso:account:access codecatalyst:read_write",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        );
        assert_eq!(
            url,
            "https://oidc.us-east-1.amazonaws.com/authorize?response_type=code&client_id=cid%2F%2B%3D\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8400%2Foauth%2Fcallback&state=0b6c1a9e-0000-4000-8000-000000000000\
             &code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess%20codecatalyst%3Aread_write\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(decode("a%20b+c%3A"), "a b c:");
    }

    fn doc(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn registration_reuse_rules() {
        let now = timefmt::parse("2026-11-21T08:00:00Z").unwrap();
        let scopes = vec!["sso:account:access".to_owned()];
        let pkce = r#"{"clientId":"c","clientSecret":"s","expiresAt":"2027-02-19T07:00:00Z","scopes":["sso:account:access"],"grantTypes":["authorization_code","refresh_token"]}"#;
        let device = r#"{"clientId":"c","clientSecret":"s","expiresAt":"2027-02-19T07:00:00UTC","scopes":["sso:account:access"]}"#;
        assert!(fit(&doc(pkce), Flow::Pkce, &scopes, now).is_ok());
        let other = fit(&doc(pkce), Flow::Device, &scopes, now).unwrap_err();
        assert!(other.why.contains("authorization code") && other.live_other_flow, "{other:?}");
        assert!(fit(&doc(device), Flow::Device, &scopes, now).is_ok(), "old UTC suffix is read");
        assert!(fit(&doc(device), Flow::Pkce, &scopes, now).unwrap_err().live_other_flow);
        assert!(fit(&doc(device), Flow::Device, &[], now).is_ok());
        let unscoped = r#"{"clientId":"c","clientSecret":"s","expiresAt":"2027-02-19T07:00:00Z"}"#;
        let lacking = fit(&doc(unscoped), Flow::Device, &scopes, now).unwrap_err();
        assert!(lacking.why.contains("scope") && !lacking.live_other_flow, "{lacking:?}");
        // 15 minutes left is enough; 14 is not, and then it is not live either.
        let at = |t: &str| doc(&device.replace("2027-02-19T07:00:00UTC", t));
        assert!(fit(&at("2026-11-21T08:15:00Z"), Flow::Device, &scopes, now).is_ok());
        let stale = fit(&at("2026-11-21T08:14:59Z"), Flow::Pkce, &scopes, now).unwrap_err();
        assert!(stale.why.contains("expires") && !stale.live_other_flow, "{stale:?}");
        let err = fit(&doc(r#"{"clientId":"c","clientSecret":7}"#), Flow::Device, &scopes, now).unwrap_err();
        assert!(err.why.contains("clientSecret is a number"), "{err:?}");
    }
}
