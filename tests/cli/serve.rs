//! The container-credentials endpoint (docs/serve-and-console.md): `serve` and `exec --server`.
//!
//! Real clients where they exist: botocore/boto3 and the AWS SDK for JavaScript v3 run as the child
//! of `exec --server` and get their credentials through their container provider, again after the
//! fake portal rotated them (role credentials that live 60 seconds, well inside the SDKs' refresh
//! windows), and 20 at once cost one GetRoleCredentials. Raw requests prove the refusals: no token,
//! a wrong token, a wrong Host, a non-GET; and /proc/net/tcp shows where the socket listens.

use crate::util::fake::Reply;
use crate::util::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `serve`, stopped on drop.
struct Serving {
    child: Child,
    uri: String,
    token: String,
    port: u16,
}

impl Serving {
    fn start(env: &TestEnv, args: &[&str]) -> Serving {
        let mut child = env.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = |name: &str| {
            let mut l = String::new();
            stdout.read_line(&mut l).unwrap();
            match l.trim_end().split_once('=') {
                Some((n, v)) if n == name => v.to_owned(),
                _ => {
                    let _ = child.kill();
                    let mut err = String::new();
                    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                    panic!("expected {name}=..., got {l:?}; stderr: {err}")
                }
            }
        };
        let uri = line("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        let token = line("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        let port = uri.trim_end_matches('/').rsplit(':').next().unwrap().parse().unwrap();
        Serving { child, uri, token, port }
    }

    /// Stops the server and returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        err
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP exchange: (status, body). `head` is sent as it is, then an empty line.
fn exchange(addr: &str, head: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(format!("{head}\r\n\r\n").as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status: {resp:?}"));
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn request(method: &str, host: &str, token: Option<&str>) -> String {
    let auth = token.map(|t| format!("\r\nAuthorization: {t}")).unwrap_or_default();
    format!("{method} / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test{auth}")
}

fn assert_no_credential(text: &str, env: &TestEnv) {
    let cached = env.read_json(&env.role_path(CORP_ROLE_KEY));
    for key in ["AccessKeyId", "SecretAccessKey", "SessionToken"] {
        let value = cached["Credentials"][key].as_str().unwrap();
        assert!(!text.contains(value), "{key} in {text:?}");
    }
    assert!(!text.contains("DO-NOT-LEAK"), "{text:?}");
}

#[test]
fn serve_answers_the_container_protocol_and_refuses_everything_else() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    // With --debug, so that its lines are checked for secrets too.
    let server = Serving::start(&env, &["--debug", "serve", "--profile", "dev-sso"]);
    assert!(server.uri.starts_with("http://127.0.0.1:") && server.uri.ends_with('/'), "{}", server.uri);
    assert_eq!(server.token.len(), 64, "256 random bits in hex");
    assert!(server.token.bytes().all(|b| b.is_ascii_hexdigit()));
    let addr = format!("127.0.0.1:{}", server.port);

    let (status, body) = exchange(&addr, &request("GET", &addr, Some(&server.token)));
    assert_eq!(status, 200, "{body}");
    let creds: Value = serde_json::from_str(&body).unwrap();
    let cached = &env.read_json(&env.role_path(CORP_ROLE_KEY))["Credentials"];
    assert_eq!(creds["AccessKeyId"], cached["AccessKeyId"]);
    assert_eq!(creds["SecretAccessKey"], cached["SecretAccessKey"]);
    assert_eq!(creds["Token"], cached["SessionToken"]);
    assert_eq!(creds["Expiration"], cached["Expiration"]);
    assert_eq!(creds["AccountId"], ACCOUNT);
    assert!(secs_until(creds["Expiration"].as_str().unwrap()) > 15 * 60);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1, "fetched once at start, then served from the cache");

    let last = if server.token.ends_with('0') { '1' } else { '0' };
    let wrong_token = format!("{}{last}", &server.token[..63]);
    let refusals = [
        ("no token", request("GET", &addr, None), 401),
        ("a wrong token", request("GET", &addr, Some("not-the-token")), 403),
        ("a token one digit off", request("GET", &addr, Some(&wrong_token)), 403),
        ("a DNS name (rebinding)", request("GET", &format!("evil.example:{}", server.port), Some(&server.token)), 403),
        ("another port", request("GET", "127.0.0.1:1", Some(&server.token)), 403),
        ("a POST", request("POST", &addr, Some(&server.token)), 405),
        ("a PUT", request("PUT", &addr, Some(&server.token)), 405),
        ("a POST without token", request("POST", &addr, None), 401),
        ("another path", request("GET", &addr, Some(&server.token)).replacen("/ ", "/latest ", 1), 404),
        ("garbage", "\u{1b}[2J hello".to_owned(), 400),
    ];
    for (what, head, want) in &refusals {
        let (status, body) = exchange(&addr, head);
        assert_eq!(status, *want, "{what}: {body}");
        assert_no_credential(&body, &env);
        assert!(body.len() < 80, "{what}: a short body that helps nobody: {body}");
    }
    // 401 and 403 say the same: nothing tells a wrong token from a wrong Host.
    assert_eq!(exchange(&addr, &refusals[0].1).1, exchange(&addr, &refusals[3].1).1);
    // Clients that never finish their request hold back nobody: an authorised request behind ten
    // idle connections is answered at once, not after their read deadlines.
    let silent: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    let started = std::time::Instant::now();
    let (status, _) = exchange(&addr, &request("GET", &addr, Some(&server.token)));
    assert_eq!(status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    drop(silent);

    let token = server.token.clone();
    let log = server.stop();
    assert!(log.contains("serving the credentials of dev-sso on 127.0.0.1:"), "{log}");
    assert!(log.contains("refused") && log.contains("a wrong authorization token"), "{log}");
    assert_no_credential(&log, &env);
    // No token, right or wrong, in the log, nor anything as long as one made of hex digits.
    assert!(!log.contains(&token) && !log.contains(&wrong_token), "{log}");
    let hex_run = log.split(|c: char| !c.is_ascii_hexdigit()).find(|w| w.len() >= 64);
    assert!(hex_run.is_none(), "a token-like run in the log: {log}");
    assert!(log.contains("debug: "), "{log}");
}

#[test]
fn twenty_concurrent_requests_make_one_get_role_credentials() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let server = Serving::start(&env, &["serve", "--profile", "dev-sso"]);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    // Time passes: the cached credentials now have 5 minutes left, less than the 15 we serve with.
    env.seed_corp_role(300);
    env.fake.set_role_delay(Duration::from_millis(200));
    let addr = format!("127.0.0.1:{}", server.port);
    let barrier = std::sync::Barrier::new(20);
    let keys: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let (status, body) = exchange(&addr, &request("GET", &addr, Some(&server.token)));
                    assert_eq!(status, 200, "{body}");
                    serde_json::from_str::<Value>(&body).unwrap()["AccessKeyId"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(env.fake.count("GetRoleCredentials"), 2, "one refresh for twenty requests");
    assert!(keys.iter().all(|k| k == &keys[0] && k.starts_with("ASIAFAKE")), "{keys:?}");
    assert_ne!(keys[0], "ASIACACHED");
}

/// Where a listening TCP socket on `port` is bound, from /proc/net/tcp (`0100007F` is 127.0.0.1).
#[cfg(target_os = "linux")]
fn listening_on(port: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (ip, p) = cols.get(1)?.split_once(':')?;
            (u16::from_str_radix(p, 16).ok()? == port && cols.get(3) == Some(&"0A")).then(|| ip.to_owned())
        })
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn serve_listens_on_loopback_only_unless_bind_says_so() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let server = Serving::start(&env, &["serve", "--profile", "dev-sso"]);
    assert_eq!(listening_on(server.port), ["0100007F"], "127.0.0.1 only, not every address");
    let log = server.stop();
    assert!(!log.contains("warning"), "{log}");

    // Another loopback address, by --bind: served there, and a Host naming 127.0.0.1 is refused.
    let server = Serving::start(&env, &["serve", "--profile", "dev-sso", "--bind", "127.0.0.2"]);
    assert_eq!(listening_on(server.port), ["0200007F"]);
    assert!(server.uri.starts_with("http://127.0.0.2:"), "{}", server.uri);
    let addr = format!("127.0.0.2:{}", server.port);
    assert_eq!(exchange(&addr, &request("GET", &addr, Some(&server.token))).0, 200);
    let other = format!("127.0.0.1:{}", server.port);
    assert_eq!(exchange(&addr, &request("GET", &other, Some(&server.token))).0, 403);
    drop(server);

    // Every address only when asked, with a warning; the printed URI is still loopback.
    let server = Serving::start(&env, &["serve", "--profile", "dev-sso", "--bind", "0.0.0.0"]);
    assert_eq!(listening_on(server.port), ["00000000"]);
    assert!(server.uri.starts_with("http://127.0.0.1:"), "{}", server.uri);
    let addr = format!("127.0.0.1:{}", server.port);
    assert_eq!(exchange(&addr, &request("GET", &addr, Some(&server.token))).0, 200);
    let log = server.stop();
    assert!(log.contains("warning: serving on 0.0.0.0:") && log.contains("not a loopback address"), "{log}");
}

#[test]
fn serve_takes_a_port_and_says_when_it_is_taken() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    env.run(&["serve", "--profile", "dev-sso", "--port", &port.to_string()])
        .assert_fails(1, &format!("cannot listen on 127.0.0.1:{port}"));
    drop(taken);
    let server = Serving::start(&env, &["serve", "--profile", "dev-sso", "--port", &port.to_string()]);
    assert_eq!(server.uri, format!("http://127.0.0.1:{port}/"));
    assert!(env.run(&["serve", "--bind", "localhost"]).code == 2, "--bind takes an IP address");
}

#[test]
fn serve_without_a_session_fails_before_listening() {
    let env = TestEnv::new();
    let run = env.run(&["serve", "--profile", "dev-sso"]);
    run.assert_fails(3, "aws-sso-process login");
}

#[test]
fn a_failed_refresh_is_an_error_answer_without_credentials_and_the_server_goes_on() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let server = Serving::start(&env, &["serve", "--profile", "dev-sso"]);
    env.seed_corp_role(60);
    env.fake.script("GetRoleCredentials", [Reply::portal_error(403, "ForbiddenException", "No access")]);
    let addr = format!("127.0.0.1:{}", server.port);
    let (status, body) = exchange(&addr, &request("GET", &addr, Some(&server.token)));
    assert_eq!(status, 500, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], "CredentialsUnavailable");
    assert!(error["message"].as_str().unwrap().contains("GetRoleCredentials"), "{body}");
    assert!(!body.contains("ASIACACHED") && !body.contains("DO-NOT-LEAK"), "{body}");
    let (status, _) = exchange(&addr, &request("GET", &addr, Some(&server.token)));
    assert_eq!(status, 200, "the next request is served");
    let log = server.stop();
    assert!(log.contains("cannot serve") && log.contains("ForbiddenException"), "{log}");
    assert!(!log.contains("DO-NOT-LEAK"), "{log}");
}

// ---- exec --server ----

#[test]
fn exec_server_gives_the_child_an_endpoint_instead_of_keys() {
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("AWS_ACCESS_KEY_ID", "AKIDFROMPARENT");
    env.set_env("AWS_SECRET_ACCESS_KEY", "parent-secret");
    env.set_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x");
    // A CI job's web identity would win over the endpoint in every SDK's chain.
    env.set_env("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token");
    env.set_env("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/ci");
    let script = "env | grep '^AWS_' | sort; \
                  curl -s -H \"Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN\" \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" \
                  > \"$HOME/got.json\" 2>/dev/null || true; exit 42";
    let run = env.run(&["exec", "--server", "--profile", "dev-sso", "--", "sh", "-c", script]);
    assert_eq!(run.code, 42, "the command's exit status: {run:?}");
    let vars: Vec<&str> = run.stdout.lines().collect();
    let uri = vars.iter().find_map(|l| l.strip_prefix("AWS_CONTAINER_CREDENTIALS_FULL_URI=")).unwrap();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    let token = vars.iter().find_map(|l| l.strip_prefix("AWS_CONTAINER_AUTHORIZATION_TOKEN=")).unwrap();
    assert_eq!(token.len(), 64);
    for gone in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ] {
        assert!(!vars.iter().any(|l| l.starts_with(&format!("{gone}="))), "{gone}: {vars:?}");
    }
    assert!(vars.contains(&"AWS_REGION=eu-west-1") && vars.contains(&"AWS_SSO_PROCESS_EXEC=dev-sso"), "{vars:?}");
    assert!(run.stderr.is_empty(), "nothing logged for a good request: {run:?}");
    // With curl installed, the child fetched the credentials with the two variables.
    let got = std::fs::read_to_string(env.home().join("got.json")).unwrap_or_default();
    if !got.is_empty() {
        let got: Value = serde_json::from_str(&got).unwrap();
        assert!(got["AccessKeyId"].as_str().unwrap().starts_with("ASIAFAKE"), "{got}");
    }
    // The server ended with the command.
    let port = uri.trim_end_matches('/').rsplit(':').next().unwrap();
    assert!(TcpStream::connect(format!("127.0.0.1:{port}")).is_err(), "nothing listens after the command ended");
}

#[test]
fn exec_server_warns_when_a_default_profile_would_win_over_the_endpoint() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["exec", "--server", "--profile", "dev-sso", "--", "true"]);
    assert!(run.code == 0 && run.stderr.is_empty(), "{run:?}");
    env.write_file(&env.home().join(".aws/credentials"), "[default]\naws_access_key_id = AKIDDEFAULT\n");
    let run = env.run(&["exec", "--server", "--profile", "dev-sso", "--", "true"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("warning: the [default] profile sets aws_access_key_id: SDKs that read the config"),
        "{run:?}"
    );
}

#[test]
fn exec_server_exit_codes_are_the_commands() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["exec", "--server", "--profile", "dev-sso", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(run.code, 128 + 15, "death by SIGTERM as a shell reports it: {run:?}");
    let run = env.run(&["exec", "--server", "--profile", "dev-sso", "--", "no-such-command-xyz"]);
    run.assert_fails(127, "cannot run 'no-such-command-xyz': command not found");
    let run = env.run(&["exec", "--server", "--profile", "dev-sso", "--", "true"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[cfg(unix)]
#[test]
fn exec_server_passes_a_signal_it_is_sent_to_the_command() {
    use std::os::unix::process::CommandExt;
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    // Its own process group, like a shell job; and the sender's group, as a script's `kill $pid`,
    // Python's `terminate()` or `timeout --foreground` have it. Either way the signal goes to
    // aws-sso-process alone, and must reach the command once.
    let cases = [(libc::SIGTERM, "TERM"), (libc::SIGINT, "INT"), (libc::SIGHUP, "HUP")]
        .into_iter()
        .flat_map(|(signal, name)| [(signal, name, true), (signal, name, false)]);
    for (signal, name, own_group) in cases {
        // Bounded: without the signal the command ends by itself after about ten seconds.
        let script = format!(
            "trap 'echo got {name}; exit 7' {name}; echo ready; i=0; \
             while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; echo no signal"
        );
        let mut command = env.command(&["exec", "--server", "--profile", "dev-sso", "--", "sh", "-c", &script]);
        if own_group {
            command.process_group(0);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        // SAFETY: signalling the process we started.
        unsafe { libc::kill(child.id() as i32, signal) };
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(rest, format!("got {name}\n"), "the command got it once (own group: {own_group})");
        assert_eq!(status.code(), Some(7), "{name}: the command's exit status (own group: {own_group})");
    }
}

/// SIGUSR1, SIGUSR2, SIGQUIT and SIGWINCH sent to `exec --server` (whose default actions would
/// end it, or reach nobody) are passed on to the command; the endpoint goes on serving it, and the
/// command's own exit status comes back when it ends.
#[cfg(unix)]
#[test]
fn exec_server_passes_on_usr1_usr2_quit_and_winch_and_keeps_serving() {
    use std::os::unix::process::CommandExt;
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    // Each signal that would end aws-sso-process by default (or is meant for the program).
    let signals = [
        (libc::SIGUSR1, "USR1"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGWINCH, "WINCH"),
        (libc::SIGALRM, "ALRM"),
        (libc::SIGVTALRM, "VTALRM"),
        (libc::SIGPROF, "PROF"),
        (libc::SIGIO, "IO"),
        (libc::SIGXCPU, "XCPU"),
        (libc::SIGXFSZ, "XFSZ"),
        #[cfg(target_os = "linux")]
        (libc::SIGPWR, "PWR"),
        #[cfg(target_os = "linux")]
        (libc::SIGSTKFLT, "STKFLT"),
    ];
    for (signal, name) in signals {
        let done = env.home().join(format!("done-{name}"));
        // Bounded: without the done file the command ends by itself after about ten seconds.
        let script = format!(
            "trap 'echo got {name}' {signal}; \
             echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI $AWS_CONTAINER_AUTHORIZATION_TOKEN\"; i=0; \
             while [ ! -f '{}' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; exit 7",
            done.display()
        );
        let mut child = env
            .command(&["exec", "--server", "--profile", "dev-sso", "--", "sh", "-c", &script])
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let (uri, token) = line.trim().split_once(' ').unwrap();
        let addr = uri.trim_start_matches("http://").trim_end_matches('/').to_owned();
        // SAFETY: signalling the process we started.
        unsafe { libc::kill(child.id() as i32, signal) };
        let mut got = String::new();
        stdout.read_line(&mut got).unwrap();
        assert_eq!(got, format!("got {name}\n"), "the command got {name}");
        assert_eq!(exchange(&addr, &request("GET", &addr, Some(token))).0, 200, "still served after {name}");
        std::fs::write(&done, "").unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(rest, "", "{name} reached the command once");
        assert_eq!(status.code(), Some(7), "{name}: the command's exit status");
    }
}

/// Plays a terminal: runs aws-sso-process on a pseudo-terminal, waits for "ready", types Ctrl-C,
/// and reports what the terminal showed and the exit status.
const CTRL_C: &str = r#"
import json, os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def read_until(done, seconds):
    global out
    end = time.time() + seconds
    while time.time() < end and not done():
        if select.select([fd], [], [], 0.1)[0]:
            try:
                data = os.read(fd, 1024)
            except OSError:
                return
            if not data:
                return
            out += data
read_until(lambda: b"ready" in out, 10)
os.write(fd, b"\x03")
read_until(lambda: False, 10)
_, status = os.waitpid(pid, 0)
print(json.dumps({"out": out.decode(errors="replace"), "exit": os.waitstatus_to_exitcode(status)}))
"#;

#[cfg(unix)]
#[test]
fn exec_server_survives_the_terminals_ctrl_c_and_passes_on_the_commands_status() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let script = "n=0; trap 'n=$((n+1))' INT; echo ready; i=0; \
                  while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; echo \"count $n\"; exit 5";
    let mut cmd = env.client_command("python3");
    cmd.args(["-c", CTRL_C, BIN, "exec", "--server", "--profile", "dev-sso", "--", "sh", "-c", script]);
    let Ok(out) = cmd.output() else { return missing("python3") };
    let run = to_run(out);
    assert_eq!(run.code, 0, "{run:?}");
    let got: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let shown = got["out"].as_str().unwrap();
    // aws-sso-process survived the Ctrl-C (its whole group got it), the command got it from the
    // terminal, went on, and its own exit status came back. (Whether it came once or twice cannot
    // be told from here: two SIGINTs sent a microsecond apart merge into one pending signal.)
    assert!(shown.contains("count 1"), "{got}");
    assert_eq!(got["exit"], 5, "{got}");
}

// ---- real clients ----

fn missing(what: &str) {
    skip_or_fail(what, "README.md, Running the tests");
}

fn has_boto3() -> bool {
    Command::new("python3").args(["-c", "import boto3"]).output().is_ok_and(|o| o.status.success())
}

/// The command line that runs `exec --server` with `child` after `--`, in a client environment.
fn exec_server(env: &TestEnv, child: &[&str]) -> Run {
    let mut cmd = env.command(&["exec", "--server", "--profile", "dev-sso", "--"]);
    cmd.args(child).env("AWS_EC2_METADATA_DISABLED", "true");
    to_run(cmd.output().unwrap())
}

const BOTO3_ROTATION: &str = r#"
import json, boto3
creds = boto3.Session().get_credentials()
seen = [creds.get_frozen_credentials().access_key for _ in range(3)]
print(json.dumps({"method": creds.method, "keys": seen}))
"#;

#[test]
fn boto3_gets_credentials_through_the_container_provider_across_a_rotation() {
    if !has_boto3() {
        return missing("python3 with boto3");
    }
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    // Role credentials that live a minute: inside botocore's refresh window from the start, so
    // each use makes it fetch again, and each fetch is a new pair from the portal.
    env.fake.set_role_lifetime(Duration::from_secs(60));
    let run = exec_server(&env, &["python3", "-c", BOTO3_ROTATION]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(got["method"], "container-role", "botocore's container provider: {got}");
    let keys: Vec<&str> = got["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    let mut distinct = keys.clone();
    distinct.dedup();
    assert!(distinct.len() >= 2, "the child saw the credentials rotate: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("ASIAFAKE")), "{keys:?}");
    let issued = env.fake.count("GetRoleCredentials");
    assert!(issued >= 3, "exec's own fetch, then one per refresh: {issued}");
    assert_no_credential(&run.stderr, &env);
}

const BOTOCORE_TWENTY: &str = r#"
import datetime, json, os, threading
from botocore.credentials import ContainerProvider
# Time passes: the cached credentials now have 5 minutes left, less than the 15 the server keeps.
path = os.path.join(os.environ["HOME"], ".aws/cli/cache", os.environ["ROLE_KEY"] + ".json")
doc = json.load(open(path))
soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
doc["Credentials"]["Expiration"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump(doc, open(path, "w"))
barrier, keys = threading.Barrier(20), []
def load():
    barrier.wait()
    keys.append(ContainerProvider().load().get_frozen_credentials().access_key)
threads = [threading.Thread(target=load) for _ in range(20)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(keys))
"#;

#[test]
fn twenty_botocore_clients_at_once_make_one_get_role_credentials() {
    if !has_boto3() {
        return missing("python3 with boto3");
    }
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.set_role_delay(Duration::from_millis(200));
    let mut cmd = env.command(&["exec", "--server", "--profile", "dev-sso", "--", "python3", "-c", BOTOCORE_TWENTY]);
    cmd.env("ROLE_KEY", CORP_ROLE_KEY);
    let run = to_run(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    let keys: Vec<String> = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(keys.len(), 20);
    assert_eq!(env.fake.count("GetRoleCredentials"), 2, "exec's own fetch, then one refresh for twenty clients");
    let last = &env.read_json(&env.role_path(CORP_ROLE_KEY))["Credentials"]["AccessKeyId"];
    assert!(keys.iter().all(|k| k == last), "all twenty got the refreshed pair: {keys:?}");
}

/// `node_modules` holding @aws-sdk/credential-providers, if installed (as in clients.rs).
fn js_sdk() -> Option<std::path::PathBuf> {
    let dir = std::env::var("AWS_SSO_PROCESS_JS_SDK").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/aws-sso-process-ci/js/node_modules")
    });
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    (node && dir.join("@aws-sdk/credential-providers/package.json").exists()).then_some(dir)
}

/// The SDK's default chain (no profile in the config resolves, so it reaches the container
/// provider), asked again while its credentials are inside its refresh window: it refreshes in the
/// background and hands out the new pair once it has it (five seconds at most here).
const JS_ROTATION: &str = r#"
const { fromNodeProviderChain } = require('@aws-sdk/credential-providers');
(async () => {
  const provider = fromNodeProviderChain();
  const first = await provider();
  let second = await provider();
  for (let i = 0; i < 50 && second.accessKeyId === first.accessKeyId; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    second = await provider();
  }
  console.log(JSON.stringify({ keys: [first.accessKeyId, second.accessKeyId],
                               expiration: first.expiration && first.expiration.toISOString() }));
})().catch((e) => { console.error(`${e.name}: ${e.message}`); process.exit(1); });
"#;

#[test]
fn js_sdk_v3_gets_credentials_through_the_container_provider_across_a_rotation() {
    let Some(modules) = js_sdk() else {
        return missing("node with @aws-sdk/credential-providers (set AWS_SSO_PROCESS_JS_SDK to its node_modules)");
    };
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.set_role_lifetime(Duration::from_secs(60));
    let mut cmd = env.command(&["exec", "--server", "--profile", "dev-sso", "--", "node", "-e", JS_ROTATION]);
    cmd.env("NODE_PATH", &modules).env("AWS_EC2_METADATA_DISABLED", "true");
    let run = to_run(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    let got: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let keys = got["keys"].as_array().unwrap();
    assert!(keys.iter().all(|k| k.as_str().unwrap().starts_with("ASIAFAKE")), "{got}");
    assert_ne!(keys[0], keys[1], "the SDK fetched again once its credentials were near expiry: {got}");
    assert!(secs_until(&got["expiration"].as_str().unwrap().replace(".000Z", "Z")) <= 60);
}

/// URIs and whether the SDKs accept them over plain http (docs/serve-and-console.md); the checks
/// run before any request, so nothing is sent anywhere.
const HOST_RULES: [(&str, bool); 8] = [
    ("http://127.0.0.1:1/", true),
    ("http://127.0.0.2:1/", true),
    ("http://localhost:1/", true),
    ("http://[::1]:1/", true),
    ("http://169.254.170.2/", true),
    ("http://172.17.0.1:1/", false),
    ("http://host.docker.internal:1/", false),
    ("http://192.168.1.10:1/", false),
];

const BOTOCORE_HOST_RULES: &str = r#"
import json, sys
from botocore.utils import ContainerMetadataFetcher
fetcher, accepted = ContainerMetadataFetcher(), {}
for url in sys.argv[1:]:
    try:
        fetcher._validate_allowed_url(url)
        accepted[url] = True
    except ValueError:
        accepted[url] = False
print(json.dumps(accepted))
"#;

// The provider package itself (the credential-providers wrapper checks only when called, and a
// call would send a request); creating it runs the host check and sends nothing.
const JS_HOST_RULES: &str = r#"
const { fromHttp } = require('@aws-sdk/credential-provider-http');
const accepted = {};
for (const url of process.argv.slice(1)) {
  try { fromHttp({ awsContainerCredentialsFullUri: url }); accepted[url] = true; }
  catch (e) { accepted[url] = false; }
}
console.log(JSON.stringify(accepted));
"#;

#[test]
fn sdks_refuse_plain_http_to_a_bridge_address() {
    let env = TestEnv::new();
    let urls: Vec<&str> = HOST_RULES.iter().map(|(u, _)| *u).collect();
    let check = |out: std::process::Output, sdk: &str| {
        let run = to_run(out);
        assert_eq!(run.code, 0, "{sdk}: {run:?}");
        let accepted: Value = serde_json::from_str(run.stdout.trim()).unwrap();
        for (url, want) in HOST_RULES {
            assert_eq!(accepted[url], want, "{sdk} on {url}");
        }
    };
    if has_boto3() {
        check(
            env.client_command("python3").arg("-c").arg(BOTOCORE_HOST_RULES).args(&urls).output().unwrap(),
            "botocore",
        );
    } else {
        missing("python3 with boto3");
    }
    match js_sdk() {
        Some(modules) => check(
            env.client_command("node")
                .args(["-e", JS_HOST_RULES])
                .args(&urls)
                .env("NODE_PATH", modules)
                .output()
                .unwrap(),
            "the JavaScript SDK",
        ),
        None => missing("node with @aws-sdk/credential-providers"),
    }
}

// ---- floods: no local program can starve a listener ----

/// A local program holding `n` connections open to `addr`: idle (connected, nothing sent) or
/// trickling (one byte a second of a head that never ends). A connection the server closes is
/// opened again at once, so the flood stays at `n` for as long as it lasts.
struct Flood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flood {
    fn start(addr: std::net::SocketAddr, n: usize, trickle: bool) -> Flood {
        use std::sync::atomic::Ordering;
        raise_descriptor_limit();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stopping, opened) = (stop.clone(), open.clone());
        let thread = std::thread::spawn(move || {
            let connect = || {
                let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
                s.set_nonblocking(true).ok()?;
                Some(s)
            };
            let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
            let mut next_byte = std::time::Instant::now();
            let mut buf = [0u8; 512];
            while !stopping.load(Ordering::SeqCst) {
                let write_now = trickle && std::time::Instant::now() >= next_byte;
                if write_now {
                    next_byte += Duration::from_secs(1);
                }
                for slot in conns.iter_mut() {
                    let alive = match slot {
                        Some(s) => match s.read(&mut buf) {
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                !write_now || s.write_all(b"X").is_ok()
                            }
                            _ => false, // closed, reset or answered: the server let it go
                        },
                        None => false,
                    };
                    if !alive && !stopping.load(Ordering::SeqCst) {
                        *slot = connect();
                        if let (Some(s), true) = (slot.as_mut(), trickle) {
                            let _ = s.write_all(b"GET / HTTP/1.1\r\nX-Slow: ");
                        }
                    }
                }
                opened.store(conns.iter().filter(|c| c.is_some()).count(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let flood = Flood { stop, open, thread: Some(thread) };
        assert!(
            wait_for(Duration::from_secs(20), || flood.open.load(Ordering::SeqCst) >= n * 9 / 10),
            "the flood could not open its connections: {}",
            flood.open.load(Ordering::SeqCst)
        );
        flood
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The test process holds a flood's sockets: its soft descriptor limit up to the hard one.
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

/// What 20 legitimate requests met during a flood, and what the server cost meanwhile.
#[derive(Debug)]
struct Measured {
    answered: usize,
    /// The slowest of the 20 (with 20 samples, the 99th percentile is the slowest).
    p99: Duration,
    threads: u64,
    rss_kib: u64,
}

/// Sends 20 requests a tenth of a second apart, each answered or not within 2 s; `answered` is
/// given the status line's code. Reads the server's threads and RSS from /proc while it works.
fn measure(server_pid: u32, addr: std::net::SocketAddr, head: &str, answered: impl Fn(u16) -> bool) -> Measured {
    let mut times = Vec::new();
    let (mut threads, mut rss_kib) = (0, 0);
    for _ in 0..20 {
        let started = std::time::Instant::now();
        let ok = (|| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            s.write_all(format!("{head}\r\n\r\n").as_bytes()).ok()?;
            let mut resp = Vec::new();
            let _ = s.read_to_end(&mut resp);
            let code = String::from_utf8_lossy(&resp).split(' ').nth(1)?.parse().ok()?;
            answered(code).then_some(())
        })()
        .is_some();
        let took = started.elapsed();
        if ok && took < Duration::from_secs(2) {
            times.push(took);
        }
        let status = std::fs::read_to_string(format!("/proc/{server_pid}/status")).unwrap_or_default();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        threads = threads.max(field("Threads:"));
        rss_kib = rss_kib.max(field("VmRSS:"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let p99 = times.iter().max().copied().unwrap_or(Duration::from_secs(2));
    Measured { answered: times.len(), p99, threads, rss_kib }
}

/// Idle, then trickling: 1,000 connections held open, and 20 legitimate requests must still be
/// answered (19 at least, each within 2 s), with the server's threads and memory bounded.
fn flood_both_ways(
    what: &str,
    server_pid: u32,
    addr: std::net::SocketAddr,
    head: &str,
    answered: impl Fn(u16) -> bool + Copy,
) {
    for trickle in [false, true] {
        let flood = Flood::start(addr, 1000, trickle);
        let m = measure(server_pid, addr, head, answered);
        drop(flood);
        let kind = if trickle { "trickling" } else { "idle" };
        eprintln!(
            "{what}, 1000 {kind}: answered {}/20, p99 {} ms, {} threads, {} MiB RSS",
            m.answered,
            m.p99.as_millis(),
            m.threads,
            m.rss_kib / 1024
        );
        assert!(m.answered >= 19, "{what}, 1000 {kind} connections: {m:?}");
        assert!(m.threads > 0 && m.threads <= 300, "{what}, 1000 {kind} connections: {m:?}");
        assert!(m.rss_kib > 0 && m.rss_kib <= 64 * 1024, "{what}, 1000 {kind} connections: {m:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn serve_answers_through_a_flood_of_idle_and_trickling_connections() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let server = Serving::start(&env, &["serve", "--profile", "dev-sso"]);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let head = request("GET", &addr.to_string(), Some(&server.token));
    flood_both_ways("serve", server.child.id(), addr, &head, |code| code == 200);
    // More connections than the table holds: the ones waiting longest make room for newcomers.
    let flood = Flood::start(addr, 2500, false);
    let m = measure(server.child.id(), addr, &head, |code| code == 200);
    drop(flood);
    eprintln!(
        "serve, 2500 idle: answered {}/20, p99 {} ms, {} threads, {} MiB RSS",
        m.answered,
        m.p99.as_millis(),
        m.threads,
        m.rss_kib / 1024
    );
    assert!(m.answered >= 19 && m.threads <= 300 && m.rss_kib <= 64 * 1024, "2500 idle connections: {m:?}");
    // The server goes on as before once the flood is over.
    assert_eq!(exchange(&addr.to_string(), &head).0, 200);
}

#[cfg(target_os = "linux")]
#[test]
fn exec_server_answers_through_a_flood_of_idle_and_trickling_connections() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    // The command tells us its endpoint, then lives until the test is done (30 s at most).
    let script = "echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI $AWS_CONTAINER_AUTHORIZATION_TOKEN\"; i=0; \
                  while [ ! -f \"$HOME/done\" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done";
    let mut child = env
        .command(&["exec", "--server", "--profile", "dev-sso", "--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let (uri, token) = line.trim().split_once(' ').unwrap();
    let addr: std::net::SocketAddr = uri.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let head = request("GET", &addr.to_string(), Some(token));
    flood_both_ways("exec --server", child.id(), addr, &head, |code| code == 200);
    env.write_file(&env.home().join("done"), "");
    assert!(child.wait().unwrap().success());
}

#[cfg(target_os = "linux")]
#[test]
fn the_pkce_redirect_listener_answers_through_a_flood_and_the_login_completes() {
    let Some((env, tty)) = crate::login::pkce_env() else { return };
    let (mut child, url) = crate::login::no_browser_login(&env, &tty);
    let port: u16 = url.split("127.0.0.1%3A").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    // What a browser asks besides the redirect (a favicon) is answered 404, and does not end the wait.
    let head = format!("GET /favicon.ico HTTP/1.1\r\nHost: {addr}");
    flood_both_ways("the PKCE redirect listener", child.id(), addr, &head, |code| code == 404);
    // The browser's redirect, in the middle of a flood, ends the login.
    let flood = Flood::start(addr, 1000, true);
    std::process::Command::new(browser_script().unwrap()).arg(&url).env("HOME", env.home()).output().unwrap();
    let ended = wait_for(Duration::from_secs(10), || child.try_wait().unwrap().is_some());
    drop(flood);
    if !ended {
        let _ = child.kill();
    }
    let run = to_run(child.wait_with_output().unwrap());
    assert!(ended, "the login did not end after the redirect: {run:?}");
    run.assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
}
