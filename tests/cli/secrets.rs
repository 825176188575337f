//! No secret ever leaks (docs/how-it-works.md, "Secrets"): every command and failure path runs with `--debug`
//! (and `RUST_LOG=trace`, in case anything ever listens to it), and no access token, refresh token,
//! client secret, device code, secret key or session token of the fixtures (they all contain
//! `DO-NOT-LEAK`) may appear on stderr, on stdout (except for the outputs whose purpose is to print
//! them: credential_process JSON and the raw OIDC API answers), or in any file under HOME other
//! than the cache files and the config.
//!
//! One row per case: a command added later is one more line in `CASES`.

use crate::util::fake::{IAM_ACCESS_KEY, IAM_SECRET_KEY, Reply};
use crate::util::*;
use serde_json::json;
use std::path::Path;

const SECRET: &str = "DO-NOT-LEAK";
const APP_ARN: &str = "arn:aws:sso::123456789012:application/ssoins-1111/apl-2222";
const CP: &[&str] = &["--profile", "dev-sso"];

/// Prepares the environment; `false` skips the case (a tool it needs is missing).
type Setup = fn(&mut TestEnv) -> bool;

struct Case {
    name: &'static str,
    setup: Setup,
    args: &'static [&'static str],
    /// The exit code that shows the path under test was taken.
    code: i32,
    /// The command's purpose is to print secrets on stdout.
    prints_secrets: bool,
}

const fn case(name: &'static str, setup: Setup, args: &'static [&'static str], code: i32, prints: bool) -> Case {
    Case { name, setup, args, code, prints_secrets: prints }
}

fn near_expiry(e: &mut TestEnv) -> bool {
    e.seed_corp_token(60);
    true
}
fn fresh(e: &mut TestEnv) -> bool {
    e.seed_corp_token(7200);
    true
}
fn cached_role(e: &mut TestEnv) -> bool {
    e.seed_corp_token(7200);
    e.seed_corp_role(3600);
    true
}
fn nothing(_: &mut TestEnv) -> bool {
    true
}
fn refresh_rejected(e: &mut TestEnv) -> bool {
    e.seed_corp_token(-60);
    e.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    true
}
fn refresh_fails_token_valid(e: &mut TestEnv) -> bool {
    e.seed_corp_token(60);
    e.fake.script("CreateToken", vec![Reply::oidc_error(500, "InternalServerException", "server_error"); 3]);
    true
}
fn portal_401_twice(e: &mut TestEnv) -> bool {
    e.seed_corp_token(7200);
    let r = || Reply::portal_error(401, "UnauthorizedException", "Session token not found or invalid");
    e.fake.script("GetRoleCredentials", [r(), r()]);
    true
}
fn portal_500s(e: &mut TestEnv) -> bool {
    e.seed_corp_token(7200);
    e.fake.script("GetRoleCredentials", vec![Reply::portal_error(500, "InternalServerException", "boom"); 3]);
    true
}
fn portal_html(e: &mut TestEnv) -> bool {
    e.seed_corp_token(7200);
    let page = format!("<html>captive portal echoing x-amz-sso_bearer_token: {SECRET}</html>");
    e.fake.script("GetRoleCredentials", [Reply::Raw(200, "text/html".into(), page)]);
    true
}
fn garbage_token_answer(e: &mut TestEnv) -> bool {
    e.seed_corp_token(-60);
    e.fake.script("CreateToken", [Reply::Json(200, None, json!({"accessToken": 5, "refreshToken": SECRET}))]);
    true
}
fn truncated_token_file(e: &mut TestEnv) -> bool {
    e.write_file(&e.token_path(CORP_KEY), r#"{"accessToken": "seeded-access-token-DO-NOT-LEAK", "refreshToken": "x"#);
    true
}
fn wrong_type_token_file(e: &mut TestEnv) -> bool {
    e.write_file(&e.token_path(CORP_KEY), r#"{"accessToken": ["seeded-access-token-DO-NOT-LEAK"], "expiresAt": 1}"#);
    true
}
fn network_down(e: &mut TestEnv) -> bool {
    e.seed_corp_token(60);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    e.set_env("AWS_ENDPOINT_URL_SSO_OIDC", &format!("http://{closed}"));
    e.set_env("AWS_ENDPOINT_URL_SSO", &format!("http://{closed}"));
    true
}
fn proxy_with_password(e: &mut TestEnv) -> bool {
    e.seed_corp_token(60);
    e.set_env("HTTP_PROXY", "http://user:proxy-password-DO-NOT-LEAK@127.0.0.1:1");
    true
}
fn broken_config(e: &mut TestEnv) -> bool {
    e.seed_corp_token(60);
    e.write_config("[profile dev-sso\nsso_session = corp\n");
    true
}
fn tty(e: &mut TestEnv) -> bool {
    let path = e.home().join("tty.txt");
    e.set_env("AWS_SSO_PROCESS_TTY", path.to_str().unwrap());
    true
}
fn auto_login(e: &mut TestEnv) -> bool {
    e.seed_corp_token(-60);
    e.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    tty(e)
}
fn device_denied(e: &mut TestEnv) -> bool {
    e.fake.set_device_mode(crate::util::fake::DeviceMode::Deny, 0);
    tty(e)
}
fn pkce(e: &mut TestEnv) -> bool {
    let Some(script) = browser_script() else { return false };
    e.set_env("BROWSER", script.to_str().unwrap());
    e.set_env("DISPLAY", ":0");
    tty(e)
}
fn iam(e: &mut TestEnv) -> bool {
    e.set_env("AWS_ACCESS_KEY_ID", IAM_ACCESS_KEY);
    e.set_env("AWS_SECRET_ACCESS_KEY", IAM_SECRET_KEY);
    true
}
fn iam_wrong_secret(e: &mut TestEnv) -> bool {
    e.set_env("AWS_ACCESS_KEY_ID", IAM_ACCESS_KEY);
    e.set_env("AWS_SECRET_ACCESS_KEY", "wrong-secret-DO-NOT-LEAK");
    true
}
/// A portal that repeats the bearer token as an account's name and e-mail, and a role's name.
fn portal_echoes_the_token(e: &mut TestEnv) -> bool {
    e.seed_corp_token(7200);
    let token = "seeded-access-token-DO-NOT-LEAK";
    let accounts = json!({"accountList": [
        {"accountId": "111122223333", "accountName": format!("name {token}"), "emailAddress": format!("{token}@x.example")},
    ]});
    e.fake.script("ListAccounts", [Reply::Json(200, None, accounts)]);
    let roles = json!({"roleList": [{"roleName": token, "accountId": "111122223333"}]});
    e.fake.script("ListAccountRoles", [Reply::Json(200, None, roles)]);
    true
}

fn oidc_rejects(e: &mut TestEnv) -> bool {
    e.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    true
}

const REFRESH_GRANT: &[&str] = &[
    "create-token",
    "--client-id",
    "fake-client-id",
    "--client-secret",
    "fake-client-secret-DO-NOT-LEAK",
    "--grant-type",
    "refresh_token",
    "--refresh-token",
    "seeded-refresh-token-DO-NOT-LEAK",
];

const CASES: &[Case] = &[
    // credential_process
    case("credentials: refresh, then GetRoleCredentials", near_expiry, CP, 0, true),
    case("credentials: role cache hit", cached_role, CP, 0, true),
    case("credentials: refresh fails, token still valid", refresh_fails_token_valid, CP, 0, true),
    case("credentials: refresh token rejected", refresh_rejected, CP, 3, false),
    case("credentials: garbage CreateToken answer", garbage_token_answer, CP, 1, false),
    case("credentials: portal 401 twice", portal_401_twice, CP, 3, false),
    case("credentials: portal 500 three times", portal_500s, CP, 1, false),
    case("credentials: HTML instead of JSON", portal_html, CP, 1, false),
    case("credentials: truncated token file", truncated_token_file, CP, 3, false),
    case("credentials: token file of the wrong shape", wrong_type_token_file, CP, 3, false),
    case("credentials: network down", network_down, CP, 1, false),
    case("credentials: proxy with a password", proxy_with_password, CP, 1, false),
    case("credentials: broken config", broken_config, CP, 1, false),
    case("credentials: no token", nothing, CP, 3, false),
    case("credentials: auto-login", auto_login, &["--profile", "dev-sso", "--login-if-needed"], 0, true),
    // refresh
    case("refresh --force", near_expiry, &["refresh", "--force", "--profile", "dev-sso"], 0, false),
    case("refresh --all", near_expiry, &["refresh", "--all"], 0, false),
    case("refresh: still valid", fresh, &["refresh", "--profile", "dev-sso"], 0, false),
    case("refresh: rejected", refresh_rejected, &["refresh", "--profile", "dev-sso"], 3, false),
    case("refresh: garbage answer", garbage_token_answer, &["refresh", "--profile", "dev-sso"], 1, false),
    case("refresh: network down", network_down, &["refresh", "--force", "--profile", "dev-sso"], 1, false),
    // login and logout
    case("login: device code", tty, &["login", "--sso-session", "corp", "--use-device-code"], 0, false),
    case(
        "login: device code denied",
        device_denied,
        &["login", "--sso-session", "corp", "--use-device-code"],
        1,
        false,
    ),
    case("login: PKCE", pkce, &["login", "--sso-session", "corp"], 0, false),
    case("logout", fresh, &["logout", "--sso-session", "corp"], 0, false),
    case("logout --all", fresh, &["logout", "--all"], 0, false),
    // status, list, configure
    case("status", near_expiry, &["status"], 0, false),
    case("status --json", fresh, &["status", "--json"], 0, false),
    case("list", fresh, &["list", "--sso-session", "corp"], 0, false),
    case("list --json", fresh, &["list", "--sso-session", "corp", "--json"], 0, false),
    case(
        "list --json: the portal repeats the token",
        portal_echoes_the_token,
        &["list", "--sso-session", "corp", "--json"],
        0,
        false,
    ),
    case("list: the portal repeats the token", portal_echoes_the_token, &["list", "--sso-session", "corp"], 0, false),
    case("list: refresh rejected", refresh_rejected, &["list", "--sso-session", "corp"], 3, false),
    case("configure generate", fresh, &["configure", "generate", "--sso-session", "corp"], 0, false),
    case("configure generate --write", fresh, &["configure", "generate", "--sso-session", "corp", "--write"], 0, false),
    // export prints credentials for a shell: that is its purpose; exec hands them to the child only
    case("export", near_expiry, &["export", "--profile", "dev-sso"], 0, true),
    case("export: refresh rejected", refresh_rejected, &["export", "--profile", "dev-sso"], 3, false),
    case("exec", near_expiry, &["exec", "--profile", "dev-sso", "--", "true"], 0, false),
    case("exec: failing child", fresh, &["exec", "--profile", "dev-sso", "--", "sh", "-c", "exit 7"], 7, false),
    case("completions", nothing, &["completions", "bash"], 0, false),
    // the SSO OIDC API commands print the service's answer: secrets on stdout are their purpose
    case("create-token", near_expiry, REFRESH_GRANT, 0, true),
    case("create-token: rejected", oidc_rejects, REFRESH_GRANT, 1, false),
    case(
        "create-token-with-iam",
        iam,
        &["create-token-with-iam", "--region", "us-east-1", "--client-id", APP_ARN, "--grant-type", "jwt-bearer"],
        0,
        true,
    ),
    case(
        "create-token-with-iam: bad signature",
        iam_wrong_secret,
        &["create-token-with-iam", "--region", "us-east-1", "--client-id", APP_ARN, "--grant-type", "jwt-bearer"],
        1,
        false,
    ),
    case("register-client", nothing, &["register-client", "--client-name", "x", "--client-type", "public"], 0, true),
    case(
        "start-device-authorization",
        nothing,
        &[
            "start-device-authorization",
            "--client-id",
            "fake-client-id",
            "--client-secret",
            "fake-client-secret-DO-NOT-LEAK",
            "--start-url",
            START_URL,
        ],
        0,
        true,
    ),
    case(
        "start-device-authorization: bad client",
        nothing,
        &[
            "start-device-authorization",
            "--client-id",
            "x",
            "--client-secret",
            "bad-DO-NOT-LEAK",
            "--start-url",
            START_URL,
        ],
        1,
        false,
    ),
];

/// Files under `root` that may hold secrets: the cache files and the config.
fn may_hold_secrets(rel: &str) -> bool {
    let in_cache = (rel.starts_with(".aws/sso/cache/") || rel.starts_with(".aws/cli/cache/")) && rel.ends_with(".json");
    in_cache || rel == ".aws/config" || rel == ".aws/credentials"
}

fn leaks_in_files(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(rel, bytes)| !may_hold_secrets(rel) && String::from_utf8_lossy(bytes).contains(SECRET))
        .map(|(rel, _)| rel)
        .collect()
}

#[test]
fn no_command_or_failure_path_leaks_a_secret() {
    let mut ran = 0;
    for case in CASES {
        let mut env = TestEnv::new();
        if !(case.setup)(&mut env) {
            eprintln!("skipping secrets case {:?}", case.name);
            continue;
        }
        env.set_env("RUST_LOG", "trace");
        let mut args = case.args.to_vec();
        args.push("--debug");
        let run = env.run(&args);
        let name = case.name;
        assert_eq!(run.code, case.code, "{name}: the path under test was not taken: {run:?}");
        assert!(!run.stderr.contains(SECRET), "{name}: stderr leaks: {}", run.stderr);
        if case.prints_secrets {
            assert!(run.code != 0 || run.stdout.contains(SECRET), "{name}: expected the secrets on stdout: {run:?}");
        } else {
            assert!(!run.stdout.contains(SECRET), "{name}: stdout leaks: {}", run.stdout);
        }
        let leaks = leaks_in_files(env.home());
        assert!(leaks.is_empty(), "{name}: files under HOME leak: {leaks:?}");
        ran += 1;
    }
    assert!(ran >= CASES.len() - 1, "only {ran} of {} cases ran", CASES.len());
}

#[test]
fn debug_output_shows_the_calls_but_no_secret() {
    // --debug is not silent: it shows what happened, so the test above checks real output.
    let mut env = TestEnv::new();
    near_expiry(&mut env);
    let run = env.run(&["--profile", "dev-sso", "--debug"]);
    run.assert_ok();
    for needle in ["debug:", "refreshing the SSO token of corp", "CreateToken", "GetRoleCredentials"] {
        assert!(run.stderr.contains(needle), "--debug lacks {needle:?}: {}", run.stderr);
    }
    assert!(!run.stderr.contains(SECRET));
}

// ---- services and proxies that repeat the request in their error message -------------------------

/// A loopback HTTP server in front of the fake: it passes every request on, except those whose
/// path starts with `echo_path`, which it answers with HTTP 400 and an error message that repeats
/// the whole request (body, headers, request line), the way some services and TLS-inspecting
/// proxies do. It serves as an endpoint (origin-form requests) and as an HTTP proxy (absolute
/// form). It records the secrets the echoed requests carried, so a test checks exactly those.
struct Echo {
    addr: std::net::SocketAddr,
    echoed: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// How an echoing server changes the request it repeats.
type Mangle = fn(&str, &[String]) -> String;

/// Request members and headers whose values are secrets.
const SECRET_MEMBERS: [&str; 7] =
    ["clientSecret", "refreshToken", "deviceCode", "code", "codeVerifier", "assertion", "subjectToken"];
const SECRET_HEADERS: [&str; 3] = ["x-amz-sso_bearer_token", "x-amz-security-token", "proxy-authorization"];

impl Echo {
    fn start(fake: std::net::SocketAddr, echo_path: &'static str) -> Echo {
        Echo::mangling(fake, echo_path, |whole, _| whole.to_owned())
    }

    /// `start`, with the repeated request passed through `mangle` (given the secrets it holds).
    fn mangling(fake: std::net::SocketAddr, echo_path: &'static str, mangle: Mangle) -> Echo {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let echoed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = echoed.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let _ = echo_or_pass(stream, fake, echo_path, &seen, mangle);
                });
            }
        });
        Echo { addr, echoed }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The secret values of the requests answered with an echo.
    fn secrets(&self) -> Vec<String> {
        self.echoed.lock().unwrap().clone()
    }
}

fn echo_or_pass(
    stream: std::net::TcpStream,
    fake: std::net::SocketAddr,
    echo_path: &str,
    seen: &std::sync::Mutex<Vec<String>>,
    mangle: Mangle,
) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_owned();
        if h.is_empty() {
            break;
        }
        headers.push(h);
    }
    let len = headers
        .iter()
        .find_map(|h| h.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // Absolute form (through a proxy) or origin form: the path either way.
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let mut out = stream;
    if path.starts_with(echo_path) {
        let mut secrets = seen.lock().unwrap();
        if let Ok(serde_json::Value::Object(doc)) = serde_json::from_str::<serde_json::Value>(&body) {
            secrets.extend(SECRET_MEMBERS.iter().filter_map(|k| doc.get(*k)?.as_str().map(str::to_owned)));
        }
        for h in &headers {
            if let Some((k, v)) = h.split_once(':')
                && SECRET_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s))
            {
                secrets.push(v.trim().trim_start_matches("Basic ").to_owned());
            }
        }
        if let Some((_, session)) = path.split_once("Session=") {
            let session = crate::util::fake::percent_decode(session.split('&').next().unwrap_or(""));
            if let Ok(serde_json::Value::Object(doc)) = serde_json::from_str::<serde_json::Value>(&session) {
                secrets.extend(doc.values().filter_map(|v| v.as_str().map(str::to_owned)));
            }
        }
        let secrets = secrets.clone();
        // Secret-bearing headers first, so that even a message cut short would carry them.
        let (first, rest): (Vec<&String>, Vec<&String>) =
            headers.iter().partition(|h| SECRET_HEADERS.iter().any(|s| h.to_ascii_lowercase().starts_with(s)));
        let whole = format!(
            "ECHO {body} {} {method} {target} {}",
            first.iter().map(|h| h.as_str()).collect::<Vec<_>>().join("; "),
            rest.iter().map(|h| h.as_str()).collect::<Vec<_>>().join("; ")
        );
        let whole = mangle(&whole, &secrets);
        let reply = json!({"error": "invalid_request", "error_description": whole, "message": whole}).to_string();
        write!(
            out,
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )?;
        return out.flush();
    }
    let mut upstream = std::net::TcpStream::connect(fake)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for h in headers.iter().filter(|h| {
        let lower = h.to_ascii_lowercase();
        !lower.starts_with("connection:") && !lower.starts_with("proxy-")
    }) {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(body.as_bytes())?;
    // The fake serves until the connection ends: no more requests on this one.
    upstream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    out.write_all(&answer)?;
    out.flush()
}

/// One command that sends secrets, the request of it that is answered with an echo, and how it ends.
struct EchoCase {
    name: &'static str,
    setup: Setup,
    args: &'static [&'static str],
    echo_path: &'static str,
    /// The command's purpose is to print secrets on stdout (on success only).
    prints_secrets: bool,
}

const fn echo(name: &'static str, setup: Setup, args: &'static [&'static str], path: &'static str) -> EchoCase {
    EchoCase { name, setup, args, echo_path: path, prints_secrets: false }
}

/// A case whose command prints secrets on stdout when it succeeds (credential_process, export).
const fn printing(name: &'static str, setup: Setup, args: &'static [&'static str], path: &'static str) -> EchoCase {
    EchoCase { name, setup, args, echo_path: path, prints_secrets: true }
}

fn expired(e: &mut TestEnv) -> bool {
    e.seed_corp_token(-60);
    true
}

fn console(e: &mut TestEnv) -> bool {
    e.seed_corp_token(7200);
    true
}

fn iam_with_session_token(e: &mut TestEnv) -> bool {
    iam(e);
    e.set_env("AWS_SESSION_TOKEN", "iam-session-token-DO-NOT-LEAK");
    true
}

const ECHO_CASES: &[EchoCase] = &[
    printing("credentials: CreateToken (refresh)", near_expiry, CP, "/token"),
    echo("credentials: GetRoleCredentials", fresh, CP, "/federation/credentials"),
    echo("export: GetRoleCredentials", fresh, &["export", "--profile", "dev-sso"], "/federation/credentials"),
    echo("refresh: CreateToken", near_expiry, &["refresh", "--force", "--profile", "dev-sso"], "/token"),
    echo("refresh --all: CreateToken", near_expiry, &["refresh", "--all"], "/token"),
    echo("list: ListAccounts", fresh, &["list", "--sso-session", "corp"], "/assignment/accounts"),
    echo("list: ListAccountRoles", fresh, &["list", "--sso-session", "corp"], "/assignment/roles"),
    echo("list: CreateToken", near_expiry, &["list", "--sso-session", "corp"], "/token"),
    echo("configure generate: ListAccounts", fresh, &["configure", "generate", "--sso-session", "corp"], "/assignment"),
    echo(
        "setup: ListAccounts",
        fresh,
        &["setup", "--start-url", START_URL, "--region", "us-east-1", "--sso-session", "corp", "--generate", "all"],
        "/assignment/accounts",
    ),
    echo(
        "setup: device code login",
        tty,
        &[
            "setup",
            "--start-url",
            START_URL,
            "--region",
            "us-east-1",
            "--sso-session",
            "corp",
            "--generate",
            "none",
            "--use-device-code",
        ],
        "/token",
    ),
    echo("status --check: ListAccounts", fresh, &["status", "--check"], "/assignment/accounts"),
    echo("status --check: CreateToken", expired, &["status", "--check"], "/token"),
    echo("logout: Logout", fresh, &["logout", "--sso-session", "corp"], "/logout"),
    echo("logout --all: Logout", fresh, &["logout", "--all"], "/logout"),
    echo("console: GetSigninToken", console, &["console", "--profile", "dev", "--no-browser"], "/federation?"),
    echo("console: GetRoleCredentials", console, &["console", "--profile", "dev", "--no-browser"], "/federation/cred"),
    echo(
        "login (device code): StartDeviceAuthorization",
        tty,
        &["login", "--sso-session", "corp", "--use-device-code"],
        "/device_authorization",
    ),
    echo("login (device code): CreateToken", tty, &["login", "--sso-session", "corp", "--use-device-code"], "/token"),
    echo("login (PKCE): CreateToken", pkce, &["login", "--sso-session", "corp"], "/token"),
    echo("create-token", nothing, REFRESH_GRANT, "/token"),
    echo(
        "start-device-authorization",
        nothing,
        &[
            "start-device-authorization",
            "--client-id",
            "fake-client-id",
            "--client-secret",
            "fake-client-secret-DO-NOT-LEAK",
            "--start-url",
            START_URL,
        ],
        "/device_authorization",
    ),
    echo(
        "create-token from --cli-input-json",
        nothing,
        &[
            "create-token",
            "--cli-input-json",
            r#"{"clientId":"fake-client-id","clientSecret":"input-client-secret-DO-NOT-LEAK","grantType":"refresh_token","refreshToken":"input-refresh-token-DO-NOT-LEAK"}"#,
        ],
        "/token",
    ),
    echo(
        "create-token-with-iam",
        iam_with_session_token,
        &[
            "create-token-with-iam",
            "--region",
            "us-east-1",
            "--client-id",
            APP_ARN,
            "--grant-type",
            "jwt-bearer",
            "--assertion",
            "assertion-DO-NOT-LEAK",
        ],
        "/token",
    ),
];

/// Every command that sends a secret, with the request that carries it answered by an error that
/// repeats the whole request: once by the endpoint itself, once by a proxy in front of it. The
/// secrets of the echoed requests never show (stdout, stderr, `--debug`), while the rest of the
/// message does.
#[test]
fn an_error_message_that_repeats_the_request_shows_no_secret() {
    let mut ran = 0;
    let mut failures = Vec::new();
    for case in ECHO_CASES {
        for through_proxy in [false, true] {
            if through_proxy && case.echo_path == "/federation?" {
                // Never sent through a plain-http proxy: it is refused unsent (tests/cli/console.rs).
                continue;
            }
            let mut env = TestEnv::new();
            if !(case.setup)(&mut env) {
                eprintln!("skipping echo case {:?}", case.name);
                continue;
            }
            let echo = Echo::start(env.fake.addr(), case.echo_path);
            if through_proxy {
                env.set_env("HTTP_PROXY", &echo.url().replace("http://", "http://proxy-user:proxy-pass-DO-NOT-LEAK@"));
                env.set_env("AWS_ENDPOINT_URL_SIGNIN", &env.fake.url());
            } else {
                for var in ["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SIGNIN"] {
                    env.set_env(var, &echo.url());
                }
            }
            let args: Vec<&str> = case.args.iter().copied().chain(["--debug"]).collect();
            let run = env.run_bounded(&args);
            let name = format!("{} ({})", case.name, if through_proxy { "proxy" } else { "endpoint" });
            let secrets = echo.secrets();
            let mut wrong = Vec::new();
            if secrets.is_empty() {
                wrong.push("the echoed request carried no secret".to_owned());
            }
            for secret in &secrets {
                if run.stderr.contains(secret.as_str()) {
                    wrong.push(format!("stderr shows {secret:?}"));
                }
                if (!case.prints_secrets || run.code != 0) && run.stdout.contains(secret.as_str()) {
                    wrong.push(format!("stdout shows {secret:?}"));
                }
            }
            if run.stderr.contains(SECRET) || (!(case.prints_secrets && run.code == 0) && run.stdout.contains(SECRET)) {
                wrong.push("the output shows a secret".to_owned());
            }
            if !(run.stderr.contains("ECHO") || run.stdout.contains("ECHO")) {
                wrong.push("the rest of the message is not shown".to_owned());
            }
            if !wrong.is_empty() {
                failures.push(format!("{name}: {}: {run:?}", wrong.join(", ")));
            }
            ran += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {ran} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(ran >= 2 * (ECHO_CASES.len() - 2), "only {ran} echo cases ran");
}

/// An echo in a form other than the request's own: base64 wrapped at 76 columns (as MIME does),
/// percent-encoded twice, or cut short in the middle of the first secret.
const MANGLES: [(&str, Mangle); 3] = [
    ("base64, wrapped at 76 columns", |whole, _| {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(whole.as_bytes());
        b64.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\r\n")
    }),
    ("percent-encoded twice", |whole, _| {
        let once: String = whole
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        once.replace('%', "%25")
    }),
    ("cut short inside a secret", |whole, secrets| {
        let cut = secrets
            .iter()
            .filter_map(|s| whole.find(s.as_str()).map(|at| at + s.len() * 2 / 3))
            .min()
            .unwrap_or(whole.len());
        let mut cut = cut.min(whole.len());
        while !whole.is_char_boundary(cut) {
            cut -= 1;
        }
        whole[..cut].to_owned()
    }),
];

/// Every run of 16 characters of a secret, and of its base64 forms (both alphabets, each byte
/// alignment): none may show.
fn leaked_runs(secret: &str, shown: &str) -> Vec<String> {
    use base64::Engine as _;
    let shown: String = shown.chars().filter(|c| !c.is_whitespace() && *c != '?').collect();
    let mut forms = vec![secret.to_owned()];
    for lead in ["", "x", "xy"] {
        let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{lead}{secret}"));
        let (from, to) = ([0, 2, 3][lead.len()], std.len().saturating_sub(2));
        if to > from {
            forms.push(std[from..to].to_owned());
            forms.push(std[from..to].replace('+', "-").replace('/', "_"));
        }
    }
    let mut found = Vec::new();
    for form in forms {
        for w in form.as_bytes().windows(16) {
            let w = String::from_utf8_lossy(w).into_owned();
            if shown.contains(&w) {
                found.push(w);
            }
        }
    }
    found
}

/// A server that repeats the request base64'd and line-wrapped, encoded twice, or cut short
/// inside a secret: no run of 16 characters of a secret (or of its base64) shows, on list,
/// refresh and console.
#[test]
fn an_echo_wrapped_encoded_or_cut_short_shows_no_part_of_a_secret() {
    let cases: [(&str, Setup, &[&str], &str); 3] = [
        ("list: ListAccounts", fresh, &["list", "--sso-session", "corp"], "/assignment/accounts"),
        ("refresh: CreateToken", near_expiry, &["refresh", "--force", "--profile", "dev-sso"], "/token"),
        ("console: GetSigninToken", console, &["console", "--profile", "dev", "--no-browser"], "/federation?"),
    ];
    let mut failures = Vec::new();
    for (name, setup, args, path) in cases {
        for (how, mangle) in MANGLES {
            let mut env = TestEnv::new();
            assert!(setup(&mut env), "{name}");
            let echo = Echo::mangling(env.fake.addr(), path, mangle);
            for var in ["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SIGNIN"] {
                env.set_env(var, &echo.url());
            }
            let args: Vec<&str> = args.iter().copied().chain(["--debug"]).collect();
            let run = env.run_bounded(&args);
            let secrets = echo.secrets();
            if secrets.is_empty() {
                failures.push(format!("{name} ({how}): the echoed request carried no secret"));
            }
            let shown = format!("{}\n{}", run.stdout, run.stderr);
            // The text as shown, and with its percent-encoding undone twice.
            let decoded = crate::util::fake::percent_decode(&crate::util::fake::percent_decode(&shown));
            for secret in &secrets {
                let mut runs = leaked_runs(secret, &shown);
                runs.extend(leaked_runs(secret, &decoded));
                if !runs.is_empty() {
                    failures.push(format!("{name} ({how}): shows {runs:?} of {secret:?}: {run:?}"));
                }
            }
            if run.code == 0 || run.stderr.trim().is_empty() {
                failures.push(format!("{name} ({how}): no error shown: {run:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}
