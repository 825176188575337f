//! The one small HTTP listener on a local port that the credentials endpoint (serve.rs) and
//! the browser's redirect (login/pkce.rs) share: it accepts connections, reads each
//! request head (bounded in size and time), and hands complete heads to its owner one at a time;
//! the owner checks them and writes the answer with [`respond`].
//!
//! Any local program can connect, so nobody may be able to starve it (docs/reliability.md). One
//! thread reads every connection at once with poll(2), never blocking on any single one: idle and
//! trickling connections cost a table entry each, not a thread. The table is bounded; when it is
//! full, the connection that has waited longest without a complete head makes room for the newcomer,
//! and past half full every connection gets a shorter deadline. Threads (two) and memory (at most
//! `max_head` bytes per table entry) stay bounded whatever the flood, and a client that sends its
//! request at once, as SDKs and browsers do, is answered behind any number of idle ones.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Connections being read at most; a newcomer beyond this takes the place of the oldest.
const MAX_READING: usize = 1024;
/// Past this many connections being read, each gets `PRESSED_DEADLINE` instead of the usual one.
const PRESSURE: usize = MAX_READING / 2;
/// The deadline for a whole request head under pressure (a local client sends it in microseconds).
const PRESSED_DEADLINE: Duration = Duration::from_secs(1);
/// Complete heads waiting for the owner at most; beyond that a request is answered 503 at once.
const QUEUE: usize = 64;
/// The reader looks at the stop flag at least this often.
const TICK: Duration = Duration::from_millis(200);
/// How long writing an answer may take (it fits a socket buffer, so only a stuck client waits).
const WRITE_DEADLINE: Duration = Duration::from_secs(2);
/// Refusal lines logged per second at most (the rest are counted), so a flood cannot fill the log.
const REFUSALS_LOGGED_PER_SEC: u32 = 10;

/// What the listener's owner decides about heads; the rest is the same for every owner.
pub struct Limits {
    /// Largest request head read.
    pub max_head: usize,
    /// How long a client may take to send its whole head when the listener is not under pressure.
    pub deadline: Duration,
    /// The whole answer (status line, headers, body) to a head that is too big, too slow or not text.
    pub bad_request: Vec<u8>,
    /// The whole answer when the owner is too busy to take another request.
    pub busy: Vec<u8>,
    /// Where refusals are logged (at most `REFUSALS_LOGGED_PER_SEC` lines a second), if anywhere.
    pub log: Option<fn(&str)>,
}

/// A connection with its request head.
pub struct Request {
    /// Blocking, with a write deadline: write the answer with [`respond`].
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// The head up to (not including) the empty line that ends it.
    pub head: String,
}

/// The listener: dropping it stops the reader, which closes the socket and every connection.
pub struct Listener {
    heads: Receiver<Request>,
    stop: Arc<AtomicBool>,
    refusals: Arc<Mutex<RefusalLog>>,
    /// Joined on drop, so that no connection is accepted, and lost, after the listener is gone: a
    /// second listener on the same socket (a login that registers again and waits for a new
    /// redirect) must be the only one taking its connections.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    /// Starts reading connections from `listener` on a thread of its own.
    pub fn start(listener: TcpListener, limits: Limits) -> std::io::Result<Listener> {
        raise_descriptor_limit();
        deepen_backlog(&listener);
        listener.set_nonblocking(true)?;
        let (tx, heads) = sync_channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let refusals = Arc::new(Mutex::new(RefusalLog::default()));
        let mut reader = Reader {
            listener,
            limits,
            tx,
            stop: Arc::clone(&stop),
            refusals: Arc::clone(&refusals),
            table: VecDeque::new(),
            capacity: MAX_READING.min(descriptor_room()),
        };
        let reader = std::thread::Builder::new().name("loopback".to_owned()).spawn(move || reader.run())?;
        Ok(Listener { heads, stop, refusals, reader: Some(reader) })
    }

    /// The next complete request head, waiting at most `timeout`; `Disconnected` when the reader
    /// has stopped.
    pub fn next(&self, timeout: Duration) -> Result<Request, RecvTimeoutError> {
        self.heads.recv_timeout(timeout)
    }

    /// Logs a refusal through the same rate limit as the listener's own, if the owner logs.
    pub fn log_refusal(&self, log: fn(&str), line: &str) {
        if let Ok(mut refusals) = self.refusals.lock() {
            refusals.log(log, line);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The reader sees it within a tick (it never blocks on the owner: heads are handed over
        // with try_send) and ends, closing its copy of the socket and every connection.
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// Writes a whole answer (`Connection: close`) and ends the write side.
pub fn respond(stream: &mut TcpStream, status: u16, content_type: &str, extra_headers: &str, body: &str) {
    let _ = stream.write_all(answer(status, content_type, extra_headers, body).as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// The bytes of a whole answer; `extra_headers` is empty or lines that each end in CRLF.
pub fn answer(status: u16, content_type: &str, extra_headers: &str, body: &str) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         {extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A connection whose head is still being read.
struct Reading {
    stream: TcpStream,
    peer: SocketAddr,
    since: Instant,
    head: Vec<u8>,
}

/// What one read of a connection came to.
enum Outcome {
    /// More may come.
    Waiting,
    Complete(String),
    /// Closed by the client (or failed): dropped without an answer.
    Gone,
    Refused(&'static str),
}

struct Reader {
    listener: TcpListener,
    limits: Limits,
    tx: SyncSender<Request>,
    stop: Arc<AtomicBool>,
    refusals: Arc<Mutex<RefusalLog>>,
    /// Oldest first.
    table: VecDeque<Reading>,
    capacity: usize,
}

impl Reader {
    fn run(&mut self) {
        while !self.stop.load(Ordering::SeqCst) {
            self.expire();
            let now = Instant::now();
            let wait = self.table.iter().map(|c| self.deadline_of(c).saturating_duration_since(now)).min();
            let timeout = wait.map_or(TICK, |w| w.min(TICK));
            let ready = wait_readable(&self.listener, &self.table, timeout);
            let mut done = Vec::new();
            for (i, conn) in self.table.iter_mut().enumerate() {
                if ready.get(i + 1).copied().unwrap_or(false) {
                    match read_some(conn, self.limits.max_head) {
                        Outcome::Waiting => {}
                        outcome => done.push((i, outcome)),
                    }
                }
            }
            for (i, outcome) in done.into_iter().rev() {
                let Some(conn) = self.table.remove(i) else { continue };
                match outcome {
                    Outcome::Complete(head) => {
                        if !self.deliver(conn, head) {
                            return; // the owner is gone
                        }
                    }
                    Outcome::Refused(why) => self.refuse(conn, why),
                    Outcome::Waiting | Outcome::Gone => {}
                }
            }
            if ready.first().copied().unwrap_or(false) && !self.stop.load(Ordering::SeqCst) {
                self.accept();
            }
        }
    }

    /// The head's deadline: shorter while many connections are being read.
    fn deadline_of(&self, conn: &Reading) -> Instant {
        let limit =
            if self.table.len() > PRESSURE { self.limits.deadline.min(PRESSED_DEADLINE) } else { self.limits.deadline };
        conn.since + limit
    }

    /// Refuses the connections past their deadline: the oldest come first in the table.
    fn expire(&mut self) {
        let now = Instant::now();
        while self.table.front().is_some_and(|c| self.deadline_of(c) <= now) {
            if let Some(conn) = self.table.pop_front() {
                self.refuse(conn, "no complete request in time");
            }
        }
    }

    /// Accepts what is waiting (a bounded batch, so reading goes on under a flood of connections).
    fn accept(&mut self) {
        for _ in 0..256 {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if self.table.len() >= self.capacity
                        && let Some(oldest) = self.table.pop_front()
                    {
                        self.refuse(oldest, "too many connections waiting: the one waiting longest was closed");
                    }
                    self.table.push_back(Reading { stream, peer, since: Instant::now(), head: Vec::new() });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors and the like: make room if we hold any, else wait a little.
                    match self.table.pop_front() {
                        Some(oldest) => {
                            self.refuse(oldest, "too many connections waiting: the one waiting longest was closed")
                        }
                        None => {
                            self.log(&format!("cannot accept a connection: {e}"));
                            std::thread::sleep(Duration::from_millis(50));
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Hands a complete head to the owner; false when the owner is gone.
    fn deliver(&mut self, conn: Reading, head: String) -> bool {
        let Reading { stream, peer, .. } = conn;
        if stream.set_nonblocking(false).is_err() || stream.set_write_timeout(Some(WRITE_DEADLINE)).is_err() {
            return true;
        }
        match self.tx.try_send(Request { stream, peer, head }) {
            Ok(()) => true,
            Err(TrySendError::Full(request)) => {
                let mut stream = request.stream;
                let _ = stream.set_nonblocking(true);
                let _ = stream.write_all(&self.limits.busy);
                self.log(&format!("refused {peer}: too many requests waiting (HTTP 503)"));
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Answers a connection whose head could not be read (without ever waiting on it) and closes it.
    fn refuse(&self, mut conn: Reading, why: &str) {
        let _ = conn.stream.write_all(&self.limits.bad_request);
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        self.log(&format!("refused {}: {why}", conn.peer));
    }

    fn log(&self, line: &str) {
        if let (Some(log), Ok(mut refusals)) = (self.limits.log, self.refusals.lock()) {
            refusals.log(log, line);
        }
    }
}

/// Reads what a connection has sent so far, without waiting.
fn read_some(conn: &mut Reading, max_head: usize) -> Outcome {
    let mut chunk = [0u8; 2048];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return Outcome::Gone,
            Ok(n) => {
                // Where the head ends can only be in what came now or the three bytes before.
                let from = conn.head.len().saturating_sub(3);
                // Exactly what came: a table entry holds at most `max_head` and one chunk.
                conn.head.reserve_exact(n);
                conn.head.extend_from_slice(&chunk[..n]);
                if let Some(end) = find_end(&conn.head[from..]) {
                    let mut head = std::mem::take(&mut conn.head);
                    head.truncate(from + end);
                    return match String::from_utf8(head) {
                        Ok(head) => Outcome::Complete(head),
                        Err(_) => Outcome::Refused("a request head that is not text"),
                    };
                }
                if conn.head.len() > max_head {
                    return Outcome::Refused("a request head too big");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Outcome::Waiting,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Outcome::Gone,
        }
    }
}

/// Where the head ends: the first empty line (CRLF CRLF, or bare LF LF).
pub fn find_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Which of the listener (first) and the connections can be read without blocking, waiting at
/// most `timeout` for any.
#[cfg(unix)]
fn wait_readable(listener: &TcpListener, table: &VecDeque<Reading>, timeout: Duration) -> Vec<bool> {
    use std::os::unix::io::AsRawFd;
    let mut fds: Vec<libc::pollfd> = std::iter::once(listener.as_raw_fd())
        .chain(table.iter().map(|c| c.stream.as_raw_fd()))
        .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
        .collect();
    let millis = timeout.as_millis().clamp(1, 1000) as libc::c_int;
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs that poll may write to.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if rc <= 0 {
        return Vec::new(); // a timeout, or EINTR: the caller goes round again
    }
    fds.iter().map(|p| p.revents != 0).collect()
}

/// Elsewhere: a short nap, then every connection is tried (reads do not block).
#[cfg(not(unix))]
fn wait_readable(_listener: &TcpListener, table: &VecDeque<Reading>, timeout: Duration) -> Vec<bool> {
    std::thread::sleep(timeout.min(Duration::from_millis(10)));
    vec![true; table.len() + 1]
}

/// Raises the soft limit on open descriptors to the hard one, so a flood of connections meets the
/// table's bound before the process's.
#[cfg(unix)]
fn raise_descriptor_limit() {
    // SAFETY: getrlimit/setrlimit on a zeroed out-parameter of the right type.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(not(unix))]
fn raise_descriptor_limit() {}

/// Room for a burst of connections (a flood closed and reopened at once) in the kernel's queue, so
/// a newcomer's SYN is not dropped (and retried only a second later) before we accept it.
#[cfg(unix)]
fn deepen_backlog(listener: &TcpListener) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: listen(2) again on a listening socket only changes its backlog (capped by the system).
    unsafe { libc::listen(listener.as_raw_fd(), 4096) };
}

#[cfg(not(unix))]
fn deepen_backlog(_listener: &TcpListener) {}

/// How many connections the descriptor limit leaves room for (keeping some for files and HTTPS).
#[cfg(unix)]
fn descriptor_room() -> usize {
    // SAFETY: getrlimit on a zeroed out-parameter of the right type.
    let soft = unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return MAX_READING;
        }
        limit.rlim_cur
    };
    usize::try_from(soft).unwrap_or(usize::MAX).saturating_sub(64).max(16)
}

#[cfg(not(unix))]
fn descriptor_room() -> usize {
    MAX_READING
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
    fn log(&mut self, log: fn(&str), line: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_end_at_the_first_empty_line() {
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), Some(23));
        assert_eq!(find_end(b"GET / HTTP/1.1\nHost: x\n\n"), Some(22));
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }

    #[test]
    fn answers_say_their_length_and_close() {
        let text = answer(405, "application/json", "Allow: GET\r\n", "{}");
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{text}");
        assert!(
            text.contains("\r\nContent-Length: 2\r\n")
                && text.contains("\r\nAllow: GET\r\nConnection: close\r\n\r\n{}")
        );
    }

    #[test]
    fn a_head_is_found_across_reads_and_bounded() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let (stream, peer) = server.accept().unwrap();
        stream.set_nonblocking(true).unwrap();
        let mut conn = Reading { stream, peer, since: Instant::now(), head: Vec::new() };
        assert!(matches!(read_some(&mut conn, 64), Outcome::Waiting));
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(read_some(&mut conn, 64), Outcome::Waiting));
        client.write_all(b"\nrest").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(read_some(&mut conn, 64), Outcome::Complete(h) if h == "GET / HTTP/1.1\r\nHost: x"));
        client.write_all(&[b'a'; 100]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut conn = Reading { head: Vec::new(), ..conn };
        assert!(matches!(read_some(&mut conn, 64), Outcome::Refused(_)));
    }
}
