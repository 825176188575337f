//! `login`: the device code and PKCE flows against the fake, the registration cache, the token
//! file (docs/shared-cache.md), single-flight, and auto-login in credential_process mode.

use crate::util::fake::{AuthorizeMode, DeviceMode, Reply};
use crate::util::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// sha1 of the CLI's registration key for session corp with sso_registration_scopes configured.
fn corp_registration_key() -> String {
    sha1_hex(
        r#"{"region": "us-east-1", "scopes": ["sso:account:access"], "session_name": "corp", "startUrl": "https://corp.awsapps.com/start", "tool": "botocore"}"#,
    )
}

const LEGACY_CONFIG: &str = "\
[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = Developer
";

/// A test env whose prompts go to a file standing in for the terminal.
fn env_with_tty() -> (TestEnv, PathBuf) {
    let mut env = TestEnv::new();
    let tty = env.home().join("tty.txt");
    env.set_env("AWS_SSO_PROCESS_TTY", tty.to_str().unwrap());
    (env, tty)
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn device_login_writes_the_cli_token_and_registration_files() {
    let (env, tty) = env_with_tty();
    env.fake.set_device_mode(DeviceMode::Approve, 1);
    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("corp: logged in, valid until "), "{run:?}");

    let reg_call = &env.fake.calls("RegisterClient")[0];
    let body = reg_call.json();
    assert_eq!(body["clientName"], "botocore-client-corp");
    assert_eq!(body["clientType"], "public");
    assert_eq!(body["scopes"], serde_json::json!(["sso:account:access"]));
    assert!(body.get("grantTypes").is_none() && body.get("redirectUris").is_none(), "{body}");
    let start = env.fake.calls("StartDeviceAuthorization");
    assert_eq!(start.len(), 1);
    assert_eq!(start[0].json()["startUrl"], START_URL);
    let polls = env.fake.calls("CreateToken");
    assert_eq!(polls.len(), 2, "one pending poll, then the approval");
    assert_eq!(polls[0].json()["grantType"], "urn:ietf:params:oauth:grant-type:device_code");

    // The user code was shown on the terminal, after the first poll; nothing on stdout but the result.
    let shown = read(&tty);
    assert!(shown.contains("FAKE-") && shown.contains("https://device.sso.example/"), "{shown}");
    assert!(!run.stdout.contains("FAKE-"), "{run:?}");

    let token = env.corp_token();
    assert_eq!(
        keys(&token),
        [
            "startUrl",
            "region",
            "accessToken",
            "expiresAt",
            "clientId",
            "clientSecret",
            "registrationExpiresAt",
            "refreshToken"
        ]
    );
    assert_eq!(token["startUrl"], START_URL);
    assert_eq!(token["region"], "us-east-1");
    let expires = token["expiresAt"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    assert!((3500..=3600).contains(&secs_until(expires)), "{expires}");
    assert!(token["accessToken"].as_str().unwrap().starts_with("login-access-token-"));

    let reg_path = env.home().join(format!(".aws/sso/cache/{}.json", corp_registration_key()));
    let reg = env.read_json(&reg_path);
    assert_eq!(keys(&reg), ["clientId", "clientSecret", "expiresAt", "scopes"]);
    assert_eq!(reg["clientId"], token["clientId"]);
    assert_eq!(reg["clientSecret"], token["clientSecret"]);
    assert_eq!(reg["expiresAt"], token["registrationExpiresAt"]);
    assert!((90 * 86400 - 60..=90 * 86400).contains(&secs_until(reg["expiresAt"].as_str().unwrap())));
    crate::credentials::assert_mode(&env.token_path(CORP_KEY), 0o600);
    crate::credentials::assert_mode(&reg_path, 0o600);

    // The new session serves credentials and refreshes like one `aws sso login` made.
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.calls("GetRoleCredentials")[0].headers["x-amz-sso_bearer_token"], token["accessToken"]);
    env.run(&["refresh", "--force", "--sso-session", "corp"]).assert_ok();
    assert_ne!(env.corp_token()["accessToken"], token["accessToken"]);
}

#[test]
fn an_approved_device_needs_no_prompt() {
    // One CreateToken right away, before the prompt (B.1.6 2): here it already succeeds.
    let (env, tty) = env_with_tty();
    env.fake.set_device_mode(DeviceMode::Approve, 0);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert!(!read(&tty).contains("FAKE-"), "{}", read(&tty));
}

#[test]
fn registration_is_reused_then_renewed_when_it_nears_expiry() {
    let env = TestEnv::new();
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 1, "reused");
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 2, "login always makes a new token");

    let reg_path = env.home().join(format!(".aws/sso/cache/{}.json", corp_registration_key()));
    let mut reg = env.read_json(&reg_path);
    reg["expiresAt"] = ts(14 * 60).into();
    env.write_file(&reg_path, &reg.to_string());
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 2, "14 minutes left: registered again");
    let renewed = env.read_json(&reg_path);
    assert_ne!(renewed["clientId"], reg["clientId"]);
    assert_eq!(env.corp_token()["clientId"], renewed["clientId"]);
}

#[test]
fn denied_device_authorization_fails_and_writes_nothing() {
    let (env, _) = env_with_tty();
    env.fake.set_device_mode(DeviceMode::Deny, 0);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"])
        .assert_fails(1, "sign-in to corp was denied")
        .assert_fails(1, "AccessDeniedException");
    assert!(!env.token_path(CORP_KEY).exists());
}

#[test]
fn expired_token_from_the_service_ends_the_device_login() {
    let (env, _) = env_with_tty();
    env.fake.script(
        "CreateToken",
        [
            Reply::oidc_error(400, "AuthorizationPendingException", "authorization_pending"),
            Reply::oidc_error(400, "ExpiredTokenException", "expired_token"),
        ],
    );
    env.run(&["login", "--sso-session", "corp", "--use-device-code"])
        .assert_fails(1, "device code for corp expired before the sign-in was approved");
    assert_eq!(env.fake.count("CreateToken"), 2);
    assert!(!env.token_path(CORP_KEY).exists());
}

#[test]
fn our_own_deadline_ends_a_device_login_nobody_approves() {
    let (env, _) = env_with_tty();
    env.fake.set_device_mode(DeviceMode::Never, 0);
    env.fake.set_device_timing(2, Some(1));
    let started = Instant::now();
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_fails(1, "expired");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(6), "{took:?}");
    assert!((2..=3).contains(&env.fake.count("CreateToken")), "{}", env.fake.count("CreateToken"));
}

#[test]
fn slow_down_adds_five_seconds_for_good() {
    let env = TestEnv::new();
    env.fake.script(
        "CreateToken",
        [
            Reply::oidc_error(400, "SlowDownException", "slow_down"),
            Reply::oidc_error(400, "AuthorizationPendingException", "authorization_pending"),
        ],
    );
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let at: Vec<Instant> = env.fake.calls("CreateToken").iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 3);
    for gap in [at[1] - at[0], at[2] - at[1]] {
        // interval 1 s + 5 s, kept after the pending answer too.
        assert!(gap >= Duration::from_millis(5900) && gap < Duration::from_millis(7500), "{gap:?}");
    }
}

#[test]
fn device_interval_defaults_to_five_seconds() {
    let env = TestEnv::new();
    env.fake.set_device_timing(600, None);
    env.fake.set_device_mode(DeviceMode::Approve, 1);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let at: Vec<Instant> = env.fake.calls("CreateToken").iter().map(|r| r.at).collect();
    let gap = at[1] - at[0];
    assert!(gap >= Duration::from_millis(4900) && gap < Duration::from_millis(6500), "{gap:?}");
}

#[test]
fn legacy_profiles_log_in_with_a_device_code() {
    let env = TestEnv::new();
    env.write_config(LEGACY_CONFIG);
    let legacy_url = "https://legacy.awsapps.com/start";
    env.run(&["login", "--profile", "legacy"]).assert_ok();
    assert_eq!(env.fake.count("Authorize"), 0);
    let body = env.fake.calls("RegisterClient")[0].json();
    let name = body["clientName"].as_str().unwrap();
    assert!(name.strip_prefix("botocore-client-").unwrap().parse::<u64>().is_ok(), "{name}");
    assert!(body.get("scopes").is_none(), "{body}");
    let token = env.read_json(&env.token_path(&sha1_hex(legacy_url)));
    assert_eq!(token["startUrl"], legacy_url);
    assert!(token.get("refreshToken").is_none(), "unscoped registrations get no refresh token");
    let reg_key = sha1_hex(&format!(
        r#"{{"region": "us-east-1", "scopes": null, "session_name": null, "startUrl": "{legacy_url}", "tool": "botocore"}}"#
    ));
    assert!(env.home().join(format!(".aws/sso/cache/{reg_key}.json")).exists());
    env.run(&["--profile", "legacy"]).assert_ok();

    // The spelling the error hints use for a --start-url target works too, on the same files.
    env.run(&["login", "--start-url", legacy_url, "--region", "us-east-1"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 1, "same registration");
    assert_ne!(env.read_json(&env.token_path(&sha1_hex(legacy_url)))["accessToken"], token["accessToken"]);
    env.run(&["login", "--profile", "legacy", "--redirect-port", "8400"]).assert_fails(2, "--redirect-port");
}

#[test]
fn the_login_hint_of_a_gone_session_works() {
    let env = TestEnv::new();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(3, "hint: run 'aws-sso-process login --sso-session corp'");
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    env.run(&["--profile", "dev-sso"]).assert_ok();
}

#[test]
fn no_display_or_ssh_picks_the_device_code_flow() {
    let mut env = TestEnv::new();
    // env_clear: no DISPLAY, so the device flow on Linux; SSH_CONNECTION makes it so everywhere.
    env.set_env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22");
    env.set_env("DISPLAY", ":0");
    let run = env.run(&["login", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(run.stderr.contains("device code flow because this is an SSH session"), "{run:?}");
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
    assert_eq!(env.fake.count("Authorize"), 0);
}

// ---------------------------------------------------------------------------------------------------
// PKCE.

pub(crate) fn pkce_env() -> Option<(TestEnv, PathBuf)> {
    let script = browser_script()?;
    let (mut env, tty) = env_with_tty();
    env.set_env("BROWSER", script.to_str().unwrap());
    env.set_env("DISPLAY", ":0");
    Some((env, tty))
}

#[test]
fn pkce_login_end_to_end() {
    let Some((env, tty)) = pkce_env() else { return };
    let run = env.run(&["login", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("corp: logged in, valid until "), "{run:?}");

    let reg = env.fake.calls("RegisterClient")[0].json();
    assert_eq!(reg["grantTypes"], serde_json::json!(["authorization_code", "refresh_token"]));
    assert_eq!(reg["redirectUris"], serde_json::json!(["http://127.0.0.1/oauth/callback"]));
    assert_eq!(reg["issuerUrl"], START_URL);
    assert_eq!(reg["scopes"], serde_json::json!(["sso:account:access"]));

    let auth = &env.fake.calls("Authorize")[0];
    let names: Vec<&str> =
        auth.target.split_once('?').unwrap().1.split('&').map(|p| p.split('=').next().unwrap()).collect();
    assert_eq!(
        names,
        ["response_type", "client_id", "redirect_uri", "state", "code_challenge_method", "scopes", "code_challenge"]
    );
    assert!(auth.target.contains("&scopes=sso%3Aaccount%3Aaccess&"), "{}", auth.target);
    let redirect = &auth.query["redirect_uri"];
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/oauth/callback"), "{redirect}");
    assert_eq!(auth.query["state"].len(), 36);

    let create = env.fake.calls("CreateToken")[0].json();
    assert_eq!(create["grantType"], "authorization_code");
    assert_eq!(&create["redirectUri"], redirect.as_str(), "same URI, port included");
    assert_eq!(create["codeVerifier"].as_str().unwrap().len(), 64);

    // The browser got the URL as its one argument; the terminal shows it too.
    let log = read(&env.home().join("browser.log"));
    assert!(log.starts_with("1 http://127.0.0.1:") && log.contains("/authorize?response_type=code"), "{log}");
    assert!(read(&tty).contains("/authorize?response_type=code"), "{}", read(&tty));

    let token = env.corp_token();
    assert_eq!(keys(&token).len(), 8);
    let reg_file = env.read_json(&env.home().join(format!(".aws/sso/cache/{}.json", corp_registration_key())));
    assert_eq!(reg_file["grantTypes"], serde_json::json!(["authorization_code", "refresh_token"]));
    assert_eq!(reg_file["expiresAt"], token["registrationExpiresAt"]);
    env.run(&["--profile", "dev-sso"]).assert_ok();
}

#[test]
fn switching_flows_registers_again_and_overwrites() {
    let Some((env, _)) = pkce_env() else { return };
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 2, "a device registration cannot do PKCE");
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 2, "the PKCE registration is reused");
    let files: Vec<_> = std::fs::read_dir(env.home().join(".aws/sso/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(files.len(), 2, "one token and one registration file: {files:?}");
}

#[test]
fn pkce_with_a_fixed_redirect_port() {
    let Some((env, _)) = pkce_env() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    env.run(&["login", "--sso-session", "corp", "--redirect-port", &port.to_string()]).assert_ok();
    assert_eq!(env.fake.calls("Authorize")[0].query["redirect_uri"], format!("http://127.0.0.1:{port}/oauth/callback"));
    // A busy port fails before anything is registered.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    env.run(&["login", "--sso-session", "corp", "--redirect-port", &busy_port])
        .assert_fails(1, &format!("cannot listen on 127.0.0.1:{busy_port}"));
    assert_eq!(env.fake.count("Authorize"), 1);
}

#[test]
fn a_redirect_with_another_state_is_refused_and_the_login_goes_on() {
    // Another program on 127.0.0.1 (or a page that found the port) cannot end or hijack the sign-in:
    // its code is refused and never redeemed, and the real redirect still completes the login.
    let Some((env, _)) = pkce_env() else { return };
    env.fake.set_authorize_mode(AuthorizeMode::WrongState);
    let child = env
        .command(&["login", "--sso-session", "corp"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = env.home().join("browser.log");
    assert!(
        wait_for(Duration::from_secs(20), || env.fake.count("Authorize") >= 1 && read(&log).contains("/authorize?"))
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(env.fake.count("CreateToken"), 0, "the forged code is not redeemed");
    // A forged error does not end it either.
    let url = read(&log).lines().find_map(|l| l.split_once(' ').map(|(_, u)| u.to_owned())).unwrap();
    let port = url.split("127.0.0.1%3A").nth(1).unwrap().split('%').next().unwrap().to_owned();
    let forged = format!("http://127.0.0.1:{port}/oauth/callback?error=access_denied&state=forged");
    std::process::Command::new(browser_script().unwrap()).arg(&forged).env("HOME", env.home()).output().unwrap();
    // The user's own sign-in then comes back with the right state.
    env.fake.set_authorize_mode(AuthorizeMode::Approve);
    std::process::Command::new(browser_script().unwrap()).arg(&url).env("HOME", env.home()).output().unwrap();
    to_run(child.wait_with_output().unwrap()).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert!(env.token_path(CORP_KEY).exists());
}

/// `login --no-browser` started, and the /authorize URL it printed on the terminal file `tty`.
pub(crate) fn no_browser_login(env: &TestEnv, tty: &std::path::Path) -> (std::process::Child, String) {
    let child = env
        .command(&["login", "--sso-session", "corp", "--no-browser"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(20), || read(tty).contains("/authorize?")), "{}", read(tty));
    let url = read(tty).lines().find(|l| l.contains("/authorize?")).unwrap().trim().to_owned();
    (child, url)
}

#[test]
fn slow_local_connections_cannot_hold_up_the_browsers_redirect() {
    // Another local program connects to the redirect listener first and sends nothing, half a
    // request, or a byte a second: the browser's redirect is still read and the login ends at once.
    use std::io::Write;
    let Some((env, tty)) = pkce_env() else { return };
    let (mut child, url) = no_browser_login(&env, &tty);
    let port: u16 = url.split("127.0.0.1%3A").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    let connect = || std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _idle = connect();
    let mut half = connect();
    half.write_all(b"GET /oauth/callback?code=x HTTP/1.1\r\nHost: 127").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = {
        let (mut stream, stop) = (connect(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && stream.write_all(b"G").is_ok() {
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    std::process::Command::new(browser_script().unwrap()).arg(&url).env("HOME", env.home()).output().unwrap();
    let ended = wait_for(Duration::from_secs(4), || child.try_wait().unwrap().is_some());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    if !ended {
        let _ = child.kill();
    }
    let run = to_run(child.wait_with_output().unwrap());
    trickle.join().unwrap();
    assert!(ended, "the login did not end within 4 s of the redirect: {run:?}");
    run.assert_ok();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(env.fake.count("CreateToken"), 1);
}

#[test]
fn pkce_error_in_the_callback_fails() {
    let Some((env, _)) = pkce_env() else { return };
    env.fake.set_authorize_mode(AuthorizeMode::Error("access_denied".into()));
    env.run(&["login", "--sso-session", "corp"]).assert_fails(1, "answered access_denied (fake access_denied)");
    assert_eq!(env.fake.count("CreateToken"), 0);
}

#[test]
fn no_browser_prints_the_url_for_the_user_to_open() {
    let Some((env, tty)) = pkce_env() else { return };
    let (child, url) = no_browser_login(&env, &tty);
    // The user opens it: our browser script stands in for them.
    let script = browser_script().unwrap();
    std::process::Command::new(script).arg(&url).env("HOME", env.home()).output().unwrap();
    to_run(child.wait_with_output().unwrap()).assert_ok();
    assert_eq!(read(&env.home().join("browser.log")).lines().count(), 1, "only the user opened it");
}

// ---------------------------------------------------------------------------------------------------
// Single-flight and auto-login.

#[test]
fn a_second_login_waits_and_uses_the_first_ones_token() {
    let env = TestEnv::new();
    env.fake.set_device_mode(DeviceMode::Approve, 2);
    let args = ["login", "--sso-session", "corp", "--use-device-code"];
    let first =
        env.command(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    assert!(wait_for(Duration::from_secs(20), || env.fake.count("StartDeviceAuthorization") == 1));
    let second = env.run(&args);
    to_run(first.wait_with_output().unwrap()).assert_ok();
    second.assert_ok();
    assert!(second.stdout.contains("corp: already logged in by another process, valid until"), "{second:?}");
    assert!(second.stderr.contains("another process is logging in to corp"), "{second:?}");
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
}

#[test]
fn eight_concurrent_login_if_needed_runs_make_one_login() {
    let (mut env, tty) = env_with_tty();
    env.set_env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22");
    env.fake.set_device_mode(DeviceMode::Approve, 2);
    let runs = env.run_many(8, &["--profile", "dev-sso", "--login-if-needed"]);
    for run in &runs {
        run.assert_ok();
        assert!(run.stdout.trim_end().lines().count() == 1, "stdout is the JSON only: {run:?}");
    }
    let first = runs[0].json();
    assert!(runs.iter().all(|r| r.json() == first));
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
    assert_eq!(env.fake.count("RegisterClient"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    assert!(read(&tty).contains("FAKE-"), "the prompt went to the terminal");
}

#[test]
fn auto_login_from_the_profile_key() {
    let (mut env, _) = env_with_tty();
    env.set_env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22");
    env.write_config(
        &DEFAULT_CONFIG
            .replace("sso_role_name = Developer\n", "sso_role_name = Developer\naws_sso_process_auto_login = true\n"),
    );
    env.seed_corp_token(-60); // expired
    let mut token = env.corp_token();
    token.as_object_mut().unwrap().remove("refreshToken"); // and not refreshable
    env.seed_token(CORP_KEY, &token);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
    assert_ne!(env.corp_token()["accessToken"], token["accessToken"]);
}

#[test]
fn auto_login_after_the_portal_rejects_a_valid_looking_token() {
    let (mut env, _) = env_with_tty();
    env.set_env("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22");
    // Two hours left on paper, not refreshable, and revoked at the portal: only a login helps.
    let mut token = env.seed_corp_token(7200);
    token.as_object_mut().unwrap().remove("refreshToken");
    env.seed_token(CORP_KEY, &token);
    env.fake.revoke_access_token("seeded-access-token-DO-NOT-LEAK");
    env.run(&["--profile", "dev-sso", "--login-if-needed"]).assert_ok();
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 3, "rejected, rejected again after the re-read, then served");
}

#[test]
fn auto_login_without_a_terminal_or_browser_fails_at_once() {
    let env = TestEnv::new(); // AWS_SSO_PROCESS_TTY=none, no BROWSER, no DISPLAY
    let started = Instant::now();
    env.run(&["--profile", "dev-sso", "--login-if-needed"])
        .assert_fails(3, "no terminal to prompt on and no browser")
        .assert_fails(3, "hint: run 'aws-sso-process login --sso-session corp'");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(env.fake.count("RegisterClient"), 0);
    // Default off: without the flag or the key, a gone session is exit 3 as before.
    env.run(&["--profile", "dev-sso"]).assert_fails(3, "no cached SSO token");
}

#[test]
fn login_with_debug_shows_no_secret() {
    let env = TestEnv::new();
    env.fake.set_device_mode(DeviceMode::Approve, 1);
    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code", "--debug"]);
    run.assert_ok();
    assert!(run.stderr.contains("debug:") && run.stderr.contains("FAKE-"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK") && !run.stdout.contains("DO-NOT-LEAK"), "{run:?}");

    let Some((mut env, tty)) = pkce_env() else { return };
    env.set_env("AWS_SSO_PROCESS_TTY", "none");
    let run = env.run(&["login", "--sso-session", "corp", "--debug"]);
    run.assert_ok();
    let create = env.fake.calls("CreateToken")[0].json();
    for secret in [create["codeVerifier"].as_str().unwrap(), create["code"].as_str().unwrap(), "DO-NOT-LEAK"] {
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "{secret}: {run:?}");
    }
    assert!(!tty.exists() || !read(&tty).contains("DO-NOT-LEAK"));
}

#[test]
fn auto_login_without_a_terminal_still_waits_for_a_login_in_progress() {
    let (env, _) = env_with_tty();
    env.fake.set_device_mode(DeviceMode::Approve, 2);
    let login = env
        .command(&["login", "--sso-session", "corp", "--use-device-code"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(20), || env.fake.count("StartDeviceAuthorization") == 1));
    let out = env
        .command(&["--profile", "dev-sso", "--login-if-needed"])
        .env("AWS_SSO_PROCESS_TTY", "none")
        .output()
        .unwrap();
    let run = to_run(out);
    to_run(login.wait_with_output().unwrap()).assert_ok();
    run.assert_ok();
    assert_eq!(run.json()["AccountId"], ACCOUNT);
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
}

// ---------------------------------------------------------------------------------------------------
// A client registration the service no longer accepts (docs/login.md).

#[test]
fn a_refused_registration_heals_itself_in_the_device_flow() {
    let (env, tty) = env_with_tty();
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let reg_path = env.home().join(format!(".aws/sso/cache/{}.json", corp_registration_key()));
    let old = env.read_json(&reg_path)["clientId"].as_str().unwrap().to_owned();
    env.fake.reject_client(&old);

    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code"]);
    run.assert_ok();
    let shown = read(&tty);
    assert_eq!(shown.matches("no longer accepts the client registration cached in").count(), 1, "{shown}");
    assert!(shown.contains(&reg_path.display().to_string()), "{shown}");
    assert_eq!(env.fake.count("RegisterClient"), 2, "registered once more");
    let new = env.read_json(&reg_path)["clientId"].as_str().unwrap().to_owned();
    assert_ne!(new, old, "the refused registration was replaced in its own file");
    assert_eq!(env.corp_token()["clientId"], new.as_str());
    // And the new one is reused from then on.
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 2);
}

#[test]
fn a_new_registration_refused_too_stops_once_and_keeps_the_token() {
    let (env, _tty) = env_with_tty();
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let reg_path = env.home().join(format!(".aws/sso/cache/{}.json", corp_registration_key()));
    let (token, reg) = (env.corp_token(), env.read_json(&reg_path));
    let refused = || Reply::oidc_error(401, "InvalidClientException", "invalid_client");
    env.fake.script("StartDeviceAuthorization", [refused(), refused(), refused()]);

    env.run(&["login", "--sso-session", "corp", "--use-device-code"])
        .assert_fails(1, "the service refused a client registration made just now for corp");
    assert_eq!(env.fake.count("RegisterClient"), 2, "one new registration, not a loop");
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 3, "the first login, the refused one, the new one");
    assert_eq!(env.corp_token(), token, "the still-valid token is kept");
    assert_eq!(env.read_json(&reg_path), reg, "a registration that did not work is not cached");
    env.run(&["--profile", "dev-sso"]).assert_ok();
}

#[test]
fn a_refused_registration_heals_itself_in_the_pkce_flow() {
    let Some((env, tty)) = pkce_env() else { return };
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    let reg_path = env.home().join(format!(".aws/sso/cache/{}.json", corp_registration_key()));
    let first = env.read_json(&reg_path)["clientId"].as_str().unwrap().to_owned();

    // Refused at the authorize step: the browser comes back with invalid_client.
    env.fake.reject_client(&first);
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 2);
    let second = env.read_json(&reg_path)["clientId"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(env.corp_token()["clientId"], second.as_str());

    // Refused when the code is redeemed (CreateToken).
    env.fake.script("CreateToken", [Reply::oidc_error(401, "InvalidClientException", "invalid_client")]);
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 3);
    let third = env.read_json(&reg_path)["clientId"].as_str().unwrap().to_owned();
    assert_ne!(third, second);
    assert_eq!(env.corp_token()["clientId"], third.as_str());
    assert_eq!(read(&tty).matches("no longer accepts the client registration").count(), 2, "{}", read(&tty));
    env.run(&["--profile", "dev-sso"]).assert_ok();
}
