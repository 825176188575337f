//! The container-credentials endpoint behind `serve` and `exec --server`: a small synchronous HTTP
//! server that answers `GET /` with the role credentials in the shape every AWS SDK's container
//! provider reads (docs/serve-and-console.md), for the clients that hold the per-run token.
//!
//! Everything that arrives on the socket is hostile until checked, in this order: the request head
//! must fit in `MAX_HEAD` bytes and arrive within `READ_DEADLINE`; the `Host` header must name the
//! address we listen on (a page in a browser whose DNS name was rebound to 127.0.0.1 sends its own
//! name); the `Authorization` header must be the token, compared in constant time; then only `GET /`
//! is served. Refusals carry the same short body whatever the reason, and no credential. One request
//! is served at a time, on the caller's thread: the credentials come from the caller's `fetch`, which
//! goes through the role cache and its lock, so any number of concurrent clients costs at most one
//! GetRoleCredentials per expiry. Log lines name the peer, the method and the outcome; never a token,
//! a header value or the request target.

use crate::error::Error;
use crate::role_cache::Served;
use crate::secret::Secret;
use crate::timefmt;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

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
/// Connections whose request head is still being read, at most: each has a small thread of its own,
/// so a few idle or slow connections cannot hold back the clients behind them.
const MAX_READING: usize = 128;
/// Refusals logged per second at most (the rest are counted), so a flood cannot fill the log.
const REFUSALS_LOGGED_PER_SEC: u32 = 10;

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

    /// Serves requests until `stop` is set and a connection (any) wakes the loop. Each connection's
    /// request head is read on a thread of its own (at most `MAX_READING` at once, bounded in size
    /// and time), so idle or slow connections do not hold back anyone; complete heads are checked
    /// and answered here, one at a time, so concurrent requests make at most one refresh. `quiet`
    /// leaves successful requests out of the log (`exec --server`, whose stderr is the command's);
    /// refusals and failures are always logged, at most `REFUSALS_LOGGED_PER_SEC` a second.
    pub fn run(&self, stop: &AtomicBool, quiet: bool, fetch: &mut dyn FnMut() -> Result<(Served, String), Error>) {
        let (tx, rx) = mpsc::channel::<Arrived>();
        let listener = match self.listener.try_clone() {
            Ok(listener) => listener,
            Err(e) => {
                errln!("aws-sso-process: serve: cannot accept connections: {e}");
                return;
            }
        };
        // The acceptor outlives `run` only while it waits for a connection that will never be read.
        std::thread::spawn(move || accept(listener, tx));
        let mut log = RefusalLog::default();
        while let Ok(arrived) = rx.recv() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            self.handle(arrived, quiet, fetch, &mut log);
        }
    }

    fn handle(
        &self,
        arrived: Arrived,
        quiet: bool,
        fetch: &mut dyn FnMut() -> Result<(Served, String), Error>,
        refusals: &mut RefusalLog,
    ) {
        let Arrived { mut stream, peer, head, _held } = arrived;
        let head = match head {
            Ok(head) => head,
            Err(why) => {
                refusals.log(&format!("refused {peer}: {why}"));
                respond(&mut stream, 400, &refusal_body(400));
                return;
            }
        };
        let method = method_of(&head);
        match check(&head, &self.token, self.addr) {
            Verdict::Refuse { status, why } => {
                refusals.log(&format!("refused {peer} {method}: {why} (HTTP {status})"));
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

/// A connection whose request head was read (or could not be).
struct Arrived {
    stream: TcpStream,
    peer: String,
    head: Result<String, &'static str>,
    /// Counts this connection until it has been answered (dropped with it).
    _held: Held,
}

/// One of the connections being read or waiting for an answer.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections and reads each head on a thread of its own; a connection beyond
/// `MAX_READING` being read or waiting for its answer is closed at once (so clients that send
/// complete requests while a slow refresh holds the answering loop cannot pile up without end).
fn accept(listener: TcpListener, tx: mpsc::Sender<Arrived>) {
    let reading = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let mut stream = match conn {
            Ok(stream) => stream,
            Err(e) => {
                // Out of descriptors and the like: say so, and do not spin.
                errln!("aws-sso-process: serve: cannot accept a connection: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if reading.fetch_add(1, Ordering::SeqCst) >= MAX_READING {
            reading.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closed without an answer
        }
        let (tx, held) = (tx.clone(), Held(Arc::clone(&reading)));
        // A thread that cannot be spawned drops its closure, and `held` with it.
        let _ = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".to_owned());
            let head = read_head(&mut stream);
            let _ = tx.send(Arrived { stream, peer, head, _held: held });
        });
    }
}

/// Refusal lines, at most `REFUSALS_LOGGED_PER_SEC` a second; the rest are counted and the count
/// is logged with the next line that gets through.
#[derive(Default)]
struct RefusalLog {
    second: Option<Instant>,
    logged: u32,
    skipped: u64,
}

impl RefusalLog {
    fn log(&mut self, line: &str) {
        let now = Instant::now();
        if self.second.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1)) {
            self.second = Some(now);
            self.logged = 0;
        }
        if self.logged >= REFUSALS_LOGGED_PER_SEC {
            self.skipped += 1;
            return;
        }
        self.logged += 1;
        if self.skipped > 0 {
            log(&format!("{} more refused (not logged)", std::mem::take(&mut self.skipped)));
        }
        log(line);
    }
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

/// The request head (up to the empty line), bounded in size and time.
fn read_head(stream: &mut TcpStream) -> Result<String, &'static str> {
    let deadline = Instant::now() + READ_DEADLINE;
    let _ = stream.set_write_timeout(Some(READ_DEADLINE));
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_end(&buf) {
            buf.truncate(end);
            return String::from_utf8(buf).map_err(|_| "a request head that is not text");
        }
        if buf.len() > MAX_HEAD {
            return Err("a request head over 8 KiB");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err("no complete request in time");
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("the connection closed before a complete request"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err("no complete request in time"),
        }
    }
}

/// Where the head ends: the first empty line (CRLF CRLF, or bare LF LF).
fn find_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
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

fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let allow = if status == 405 { "Allow: GET\r\n" } else { "" };
    let text = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         {allow}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).and_then(|()| stream.flush());
    let _ = stream.shutdown(std::net::Shutdown::Write);
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
    fn heads_end_at_the_first_empty_line_and_refusals_say_little() {
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), Some(23));
        assert_eq!(find_end(b"GET / HTTP/1.1\nHost: x\n\n"), Some(22));
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(refusal_body(401), refusal_body(403));
        assert_eq!(method_of("GET / HTTP/1.1"), "GET");
        assert_eq!(method_of("G\u{1b}T / HTTP/1.1"), "?");
    }
}
