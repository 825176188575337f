//! How a request leaves the machine (docs/networks.md): which proxy it goes through
//! (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`, upper or lower case) and which
//! certificate authorities it trusts (the platform's store, the bundled Mozilla roots, and a PEM
//! bundle from `AWS_CA_BUNDLE` or the profile's `ca_bundle` on top).
//!
//! The settings come from `ctx.env` only: the ureq agent is always given its proxy explicitly, so
//! ureq never reads proxy variables of its own. Nothing here runs before a request is about to be
//! sent: a cache hit parses no proxy URL, loads no root and reads no bundle.
//!
//! Through an HTTP proxy, `https://` requests go in a CONNECT tunnel (TLS runs end to end) and
//! `http://` ones in absolute form (`POST http://host:port/path HTTP/1.1` sent to the proxy), as
//! curl and botocore send them; ureq alone would tunnel both, and proxies in their usual
//! configuration refuse CONNECT to any port but 443 (docs/networks.md). `Connector`
//! does the absolute form.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use ureq::ProxyProtocol;
use ureq::http::Uri;
use ureq::http::uri::Scheme;
use ureq::tls::Certificate;
use ureq::unversioned::transport::{self, Buffers, ConnectionDetails, DefaultConnector, NextTimeout, Transport};

/// Something in the network settings that cannot be used. Never shows a proxy password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkError {
    CaBundle { path: PathBuf, source_name: String, why: String },
    Proxy { var: &'static str, url: String, why: String },
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::CaBundle { path, source_name, why } => {
                write!(f, "cannot use the CA bundle {} (from {source_name}): {why}", path.display())
            }
            NetworkError::Proxy { var, url, why } => write!(f, "cannot use the proxy {url} (from {var}): {why}"),
        }
    }
}

impl std::error::Error for NetworkError {}

/// A proxy variable as set: its name and value (the value may hold a password: never shown).
#[derive(Clone, PartialEq, Eq)]
struct ProxyVar {
    var: &'static str,
    value: String,
}

impl fmt::Debug for ProxyVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.var, crate::sanitize::host_of(&self.value))
    }
}

/// The proxy settings of the environment, curl's way: for `https://` URLs `https_proxy`, then
/// `HTTPS_PROXY`; for `http://` URLs `http_proxy`, then `HTTP_PROXY`; then `all_proxy` /
/// `ALL_PROXY` for both; `no_proxy` / `NO_PROXY` lists the hosts reached directly. The lower-case
/// names win, as in curl and botocore (Python's urllib).
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    https: Option<ProxyVar>,
    http: Option<ProxyVar>,
    no_proxy: NoProxy,
}

/// The proxy chosen for one request.
#[derive(Clone)]
pub struct Route {
    pub proxy: ureq::Proxy,
    /// The variable it came from, for `--debug`.
    pub var: &'static str,
    /// `host:port` of the proxy, for messages (no credentials).
    pub shown: String,
    /// The proxy itself is reached over TLS (`https://` proxy URL).
    pub tls: bool,
}

impl Route {
    /// The proxy for a message: `http://host:port (HTTPS_PROXY)`, never its credentials.
    pub fn named(&self) -> String {
        format!("{}://{} ({})", if self.tls { "https" } else { "http" }, self.shown, self.var)
    }
}

impl ProxyConfig {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> ProxyConfig {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|&var| get(var).filter(|v| !v.trim().is_empty()).map(|value| ProxyVar { var, value }))
        };
        let all = ["all_proxy", "ALL_PROXY"];
        ProxyConfig {
            https: first(&["https_proxy", "HTTPS_PROXY"]).or_else(|| first(&all)),
            http: first(&["http_proxy", "HTTP_PROXY"]).or_else(|| first(&all)),
            no_proxy: ["no_proxy", "NO_PROXY"]
                .iter()
                .find_map(|k| get(k))
                .map(|v| NoProxy::parse(&v))
                .unwrap_or_default(),
        }
    }

    /// The proxy for `url`, or `None` to connect directly.
    pub fn route(&self, url: &str) -> Result<Option<Route>, NetworkError> {
        let Some(target) = UrlParts::parse(url) else { return Ok(None) };
        let chosen = if target.https { &self.https } else { &self.http };
        let Some(setting) = chosen else { return Ok(None) };
        if self.no_proxy.matches(&target.host, target.port) {
            return Ok(None);
        }
        parse_proxy(setting).map(Some)
    }

    /// Whether any proxy variable is set (for `--debug`).
    pub fn is_empty(&self) -> bool {
        self.https.is_none() && self.http.is_none()
    }
}

fn parse_proxy(setting: &ProxyVar) -> Result<Route, NetworkError> {
    let value = setting.value.trim();
    let shown = crate::sanitize::host_of(value);
    let err = |why: &str| NetworkError::Proxy { var: setting.var, url: shown.clone(), why: why.to_owned() };
    let scheme = value.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let tls = match scheme.as_deref() {
        None | Some("http") => false,
        Some("https") => true,
        Some(other) if other.starts_with("socks") => {
            return Err(err("SOCKS proxies are not supported; use an HTTP proxy"));
        }
        Some(_) => return Err(err("the URL must start with http:// or https://")),
    };
    // ureq takes a port it cannot read (`:99999`, `:abc`, a bare `:`) for none and goes to port 80.
    if let Ok(authority) = shown.parse::<ureq::http::uri::Authority>()
        && matches!(crate::url::host_port(&authority), None | Some((_, Some(0))))
    {
        return Err(err("its port is not valid: give a number from 1 to 65535 (http://[user:password@]host:port)"));
    }
    let proxy = ureq::Proxy::new(value).map_err(|_| err("not a proxy URL (http://[user:password@]host:port)"))?;
    if proxy.host().is_empty() {
        return Err(err("the URL has no host"));
    }
    // The password, and the Basic credentials it goes out in, are secrets of this run: no
    // message shows them, even when a proxy repeats the request (see `sanitize`).
    if let Some(password) = proxy.password() {
        crate::secret::hold(password);
        let user_pass = format!("{}:{password}", proxy.username().unwrap_or(""));
        crate::secret::hold(&base64(user_pass.as_bytes()));
    }
    Ok(Route { shown: format!("{}:{}", proxy.host(), proxy.port()), proxy, var: setting.var, tls })
}

/// Scheme, host and port of an endpoint URL.
struct UrlParts {
    https: bool,
    host: String,
    port: u16,
}

impl UrlParts {
    fn parse(url: &str) -> Option<UrlParts> {
        let uri: ureq::http::Uri = url.parse().ok()?;
        let https = uri.scheme_str()?.eq_ignore_ascii_case("https");
        let (host, port) = crate::url::host_port(uri.authority()?)?;
        let port = port.unwrap_or(if https { 443 } else { 80 });
        Some(UrlParts { https, host: normalise_host(host), port })
    }
}

/// `host:port`, `[v6]:port`, `host`, `[v6]` → (host, port). A bare IPv6 address has no port.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':'));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (s, None),
    }
}

fn normalise_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `NO_PROXY` as curl reads it: comma-separated entries; `*` alone matches every host; a name
/// matches itself and its subdomains (a leading `.` or `*.` is ignored); `host:port` matches only
/// that port; IP addresses match exactly, and `addr/bits` matches a network; an IP address host
/// is never matched by a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<NoProxyEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProxyEntry {
    Name { name: String, port: Option<u16> },
    Net { addr: IpAddr, bits: u8, port: Option<u16> },
}

impl NoProxy {
    pub fn parse(text: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for raw in text.split([',', ' ', '\t']).map(str::trim).filter(|e| !e.is_empty()) {
            if raw == "*" {
                out.all = true;
                continue;
            }
            let (host, port) = split_host_port(raw);
            let Ok(port) = port.map(str::parse::<u16>).transpose() else { continue };
            let (addr, bits) = match host.split_once('/') {
                Some((a, b)) => (a, b.parse::<u8>().ok()),
                None => (host, None),
            };
            if let Ok(addr) = addr.parse::<IpAddr>() {
                let max = if addr.is_ipv4() { 32 } else { 128 };
                match bits {
                    Some(b) if b > max => continue,
                    b => out.entries.push(NoProxyEntry::Net { addr, bits: b.unwrap_or(max), port }),
                }
                continue;
            }
            let name = normalise_host(host.trim_start_matches("*.").trim_start_matches('.'));
            if !name.is_empty() && !name.contains('/') {
                out.entries.push(NoProxyEntry::Name { name, port });
            }
        }
        out
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = normalise_host(host.trim_start_matches('[').trim_end_matches(']'));
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|entry| match entry {
            // An IP address is matched by address only, never by a name suffix (curl).
            NoProxyEntry::Name { name, port: p } => {
                ip.is_none()
                    && p.is_none_or(|p| p == port)
                    && (host == *name || host.strip_suffix(name.as_str()).is_some_and(|head| head.ends_with('.')))
            }
            NoProxyEntry::Net { addr, bits, port: p } => {
                p.is_none_or(|p| p == port) && ip.is_some_and(|ip| in_network(ip, *addr, *bits))
            }
        })
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The connector of every agent: ureq's own, except for an `http://` URL with an HTTP(S) proxy.
/// ureq would open a CONNECT tunnel for that; this connects to the proxy itself instead, and
/// sends the request there in absolute form (`AbsoluteForm`), with the proxy's credentials in a
/// `Proxy-Authorization` header. Such a connection carries one request and is not reused.
///
/// It uses ureq's transport layer, which ureq exempts from semver (`ureq::unversioned`); the
/// `ureq` version is pinned by Cargo.lock, and a change there shows as a build error.
#[derive(Debug)]
pub struct Connector {
    default: DefaultConnector,
    /// The agent's config, which sets no proxy: for the connection to the proxy itself (over TLS,
    /// with the agent's roots, when the proxy URL is `https://`).
    direct: ureq::config::Config,
}

impl Connector {
    pub fn new(direct: ureq::config::Config) -> Connector {
        Connector { default: DefaultConnector::new(), direct }
    }
}

impl transport::Connector<()> for Connector {
    type Out = Box<dyn Transport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<()>) -> Result<Option<Self::Out>, ureq::Error> {
        let proxy =
            details.config.proxy().filter(|p| matches!(p.protocol(), ProxyProtocol::Http | ProxyProtocol::Https));
        let (Some(proxy), Some(origin)) = (proxy, plain_origin(details.uri)) else {
            return self.default.connect(details, chained);
        };
        let to_proxy = ConnectionDetails {
            uri: proxy.uri(),
            addrs: details.resolver.resolve(proxy.uri(), &self.direct, details.timeout)?,
            config: &self.direct,
            request_level: false,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        // The agent's whole chain again, for the proxy's URL and without a proxy: TCP, then TLS
        // for an `https://` proxy.
        let inner = (details.run_connector)(&to_proxy)?;
        let auth = (proxy.username().is_some() || proxy.password().is_some()).then(|| {
            let user_pass = format!("{}:{}", proxy.username().unwrap_or(""), proxy.password().unwrap_or(""));
            format!("Basic {}", base64(user_pass.as_bytes()))
        });
        Ok(Some(Box::new(AbsoluteForm { inner, origin, auth, head_sent: false })))
    }
}

/// `http://host[:port]` of a plain-HTTP URL (no user info); `None` for any other scheme.
fn plain_origin(uri: &Uri) -> Option<String> {
    if uri.scheme() != Some(&Scheme::HTTP) {
        return None;
    }
    let authority = uri.authority()?.as_str();
    Some(format!("http://{}", authority.rsplit('@').next().unwrap_or(authority)))
}

/// A connection to a proxy on which ureq's request (written in origin form, `POST /path`) leaves
/// in absolute form (`POST http://host:port/path`), with `Proxy-Authorization` after the request
/// line when the proxy has credentials. Everything after the head passes unchanged.
struct AbsoluteForm {
    inner: Box<dyn Transport>,
    /// `http://host:port` of the target.
    origin: String,
    /// The `Proxy-Authorization` value: holds the proxy's password, never shown.
    auth: Option<String>,
    head_sent: bool,
}

impl fmt::Debug for AbsoluteForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbsoluteForm")
            .field("origin", &self.origin)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("head_sent", &self.head_sent)
            .finish()
    }
}

impl Transport for AbsoluteForm {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.head_sent {
            return self.inner.transmit_output(amount, timeout);
        }
        // ureq writes the request line first, whole, in the first output of a request.
        let written = &self.inner.buffers().output()[..amount];
        let head = absolute_form(written, &self.origin, self.auth.as_deref())
            .ok_or_else(|| ureq::Error::Other("the request line could not be put in absolute form".into()))?;
        self.head_sent = true;
        let mut rest = &head[..];
        while !rest.is_empty() {
            let out = self.inner.buffers().output();
            let n = rest.len().min(out.len());
            if n == 0 {
                return Err(ureq::Error::Other("no output buffer to send the request in".into()));
            }
            out[..n].copy_from_slice(&rest[..n]);
            self.inner.transmit_output(n, timeout)?;
            rest = &rest[n..];
        }
        Ok(())
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    /// Once a request went out, never again: the pool must not reuse this connection (for
    /// another request, whose head this would not rewrite).
    fn is_open(&mut self) -> bool {
        !self.head_sent && self.inner.is_open()
    }

    /// Never TLS to the endpoint (only, perhaps, to the proxy).
    fn is_tls(&self) -> bool {
        false
    }
}

/// `written` (the start of a request in origin form) with its request target made absolute
/// (`origin` put before it) and, when given, a `Proxy-Authorization` header after the request
/// line. `None` when `written` does not start with a whole origin-form request line.
fn absolute_form(written: &[u8], origin: &str, auth: Option<&str>) -> Option<Vec<u8>> {
    let line_end = written.windows(2).position(|w| w == b"\r\n")?;
    let line = &written[..line_end];
    let space = line.iter().position(|&b| b == b' ')?;
    let (method, target) = (&line[..space], &line[space + 1..]);
    if method.is_empty() || !target.starts_with(b"/") {
        return None;
    }
    let mut out = Vec::with_capacity(written.len() + origin.len() + auth.map_or(0, |a| a.len() + 32));
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(target);
    out.extend_from_slice(b"\r\n");
    if let Some(auth) = auth {
        out.extend_from_slice(b"Proxy-Authorization: ");
        out.extend_from_slice(auth.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&written[line_end + 2..]);
    Some(out)
}

/// Standard base64 with padding (RFC 4648), for the Basic credentials of a proxy.
fn base64(input: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// A PEM file of extra certificate authorities and where its name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    pub path: PathBuf,
    /// `AWS_CA_BUNDLE` or `ca_bundle of profile dev`.
    pub source_name: String,
}

/// The roots every TLS connection trusts: the platform's store (on Linux the OpenSSL locations,
/// honouring `SSL_CERT_FILE` / `SSL_CERT_DIR`; the keychain on macOS; the system store on Windows)
/// plus the Mozilla roots compiled in, so a machine with an empty or broken store still works.
/// Returns the certificates and how many came from the platform.
pub fn base_roots() -> (Vec<Certificate<'static>>, usize) {
    let platform = rustls_native_certs::load_native_certs();
    let from_platform = platform.certs.len();
    let mut roots: Vec<Certificate<'static>> =
        platform.certs.iter().map(|der| Certificate::from_der(der.as_ref()).to_owned()).collect();
    roots.extend(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| Certificate::from_der(der.as_ref())));
    (roots, from_platform)
}

/// The certificates of a CA bundle. A file that cannot be read, holds no certificate, or holds one
/// that cannot serve as a trust anchor is an error naming the file.
pub fn load_bundle(bundle: &CaBundle) -> Result<Vec<Certificate<'static>>, NetworkError> {
    let err = |why: String| NetworkError::CaBundle {
        path: bundle.path.clone(),
        source_name: bundle.source_name.clone(),
        why,
    };
    let bytes = read_bundle(&bundle.path).map_err(err)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(_) => return Err(err(format!("it is not valid PEM (after {} certificates)", certs.len()))),
        }
    }
    if certs.is_empty() {
        return Err(err("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned()));
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        let der = rustls::pki_types::CertificateDer::from(cert.der());
        if let Err(e) = store.add(der) {
            return Err(err(format!("certificate {} of {} cannot be used: {e}", i + 1, certs.len())));
        }
    }
    Ok(certs)
}

/// The bundle's bytes, read with a bound like the config files (a FIFO, a device, a folder or a
/// file over `SETTINGS_FILE_LIMIT` is refused), or why not.
fn read_bundle(path: &Path) -> Result<Vec<u8>, String> {
    use crate::cache::{ReadError, SETTINGS_FILE_LIMIT, read_bounded};
    match read_bounded(path, SETTINGS_FILE_LIMIT) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err("the file does not exist".to_owned()),
        Err(ReadError::Unusable(why)) => Err(why),
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err("permission denied".to_owned())
        }
        Err(ReadError::Io(e)) => Err(crate::sanitize::sanitize(&e.to_string())),
    }
}

/// Base roots and a bundle's certificates as one root set for ureq.
pub fn root_set(base: &[Certificate<'static>], extra: Vec<Certificate<'static>>) -> ureq::tls::RootCerts {
    let mut all = Vec::with_capacity(base.len() + extra.len());
    all.extend_from_slice(base);
    all.extend(extra);
    ureq::tls::RootCerts::Specific(Arc::new(all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> ProxyConfig {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ProxyConfig::from_env(|k| vars.get(k).cloned())
    }

    fn via(c: &ProxyConfig, url: &str) -> Option<String> {
        c.route(url).unwrap().map(|r| format!("{} {}", r.var, r.shown))
    }

    #[test]
    fn the_request_line_is_made_absolute_and_credentials_follow_it() {
        let head = b"POST /token HTTP/1.1\r\nhost: 127.0.0.1:9\r\ncontent-length: 2\r\n\r\n{}";
        let out = absolute_form(head, "http://127.0.0.1:9", Some("Basic dTpw")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST http://127.0.0.1:9/token HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n\
             host: 127.0.0.1:9\r\ncontent-length: 2\r\n\r\n{}"
        );
        let out = absolute_form(b"GET /x?a=b HTTP/1.1\r\n", "http://h", None).unwrap();
        assert_eq!(out, b"GET http://h/x?a=b HTTP/1.1\r\n");
        // Not a whole origin-form request line: refused, never sent half-rewritten.
        for bad in [&b"GET /x HTTP/1.1"[..], b"GET http://h/x HTTP/1.1\r\n", b" /x HTTP/1.1\r\n", b"\r\n"] {
            assert_eq!(absolute_form(bad, "http://h", None), None, "{bad:?}");
        }
    }

    #[test]
    fn plain_origin_only_for_http_and_without_user_info() {
        let origin = |u: &str| plain_origin(&u.parse::<Uri>().unwrap());
        assert_eq!(origin("http://127.0.0.1:8080/a?b").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("http://u:p@h/x").as_deref(), Some("http://h"));
        assert_eq!(origin("http://[::1]:80/").as_deref(), Some("http://[::1]:80"));
        assert_eq!(origin("https://h/x"), None);
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:p@ss", "dXNlcjpwQHNz"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn proxy_variables_by_scheme_and_case() {
        let c = config(&[("HTTPS_PROXY", "http://up:1"), ("https_proxy", "http://low:2"), ("HTTP_PROXY", "plain:3")]);
        assert_eq!(via(&c, "https://oidc.us-east-1.amazonaws.com").as_deref(), Some("https_proxy low:2"));
        assert_eq!(via(&c, "http://127.0.0.1:9/token").as_deref(), Some("HTTP_PROXY plain:3"));

        let c = config(&[("ALL_PROXY", "http://all:4"), ("HTTPS_PROXY", "")]);
        assert_eq!(via(&c, "https://x.example").as_deref(), Some("ALL_PROXY all:4"));
        assert_eq!(via(&c, "http://x.example").as_deref(), Some("ALL_PROXY all:4"));

        // An https proxy variable does not apply to http:// endpoints, and nothing set is direct.
        let c = config(&[("HTTPS_PROXY", "http://p:5")]);
        assert_eq!(via(&c, "http://127.0.0.1:8080"), None);
        assert_eq!(via(&config(&[]), "https://x.example"), None);
        assert!(config(&[]).is_empty());
    }

    #[test]
    fn proxy_urls() {
        let c = config(&[("HTTPS_PROXY", "http://user:p%40ss@proxy.corp:3128")]);
        let r = c.route("https://x.example").unwrap().unwrap();
        assert_eq!((r.shown.as_str(), r.tls), ("proxy.corp:3128", false));
        assert_eq!((r.proxy.username(), r.proxy.password()), (Some("user"), Some("p@ss")));
        let r = config(&[("HTTPS_PROXY", "proxy.corp")]).route("https://x.example").unwrap().unwrap();
        assert_eq!(r.shown, "proxy.corp:80");
        let r = config(&[("HTTPS_PROXY", "https://proxy.corp")]).route("https://x.example").unwrap().unwrap();
        assert!(r.tls);
        assert_eq!(r.named(), "https://proxy.corp:443 (HTTPS_PROXY)");
        let r = config(&[("all_proxy", "http://u:pw@10.1.2.3:8080")]).route("http://x.example").unwrap().unwrap();
        assert_eq!(r.named(), "http://10.1.2.3:8080 (all_proxy)");

        for bad in ["socks5://user:secret@p:1080", "ftp://p:21", "http://user:secret@"] {
            let err = config(&[("HTTPS_PROXY", bad)]).route("https://x.example").err().unwrap().to_string();
            assert!(err.contains("HTTPS_PROXY"), "{bad}: {err}");
            assert!(!err.contains("secret"), "{bad}: {err}");
        }
        // A broken variable for the other scheme does not matter.
        assert_eq!(via(&config(&[("HTTP_PROXY", "ftp://x")]), "https://x.example"), None);
    }

    #[test]
    fn no_proxy_rules() {
        let n = NoProxy::parse(
            " .corp.example, internal ,10.0.0.0/8, 192.168.1.7, [::1], fd00::/8,host.port:8443,*.wild.example,",
        );
        let cases = [
            ("a.corp.example", 443, true),
            ("corp.example", 443, true),
            ("xcorp.example", 443, false),
            ("internal", 80, true),
            ("svc.internal", 80, true),
            ("INTERNAL.", 80, true),
            ("10.1.2.3", 443, true),
            ("11.1.2.3", 443, false),
            ("192.168.1.7", 443, true),
            ("192.168.1.8", 443, false),
            ("::1", 443, true),
            ("[::1]", 443, true),
            ("fd12::1", 443, true),
            ("host.port", 8443, true),
            ("host.port", 443, false),
            ("x.wild.example", 443, true),
            ("10.0.0.1", 443, true),
            ("127.0.0.1", 443, false),
            ("oidc.us-east-1.amazonaws.com", 443, false),
        ];
        for (host, port, want) in cases {
            assert_eq!(n.matches(host, port), want, "{host}:{port}");
        }
        assert!(NoProxy::parse("*").matches("anything.example", 1));
        assert!(!NoProxy::parse("").matches("anything.example", 1));
        assert!(!NoProxy::parse("*.").matches("anything.example", 1));
    }

    #[test]
    fn no_proxy_bypasses_by_host_and_port() {
        let c = config(&[("http_proxy", "http://p:1"), ("NO_PROXY", "127.0.0.1:9999"), ("no_proxy", "localhost")]);
        // The lower-case list wins.
        assert_eq!(via(&c, "http://localhost:9999"), None);
        assert_eq!(via(&c, "http://127.0.0.1:9999").as_deref(), Some("http_proxy p:1"));
        let c = config(&[("http_proxy", "http://p:1"), ("NO_PROXY", "127.0.0.1:9999")]);
        assert_eq!(via(&c, "http://127.0.0.1:9999/x"), None);
        assert_eq!(via(&c, "http://127.0.0.1:9998/x").as_deref(), Some("http_proxy p:1"));
    }

    #[test]
    fn url_parts() {
        let p = UrlParts::parse("https://user:pw@[::1]:8443/path?q").unwrap();
        assert_eq!((p.https, p.host.as_str(), p.port), (true, "::1", 8443));
        let p = UrlParts::parse("HTTP://Example.COM./x").unwrap();
        assert_eq!((p.https, p.host.as_str(), p.port), (false, "example.com", 80));
        assert!(UrlParts::parse("no-scheme").is_none());
        let p = UrlParts::parse("https://[FE80::1]/").unwrap();
        assert_eq!((p.https, p.host.as_str(), p.port), (true, "fe80::1", 443));
        let p = UrlParts::parse("http://127.0.0.1:9?x=a:b@c").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 9));
        // A port that is no port is no URL to route (never the default port of the scheme).
        for bad in ["https://h:99999/", "https://h:44x/", "https://[::1]x/"] {
            assert!(UrlParts::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bundle_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = |name: &str, text: Option<&str>| {
            let path = dir.path().join(name);
            if let Some(t) = text {
                std::fs::write(&path, t).unwrap();
            }
            CaBundle { path, source_name: "AWS_CA_BUNDLE".to_owned() }
        };
        let cases = [
            (bundle("missing.pem", None), "does not exist"),
            (bundle("empty.pem", Some("")), "no PEM certificate"),
            (bundle("text.pem", Some("hello\n")), "no PEM certificate"),
            (
                bundle("garbage.pem", Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
                "cannot be used",
            ),
            (
                bundle("broken.pem", Some("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")),
                "not valid PEM",
            ),
            (CaBundle { path: dir.path().to_owned(), source_name: "AWS_CA_BUNDLE".to_owned() }, "folder"),
        ];
        for (b, needle) in cases {
            let err = load_bundle(&b).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains(&b.path.display().to_string()) && err.contains("AWS_CA_BUNDLE"), "{err}");
        }
    }

    #[test]
    fn mozilla_roots_are_always_there() {
        let (roots, from_platform) = base_roots();
        assert!(roots.len() >= webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() + from_platform);
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
    }
}
