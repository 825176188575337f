//! credential_process mode: cache hits, refresh decisions, portal errors and retries.

use crate::util::fake::{CLIENT_ID, CLIENT_SECRET, Reply};
use crate::util::*;
use serde_json::json;

#[test]
fn cold_role_cache_fetches_and_caches_credentials() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert!(run.stderr.is_empty(), "{run:?}");
    // Exactly the credential_process object, keys in the documented order, one line.
    let out = run.json();
    let keys: Vec<&str> = out.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AccountId"]);
    assert_eq!(out["Version"], 1);
    assert_eq!(out["AccountId"], ACCOUNT);
    assert!(out["AccessKeyId"].as_str().unwrap().starts_with("ASIAFAKE"));
    let exp = out["Expiration"].as_str().unwrap();
    assert!(exp.ends_with('Z') && exp.len() == 20, "{exp}");
    assert!((3500..3700).contains(&secs_until(exp)), "{exp}");
    assert_eq!(run.stdout.trim_end().lines().count(), 1);

    assert_eq!(env.fake.count("CreateToken"), 0);
    let calls = env.fake.calls("GetRoleCredentials");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].headers["x-amz-sso_bearer_token"], "seeded-access-token-DO-NOT-LEAK");
    assert!(!calls[0].headers.contains_key("authorization"));
    assert_eq!(calls[0].query["account_id"], ACCOUNT);
    assert_eq!(calls[0].query["role_name"], ROLE);

    // Cached the way the CLI does (docs/shared-cache.md, "Role credentials file"), 0600 in a 0700 folder.
    let path = env.role_path(CORP_ROLE_KEY);
    let cached = env.read_json(&path);
    assert_eq!(cached["ProviderType"], "sso");
    assert_eq!(cached["Credentials"]["AccessKeyId"], out["AccessKeyId"]);
    assert_eq!(cached["Credentials"]["SessionToken"], out["SessionToken"]);
    assert_eq!(cached["Credentials"]["Expiration"], out["Expiration"]);
    assert_eq!(cached["Credentials"]["AccountId"], ACCOUNT);
    assert_mode(&path, 0o600);
    assert_mode(path.parent().unwrap(), 0o700);
    assert!(env.role_path(CORP_ROLE_KEY).with_extension("json.lock").exists());

    // The second run is a cache hit: no request at all.
    let again = env.run(&["--profile", "dev-sso"]);
    again.assert_ok();
    assert_eq!(again.stdout, run.stdout);
    assert_eq!(env.fake.requests().len(), 1);
}

#[cfg(unix)]
pub fn assert_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let got = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(got, mode, "{}: {got:o}", path.display());
}

#[test]
fn role_cache_hit_needs_no_token_and_no_network() {
    let mut env = TestEnv::new();
    // Nothing listens at the endpoints: any request would fail the run.
    env.set_env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9");
    env.set_env("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9");
    env.seed_corp_role(3600);
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(run.json()["AccessKeyId"], "ASIACACHED");
    assert_eq!(run.json()["SessionToken"], "cached-session-DO-NOT-LEAK");
    assert_eq!(env.fake.requests().len(), 0);
}

#[test]
fn stale_role_cache_is_replaced() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.seed_corp_role(600); // 10 minutes left: below the 15-minute rule
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_ne!(run.json()["AccessKeyId"], "ASIACACHED");
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    assert_eq!(env.read_json(&env.role_path(CORP_ROLE_KEY))["Credentials"]["AccessKeyId"], run.json()["AccessKeyId"]);
}

#[test]
fn token_60s_from_expiry_is_refreshed_once_and_rewritten_correctly() {
    let env = TestEnv::new();
    let mut seeded = env.seed_corp_token(60);
    seeded["someFutureField"] = json!({"kept": true});
    env.seed_token(CORP_KEY, &seeded);
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert!(run.stderr.is_empty(), "{run:?}");

    let calls = env.fake.calls("CreateToken");
    assert_eq!(calls.len(), 1);
    let body = calls[0].json();
    assert_eq!(
        body,
        json!({"grantType": "refresh_token", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
               "refreshToken": "seeded-refresh-token-DO-NOT-LEAK"})
    );
    assert!(!calls[0].headers.contains_key("authorization"), "CreateToken is unsigned");

    let token = env.corp_token();
    let new_access = token["accessToken"].as_str().unwrap();
    assert_ne!(new_access, "seeded-access-token-DO-NOT-LEAK");
    let grc = env.fake.calls("GetRoleCredentials");
    assert_eq!(grc[0].headers["x-amz-sso_bearer_token"], new_access);
    let expires = token["expiresAt"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");
    assert!((3590..3610).contains(&secs_until(expires)), "{expires}");
    // Rotated refresh token saved; every other field kept, unknown ones too.
    let live = env.fake.live_refresh_tokens();
    assert!(live.contains(token["refreshToken"].as_str().unwrap()), "{token}");
    for key in ["startUrl", "region", "clientId", "clientSecret", "registrationExpiresAt", "someFutureField"] {
        assert_eq!(token[key], seeded[key], "{key}");
    }
    assert_mode(&env.token_path(CORP_KEY), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(env.home().join(".aws/sso/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let env = TestEnv::new();
    env.seed_corp_token(60);
    env.fake.set_omit_refresh_token(true);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.corp_token()["refreshToken"], "seeded-refresh-token-DO-NOT-LEAK");
    assert_ne!(env.corp_token()["accessToken"], "seeded-access-token-DO-NOT-LEAK");
}

#[test]
fn expired_but_refreshable_token_is_refreshed() {
    let env = TestEnv::new();
    env.seed_corp_token(-3600);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert!(secs_until(env.corp_token()["expiresAt"].as_str().unwrap()) > 3000);
}

#[test]
fn token_with_plenty_of_time_is_not_refreshed() {
    let env = TestEnv::new();
    env.seed_corp_token(16 * 60);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 0);
}

#[test]
fn expired_and_not_refreshable_exits_3_with_the_login_hint() {
    let env = TestEnv::new();
    let mut doc = env.seed_corp_token(-60);
    doc.as_object_mut().unwrap().remove("refreshToken");
    env.seed_token(CORP_KEY, &doc);
    let before = std::fs::read(env.token_path(CORP_KEY)).unwrap();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(3, "hint: run 'aws-sso-process login --sso-session corp' (or 'aws sso login --sso-session corp')");
    assert!(run.stderr.contains("expired"), "{run:?}");
    assert_eq!(env.fake.requests().len(), 0);
    assert_eq!(std::fs::read(env.token_path(CORP_KEY)).unwrap(), before);
}

#[test]
fn expired_registration_is_not_refreshable() {
    let env = TestEnv::new();
    let mut doc = env.seed_corp_token(-60);
    doc["registrationExpiresAt"] = json!(ts(-1));
    env.seed_token(CORP_KEY, &doc);
    env.run(&["--profile", "dev-sso"]).assert_fails(3, "registration expired");
    assert_eq!(env.fake.count("CreateToken"), 0);
}

#[test]
fn invalid_grant_on_an_expired_token_exits_3_and_keeps_the_file() {
    let env = TestEnv::new();
    env.seed_corp_token(-60);
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    let before = std::fs::read(env.token_path(CORP_KEY)).unwrap();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(3, "InvalidGrantException");
    assert!(run.stderr.contains("login --sso-session corp"), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 1, "a 400 is not retried");
    assert_eq!(std::fs::read(env.token_path(CORP_KEY)).unwrap(), before);
}

#[test]
fn failed_refresh_with_a_still_valid_token_uses_it_and_warns_once() {
    let env = TestEnv::new();
    env.seed_corp_token(300);
    env.fake.script("CreateToken", (0..3).map(|_| Reply::Json(500, None, json!({"error": "server_error"}))));
    let before = std::fs::read(env.token_path(CORP_KEY)).unwrap();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 3, "500 is retried, 3 tries in all");
    assert_eq!(
        env.fake.calls("GetRoleCredentials")[0].headers["x-amz-sso_bearer_token"],
        "seeded-access-token-DO-NOT-LEAK"
    );
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{run:?}");
    assert!(warnings[0].starts_with("aws-sso-process: warning: could not refresh the SSO token of corp"), "{run:?}");
    assert_eq!(std::fs::read(env.token_path(CORP_KEY)).unwrap(), before);
    run.json();
}

#[test]
fn invalid_grant_with_a_still_valid_token_uses_it() {
    let env = TestEnv::new();
    env.seed_corp_token(120);
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert!(run.stderr.contains("InvalidGrantException"), "{run:?}");
}

#[test]
fn portal_401_forces_one_refresh_then_succeeds() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.revoke_access_token("seeded-access-token-DO-NOT-LEAK");
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
    let grc = env.fake.calls("GetRoleCredentials");
    assert_eq!(grc.len(), 2);
    assert_eq!(grc[0].headers["x-amz-sso_bearer_token"], "seeded-access-token-DO-NOT-LEAK");
    assert_eq!(grc[1].headers["x-amz-sso_bearer_token"], env.corp_token()["accessToken"].as_str().unwrap());
}

#[test]
fn portal_401_after_the_refresh_exits_3() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let unauthorized = || Reply::portal_error(401, "UnauthorizedException", "Session token not found or invalid");
    env.fake.script("GetRoleCredentials", [unauthorized(), unauthorized()]);
    env.run(&["--profile", "dev-sso"]).assert_fails(3, "even after a refresh");
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 2);
}

#[test]
fn throttling_is_retried_with_backoff() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let throttled = || Reply::portal_error(429, "TooManyRequestsException", "slow down");
    env.fake.script("GetRoleCredentials", [throttled(), throttled()]);
    let started = std::time::Instant::now();
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("GetRoleCredentials"), 3);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150), "backoff pauses between tries");
}

#[test]
fn server_errors_forever_fail_after_three_tries() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script("GetRoleCredentials", (0..5).map(|_| Reply::portal_error(500, "InternalServerException", "boom")));
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "GetRoleCredentials at 127.0.0.1");
    assert!(run.stderr.contains("HTTP 500"), "{run:?}");
    assert_eq!(env.fake.count("GetRoleCredentials"), 3);
    assert!(!env.role_path(CORP_ROLE_KEY).exists());
}

#[test]
fn html_from_a_proxy_with_status_200_is_a_clear_error() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script(
        "GetRoleCredentials",
        [Reply::Raw(200, "text/html".into(), "<html><body>Please log in to the proxy</body></html>".into())],
    );
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "not JSON");
    assert!(!run.stderr.contains("<html>"), "{run:?}");
    assert!(!env.role_path(CORP_ROLE_KEY).exists());
}

#[test]
fn nothing_listening_is_a_clear_error() {
    let mut env = TestEnv::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    env.set_env("AWS_ENDPOINT_URL_SSO", &format!("http://127.0.0.1:{port}"));
    env.seed_corp_token(7200);
    let started = std::time::Instant::now();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "connection refused");
    assert!(run.stderr.contains(&format!("127.0.0.1:{port}")), "{run:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn a_connection_dropped_mid_request_is_retried() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script("GetRoleCredentials", [Reply::Hangup]);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("GetRoleCredentials"), 2);
}

#[test]
fn sso_session_flags_without_a_profile() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["--sso-session", "corp", "--account-id", ACCOUNT, "--role-name", ROLE]);
    run.assert_ok();
    // Same cache entry as the profile form (the key has the session name, account and role).
    assert!(env.role_path(CORP_ROLE_KEY).exists());
    env.run(&["--sso-session", "corp"]).assert_fails(2, "--account-id and --role-name");
}

#[test]
fn profile_from_aws_profile_then_aws_default_profile() {
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("AWS_DEFAULT_PROFILE", "nope");
    env.set_env("AWS_PROFILE", "dev-sso");
    env.run(&[]).assert_ok();
    let mut env2 = TestEnv::new();
    env2.set_env("AWS_DEFAULT_PROFILE", "dev-sso");
    env2.seed_corp_token(7200);
    env2.run(&[]).assert_ok();
}

#[test]
fn legacy_profile_uses_its_token_and_never_refreshes() {
    let env = TestEnv::new();
    env.write_config(
        "[profile legacy]\nsso_start_url = https://d-abc123.awsapps.com/start\nsso_region = us-east-1\n\
         sso_account_id = 123456789012\nsso_role_name = Admin\n",
    );
    let key = "40a89917e3175433e361b710a9d43528d7f1890a"; // sha1 of the start URL
    let doc = json!({"startUrl": "https://d-abc123.awsapps.com/start", "region": "us-east-1",
        "accessToken": "legacy-access-DO-NOT-LEAK", "expiresAt": ts(300),
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "registrationExpiresAt": ts(86400),
        "refreshToken": "legacy-refresh-DO-NOT-LEAK"});
    env.seed_token(key, &doc);
    env.run(&["--profile", "legacy"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 0, "legacy tokens are never refreshed");
    // Role cache key uses the start URL for legacy targets (docs/shared-cache.md, "Role credentials file").
    assert!(env.role_path("e584281fb1427cad6a1b4c7fb555a3d13a93ace6").exists());
    let run = env.run(&["refresh", "--profile", "legacy"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("not refreshable") && run.stdout.contains("login --profile legacy"), "{run:?}");
}

#[test]
fn no_cached_token_exits_3_naming_the_file() {
    let env = TestEnv::new();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(3, "no cached SSO token for corp");
    assert!(run.stderr.contains(CORP_KEY), "{run:?}");
}

#[test]
fn absurd_expires_in_is_clamped_and_the_rotated_refresh_token_is_saved() {
    let env = TestEnv::new();
    env.seed_corp_token(60);
    env.fake.trust_refresh_token("seeded-refresh-token-DO-NOT-LEAK");
    env.fake.script(
        "CreateToken",
        [Reply::Json(
            200,
            None,
            json!({"accessToken": "huge-access-DO-NOT-LEAK", "tokenType": "Bearer",
                   "expiresIn": i64::MAX, "refreshToken": "rotated-refresh-DO-NOT-LEAK"}),
        )],
    );
    env.fake.trust_access_token("huge-access-DO-NOT-LEAK");
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    let token = env.corp_token();
    assert_eq!(token["refreshToken"], "rotated-refresh-DO-NOT-LEAK");
    let left = secs_until(token["expiresAt"].as_str().unwrap());
    assert!((365 * 86_400..=367 * 86_400).contains(&left), "clamped to a year: {left}");
}

#[test]
fn a_session_lock_held_for_long_falls_back_to_the_still_valid_token() {
    let env = TestEnv::new();
    env.seed_corp_token(300);
    // Another process (a login waiting for the user, say) holds the session's lock.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.token_path(CORP_KEY).with_extension("json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let started = std::time::Instant::now();
    let run = env.run(&["--profile", "dev-sso"]);
    let took = started.elapsed();
    run.assert_ok();
    assert!(run.stderr.contains("warning: could not refresh the SSO token of corp"), "{run:?}");
    assert!(run.stderr.contains(".json.lock"), "names the lock: {run:?}");
    assert!(took < std::time::Duration::from_secs(20), "bounded wait: {took:?}");
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(
        env.fake.calls("GetRoleCredentials")[0].headers["x-amz-sso_bearer_token"],
        "seeded-access-token-DO-NOT-LEAK"
    );
    drop(lock);
}
