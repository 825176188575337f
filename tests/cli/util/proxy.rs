//! A forward proxy on 127.0.0.1 for the proxy tests. It opens CONNECT tunnels (ureq tunnels
//! `http://` and `https://` targets alike) to loopback addresses only, counts them, and checks
//! `Proxy-Authorization` when it was made with credentials. A refusing proxy records each
//! CONNECT target and answers 502: a test sees which host a request was for (an AWS endpoint)
//! while nothing leaves the machine.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One CONNECT request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Connect {
    /// `host:port` from the request line.
    pub target: String,
    /// Lower-cased header names.
    pub headers: BTreeMap<String, String>,
    /// Why the proxy did not open the tunnel, if it did not.
    pub refused: Option<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tunnel,
    Refuse,
}

pub struct ForwardProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Connect>>>,
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

    /// Records every CONNECT and answers 502.
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

    /// Every CONNECT request, tunnelled or not.
    pub fn seen(&self) -> Vec<Connect> {
        self.seen.lock().unwrap().clone()
    }

    /// The tunnels it opened.
    pub fn tunnels(&self) -> Vec<Connect> {
        self.seen().into_iter().filter(|c| c.refused.is_none()).collect()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(stream: TcpStream, mode: Mode, auth: Option<&str>, seen: &Mutex<Vec<Connect>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut client) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = BTreeMap::new();
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
    }
    let record = |refused: Option<&'static str>| {
        seen.lock().unwrap().push(Connect { target: target.clone(), headers: headers.clone(), refused });
    };
    let reply = |client: &mut TcpStream, status: &str, extra: &str| {
        let _ = write!(client, "HTTP/1.1 {status}\r\n{extra}content-length: 0\r\n\r\n");
        let _ = client.flush();
    };
    if method != "CONNECT" {
        record(Some("not CONNECT"));
        return reply(&mut client, "405 Method Not Allowed", "");
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
        return reply(&mut client, "502 Bad Gateway", "");
    }
    // Never anything but loopback.
    let upstream = match target.parse::<SocketAddr>() {
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
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        return;
    }
    // Bytes the client sent after the request head belong to the tunnel.
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
