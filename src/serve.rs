//! The container-credentials endpoint behind `serve` and `exec --server`: a small synchronous HTTP
//! server that answers `GET /` with the role credentials in the shape every AWS SDK's container
//! provider reads (docs/serve-and-console.md), for the clients that hold the per-run token.
//!
//! Everything that arrives on the socket is hostile until checked, in this order: the request head
//! must fit in `MAX_HEAD` bytes and arrive within `READ_DEADLINE` (read by `crate::loopback`, which
//! no number of idle or slow connections can starve); the `Host` header must name the
//! address we listen on (a page in a browser whose DNS name was rebound to 127.0.0.1 sends its own
//! name); the `Authorization` header must be the token, compared in constant time; then only `GET /`
//! is served. Refusals carry the same short body whatever the reason, and no credential. One request
//! is served at a time, on the caller's thread: the credentials come from the caller's `fetch`, which
//! goes through the role cache and its lock, so any number of concurrent clients costs at most one
//! GetRoleCredentials per expiry. Log lines name the peer, the method and the outcome; never a token,
//! a header value or the request target.

use crate::error::Error;
use crate::loopback::{self, Limits, Listener, Request};
use crate::role_cache::Served;
use crate::secret::Secret;
use crate::timefmt;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

/// The environment variable naming the endpoint (SDKs read it).
pub const URI_VAR: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
/// The environment variable holding the token SDKs send as `Authorization`.
pub const TOKEN_VAR: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
/// Largest request head we read; SDK requests are a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head (SDKs send it at once).
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Random bytes in the token: 256 bits, shown as 64 hex digits.
const TOKEN_BYTES: usize = 32;
/// How often the serving loop looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    token: Secret,
}

/// What the server does with a request head.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Serve,
    Refuse { status: u16, why: &'static str },
}

impl Server {
    /// Listens on `addr` (port 0: a free one) with a fresh random token.
    pub fn bind(addr: SocketAddr) -> Result<Server, Error> {
        let listener = TcpListener::bind(addr).map_err(|e| Error::Other {
            what: format!("cannot listen on {addr}: {e}"),
            hint: Some(if e.kind() == std::io::ErrorKind::AddrInUse {
                "another program uses that port: pick another --port, or leave it out for a free one".to_owned()
            } else {
                "check --bind: it must be an address of this machine".to_owned()
            }),
        })?;
        let addr =
            listener.local_addr().map_err(|e| Error::Other { what: format!("cannot listen: {e}"), hint: None })?;
        Ok(Server { listener, addr, token: new_token()? })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value of `AWS_CONTAINER_CREDENTIALS_FULL_URI`: the bound address, or loopback when
    /// bound to every address.
    pub fn uri(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}/", SocketAddr::new(ip, self.addr.port()))
    }

    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// Serves requests until `stop` is set. Request heads are read by `crate::loopback` (bounded
    /// in size, time, threads and memory, so idle or slow connections hold back nobody); complete
    /// heads are checked and answered here, one at a time, so concurrent requests make at most one
    /// refresh. `quiet` leaves successful requests out of the log (`exec --server`, whose stderr
    /// is the command's); refusals and failures are always logged, at most ten lines a second.
    pub fn run(&self, stop: &AtomicBool, quiet: bool, fetch: &mut dyn FnMut() -> Result<(Served, String), Error>) {
        let limits = Limits {
            max_head: MAX_HEAD,
            deadline: READ_DEADLINE,
            bad_request: answer(400, &refusal_body(400)).into_bytes(),
            busy: answer(503, &json!({"code": "Busy", "message": "busy"}).to_string()).into_bytes(),
            log: Some(log),
        };
        let listener = match self.listener.try_clone().and_then(|l| Listener::start(l, limits)) {
            Ok(listener) => listener,
            Err(e) => {
                errln!("aws-sso-process: serve: cannot accept connections: {e}");
                return;
            }
        };
        while !stop.load(Ordering::SeqCst) {
            match listener.next(STOP_CHECK) {
                Ok(request) => self.handle(&listener, request, quiet, fetch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    errln!("aws-sso-process: serve: the listener stopped");
                    return;
                }
            }
        }
    }

    fn handle(
        &self,
        listener: &Listener,
        request: Request,
        quiet: bool,
        fetch: &mut dyn FnMut() -> Result<(Served, String), Error>,
    ) {
        let Request { mut stream, peer, head } = request;
        let method = method_of(&head);
        match check(&head, &self.token, self.addr) {
            Verdict::Refuse { status, why } => {
                listener.log_refusal(log, &format!("refused {peer} {method}: {why} (HTTP {status})"));
                respond(&mut stream, status, &refusal_body(status));
            }
            Verdict::Serve => match fetch() {
                Ok((served, account_id)) => {
                    let creds = &served.creds;
                    let body = json!({
                        "AccessKeyId": creds.access_key_id.expose(),
                        "SecretAccessKey": creds.secret_access_key.expose(),
                        "Token": creds.session_token.expose(),
                        "Expiration": timefmt::format(creds.expiration),
                        "AccountId": account_id,
                    });
                    respond(&mut stream, 200, &body.to_string());
                    if !quiet {
                        let source = if served.from_cache { "from the cache" } else { "fresh" };
                        log(&format!(
                            "served {peer} {method}: credentials {source}, expiring {}",
                            timefmt::format(creds.expiration)
                        ));
                    }
                }
                Err(e) => {
                    let mut message = crate::error::chain(&e);
                    if let Some(hint) = e.hint() {
                        message = format!("{message}; hint: {hint}");
                    }
                    log(&format!("cannot serve {peer}: {message}"));
                    let body = json!({"code": "CredentialsUnavailable", "message": message});
                    respond(&mut stream, 500, &body.to_string());
                }
            },
        }
    }
}

fn log(line: &str) {
    errln!("aws-sso-process: serve: {}", crate::sanitize::sanitize(line));
}

/// A fresh token from the operating system's random source.
fn new_token() -> Result<Secret, Error> {
    let mut buf = [0u8; TOKEN_BYTES];
    getrandom::getrandom(&mut buf).map_err(|e| Error::Other {
        what: format!("cannot make a random token: {e}"),
        hint: Some("the operating system's random source is not available".to_owned()),
    })?;
    Ok(Secret::new(buf.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// The method, for log lines: a short token of letters, else `?`.
fn method_of(head: &str) -> String {
    let method = head.split(' ').next().unwrap_or_default();
    if !method.is_empty() && method.len() <= 10 && method.bytes().all(|b| b.is_ascii_uppercase()) {
        method.to_owned()
    } else {
        "?".to_owned()
    }
}

/// The checks, in order: a well-formed head, the Host we listen on, the token, then `GET /`.
fn check(head: &str, token: &Secret, addr: SocketAddr) -> Verdict {
    let bad = Verdict::Refuse { status: 400, why: "a malformed request" };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else { return bad };
    if method.is_empty() || !version.starts_with("HTTP/1.") {
        return bad;
    }
    let (mut host, mut authorization) = (None, None);
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return bad; // obsolete line folding
        }
        let Some((name, value)) = line.split_once(':') else { return bad };
        let value = value.trim_matches([' ', '\t']);
        let slot = if name.eq_ignore_ascii_case("host") {
            &mut host
        } else if name.eq_ignore_ascii_case("authorization") {
            &mut authorization
        } else {
            continue;
        };
        if slot.replace(value).is_some() {
            return bad; // two Host or two Authorization headers
        }
    }
    if !host.is_some_and(|h| host_matches(h, addr)) {
        return Verdict::Refuse { status: 403, why: "a Host header that is not the address served" };
    }
    match authorization {
        None => return Verdict::Refuse { status: 401, why: "no Authorization header" },
        Some(given) if !same(given.as_bytes(), token.expose().as_bytes()) => {
            return Verdict::Refuse { status: 403, why: "a wrong authorization token" };
        }
        Some(_) => {}
    }
    if method != "GET" {
        return Verdict::Refuse { status: 405, why: "a method other than GET" };
    }
    if target.split('?').next() != Some("/") {
        return Verdict::Refuse { status: 404, why: "a path other than /" };
    }
    Verdict::Serve
}

/// Whether a `Host` header names the address we listen on: the same IP (any IP when bound to
/// every address) or `localhost` for a loopback one, and the same port. A DNS name never matches,
/// so a rebound name cannot reach the credentials from a browser.
fn host_matches(value: &str, addr: SocketAddr) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else { return false };
        (inside, after)
    } else {
        let host = value.rsplit_once(':').map_or(value, |(h, _)| h);
        if host.contains(':') {
            return false; // an IPv6 address must be in brackets
        }
        (host, &value[host.len()..])
    };
    let port_ok = match port.strip_prefix(':') {
        Some(p) => p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|p| p == addr.port()),
        None => port.is_empty() && addr.port() == 80,
    };
    let ip = addr.ip();
    let host_ok = match host.parse::<IpAddr>() {
        // Bound to every address: any address of the machine as an IP literal (a name is what DNS
        // rebinding needs). `::` is dual-stack, so it takes IPv4 clients too.
        Ok(given) => given == ip || (ip.is_unspecified() && (given.is_ipv4() == ip.is_ipv4() || ip.is_ipv6())),
        Err(_) => host.eq_ignore_ascii_case("localhost") && (ip.is_loopback() || ip.is_unspecified()),
    };
    port_ok && host_ok
}

/// Constant-time equality (the length is not secret: every token has the same).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The body of a refusal: the same few words whatever the check that failed.
fn refusal_body(status: u16) -> String {
    let (code, message) = match status {
        401 | 403 => ("AccessDenied", "access denied"),
        404 => ("NotFound", "not found"),
        405 => ("MethodNotAllowed", "only GET is served"),
        _ => ("BadRequest", "bad request"),
    };
    json!({"code": code, "message": message}).to_string()
}

fn answer(status: u16, body: &str) -> String {
    let allow = if status == 405 { "Allow: GET\r\n" } else { "" };
    loopback::answer(status, "application/json", allow, body)
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let allow = if status == 405 { "Allow: GET\r\n" } else { "" };
    loopback::respond(stream, status, "application/json", allow, body);
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn verdict(head: &str, addr: &str) -> Verdict {
        check(head, &Secret::new(TOKEN), addr.parse().unwrap())
    }

    fn get(host: &str, auth: Option<&str>) -> String {
        let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n{auth}User-Agent: x")
    }

    #[test]
    fn only_get_slash_with_the_token_and_our_host_is_served() {
        let addr = "127.0.0.1:4321";
        assert_eq!(verdict(&get("127.0.0.1:4321", Some(TOKEN)), addr), Verdict::Serve);
        assert_eq!(verdict(&get("localhost:4321", Some(TOKEN)), addr), Verdict::Serve);
        assert_eq!(verdict(&get("LOCALHOST:4321", Some(TOKEN)), addr), Verdict::Serve);
        let status = |head: &str| match verdict(head, addr) {
            Verdict::Refuse { status, .. } => status,
            Verdict::Serve => 200,
        };
        assert_eq!(status(&get("127.0.0.1:4321", None)), 401);
        assert_eq!(status(&get("127.0.0.1:4321", Some("wrong"))), 403);
        assert_eq!(status(&get("127.0.0.1:4321", Some(&TOKEN[1..]))), 403);
        assert_eq!(status(&get("127.0.0.1:4321", Some(&format!("Bearer {TOKEN}")))), 403);
        // DNS rebinding: a name that resolves to us is still not our address.
        assert_eq!(status(&get("evil.example:4321", Some(TOKEN))), 403);
        assert_eq!(status(&get("127.0.0.1:4322", Some(TOKEN))), 403);
        assert_eq!(status(&get("127.0.0.2:4321", Some(TOKEN))), 403);
        assert_eq!(status(&get("127.0.0.1", Some(TOKEN))), 403);
        assert_eq!(status(&get("", Some(TOKEN))), 403);
        assert_eq!(status(&format!("GET / HTTP/1.1\r\nAuthorization: {TOKEN}")), 403, "no Host at all");
        let post = get("127.0.0.1:4321", Some(TOKEN)).replacen("GET", "POST", 1);
        assert_eq!(status(&post), 405);
        assert_eq!(status(&get("127.0.0.1:4321", None).replacen("GET", "DELETE", 1)), 401);
        assert_eq!(status(&get("127.0.0.1:4321", Some(TOKEN)).replacen("/ ", "/x ", 1)), 404);
        assert_eq!(status(&get("127.0.0.1:4321", Some(TOKEN)).replacen("/ ", "/?a=1 ", 1)), 200);
        // Malformed heads.
        assert_eq!(status("GET /\r\nHost: 127.0.0.1:4321"), 400);
        assert_eq!(status(&get("127.0.0.1:4321", Some(TOKEN)).replace("HTTP/1.1", "HTTP/2")), 400);
        let two_hosts = format!("{}\r\nHost: evil.example:4321", get("127.0.0.1:4321", Some(TOKEN)));
        assert_eq!(status(&two_hosts), 400);
        let two_tokens = format!("{}\r\nAuthorization: {TOKEN}", get("127.0.0.1:4321", Some("wrong")));
        assert_eq!(status(&two_tokens), 400);
        assert_eq!(status(&format!("{}\r\n folded", get("127.0.0.1:4321", Some(TOKEN)))), 400);
        assert_eq!(status(&format!("{}\r\nno colon", get("127.0.0.1:4321", Some(TOKEN)))), 400);
    }

    #[test]
    fn hosts_for_other_bind_addresses() {
        let ok = |host: &str, addr: &str| host_matches(host, addr.parse().unwrap());
        assert!(ok("[::1]:8080", "[::1]:8080"));
        assert!(ok("localhost:8080", "[::1]:8080"));
        assert!(!ok("[::1]:8081", "[::1]:8080"));
        assert!(!ok("::1:8080", "[::1]:8080"));
        assert!(!ok("[::1:8080", "[::1]:8080"));
        // Every address: any IP literal of the family, never a name but localhost.
        assert!(ok("172.17.0.1:8080", "0.0.0.0:8080"));
        assert!(ok("localhost:8080", "0.0.0.0:8080"));
        assert!(!ok("host.docker.internal:8080", "0.0.0.0:8080"));
        assert!(!ok("[::1]:8080", "0.0.0.0:8080"));
        // `::` is dual-stack: IPv4 clients (Docker's bridge, curl to 127.0.0.1) as well.
        assert!(ok("127.0.0.1:8080", "[::]:8080"));
        assert!(ok("[::1]:8080", "[::]:8080"));
        assert!(!ok("example.com:8080", "[::]:8080"));
        // A specific address: only itself.
        assert!(ok("192.0.2.7:8080", "192.0.2.7:8080"));
        assert!(!ok("localhost:8080", "192.0.2.7:8080"));
        assert!(!ok("127.0.0.1:8080", "192.0.2.7:8080"));
        // Port 80 may be left out, as HTTP allows.
        assert!(ok("127.0.0.1", "127.0.0.1:80"));
        assert!(!ok("127.0.0.1:", "127.0.0.1:80"));
        assert!(!ok("127.0.0.1:+80", "127.0.0.1:80"));
    }

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"ab") && !same(b"", b"a"));
    }

    #[test]
    fn refusals_say_little() {
        assert_eq!(refusal_body(401), refusal_body(403));
        assert_eq!(method_of("GET / HTTP/1.1"), "GET");
        assert_eq!(method_of("G\u{1b}T / HTTP/1.1"), "?");
    }
}
