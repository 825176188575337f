//! Roles assumed from an SSO role (docs/chained-roles.md): `role_arn` + `source_profile` profiles,
//! against the fake SSO service and `moto_server` as STS on 127.0.0.1, reached through a small
//! counting relay (`StsRelay`) that records every request and the answers STS gave, and can answer
//! with scripted errors instead. botocore (boto3's AssumeRoleCredentialFetcher with the AWS CLI's
//! file cache) and the AWS CLI v1 share the cache entries both ways.

use crate::util::*;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEPLOY_ARN: &str = "arn:aws:iam::444455556666:role/Deployer";
const AUDIT_ARN: &str = "arn:aws:iam::777788889999:role/Auditor";

/// The botocore cache key of `deploy` (role_session_name alice), from
/// `python -c "from botocore.credentials import AssumeRoleCredentialFetcher as F; print(F(lambda *a, **k: None,
/// None, 'arn:aws:iam::444455556666:role/Deployer', extra_args={'RoleSessionName': 'alice'})._cache_key)"`.
const DEPLOY_KEY: &str = "4d2a5e14dc2ac4dc5d4917697f985d0c521371a8";

fn chained_config() -> String {
    format!(
        "{DEFAULT_CONFIG}
[profile deploy]
role_arn = {DEPLOY_ARN}
source_profile = dev-sso
role_session_name = alice
region = eu-west-1

[profile audit]
role_arn = {AUDIT_ARN}
source_profile = deploy
region = eu-west-1

[profile loop-a]
role_arn = {DEPLOY_ARN}
source_profile = loop-b

[profile loop-b]
role_arn = {AUDIT_ARN}
source_profile = loop-a

[profile long]
role_arn = {DEPLOY_ARN}
source_profile = dev-sso
duration_seconds = 7200

[profile static]
aws_access_key_id = AKIASTATIC
aws_secret_access_key = static-secret-DO-NOT-LEAK

[profile from-static]
role_arn = {DEPLOY_ARN}
source_profile = static

[profile from-instance]
role_arn = {DEPLOY_ARN}
credential_source = Ec2InstanceMetadata

[profile via-process]
role_arn = {DEPLOY_ARN}
source_profile = dev
role_session_name = via-process

[profile deploy-tool]
credential_process = aws-sso-process --profile deploy

[profile from-web]
role_arn = {DEPLOY_ARN}
web_identity_token_file = /var/run/token

[profile mfa]
role_arn = {DEPLOY_ARN}
source_profile = dev-sso
mfa_serial = arn:aws:iam::111122223333:mfa/alice
"
    )
}

fn missing(what: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required in CI (.ci/run installs it)");
    }
    eprintln!("skipping: {what} is not installed (.ci/run shows how to install it)");
    true
}

fn works(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// A moto_server on 127.0.0.1, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Option<Moto> {
        if !works("moto_server", &["--help"]) {
            missing("moto_server (pip install 'moto[server]')");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let up = wait_for(Duration::from_secs(60), || TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "moto_server did not listen on 127.0.0.1:{port}");
        Some(Moto { child, port })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the relay saw, and what was answered.
#[derive(Debug, Clone)]
struct Seen {
    /// Lower-cased header names.
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
    answer: String,
}

impl Seen {
    fn form(&self, key: &str) -> Option<String> {
        self.body.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| percent_decode(v))
        })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 3 <= b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A relay on 127.0.0.1 in front of moto (or nothing, when every answer is scripted): it records
/// each request and answer, one request per connection.
struct StsRelay {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
}

impl StsRelay {
    fn start(upstream: Option<u16>) -> StsRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<VecDeque<(u16, String)>>> = Arc::new(Mutex::new(VecDeque::new()));
        let (seen2, script2) = (seen.clone(), script.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (seen, script) = (seen2.clone(), script2.clone());
                std::thread::spawn(move || relay_one(conn, upstream, &seen, &script));
            }
        });
        StsRelay { port, seen, script }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn assume_roles(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.form("Action").as_deref() == Some("AssumeRole")).collect()
    }
    fn script(&self, status: u16, body: &str) {
        self.script.lock().unwrap().push_back((status, body.to_owned()));
    }
}

fn relay_one(
    mut conn: TcpStream,
    upstream: Option<u16>,
    seen: &Mutex<Vec<Seen>>,
    script: &Mutex<VecDeque<(u16, String)>>,
) {
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    let scripted = script.lock().unwrap().pop_front();
    let (status, answer, raw) = match (scripted, upstream) {
        (Some((status, answer)), _) => {
            let raw = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            (status, answer, raw.into_bytes())
        }
        (None, Some(port)) => {
            let mut up = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut out = format!("{request_line}\r\n");
            for (k, v) in &headers {
                if k != "connection" {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
            }
            out.push_str("connection: close\r\n\r\n");
            up.write_all(out.as_bytes()).unwrap();
            up.write_all(body.as_bytes()).unwrap();
            let mut raw = Vec::new();
            let _ = up.read_to_end(&mut raw);
            let text = String::from_utf8_lossy(&raw).into_owned();
            let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let answer = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
            (status, answer, raw)
        }
        (None, None) => (599, String::new(), b"HTTP/1.1 599 X\r\ncontent-length: 0\r\n\r\n".to_vec()),
    };
    seen.lock().unwrap().push(Seen { headers, body, status, answer });
    let _ = conn.write_all(&raw);
}

/// The text of `<name>` in an XML answer.
fn xml_text(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    xml[start..end].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
}

fn env_with_sts(relay: &StsRelay) -> TestEnv {
    let mut env = TestEnv::new();
    env.write_config(&chained_config());
    env.seed_corp_token(3600);
    env.set_env("AWS_ENDPOINT_URL_STS", &relay.url());
    env
}

#[test]
fn a_chained_profile_prints_what_sts_issued_caches_it_as_botocore_and_serves_it_without_calls() {
    let Some(moto) = Moto::start() else { return };
    let relay = StsRelay::start(Some(moto.port));
    let env = env_with_sts(&relay);
    let run = env.run(&["--profile", "deploy"]);
    run.assert_ok();
    let printed = run.json();
    let calls = relay.assume_roles();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.status, 200, "{call:?}");
    assert_eq!(call.form("RoleArn").as_deref(), Some(DEPLOY_ARN));
    assert_eq!(call.form("RoleSessionName").as_deref(), Some("alice"));
    assert_eq!(call.form("Version").as_deref(), Some("2011-06-15"));
    // Signed for sts in the profile's region with the SSO role's credentials.
    let auth = call.header("authorization").unwrap();
    assert!(auth.contains("/eu-west-1/sts/aws4_request"), "{auth}");
    assert!(auth.contains("Credential=ASIAFAKE"), "signed with the SSO role's key: {auth}");
    assert!(call.header("x-amz-security-token").is_some());
    // What was printed is what STS issued.
    assert_eq!(printed["AccessKeyId"], xml_text(&call.answer, "AccessKeyId"));
    assert_eq!(printed["SecretAccessKey"], xml_text(&call.answer, "SecretAccessKey"));
    assert_eq!(printed["SessionToken"], xml_text(&call.answer, "SessionToken"));
    assert_eq!(printed["Version"], 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);

    // The entry is botocore's: its key, the whole answer, `...UTC` expiry, 0600.
    let path = env.role_path(DEPLOY_KEY);
    let doc = env.read_json(&path);
    assert_eq!(doc["Credentials"]["AccessKeyId"], printed["AccessKeyId"]);
    assert!(doc["Credentials"]["Expiration"].as_str().unwrap().ends_with("UTC"), "{doc}");
    assert_eq!(doc["Credentials"]["AccountId"], "444455556666", "{doc}");
    assert!(doc["AssumedRoleUser"]["Arn"].as_str().unwrap().contains("assumed-role/Deployer/alice"), "{doc}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Second run: no call anywhere.
    let again = env.run(&["--profile", "deploy"]);
    again.assert_ok();
    assert_eq!(again.json()["AccessKeyId"], printed["AccessKeyId"]);
    assert_eq!(relay.seen().len(), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    // export and exec use the same credentials.
    let export = env.run(&["export", "--profile", "deploy", "--format", "env"]);
    export.assert_ok();
    assert!(export.stdout.contains(printed["AccessKeyId"].as_str().unwrap()), "{export:?}");
    assert_eq!(relay.seen().len(), 1);
}

#[test]
fn twenty_four_processes_cause_one_assume_role() {
    let Some(moto) = Moto::start() else { return };
    let relay = StsRelay::start(Some(moto.port));
    let env = env_with_sts(&relay);
    let runs = env.run_many(24, &["--profile", "deploy"]);
    let keys: std::collections::BTreeSet<String> = runs
        .iter()
        .map(|r| {
            assert_eq!(r.code, 0, "{r:?}");
            r.json()["AccessKeyId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(relay.assume_roles().len(), 1, "one AssumeRole for 24 processes");
    assert_eq!(env.fake.count("GetRoleCredentials"), 1, "and one GetRoleCredentials below it");
    assert_eq!(keys.len(), 1, "all 24 printed the same credentials: {keys:?}");
}

#[test]
fn a_chain_of_two_roles_signs_each_hop_with_the_one_below_and_loops_are_named() {
    let Some(moto) = Moto::start() else { return };
    let relay = StsRelay::start(Some(moto.port));
    let env = env_with_sts(&relay);
    let run = env.run(&["--profile", "audit"]);
    run.assert_ok();
    let calls = relay.assume_roles();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].form("RoleArn").as_deref(), Some(DEPLOY_ARN));
    assert_eq!(calls[1].form("RoleArn").as_deref(), Some(AUDIT_ARN));
    // The default session name, as botocore makes it.
    assert!(calls[1].form("RoleSessionName").unwrap().starts_with("botocore-session-"), "{:?}", calls[1]);
    // The second hop is signed with the first hop's credentials.
    let first_key = xml_text(&calls[0].answer, "AccessKeyId");
    assert!(calls[1].header("authorization").unwrap().contains(&format!("Credential={first_key}/")));
    assert_eq!(calls[1].header("x-amz-security-token").unwrap(), xml_text(&calls[0].answer, "SessionToken"));
    assert_eq!(run.json()["AccessKeyId"], xml_text(&calls[1].answer, "AccessKeyId"));
    // The middle hop was cached too: `deploy` now costs nothing.
    env.run(&["--profile", "deploy"]).assert_ok();
    assert_eq!(relay.assume_roles().len(), 2);

    let looped = env.run(&["--profile", "loop-a"]);
    looped.assert_fails(1, "loop-a -> loop-b -> loop-a");
    assert_eq!(relay.assume_roles().len(), 2, "nothing is called for a loop");
}

#[test]
fn configuration_errors_are_one_line_before_any_call() {
    let relay = StsRelay::start(None);
    let env = env_with_sts(&relay);
    let long = env.run(&["--profile", "long"]);
    long.assert_fails(1, "role chaining");
    assert!(long.stderr.contains("1 hour"), "{long:?}");
    let static_root = env.run(&["--profile", "from-static"]);
    static_root.assert_fails(1, "static keys");
    assert!(static_root.stderr.contains("the AWS CLI and SDKs resolve this profile themselves"), "{static_root:?}");
    env.run(&["--profile", "from-instance"]).assert_fails(1, "credential_source");
    env.run(&["--profile", "from-web"]).assert_fails(1, "web identity token");
    let mfa = env.run(&["--profile", "mfa"]);
    mfa.assert_fails(1, "no terminal");
    for run in [&long, &static_root, &mfa] {
        assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
        assert_eq!(run.stderr.trim().lines().filter(|l| !l.starts_with("hint:")).count(), 1, "{run:?}");
    }
    assert!(relay.seen().is_empty(), "no STS call: {:?}", relay.seen());
    assert_eq!(env.fake.count("GetRoleCredentials"), 1, "only the MFA profile fetched its source credentials");
}

#[test]
fn sts_errors_become_one_line_with_a_hint_and_no_secret() {
    let relay = StsRelay::start(None);
    let env = env_with_sts(&relay);
    let error = |code: &str, message: &str| {
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
    };
    let cases = [
        (
            403,
            "AccessDenied",
            "User: arn:aws:sts::111122223333:assumed-role/Developer/x is not authorized",
            "trust policy",
        ),
        (400, "ExpiredToken", "The security token included in the request is expired", "clock"),
        (403, "RegionDisabledException", "STS is not activated in this region", "activate"),
        (400, "Throttling", "Rate exceeded", "throttling"),
    ];
    for (status, code, message, hint) in cases {
        // Throttling is retried by the client: every try gets the same answer.
        for _ in 0..5 {
            relay.script(status, &error(code, message));
        }
        let run = env.run(&["--profile", "deploy"]);
        run.assert_fails(1, code);
        assert!(run.stderr.contains(message), "{run:?}");
        assert!(run.stderr.contains(hint), "{code}: {run:?}");
        assert!(!run.stderr.contains("DO-NOT-LEAK") && !run.stderr.contains("ASIAFAKE"), "{run:?}");
        assert!(!run.stderr.contains("SecretAccessKey"), "{run:?}");
        relay.script.lock().unwrap().clear();
    }
    assert!(!env.role_path(DEPLOY_KEY).exists(), "nothing cached from an error");
}

/// boto3 with botocore's AssumeRoleCredentialFetcher given the AWS CLI's file cache (what the AWS
/// CLI does): prints the access key it gets for `profile`.
const BOTO3_SCRIPT: &str = r#"
import json, os, sys
import boto3
from botocore.utils import JSONFileCache
s = boto3.Session(profile_name=sys.argv[1])
s._session.get_component('credential_provider').get_provider('assume-role').cache = JSONFileCache(
    os.path.expanduser(os.path.join('~', '.aws', 'cli', 'cache')))
c = s.get_credentials().get_frozen_credentials()
print(json.dumps({'AccessKeyId': c.access_key, 'SessionToken': c.token}))
"#;

fn python_with_boto3() -> bool {
    if works("python3", &["-c", "import boto3"]) {
        return true;
    }
    missing("python3 with boto3 (pip install boto3)");
    false
}

#[test]
fn botocore_and_this_tool_share_assumed_role_entries_both_ways() {
    if !python_with_boto3() {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let relay = StsRelay::start(Some(moto.port));
    let env = env_with_sts(&relay);
    let boto3 = |profile: &str| {
        let out = env
            .client_command("python3")
            .args(["-c", BOTO3_SCRIPT, profile])
            .env("AWS_ENDPOINT_URL_STS", relay.url())
            .output()
            .unwrap();
        let run = to_run(out);
        assert_eq!(run.code, 0, "{run:?}");
        run.json()
    };
    // Ours first: botocore finds the entry under its own key and calls nothing.
    let ours = env.run(&["--profile", "deploy"]);
    ours.assert_ok();
    assert_eq!(relay.assume_roles().len(), 1);
    let theirs = boto3("deploy");
    assert_eq!(theirs["AccessKeyId"], ours.json()["AccessKeyId"]);
    assert_eq!(theirs["SessionToken"], ours.json()["SessionToken"]);
    assert_eq!(relay.assume_roles().len(), 1, "botocore used our entry");

    // botocore first (a chain of two, default session name): we find its entries and call nothing.
    let fetched = boto3("audit");
    let calls = relay.assume_roles().len();
    assert_eq!(calls, 2, "botocore assumed the audit role from our deploy entry");
    let again = env.run(&["--profile", "audit"]);
    again.assert_ok();
    assert_eq!(again.json()["AccessKeyId"], fetched["AccessKeyId"]);
    assert_eq!(relay.assume_roles().len(), calls, "we used botocore's entry");
    let gets = env.fake.count("GetRoleCredentials");
    assert_eq!(gets, 1, "nobody fetched the SSO role twice");
}

#[test]
fn the_aws_cli_v1_serves_credentials_this_tool_cached_without_calling_sts() {
    if !works("aws", &["--version"]) {
        missing("the AWS CLI v1 (pip install awscli)");
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let relay = StsRelay::start(Some(moto.port));
    let env = env_with_sts(&relay);
    let ours = env.run(&["--profile", "deploy"]);
    ours.assert_ok();
    assert_eq!(relay.seen().len(), 1);
    let out = env
        .client_command("aws")
        .args(["sts", "get-caller-identity", "--profile", "deploy", "--output", "json"])
        // The call itself goes to moto directly; an AssumeRole would go to the relay.
        .args(["--endpoint-url", &format!("http://127.0.0.1:{}", moto.port)])
        .env("AWS_ENDPOINT_URL_STS", relay.url())
        .output()
        .unwrap();
    let run = to_run(out);
    assert_eq!(run.code, 0, "{run:?}");
    let identity = run.json();
    assert!(identity["Arn"].as_str().unwrap().contains("assumed-role/Deployer/alice"), "{identity}");
    assert_eq!(relay.seen().len(), 1, "the AWS CLI made no AssumeRole");
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
}

#[cfg(unix)]
#[test]
fn an_mfa_code_is_asked_on_the_terminal_without_echo_and_sent_once() {
    use crate::util::pty::{self, Wire};
    let relay = StsRelay::start(None);
    let mut env = env_with_sts(&relay);
    env.unset_env("AWS_SSO_PROCESS_TTY");
    let answer = "<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::444455556666:assumed-role/Deployer/x</Arn>\
        <AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>ASIAMFA</AccessKeyId>\
        <SecretAccessKey>mfa-secret-DO-NOT-LEAK</SecretAccessKey><SessionToken>mfa-token-DO-NOT-LEAK</SessionToken>\
        <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
    relay.script(200, answer);
    let mut cmd = env.command(&["--profile", "mfa"]);
    let (mut tty, child) = pty::spawn(&mut cmd, Wire::ControllingTerminal);
    tty.expect(0, "Enter MFA code for arn:aws:iam::111122223333:mfa/alice: ");
    tty.type_line("123456");
    let run = to_run(pty::finish(child, &tty, Duration::from_secs(30)));
    run.assert_ok();
    assert_eq!(run.json()["AccessKeyId"], "ASIAMFA");
    assert!(!tty.screen().contains("123456"), "the code is not echoed: {:?}", tty.screen());
    let calls = relay.assume_roles();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].form("SerialNumber").as_deref(), Some("arn:aws:iam::111122223333:mfa/alice"));
    assert_eq!(calls[0].form("TokenCode").as_deref(), Some("123456"));
    // Cached: the next run asks nothing, even without a terminal.
    env.set_env("AWS_SSO_PROCESS_TTY", "none");
    env.run(&["--profile", "mfa"]).assert_ok();
    assert_eq!(relay.assume_roles().len(), 1);
}

const SCRIPTED_ANSWER: &str = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
    <AssumedRoleUser><Arn>arn:aws:sts::444455556666:assumed-role/Deployer/alice</Arn><AssumedRoleId>AROA:alice</AssumedRoleId>\
    </AssumedRoleUser><Credentials><AccessKeyId>ASIACHAIN</AccessKeyId><SecretAccessKey>chain-secret-DO-NOT-LEAK</SecretAccessKey>\
    <SessionToken>chain-token-DO-NOT-LEAK</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
    </AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>";

#[test]
fn every_command_takes_a_chained_profile() {
    let relay = StsRelay::start(None);
    let env = env_with_sts(&relay);
    relay.script(200, SCRIPTED_ANSWER);
    let exec = env.run(&["exec", "--profile", "deploy", "--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID $AWS_REGION"]);
    exec.assert_ok();
    assert_eq!(exec.stdout.trim(), "ASIACHAIN eu-west-1", "{exec:?}");
    // The console signs in with the assumed role's credentials (the fake federation endpoint only
    // knows the portal's, so it refuses them; what it was sent is the point).
    let console = env
        .command(&["console", "--profile", "deploy", "--no-browser"])
        .env("AWS_ENDPOINT_URL_SIGNIN", env.fake.url())
        .output()
        .unwrap();
    assert!(!to_run(console).stderr.contains("DO-NOT-LEAK"));
    let signin = env.fake.calls("GetSigninToken");
    assert_eq!(signin.len(), 1);
    let session: serde_json::Value = serde_json::from_str(&signin[0].query["Session"]).unwrap();
    assert_eq!(session["sessionId"], "ASIACHAIN", "{session}");
    let status = env.run(&["status", "--profile", "deploy"]);
    status.assert_ok();
    assert!(status.stdout.contains("sso-session corp"), "{status:?}");
    assert!(status.stdout.contains("deploy") && status.stdout.contains("role_arn"), "{status:?}");
    assert!(status.stdout.contains("valid until"), "{status:?}");
    let json = env.run(&["status", "--json"]);
    let doc = json.json();
    let profiles = doc["sessions"][0]["profiles"].as_array().unwrap();
    let deploy = profiles.iter().find(|p| p["profile"] == "deploy").unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(deploy["via"], "role_arn");
    assert_eq!(deploy["accountId"], "444455556666");
    assert_eq!(deploy["roleCredentials"]["state"], "valid");
    let refreshes = env.fake.count("CreateToken");
    let refresh = env.run(&["refresh", "--force", "--profile", "deploy"]);
    refresh.assert_ok();
    assert!(refresh.stdout.starts_with("corp: refreshed"), "{refresh:?}");
    assert_eq!(env.fake.count("CreateToken"), refreshes + 1, "refresh renewed the root session");
    assert_eq!(relay.assume_roles().len(), 1);
}

#[test]
fn logout_of_the_root_session_removes_the_assumed_role_entries_derived_from_it() {
    let relay = StsRelay::start(None);
    let env = env_with_sts(&relay);
    relay.script(200, SCRIPTED_ANSWER);
    relay.script(200, &SCRIPTED_ANSWER.replace("ASIACHAIN", "ASIAAUDIT"));
    env.run(&["--profile", "audit"]).assert_ok();
    let entries: Vec<_> = std::fs::read_dir(env.home().join(".aws/cli/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(entries.len(), 3, "the SSO role's entry and one per hop: {entries:?}");
    // An entry of another tool's role that merely sits in the folder stays.
    let foreign = env.role_path("0000000000000000000000000000000000000000");
    env.write_file(&foreign, "{\"Credentials\": {}}");
    let out = env.run(&["logout", "--profile", "audit"]);
    out.assert_ok();
    for entry in &entries {
        assert!(!entry.exists(), "{} left behind: {out:?}", entry.display());
    }
    assert!(foreign.exists());
    assert!(!env.token_path(CORP_KEY).exists());
}

#[test]
fn the_sts_endpoint_comes_from_the_services_section_of_the_profile_named_and_debug_shows_no_secret() {
    let relay = StsRelay::start(None);
    let mut env = TestEnv::new();
    env.write_config(&format!(
        "{}\n[profile deploy]\nrole_arn = {DEPLOY_ARN}\nsource_profile = dev-sso\nregion = ap-southeast-2\nservices = local\n\n\
         [services local]\nsts =\n  endpoint_url = {}\n",
        DEFAULT_CONFIG,
        relay.url()
    ));
    env.seed_corp_token(3600);
    env.unset_env("AWS_ENDPOINT_URL_STS");
    relay.script(200, SCRIPTED_ANSWER);
    let run = env.run(&["--debug", "--profile", "deploy"]);
    run.assert_ok();
    assert!(run.stderr.contains(&format!("STS endpoint: {}", relay.url())), "{run:?}");
    let calls = relay.assume_roles();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].header("authorization").unwrap().contains("/ap-southeast-2/sts/aws4_request"));
    for secret in ["DO-NOT-LEAK", "chain-secret", "chain-token"] {
        assert!(!run.stderr.contains(secret), "{secret} on stderr: {run:?}");
    }
}

#[test]
fn a_source_profile_that_runs_this_tool_and_a_tool_profile_naming_a_chained_one_both_work() {
    let relay = StsRelay::start(None);
    let env = env_with_sts(&relay);
    relay.script(200, SCRIPTED_ANSWER);
    // via-process: its source_profile is dev, whose credential_process runs aws-sso-process.
    let run = env.run(&["--profile", "via-process"]);
    run.assert_ok();
    assert_eq!(run.json()["AccessKeyId"], "ASIACHAIN");
    let calls = relay.assume_roles();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].form("RoleSessionName").as_deref(), Some("via-process"));
    assert!(calls[0].header("authorization").unwrap().contains("Credential=ASIAFAKE"), "signed with dev-sso's role");
    // deploy-tool: the profile tools use, whose line names the chained profile; exec follows it.
    relay.script(200, &SCRIPTED_ANSWER.replace("ASIACHAIN", "ASIADEPLOY"));
    let exec = env.run(&["exec", "--profile", "deploy-tool", "--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID"]);
    exec.assert_ok();
    assert_eq!(exec.stdout.trim(), "ASIADEPLOY", "{exec:?}");
    assert_eq!(relay.assume_roles()[1].form("RoleArn").as_deref(), Some(DEPLOY_ARN));
}

#[test]
fn login_and_login_if_needed_with_a_chained_profile_log_in_its_root_session() {
    use crate::util::fake::DeviceMode;
    let relay = StsRelay::start(None);
    let mut env = TestEnv::new();
    env.write_config(&chained_config());
    env.set_env("AWS_ENDPOINT_URL_STS", &relay.url());
    let tty = env.home().join("tty.txt");
    env.set_env("AWS_SSO_PROCESS_TTY", tty.to_str().unwrap());
    env.set_env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22");
    env.fake.set_device_mode(DeviceMode::Approve, 1);
    // No token at all: a plain run says which login to run, naming the root session.
    env.run(&["--profile", "deploy"]).assert_fails(3, "login --sso-session corp");
    relay.script(200, SCRIPTED_ANSWER);
    let run = env.run(&["--profile", "deploy", "--login-if-needed"]);
    run.assert_ok();
    assert_eq!(run.json()["AccessKeyId"], "ASIACHAIN");
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
    assert!(env.token_path(CORP_KEY).exists());
    // `login --profile deploy` logs in to corp again.
    env.run(&["login", "--profile", "deploy"]).assert_ok();
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 2);
}

#[test]
fn exec_server_serves_the_assumed_role_through_the_container_endpoint() {
    if !works("python3", &["-c", "pass"]) {
        missing("python3");
        return;
    }
    let relay = StsRelay::start(None);
    let env = env_with_sts(&relay);
    relay.script(200, SCRIPTED_ANSWER);
    let fetch = "import json, os, urllib.request; \
                 r = urllib.request.Request(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'], \
                 headers={'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']}); \
                 print(json.load(urllib.request.urlopen(r))['AccessKeyId'])";
    let run = env.run(&["exec", "--server", "--profile", "deploy", "--", "python3", "-c", fetch]);
    run.assert_ok();
    assert_eq!(run.stdout.trim(), "ASIACHAIN", "{run:?}");
    assert_eq!(relay.assume_roles().len(), 1);
}

#[test]
fn cached_source_credentials_sts_refuses_are_fetched_again_once() {
    let relay = StsRelay::start(None);
    let env = env_with_sts(&relay);
    env.seed_corp_role(3600); // ASIACACHED, which STS will call expired
    relay.script(
        400,
        "<ErrorResponse><Error><Code>ExpiredToken</Code><Message>The security token included in the request is expired\
         </Message></Error></ErrorResponse>",
    );
    relay.script(200, SCRIPTED_ANSWER);
    let run = env.run(&["--profile", "deploy"]);
    run.assert_ok();
    assert_eq!(run.json()["AccessKeyId"], "ASIACHAIN");
    let calls = relay.assume_roles();
    assert_eq!(calls.len(), 2);
    assert!(calls[0].header("authorization").unwrap().contains("Credential=ASIACACHED/"));
    assert!(calls[1].header("authorization").unwrap().contains("Credential=ASIAFAKE"), "fresh SSO role credentials");
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    let role = env.read_json(&env.role_path(CORP_ROLE_KEY));
    assert!(role["Credentials"]["AccessKeyId"].as_str().unwrap().starts_with("ASIAFAKE"), "{role}");
}
