//! An in-process fake of the SSO OIDC and portal services on 127.0.0.1, for tests and the demo.
//!
//! It records every request (method, path, query, lower-cased headers, body) for assertions, and
//! answers in one of two ways: a scripted reply queued for an operation (`script`), or the default
//! behaviour of a small, stateful IAM Identity Center: CreateToken (refresh_token grant) checks the
//! client and the refresh token, rotates refresh tokens when asked to, and issues access tokens;
//! GetRoleCredentials accepts only access tokens it issued or was told about (`trust_access_token`);
//! CreateTokenWithIAM (`POST /token?aws_iam=t`) recomputes the SigV4 signature with the secret of
//! the access key it names (the test key `IAM_ACCESS_KEY`, or role credentials it issued) and
//! answers 403 when it does not match.
//! Unknown routes get a 404 with an error body, so an unexpected call fails the test loudly.
//!
//! `start_tls` serves the same over HTTPS with a certificate made at test time (see `tls.rs`).
//! For logins it also plays the rest of IAM Identity Center: RegisterClient issues clients (and
//! remembers their grant types, redirect URIs and scopes), StartDeviceAuthorization issues device
//! codes that CreateToken approves after a configurable number of polls (or denies, or never), and
//! `GET /authorize` checks the PKCE request and redirects (302) to the redirect URI with a code that
//! CreateToken redeems only with the same redirect URI and a verifier matching the S256 challenge.
//! POST /logout ends the session of the bearer token. The pre-seeded client CLIENT_ID stays valid.
//! ListAccounts and ListAccountRoles serve an organisation (`set_accounts`, default
//! `default_accounts()`) in pages of at most `set_page_size` items (default 2, so the default
//! organisation takes 3 pages), with opaque next tokens it checks, to known bearer tokens only.
//! It also plays the console federation endpoint: `GET /federation?Action=getSigninToken` checks
//! that the `Session` JSON holds role credentials it issued (key, secret and session token together,
//! no `SessionDuration`) and answers a `SigninToken` (`signin-token-<n>-DO-NOT-LEAK`).

#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const CLIENT_ID: &str = "fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret-DO-NOT-LEAK";
/// The IAM key pair CreateTokenWithIAM knows from the start.
pub const IAM_ACCESS_KEY: &str = "AKIDTEST";
pub const IAM_SECRET_KEY: &str = "iam-test-secret-DO-NOT-LEAK";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub op: String,
    pub method: String,
    pub path: String,
    /// The request target as sent (path and raw query), to check parameter order.
    pub target: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// When the request arrived (to check polling intervals).
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status, optional `x-amzn-ErrorType`, JSON body.
    Json(u16, Option<String>, Value),
    /// Status, content type, raw body.
    Raw(u16, String, String),
    /// Close the connection without answering.
    Hangup,
    /// Read the request and never answer: the connection stays open until the fake is dropped
    /// (at most `SILENCE_LIMIT`), like a hung endpoint behind a load balancer.
    Silence,
    /// Do what the default behaviour does now (issue tokens, rotate the refresh token), but send
    /// the answer only after this long: a service whose answer comes too late for the client.
    Late(Duration),
    /// Wait, then answer.
    Delay(Duration, Box<Reply>),
    /// Answer with the default behaviour (useful after a queue of failures).
    Default,
    /// Another reply with extra response headers (`Retry-After`, ...).
    Headers(Vec<(String, String)>, Box<Reply>),
    /// 302 to this location.
    Redirect(String),
}

/// What CreateToken does with a device code once the user "acts" on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceMode {
    /// Pending for `approve_after` polls, then tokens.
    Approve,
    /// access_denied.
    Deny,
    /// Pending for ever.
    Never,
}

/// What `GET /authorize` redirects back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeMode {
    Approve,
    /// `error=<this>&error_description=...`.
    Error(String),
    /// A code, but with a state that is not the one sent.
    WrongState,
}

/// An account of the fake organisation and the roles the user has in it.
#[derive(Debug, Clone)]
pub struct FakeAccount {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    /// `aws+<id>@example.com` when `None`.
    pub email: Option<String>,
}

impl FakeAccount {
    pub fn new(id: &str, name: &str, roles: &[&str]) -> FakeAccount {
        FakeAccount {
            id: id.to_owned(),
            name: name.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            email: None,
        }
    }

    pub fn with_email(self, email: &str) -> FakeAccount {
        FakeAccount { email: Some(email.to_owned()), ..self }
    }
}

/// The default organisation: five accounts, one of them with a name that needs slugging.
pub fn default_accounts() -> Vec<FakeAccount> {
    vec![
        FakeAccount::new("111122223333", "Development", &["Developer", "ReadOnly"]),
        FakeAccount::new("222233334444", "Prod – Payments (EU)", &["Admin", "ReadOnly"]),
        FakeAccount::new("333344445555", "Shared Services", &["ReadOnly"]),
        FakeAccount::new("444455556666", "Sandbox", &["Admin", "Developer", "PowerUser"]),
        FakeAccount::new("555566667777", "Audit & Logging", &["SecurityAudit"]),
    ]
}

#[derive(Debug, Clone)]
struct Client {
    secret: String,
    grant_types: Vec<String>,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
}

#[derive(Debug, Clone)]
struct Device {
    client_id: String,
    polls: u32,
    redeemed: bool,
}

#[derive(Debug, Clone)]
struct AuthCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
}

impl Reply {
    /// An SSO OIDC error the way the service sends it (docs/sso-services.md, "Errors").
    pub fn oidc_error(status: u16, shape: &str, error: &str) -> Reply {
        Reply::Json(
            status,
            Some(format!("{shape}:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/")),
            json!({"error": error, "error_description": format!("fake {error}")}),
        )
    }

    /// A portal error the way the service sends it (docs/sso-services.md, the portal's errors).
    pub fn portal_error(status: u16, shape: &str, message: &str) -> Reply {
        Reply::Json(
            status,
            None,
            json!({"message": message, "__type": format!("com.amazonaws.switchboard.portal#{shape}")}),
        )
    }

    pub fn delayed(self, ms: u64) -> Reply {
        Reply::Delay(Duration::from_millis(ms), Box::new(self))
    }

    pub fn with_header(self, name: &str, value: &str) -> Reply {
        Reply::Headers(vec![(name.to_owned(), value.to_owned())], Box::new(self))
    }
}

/// The longest a `Reply::Silence` holds its connection.
const SILENCE_LIMIT: Duration = Duration::from_secs(120);

#[derive(Default)]
struct State {
    /// Set when the fake is dropped: silent connections close.
    stopping: bool,
    requests: Vec<Recorded>,
    scripts: HashMap<String, VecDeque<Reply>>,
    access_tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    counter: u64,
    rotate_refresh_tokens: bool,
    token_delay: Duration,
    expires_in: i64,
    role_lifetime: Duration,
    omit_refresh_token: bool,
    /// Access key ID -> (secret key, session token it must come with).
    iam_keys: HashMap<String, (String, Option<String>)>,
    /// Access key IDs of the CreateTokenWithIAM requests whose signature checked out.
    iam_signers: Vec<String>,
    clients: HashMap<String, Client>,
    registration_lifetime: i64,
    devices: HashMap<String, Device>,
    device_mode: Option<DeviceMode>,
    approve_after: u32,
    device_expires_in: i64,
    device_interval: Option<i64>,
    auth_codes: HashMap<String, AuthCode>,
    authorize_mode: Option<AuthorizeMode>,
    logged_out: Vec<String>,
    /// When not empty, the n-th token issued by the refresh grant lasts `expires_in_schedule[n % len]` s.
    expires_in_schedule: Vec<i64>,
    /// Whether a rotated refresh token stops working (the default) or stays valid.
    retire_old_refresh_tokens: bool,
    /// Every token the refresh grant issued, in order.
    issued: Vec<Issued>,
    role_delay: Duration,
    /// Seeded random failures of the default behaviour (see `set_failures`).
    failures: Option<Failures>,
    accounts: Vec<FakeAccount>,
    page_size: usize,
    in_flight: usize,
    max_in_flight: usize,
}

/// A token the refresh grant issued: the pair and when the answer was made.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub at: SystemTime,
}

#[derive(Debug, Clone)]
struct Failures {
    rng: u64,
    percent: u64,
    ops: Vec<String>,
    injected: usize,
}

/// xorshift64*: a small deterministic generator for scripted chaos.
pub fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

pub struct FakeSso {
    addr: SocketAddr,
    tls: bool,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeSso {
    pub fn start() -> FakeSso {
        FakeSso::start_with(None)
    }

    /// The same service over HTTPS, presenting the certificate of `tls`.
    pub fn start_tls(tls: Arc<rustls::ServerConfig>) -> FakeSso {
        FakeSso::start_with(Some(tls))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> FakeSso {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let iam_keys = HashMap::from([(IAM_ACCESS_KEY.to_owned(), (IAM_SECRET_KEY.to_owned(), None))]);
        let state = Arc::new(Mutex::new(State {
            iam_keys,
            expires_in: 3600,
            role_lifetime: Duration::from_secs(3600),
            rotate_refresh_tokens: true,
            retire_old_refresh_tokens: true,
            clients: HashMap::from([(
                CLIENT_ID.to_owned(),
                Client {
                    secret: CLIENT_SECRET.to_owned(),
                    grant_types: Vec::new(),
                    redirect_uris: Vec::new(),
                    scopes: vec!["sso:account:access".to_owned()],
                },
            )]),
            registration_lifetime: 90 * 86400,
            device_expires_in: 600,
            device_interval: Some(1),
            accounts: default_accounts(),
            page_size: 2,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let tls_on = tls.is_some();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let st = st.clone();
                match &tls {
                    None => std::thread::spawn(move || serve(stream, &st)),
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { continue };
                        std::thread::spawn(move || serve(rustls::StreamOwned::new(conn, stream), &st))
                    }
                };
            }
        });
        FakeSso { addr, tls: tls_on, state, stop }
    }

    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests of one operation ("CreateToken", "GetRoleCredentials", ...).
    pub fn calls(&self, op: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.op == op).collect()
    }

    pub fn count(&self, op: &str) -> usize {
        self.calls(op).len()
    }

    /// Queues replies for an operation; once used up, the default behaviour applies again.
    pub fn script(&self, op: &str, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().scripts.entry(op.to_owned()).or_default().extend(replies);
    }

    /// Lets the portal accept an access token the fake did not issue (one seeded into a cache file).
    pub fn trust_access_token(&self, token: &str) {
        self.state.lock().unwrap().access_tokens.insert(token.to_owned());
    }

    pub fn revoke_access_token(&self, token: &str) {
        self.state.lock().unwrap().access_tokens.remove(token);
    }

    /// Lets CreateToken accept a refresh token (one seeded into a cache file).
    pub fn trust_refresh_token(&self, token: &str) {
        self.state.lock().unwrap().refresh_tokens.insert(token.to_owned());
    }

    pub fn set_rotate_refresh_tokens(&self, rotate: bool) {
        self.state.lock().unwrap().rotate_refresh_tokens = rotate;
    }

    /// CreateToken answers without a refreshToken field.
    pub fn set_omit_refresh_token(&self, omit: bool) {
        self.state.lock().unwrap().omit_refresh_token = omit;
    }

    /// How long CreateToken takes (to widen race windows).
    pub fn set_token_delay(&self, delay: Duration) {
        self.state.lock().unwrap().token_delay = delay;
    }

    pub fn set_expires_in(&self, secs: i64) {
        self.state.lock().unwrap().expires_in = secs;
    }

    pub fn set_role_lifetime(&self, lifetime: Duration) {
        self.state.lock().unwrap().role_lifetime = lifetime;
    }

    /// Lets CreateTokenWithIAM accept signatures made with this key pair (and session token).
    pub fn trust_iam_key(&self, access_key: &str, secret_key: &str, session_token: Option<&str>) {
        let value = (secret_key.to_owned(), session_token.map(str::to_owned));
        self.state.lock().unwrap().iam_keys.insert(access_key.to_owned(), value);
    }

    /// The access key IDs of the CreateTokenWithIAM calls whose signature was right, in order.
    pub fn iam_signers(&self) -> Vec<String> {
        self.state.lock().unwrap().iam_signers.clone()
    }

    /// Device codes: what CreateToken does, and after how many pending polls it approves.
    pub fn set_device_mode(&self, mode: DeviceMode, approve_after: u32) {
        let mut st = self.state.lock().unwrap();
        st.device_mode = Some(mode);
        st.approve_after = approve_after;
    }

    /// StartDeviceAuthorization's `expiresIn` and `interval` (default 600 and 1; `None` leaves it out).
    pub fn set_device_timing(&self, expires_in: i64, interval: Option<i64>) {
        let mut st = self.state.lock().unwrap();
        st.device_expires_in = expires_in;
        st.device_interval = interval;
    }

    pub fn set_authorize_mode(&self, mode: AuthorizeMode) {
        self.state.lock().unwrap().authorize_mode = Some(mode);
    }

    /// How long new registrations last, in seconds (default 90 days).
    /// A client registered elsewhere (by "the AWS CLI" in a test): it then serves CreateToken,
    /// StartDeviceAuthorization and /authorize like one registered here.
    pub fn add_client(&self, id: &str, secret: &str, grant_types: &[&str], redirect_uris: &[&str], scopes: &[&str]) {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        let client = Client {
            secret: secret.to_owned(),
            grant_types: strings(grant_types),
            redirect_uris: strings(redirect_uris),
            scopes: strings(scopes),
        };
        self.state.lock().unwrap().clients.insert(id.to_owned(), client);
    }

    /// The service stops accepting a client registration (as after its secret was revoked or the
    /// instance was rebuilt): StartDeviceAuthorization and CreateToken answer InvalidClientException,
    /// and /authorize redirects back with `error=invalid_client`.
    pub fn reject_client(&self, id: &str) {
        self.state.lock().unwrap().clients.remove(id);
    }

    pub fn set_registration_lifetime(&self, secs: i64) {
        self.state.lock().unwrap().registration_lifetime = secs;
    }

    /// The bearer tokens whose sessions POST /logout ended.
    pub fn logged_out(&self) -> Vec<String> {
        self.state.lock().unwrap().logged_out.clone()
    }

    /// Token lifetimes by issue number (`schedule[n % len]`), so each token's `expiresAt` tells which
    /// answer it came from.
    pub fn set_expires_in_schedule(&self, schedule: Vec<i64>) {
        self.state.lock().unwrap().expires_in_schedule = schedule;
    }

    /// Rotated refresh tokens stay valid (`false`), as when a client is killed before saving the new one.
    pub fn set_retire_old_refresh_tokens(&self, retire: bool) {
        self.state.lock().unwrap().retire_old_refresh_tokens = retire;
    }

    /// Every token the refresh grant issued, in order.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.lock().unwrap().issued.clone()
    }

    /// How long GetRoleCredentials takes.
    pub fn set_role_delay(&self, delay: Duration) {
        self.state.lock().unwrap().role_delay = delay;
    }

    /// From now on `percent` % of the requests for `ops` that would get the default answer fail
    /// instead, with a 500 or a 429 (half each), drawn from a generator seeded with `seed`.
    pub fn set_failures(&self, seed: u64, percent: u64, ops: &[&str]) {
        let ops = ops.iter().map(|s| s.to_string()).collect();
        self.state.lock().unwrap().failures = Some(Failures { rng: seed.max(1), percent, ops, injected: 0 });
    }

    /// How many failures `set_failures` injected so far.
    pub fn failures_injected(&self) -> usize {
        self.state.lock().unwrap().failures.as_ref().map_or(0, |f| f.injected)
    }

    /// The organisation ListAccounts and ListAccountRoles serve.
    pub fn set_accounts(&self, accounts: Vec<FakeAccount>) {
        self.state.lock().unwrap().accounts = accounts;
    }

    /// Items per page of ListAccounts and ListAccountRoles at most (default 2).
    pub fn set_page_size(&self, n: usize) {
        self.state.lock().unwrap().page_size = n.max(1);
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// The access tokens the portal accepts.
    pub fn live_access_tokens(&self) -> HashSet<String> {
        self.state.lock().unwrap().access_tokens.clone()
    }

    /// The refresh tokens CreateToken currently accepts.
    pub fn live_refresh_tokens(&self) -> HashSet<String> {
        self.state.lock().unwrap().refresh_tokens.clone()
    }
}

impl Drop for FakeSso {
    fn drop(&mut self) {
        self.state.lock().unwrap().stopping = true;
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn op_of(method: &str, path: &str, query: &BTreeMap<String, String>) -> &'static str {
    match (method, path) {
        ("POST", "/token") if query.get("aws_iam").is_some_and(|v| v == "t") => "CreateTokenWithIAM",
        ("POST", "/token") => "CreateToken",
        ("POST", "/client/register") => "RegisterClient",
        ("POST", "/device_authorization") => "StartDeviceAuthorization",
        ("GET", "/federation/credentials") => "GetRoleCredentials",
        ("GET", "/assignment/accounts") => "ListAccounts",
        ("GET", "/assignment/roles") => "ListAccountRoles",
        ("POST", "/logout") => "Logout",
        ("GET", "/authorize") => "Authorize",
        // A vanity start URL (docs/login.md): scripted per test, like a corporate redirector.
        ("HEAD", _) => "StartUrlHead",
        ("GET", p) if p.starts_with("/start") => "StartUrlGet",
        ("GET", "/federation") if query.get("Action").is_some_and(|a| a == "getSigninToken") => "GetSigninToken",
        _ => "Unknown",
    }
}

fn serve<S: Read + Write>(stream: S, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(req) = read_request(&mut reader) else { return };
        let reply = {
            let mut st = state.lock().unwrap();
            st.requests.push(req.clone());
            st.in_flight += 1;
            st.max_in_flight = st.max_in_flight.max(st.in_flight);
            let scripted = st.scripts.get_mut(&req.op).and_then(VecDeque::pop_front);
            scripted.or_else(|| injected_failure(&mut st, &req.op)).unwrap_or(Reply::Default)
        };
        let open = if req.method == "HEAD" {
            // A HEAD answer has headers only; the body would be read as the next response.
            let mut head = HeadOnly { inner: reader.get_mut(), in_body: false, tail: Vec::new() };
            answer(&mut head, &req, reply, state, "")
        } else {
            answer(reader.get_mut(), &req, reply, state, "")
        };
        state.lock().unwrap().in_flight -= 1;
        if !open {
            return;
        }
    }
}

/// Passes a response through up to the end of its headers, and drops its body (for HEAD).
struct HeadOnly<'a, W: Write> {
    inner: &'a mut W,
    in_body: bool,
    /// The last bytes seen, to find the blank line across writes.
    tail: Vec<u8>,
}

impl<W: Write> Write for HeadOnly<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.in_body {
            return Ok(buf.len());
        }
        let mut seen = std::mem::take(&mut self.tail);
        let start = seen.len();
        seen.extend_from_slice(buf);
        match seen.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(at) => {
                self.in_body = true;
                let end = at + 4 - start;
                self.inner.write_all(&buf[..end])?;
            }
            None => {
                self.inner.write_all(buf)?;
                self.tail = seen[seen.len().saturating_sub(3)..].to_vec();
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A 500 or 429 in place of the default answer, when `set_failures` says so.
fn injected_failure(st: &mut State, op: &str) -> Option<Reply> {
    let f = st.failures.as_mut().filter(|f| f.ops.iter().any(|o| o == op))?;
    let draw = next_random(&mut f.rng);
    if draw % 100 >= f.percent {
        return None;
    }
    f.injected += 1;
    let throttle = (draw / 100).is_multiple_of(2);
    Some(match (op, throttle) {
        ("CreateToken", false) => Reply::oidc_error(500, "InternalServerException", "server_error"),
        ("CreateToken", true) => {
            Reply::Json(429, Some("TooManyRequestsException".into()), json!({"message": "Rate exceeded"}))
        }
        (_, false) => Reply::portal_error(500, "InternalServerException", "fake internal error"),
        (_, true) => Reply::portal_error(429, "TooManyRequestsException", "Rate exceeded"),
    })
}

fn read_request<S: Read>(reader: &mut BufReader<S>) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let at = Instant::now();
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let (path, query_text) = target.split_once('?').unwrap_or((&target, ""));
    let query: BTreeMap<String, String> = query_text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Some(Recorded {
        op: op_of(&method, path, &query).to_owned(),
        method,
        path: path.to_owned(),
        target: target.clone(),
        query,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at,
    })
}

pub fn percent_decode(s: &str) -> String {
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

/// Writes the reply (with `extra` header lines); false when the connection should close.
fn answer(w: &mut dyn Write, req: &Recorded, reply: Reply, state: &Mutex<State>, extra: &str) -> bool {
    match reply {
        Reply::Hangup => false,
        Reply::Silence => {
            let start = Instant::now();
            while !state.lock().unwrap().stopping && start.elapsed() < SILENCE_LIMIT {
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        }
        Reply::Late(delay) => {
            let reply = default_reply(req, state);
            std::thread::sleep(delay);
            answer(w, req, reply, state, extra)
        }
        Reply::Delay(d, inner) => {
            std::thread::sleep(d);
            answer(w, req, *inner, state, extra)
        }
        Reply::Json(status, error_type, body) => {
            let extra = error_type.map(|t| format!("{extra}x-amzn-ErrorType: {t}\r\n")).unwrap_or(extra.to_owned());
            write_response(w, status, "application/json", &extra, &body.to_string())
        }
        Reply::Raw(status, content_type, body) => write_response(w, status, &content_type, extra, &body),
        Reply::Redirect(location) => {
            write_response(w, 302, "text/plain", &format!("{extra}location: {location}\r\n"), "")
        }
        Reply::Default => {
            let reply = default_reply(req, state);
            answer(w, req, reply, state, extra)
        }
        Reply::Headers(headers, inner) => {
            let more: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
            answer(w, req, *inner, state, &format!("{extra}{more}"))
        }
    }
}

fn write_response(w: &mut dyn Write, status: u16, content_type: &str, extra: &str, body: &str) -> bool {
    let text = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        reason(status),
        body.len()
    );
    w.write_all(text.as_bytes()).is_ok() && w.flush().is_ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Other",
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn default_reply(req: &Recorded, state: &Mutex<State>) -> Reply {
    match req.op.as_str() {
        "CreateToken" => create_token(req, state),
        "CreateTokenWithIAM" => create_token_with_iam(req, state),
        "GetRoleCredentials" => {
            let delay = state.lock().unwrap().role_delay;
            std::thread::sleep(delay);
            let mut st = state.lock().unwrap();
            let bearer = req.headers.get("x-amz-sso_bearer_token").cloned().unwrap_or_default();
            if !st.access_tokens.contains(&bearer) {
                return Reply::portal_error(401, "UnauthorizedException", "Session token not found or invalid");
            }
            let (Some(role), Some(account)) = (req.query.get("role_name"), req.query.get("account_id")) else {
                return Reply::portal_error(400, "InvalidRequestException", "role_name and account_id are required");
            };
            st.counter += 1;
            let n = st.counter;
            let expiration = now_ms() + st.role_lifetime.as_millis() as i64;
            let (key, secret, token) = (
                format!("ASIAFAKE{account}{n}"),
                format!("secret-key-{role}-{n}-DO-NOT-LEAK"),
                format!("session-token-{role}-{n}-DO-NOT-LEAK"),
            );
            st.iam_keys.insert(key.clone(), (secret.clone(), Some(token.clone())));
            Reply::Json(
                200,
                None,
                json!({"roleCredentials": {
                    "accessKeyId": key,
                    "secretAccessKey": secret,
                    "sessionToken": token,
                    "expiration": expiration,
                }}),
            )
        }
        "ListAccounts" | "ListAccountRoles" => list(req, state),
        "RegisterClient" => register_client(req, state),
        "StartDeviceAuthorization" => start_device_authorization(req, state),
        "Authorize" => authorize(req, state),
        "GetSigninToken" => get_signin_token(req, state),
        "Logout" => {
            let mut st = state.lock().unwrap();
            let bearer = req.headers.get("x-amz-sso_bearer_token").cloned().unwrap_or_default();
            if !st.access_tokens.remove(&bearer) {
                return Reply::portal_error(401, "UnauthorizedException", "Session token not found or invalid");
            }
            st.logged_out.push(bearer);
            Reply::Raw(200, "application/json".into(), String::new())
        }
        "Unknown" | "StartUrlHead" | "StartUrlGet" => {
            Reply::Json(404, None, json!({"message": format!("fake: no route {} {}", req.method, req.path)}))
        }
        _ => Reply::Json(501, None, json!({"message": format!("fake: {} has no default behaviour", req.op)})),
    }
}

fn create_token(req: &Recorded, state: &Mutex<State>) -> Reply {
    let body = req.json();
    let delay = state.lock().unwrap().token_delay;
    std::thread::sleep(delay);
    let mut st = state.lock().unwrap();
    let client_id = body["clientId"].as_str().unwrap_or_default().to_owned();
    let client = match st.clients.get(&client_id) {
        Some(c) if body["clientSecret"] == c.secret.as_str() => c.clone(),
        _ => return Reply::oidc_error(401, "InvalidClientException", "invalid_client"),
    };
    match body["grantType"].as_str().unwrap_or_default() {
        "refresh_token" => {}
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let code = body["deviceCode"].as_str().unwrap_or_default().to_owned();
            let (mode, approve_after) = (st.device_mode.unwrap_or(DeviceMode::Approve), st.approve_after);
            let Some(device) = st.devices.get_mut(&code).filter(|d| d.client_id == client_id && !d.redeemed) else {
                return Reply::oidc_error(400, "InvalidGrantException", "invalid_grant");
            };
            device.polls += 1;
            match mode {
                DeviceMode::Deny => return Reply::oidc_error(400, "AccessDeniedException", "access_denied"),
                DeviceMode::Approve if device.polls > approve_after => device.redeemed = true,
                _ => return Reply::oidc_error(400, "AuthorizationPendingException", "authorization_pending"),
            }
            return issue_tokens(&mut st, &client);
        }
        "authorization_code" => {
            let code = body["code"].as_str().unwrap_or_default();
            let Some(grant) = st.auth_codes.remove(code) else {
                return Reply::oidc_error(400, "InvalidGrantException", "invalid_grant");
            };
            let verifier = body["codeVerifier"].as_str().unwrap_or_default();
            if grant.client_id != client_id
                || body["redirectUri"] != grant.redirect_uri.as_str()
                || s256(verifier) != grant.challenge
            {
                return Reply::oidc_error(400, "InvalidGrantException", "invalid_grant");
            }
            return issue_tokens(&mut st, &client);
        }
        _ => return Reply::oidc_error(400, "UnsupportedGrantTypeException", "unsupported_grant_type"),
    }
    let rt = body["refreshToken"].as_str().unwrap_or_default().to_owned();
    if !st.refresh_tokens.contains(&rt) {
        return Reply::oidc_error(400, "InvalidGrantException", "invalid_grant");
    }
    st.counter += 1;
    let n = st.counter;
    let access = format!("access-token-{n}-DO-NOT-LEAK");
    st.access_tokens.insert(access.clone());
    let expires_in = match st.expires_in_schedule.len() {
        0 => st.expires_in,
        len => st.expires_in_schedule[n as usize % len],
    };
    let mut resp = json!({"accessToken": access, "tokenType": "Bearer", "expiresIn": expires_in});
    if !st.omit_refresh_token {
        let new_rt = if st.rotate_refresh_tokens {
            if st.retire_old_refresh_tokens {
                st.refresh_tokens.remove(&rt);
            }
            let new_rt = format!("refresh-token-{n}-DO-NOT-LEAK");
            st.refresh_tokens.insert(new_rt.clone());
            new_rt
        } else {
            rt
        };
        resp["refreshToken"] = json!(new_rt);
    }
    let refresh_token = resp["refreshToken"].as_str().map(str::to_owned);
    st.issued.push(Issued { access_token: access, refresh_token, expires_in, at: SystemTime::now() });
    Reply::Json(200, None, resp)
}

/// ListAccounts / ListAccountRoles: one page of the organisation, `nextToken` an offset it checks.
fn list(req: &Recorded, state: &Mutex<State>) -> Reply {
    let st = state.lock().unwrap();
    let bearer = req.headers.get("x-amz-sso_bearer_token").cloned().unwrap_or_default();
    if !st.access_tokens.contains(&bearer) {
        return Reply::portal_error(401, "UnauthorizedException", "Session token not found or invalid");
    }
    let invalid = |what: &str| Reply::portal_error(400, "InvalidRequestException", what);
    let max = match req.query.get("max_result").map(|m| m.parse::<usize>()) {
        None => st.page_size,
        Some(Ok(m)) if (1..=100).contains(&m) => m.min(st.page_size),
        Some(_) => return invalid("max_result must be 1..100"),
    };
    let (prefix, items): (String, Vec<Value>) = if req.op == "ListAccounts" {
        let items = st
            .accounts
            .iter()
            .map(|a| {
                let email = a.email.clone().unwrap_or_else(|| format!("aws+{}@example.com", a.id));
                json!({"accountId": a.id, "accountName": a.name, "emailAddress": email})
            })
            .collect();
        ("accounts".to_owned(), items)
    } else {
        let Some(account_id) = req.query.get("account_id") else { return invalid("account_id is required") };
        let Some(account) = st.accounts.iter().find(|a| &a.id == account_id) else {
            return Reply::portal_error(404, "ResourceNotFoundException", "No such account");
        };
        let items = account.roles.iter().map(|r| json!({"roleName": r, "accountId": account.id})).collect();
        (format!("roles-{account_id}"), items)
    };
    let start = match req.query.get("next_token") {
        None => 0,
        Some(t) => match t.strip_prefix(&format!("{prefix}-")).and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n < items.len() => n,
            _ => return invalid("bad next_token"),
        },
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("{prefix}-{end}"));
    let key = if req.op == "ListAccounts" { "accountList" } else { "roleList" };
    Reply::Json(200, None, json!({"nextToken": next, key: items[start..end]}))
}

/// The federation endpoint's getSigninToken: the session must be role credentials the portal issued.
fn get_signin_token(req: &Recorded, state: &Mutex<State>) -> Reply {
    let bad = |what: &str| Reply::Raw(400, "text/plain".into(), format!("fake federation: {what}"));
    if req.query.contains_key("SessionDuration") {
        return bad("SessionDuration is not allowed for these credentials");
    }
    let session: Value = req.query.get("Session").and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null);
    let field = |k: &str| session[k].as_str().unwrap_or_default().to_owned();
    let (id, key, token) = (field("sessionId"), field("sessionKey"), field("sessionToken"));
    let mut st = state.lock().unwrap();
    let issued = st.iam_keys.get(&id).is_some_and(|(secret, t)| *secret == key && t.as_deref() == Some(token.as_str()));
    if !issued || !id.starts_with("ASIAFAKE") {
        return bad("the Session is not credentials the portal issued");
    }
    st.counter += 1;
    Reply::Json(200, None, json!({"SigninToken": format!("signin-token-{}-DO-NOT-LEAK", st.counter)}))
}

/// An IAM authentication failure the way AWS front ends answer it.
fn iam_denied(shape: &str, message: &str) -> Reply {
    Reply::Json(
        403,
        Some(format!("{shape}:http://internal.amazon.com/coral/com.amazon.coral.service/")),
        json!({"message": message}),
    )
}

/// CreateTokenWithIAM: check the SigV4 signature (service sso-oauth), then issue tokens.
fn create_token_with_iam(req: &Recorded, state: &Mutex<State>) -> Reply {
    let Some(auth) = req.headers.get("authorization").and_then(|a| super::sigv4::parse_authorization(a)) else {
        return iam_denied("MissingAuthenticationTokenException", "Missing Authentication Token");
    };
    let amz_date = req.headers.get("x-amz-date").cloned().unwrap_or_default();
    let fresh = chrono::NaiveDateTime::parse_from_str(&amz_date, "%Y%m%dT%H%M%SZ")
        .is_ok_and(|t| (t.and_utc().timestamp() - now_ms() / 1000).abs() < 15 * 60);
    let must_sign = ["host", "x-amz-date"]
        .into_iter()
        .chain(req.headers.contains_key("x-amz-security-token").then_some("x-amz-security-token"));
    if !fresh || !amz_date.starts_with(&auth.date) || auth.service != "sso-oauth" {
        return iam_denied("InvalidSignatureException", "Signature expired, or the credential scope is wrong");
    }
    if must_sign.clone().any(|h| !auth.signed_headers.iter().any(|s| s == h)) {
        return iam_denied("InvalidSignatureException", "host, x-amz-date and x-amz-security-token must be signed");
    }
    let mut st = state.lock().unwrap();
    let Some((secret, token)) = st.iam_keys.get(&auth.access_key).cloned() else {
        return iam_denied("UnrecognizedClientException", "The security token included in the request is invalid.");
    };
    if token.as_ref() != req.headers.get("x-amz-security-token") {
        return iam_denied("UnrecognizedClientException", "The security token included in the request is invalid.");
    }
    let creq = super::sigv4::canonical_request(
        &req.method,
        &req.path,
        &req.query,
        &req.headers,
        &auth.signed_headers,
        req.body.as_bytes(),
    );
    if super::sigv4::signature(&secret, &amz_date, &auth, &creq) != auth.signature {
        return iam_denied(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    st.iam_signers.push(auth.access_key.clone());
    let body = req.json();
    let grant = body["grantType"].as_str().unwrap_or_default();
    let known = [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ];
    if !known.contains(&grant) {
        return Reply::oidc_error(400, "UnsupportedGrantTypeException", "unsupported_grant_type");
    }
    st.counter += 1;
    let n = st.counter;
    Reply::Json(
        200,
        None,
        json!({
            "accessToken": format!("iam-access-token-{n}-DO-NOT-LEAK"),
            "tokenType": "Bearer",
            "expiresIn": st.expires_in,
            "refreshToken": format!("iam-refresh-token-{n}-DO-NOT-LEAK"),
            "idToken": format!("iam-id-token-{n}"),
            "issuedTokenType": "urn:ietf:params:oauth:token-type:refresh_token",
            "scope": ["openid", "aws", "sts:identity_context"],
            "awsAdditionalDetails": {"identityContext": format!("fake-identity-context-{}", auth.region)},
        }),
    )
}

/// A login's tokens; a refresh token only for clients registered with scopes (as the service does).
fn issue_tokens(st: &mut State, client: &Client) -> Reply {
    st.counter += 1;
    let n = st.counter;
    let access = format!("login-access-token-{n}-DO-NOT-LEAK");
    st.access_tokens.insert(access.clone());
    let mut resp = json!({"accessToken": access, "tokenType": "Bearer", "expiresIn": st.expires_in});
    if !client.scopes.is_empty() && !st.omit_refresh_token {
        let rt = format!("login-refresh-token-{n}-DO-NOT-LEAK");
        st.refresh_tokens.insert(rt.clone());
        resp["refreshToken"] = json!(rt);
    }
    Reply::Json(200, None, resp)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn register_client(req: &Recorded, state: &Mutex<State>) -> Reply {
    let body = req.json();
    let invalid = |what: &str| Reply::oidc_error(400, "InvalidRequestException", &format!("invalid_request: {what}"));
    if body["clientType"] != "public" || !body["clientName"].is_string() {
        return invalid("clientName and clientType public are required");
    }
    let grant_types = strings(&body["grantTypes"]);
    let redirect_uris = strings(&body["redirectUris"]);
    if grant_types.iter().any(|g| g == "authorization_code")
        && (redirect_uris != ["http://127.0.0.1/oauth/callback"] || !body["issuerUrl"].is_string())
    {
        return invalid("authorization_code needs the portless redirect URI and issuerUrl");
    }
    let mut st = state.lock().unwrap();
    st.counter += 1;
    let n = st.counter;
    let (id, secret) = (format!("registered-client-{n}"), format!("registered-secret-{n}-DO-NOT-LEAK"));
    let scopes = strings(&body["scopes"]);
    st.clients.insert(id.clone(), Client { secret: secret.clone(), grant_types, redirect_uris, scopes });
    let now = now_ms() / 1000;
    Reply::Json(
        200,
        None,
        json!({"clientId": id, "clientSecret": secret, "clientIdIssuedAt": now,
               "clientSecretExpiresAt": now + st.registration_lifetime}),
    )
}

fn start_device_authorization(req: &Recorded, state: &Mutex<State>) -> Reply {
    let body = req.json();
    let mut st = state.lock().unwrap();
    let client_id = body["clientId"].as_str().unwrap_or_default().to_owned();
    if !st.clients.get(&client_id).is_some_and(|c| body["clientSecret"] == c.secret.as_str()) {
        return Reply::oidc_error(401, "InvalidClientException", "invalid_client");
    }
    if !body["startUrl"].is_string() {
        return Reply::oidc_error(400, "InvalidRequestException", "invalid_request");
    }
    st.counter += 1;
    let n = st.counter;
    let code = format!("device-code-{n}-DO-NOT-LEAK");
    st.devices.insert(code.clone(), Device { client_id, polls: 0, redeemed: false });
    let user_code = format!("FAKE-{n:04}");
    let mut resp = json!({
        "deviceCode": code,
        "userCode": user_code,
        "verificationUri": "https://device.sso.example/",
        "verificationUriComplete": format!("https://device.sso.example/?user_code={user_code}"),
        "expiresIn": st.device_expires_in,
    });
    if let Some(interval) = st.device_interval {
        resp["interval"] = json!(interval);
    }
    Reply::Json(200, None, resp)
}

/// GET /authorize: checks the request the way a strict service would, then redirects back.
fn authorize(req: &Recorded, state: &Mutex<State>) -> Reply {
    let q = &req.query;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let bad = |what: &str| Reply::Raw(400, "text/plain".into(), format!("fake authorize: {what}"));
    let mut st = state.lock().unwrap();
    let client_id = get("client_id");
    let Some(client) = st.clients.get(&client_id).cloned() else {
        // A client the service no longer accepts: back to the redirect URI with the OAuth error.
        return match q.get("redirect_uri").filter(|u| u.starts_with("http://127.0.0.1:")) {
            Some(uri) => Reply::Redirect(format!(
                "{uri}?error=invalid_client&error_description=fake%20unknown%20client&state={}",
                get("state")
            )),
            None => bad("unknown client_id"),
        };
    };
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return bad("client not registered for authorization_code");
    }
    let redirect_uri = get("redirect_uri");
    let port_ok = redirect_uri
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.strip_suffix("/oauth/callback"))
        .is_some_and(|p| p.parse::<u16>().is_ok());
    if !port_ok || !client.redirect_uris.iter().any(|u| u == "http://127.0.0.1/oauth/callback") {
        return bad("redirect_uri");
    }
    if get("response_type") != "code" || get("code_challenge_method") != "S256" || get("state").is_empty() {
        return bad("response_type, code_challenge_method or state");
    }
    if get("scopes").is_empty() || q.contains_key("scope") {
        return bad("scopes");
    }
    let challenge = get("code_challenge");
    if challenge.len() != 43 || challenge.contains('=') {
        return bad("code_challenge");
    }
    match st.authorize_mode.clone().unwrap_or(AuthorizeMode::Approve) {
        AuthorizeMode::Error(e) => {
            Reply::Redirect(format!("{redirect_uri}?error={e}&error_description=fake%20{e}&state={}", get("state")))
        }
        mode => {
            st.counter += 1;
            let code = format!("auth-code-{}", st.counter);
            st.auth_codes.insert(code.clone(), AuthCode { client_id, redirect_uri: redirect_uri.clone(), challenge });
            let state_param = if mode == AuthorizeMode::WrongState { "forged".to_owned() } else { get("state") };
            Reply::Redirect(format!("{redirect_uri}?code={code}&state={state_param}"))
        }
    }
}

/// base64url(SHA-256(verifier)) without padding.
pub fn s256(verifier: &str) -> String {
    use sha2::Digest;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let digest = sha2::Sha256::digest(verifier.as_bytes());
    let mut out = String::new();
    for chunk in digest.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
