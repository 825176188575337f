//! A forward proxy on 127.0.0.1 for the proxy tests, and a real Squid for the ones that need one.
//!
//! The in-process proxy opens CONNECT tunnels and forwards absolute-form requests
//! (`POST http://host:port/path HTTP/1.1`), to loopback addresses only, recording each request
//! line, and checks `Proxy-Authorization` when it was made with credentials. A refusing proxy
//! records each request and answers CONNECT with 502 and absolute-form requests with 403 (as
//! Squid does when its rules deny one): a test sees which host a request was for (an AWS
//! endpoint) while nothing leaves the machine.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// The request line as sent, without the line end: `CONNECT host:port HTTP/1.1` or
    /// `POST http://host:port/path HTTP/1.1`.
    pub line: String,
    pub method: String,
    /// `host:port` for CONNECT, the URL for an absolute-form request.
    pub target: String,
    /// Lower-cased header names.
    pub headers: BTreeMap<String, String>,
    /// Why the proxy did not tunnel or forward it, if it did not.
    pub refused: Option<&'static str>,
}

impl ProxyRequest {
    pub fn is_connect(&self) -> bool {
        self.method == "CONNECT"
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tunnel,
    Refuse,
}

pub struct ForwardProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<ProxyRequest>>>,
    stop: Arc<AtomicBool>,
}

impl ForwardProxy {
    /// Tunnels to loopback targets, no credentials needed.
    pub fn start() -> ForwardProxy {
        ForwardProxy::spawn(Mode::Tunnel, None)
    }

    /// Tunnels only for `Proxy-Authorization: Basic base64(user:password)`; 407 otherwise.
    pub fn with_credentials(user: &str, password: &str) -> ForwardProxy {
        ForwardProxy::spawn(Mode::Tunnel, Some(format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))))
    }

    /// Records every request and answers 502 (CONNECT) or 403 (absolute form).
    pub fn refusing() -> ForwardProxy {
        ForwardProxy::spawn(Mode::Refuse, None)
    }

    fn spawn(mode: Mode, auth: Option<String>) -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sn, sp) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (sn, auth) = (sn.clone(), auth.clone());
                std::thread::spawn(move || handle(stream, mode, auth.as_deref(), &sn));
            }
        });
        ForwardProxy { addr, seen, stop }
    }

    /// `http://127.0.0.1:port`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Every request, tunnelled, forwarded or refused.
    pub fn seen(&self) -> Vec<ProxyRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// The CONNECT tunnels it opened.
    pub fn tunnels(&self) -> Vec<ProxyRequest> {
        self.seen().into_iter().filter(|c| c.refused.is_none() && c.is_connect()).collect()
    }

    /// The absolute-form requests it forwarded.
    pub fn forwarded(&self) -> Vec<ProxyRequest> {
        self.seen().into_iter().filter(|c| c.refused.is_none() && !c.is_connect()).collect()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(stream: TcpStream, mode: Mode, auth: Option<&str>, seen: &Mutex<Vec<ProxyRequest>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut client) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let line = line.trim_end().to_owned();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = BTreeMap::new();
    // The header lines as sent, for forwarding.
    let mut raw_headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
        raw_headers.push(h.to_owned());
    }
    let record = |refused: Option<&'static str>| {
        seen.lock().unwrap().push(ProxyRequest {
            line: line.clone(),
            method: method.clone(),
            target: target.clone(),
            headers: headers.clone(),
            refused,
        });
    };
    let reply = |client: &mut TcpStream, status: &str, extra: &str| {
        let _ = write!(client, "HTTP/1.1 {status}\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n");
        let _ = client.flush();
    };
    let connect = method == "CONNECT";
    // An absolute-form request: `http://authority/path`.
    let absolute = target.strip_prefix("http://").map(|rest| match rest.find('/') {
        Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    });
    if !connect && absolute.is_none() {
        record(Some("neither CONNECT nor absolute form"));
        return reply(&mut client, "400 Bad Request", "");
    }
    if let Some(expected) = auth {
        let given = headers.get("proxy-authorization").map(String::as_str).unwrap_or("");
        if given != expected {
            record(Some("bad credentials"));
            return reply(
                &mut client,
                "407 Proxy Authentication Required",
                "Proxy-Authenticate: Basic realm=\"test\"\r\n",
            );
        }
    }
    if mode == Mode::Refuse {
        record(Some("refusing proxy"));
        // Marked as the proxy's own answer (RFC 9209), as Squid marks its own with X-Squid-Error.
        let status = if connect { "502 Bad Gateway" } else { "403 Forbidden" };
        return reply(&mut client, status, "Proxy-Status: test-proxy; error=http_request_denied\r\n");
    }
    // Never anything but loopback.
    let authority = match &absolute {
        Some((authority, _)) => authority.clone(),
        None => target.clone(),
    };
    let upstream = match authority.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_loopback() => TcpStream::connect(a),
        _ => {
            record(Some("not a loopback target"));
            return reply(&mut client, "403 Forbidden", "");
        }
    };
    let Ok(mut upstream) = upstream else {
        record(Some("upstream refused"));
        return reply(&mut client, "502 Bad Gateway", "");
    };
    record(None);
    match &absolute {
        None => {
            if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
                return;
            }
        }
        Some((_, path)) => {
            // Forward in origin form, without the proxy's own headers; one request per connection.
            let version = line.rsplit(' ').next().unwrap_or("HTTP/1.1");
            let mut head = format!("{method} {path} {version}\r\n");
            for h in &raw_headers {
                let name = h.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
                if !["proxy-authorization", "proxy-connection", "connection"].contains(&name.as_str()) {
                    head.push_str(h);
                    head.push_str("\r\n");
                }
            }
            head.push_str("Connection: close\r\n\r\n");
            if upstream.write_all(head.as_bytes()).is_err() {
                return;
            }
        }
    }
    // Bytes the client sent after the request head belong to the tunnel (or are the body).
    let early = reader.buffer().to_vec();
    if upstream.write_all(&early).is_err() {
        return;
    }
    let (Ok(mut up_read), Ok(mut client_write)) = (upstream.try_clone(), client.try_clone()) else { return };
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_read, &mut client_write);
        let _ = client_write.shutdown(Shutdown::Write);
    });
    let mut client_read = reader.into_inner();
    let _ = pipe(&mut client_read, &mut upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
}

fn pipe(from: &mut TcpStream, to: &mut TcpStream) -> std::io::Result<u64> {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return Ok(total),
            Ok(n) => n,
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Standard base64 with padding (for the expected Proxy-Authorization value).
pub fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc4648() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"user:p@ss"), "dXNlcjpwQHNz");
}

/// The access rules of Squid's configuration as Debian ships it (squid 5.7, Debian 12), comments
/// left out. CONNECT is allowed to port 443 only; plain requests to "safe" ports (80, 1025-65535,
/// ...) from localhost are allowed.
const SQUID_DEFAULT_RULES: &str = "\
acl localnet src 0.0.0.1-0.255.255.255
acl localnet src 10.0.0.0/8
acl localnet src 100.64.0.0/10
acl localnet src 169.254.0.0/16
acl localnet src 172.16.0.0/12
acl localnet src 192.168.0.0/16
acl localnet src fc00::/7
acl localnet src fe80::/10
acl SSL_ports port 443
acl Safe_ports port 80
acl Safe_ports port 21
acl Safe_ports port 443
acl Safe_ports port 70
acl Safe_ports port 210
acl Safe_ports port 1025-65535
acl Safe_ports port 280
acl Safe_ports port 488
acl Safe_ports port 591
acl Safe_ports port 777
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow localhost manager
http_access deny manager
http_access allow localhost
http_access deny all
";

/// A real Squid on a free 127.0.0.1 port with Debian's default access rules, in the foreground
/// (`squid -N`, no cache, no pid file, no logs), its config in a temporary folder; killed on drop.
pub struct Squid {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Squid {
    /// The squid binary, if installed (it lives in sbin, which a user's PATH may lack).
    pub fn binary() -> Option<PathBuf> {
        let path = std::env::var("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"].map(PathBuf::from))
            .map(|dir| dir.join("squid"))
            .find(|p| p.is_file())
    }

    /// Starts squid and waits until it accepts connections (panics, with squid's output, if it
    /// does not within 30 s).
    pub fn start(binary: &Path) -> Squid {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Squid started as root switches to its own user (proxy on Debian), which cannot write in
        // our folder: it writes no file at all, and what it prints goes to squid.out (written by us).
        let conf = format!(
            "{SQUID_DEFAULT_RULES}\
             http_port 127.0.0.1:{port}\n\
             visible_hostname localhost\n\
             pid_filename none\n\
             cache_log /dev/null\n\
             access_log none\n\
             cache_store_log none\n\
             netdb_filename none\n\
             cache deny all\n\
             coredump_dir none\n\
             logfile_rotate 0\n\
             shutdown_lifetime 0 seconds\n"
        );
        let conf_path = dir.path().join("squid.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let output = std::fs::File::create(dir.path().join("squid.out")).unwrap();
        let child = Command::new(binary)
            // -n: a service name of its own, so that squids started at once never share a name.
            .args(["-N", "-d", "1", "-n", &format!("awsssoproc{port}"), "-f"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("start squid");
        let mut squid = Squid { child, port, dir };
        let up = crate::util::wait_for(Duration::from_secs(30), || {
            squid.child.try_wait().ok().flatten().is_none() && TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "squid did not listen on 127.0.0.1:{port}:\n{}", squid.output());
        squid
    }

    /// `http://127.0.0.1:port`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What squid printed (its start-up messages and errors).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("squid.out")).unwrap_or_default()
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
