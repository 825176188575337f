//! Refreshing the SSO token: the `refresh` command, and the refresh a credential run makes on its
//! own when the SSO OIDC endpoint is slow, hung or loses its answer (docs/refresh-and-locking.md).

use crate::util::fake::Reply;
use crate::util::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn still_valid_token_is_left_alone() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["refresh", "--profile", "dev-sso"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("corp: still valid until "), "{run:?}");
    assert_eq!(env.fake.requests().len(), 0);
}

#[test]
fn token_inside_the_window_is_refreshed() {
    let env = TestEnv::new();
    env.seed_corp_token(600);
    let run = env.run(&["refresh", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("corp: refreshed, valid until "), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 0);
}

#[test]
fn force_refreshes_a_valid_token() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["--profile", "dev-sso", "refresh", "--force"]);
    run.assert_ok();
    assert!(run.stdout.contains("refreshed"), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_ne!(env.corp_token()["accessToken"], "seeded-access-token-DO-NOT-LEAK");
}

#[test]
fn all_covers_every_session_with_a_cached_token() {
    let env = TestEnv::new();
    env.write_config(&format!(
        "{DEFAULT_CONFIG}\n[sso-session other]\nsso_start_url = https://other.awsapps.com/start\nsso_region = eu-west-1\n\
         [sso-session nocache]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n"
    ));
    env.seed_corp_token(600);
    let mut other = env.seed_corp_token(7200);
    other["refreshToken"] = json!("other-refresh-DO-NOT-LEAK");
    env.seed_token(&sha1_hex("other"), &other);
    env.seed_corp_token(600);
    let run = env.run(&["refresh", "--all"]);
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(lines[0].starts_with("corp: refreshed"), "{run:?}");
    assert!(lines[1].starts_with("other: still valid"), "{run:?}");
}

#[test]
fn failures_are_reported_per_session_with_a_non_zero_exit() {
    let env = TestEnv::new();
    env.seed_corp_token(-60);
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    let run = env.run(&["refresh", "--profile", "dev-sso"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.starts_with("corp: failed: "), "{run:?}");
    assert!(run.stdout.contains("hint: run 'aws-sso-process login --sso-session corp'"), "{run:?}");
}

#[test]
fn refresh_with_a_network_failure_keeps_the_valid_token_and_exits_1() {
    let env = TestEnv::new();
    env.seed_corp_token(600);
    env.fake.script("CreateToken", (0..3).map(|_| Reply::Json(503, None, json!({}))));
    let run = env.run(&["refresh", "--profile", "dev-sso"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("refresh failed") && run.stdout.contains("cached token is valid until"), "{run:?}");
}

// ---- a slow or hung SSO OIDC endpoint (docs/refresh-and-locking.md) ----------------------------

const SEEDED_REFRESH_TOKEN: &str = "seeded-refresh-token-DO-NOT-LEAK";

/// A session whose token is valid for 5 more minutes (so a refresh is due but optional), with role
/// credentials too short to cache, so that every run needs the token.
fn valid_for_five_minutes() -> TestEnv {
    let env = TestEnv::new();
    env.seed_corp_token(300);
    env.fake.set_role_lifetime(Duration::from_secs(600));
    env
}

/// A credential run that must succeed with the cached token and exactly one warning line.
#[track_caller]
fn assert_served_with_one_warning(env: &TestEnv, run: &Run, took: Duration) {
    run.assert_ok();
    assert!(run.json()["AccessKeyId"].as_str().is_some_and(|k| k.starts_with("ASIA")), "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one warning line: {run:?}");
    assert!(lines[0].starts_with("aws-sso-process: warning: could not refresh the SSO token of corp"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
    let last = env.fake.calls("GetRoleCredentials").pop().unwrap();
    assert_eq!(last.headers["x-amz-sso_bearer_token"], "seeded-access-token-DO-NOT-LEAK");
    // Generous: the shipped budget is a few seconds, the run's deadline 30 s.
    assert!(took < Duration::from_secs(15), "took {took:?}: the optional refresh is not cut short");
}

fn timed(env: &TestEnv, args: &[&str]) -> (Run, Duration) {
    let started = Instant::now();
    let run = env.run(args);
    (run, started.elapsed())
}

#[test]
fn a_hung_oidc_endpoint_never_breaks_a_session_that_still_works() {
    let env = valid_for_five_minutes();
    env.fake.script("CreateToken", [Reply::Silence]);
    let before = std::fs::read(env.token_path(CORP_KEY)).unwrap();

    let (run, took) = timed(&env, &["--profile", "dev-sso"]);
    assert_eq!(env.fake.count("CreateToken"), 1, "no second try after a timeout: {run:?}");
    assert_served_with_one_warning(&env, &run, took);
    assert!(run.stderr.contains("timed out"), "{run:?}");
    assert_eq!(std::fs::read(env.token_path(CORP_KEY)).unwrap(), before, "the token file is not touched");

    // Within 30 s, no process tries again while the token is valid (the fake would answer now).
    let (again, took_again) = timed(&env, &["--profile", "dev-sso"]);
    eprintln!("hung endpoint: the run that tried took {took:?}, the one held back {took_again:?}");
    assert_served_with_one_warning(&env, &again, took_again);
    assert!(again.stderr.contains("failed") && again.stderr.contains("ago"), "{again:?}");
    assert_eq!(env.fake.count("CreateToken"), 1, "no CreateToken within 30 s of the failed one");
    assert_eq!(env.fake.count("GetRoleCredentials"), 2);
    assert_eq!(std::fs::read(env.token_path(CORP_KEY)).unwrap(), before);
    // What remembers the failure is no `.json` file that other tools would read as a token.
    let cache = env.home().join(".aws/sso/cache");
    let jsons: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(jsons, [format!("{CORP_KEY}.json")]);

    // The explicit `refresh` command is not held back, nor is a refresh that is needed because
    // the token has expired.
    let run = env.run(&["refresh", "--profile", "dev-sso"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("corp: refreshed"), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 2);
    env.seed_corp_token(-60);
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidRequestException", "invalid_request")]);
    let failed = env.run(&["refresh", "--force", "--profile", "dev-sso"]);
    assert!(failed.code == 3 && failed.stdout.contains("InvalidRequestException"), "{failed:?}");
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 4, "an expired token is refreshed whatever failed before");
}

#[test]
fn a_late_answer_does_not_make_the_same_refresh_token_go_out_again() {
    let env = valid_for_five_minutes();
    // The service issues new tokens and retires the refresh token sent, but the answer comes only
    // after the client stopped waiting (later than any timeout of the client, even the old 15 s).
    env.fake.script("CreateToken", [Reply::Late(Duration::from_secs(20))]);
    let (run, took) = timed(&env, &["--profile", "dev-sso"]);
    let sent: Vec<String> =
        env.fake.calls("CreateToken").iter().map(|r| r.json()["refreshToken"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sent, [SEEDED_REFRESH_TOKEN], "the refresh token went out once: {run:?}");
    assert_served_with_one_warning(&env, &run, took);
    assert!(!env.fake.live_refresh_tokens().contains(SEEDED_REFRESH_TOKEN), "the fake did rotate it");
}

/// The lost answer may have ended the old access token too: when the portal then rejects it, the
/// run still does not send the refresh token a second time (it says to try again instead).
#[test]
fn after_a_lost_answer_a_rejected_token_does_not_send_the_refresh_token_again() {
    let env = valid_for_five_minutes();
    env.fake.revoke_access_token("seeded-access-token-DO-NOT-LEAK");
    env.fake.script("CreateToken", [Reply::Late(Duration::from_secs(20))]);
    let (run, took) = timed(&env, &["--profile", "dev-sso"]);
    assert_eq!(env.fake.count("CreateToken"), 1, "{run:?}");
    run.assert_fails(1, "the SSO portal rejected the access token of corp");
    assert!(run.stderr.contains("not sent twice") && run.stderr.contains("hint: run the command again"), "{run:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// A request that may have reached the service is not sent again when it carries a refresh token;
/// one that provably did not (or that the service itself answered with 429 or 5xx) is.
#[test]
fn a_refresh_is_sent_again_only_when_it_did_not_arrive_or_the_service_said_so() {
    let cases = [
        // (first answer, CreateToken requests, refreshed)
        (Reply::Hangup, 1, false),
        (Reply::Json(504, None, json!({"message": "gateway timeout"})), 1, false),
        (Reply::Json(502, None, json!({"message": "bad gateway"})), 1, false),
        (Reply::Json(503, None, json!({"message": "unavailable"})), 2, true),
        (Reply::Json(429, Some("TooManyRequestsException".into()), json!({"message": "slow down"})), 2, true),
    ];
    for (reply, requests, refreshed) in cases {
        let env = valid_for_five_minutes();
        env.fake.script("CreateToken", [reply.clone()]);
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_ok();
        assert_eq!(env.fake.count("CreateToken"), requests, "{reply:?}: {run:?}");
        let token = env.corp_token();
        assert_eq!(token["accessToken"] != "seeded-access-token-DO-NOT-LEAK", refreshed, "{reply:?}: {run:?}");
        assert_eq!(run.stderr.is_empty(), refreshed, "{reply:?}: {run:?}");
    }
}

/// The short budget is only for a refresh the run can do without: an expired token, the `refresh`
/// command and `refresh --force` wait for a slow answer as long as for any other call.
#[test]
fn a_needed_or_asked_for_refresh_waits_for_a_slow_answer() {
    let slow = || Reply::Default.delayed(7_000);
    let expired = TestEnv::new();
    expired.seed_corp_token(-60);
    expired.fake.script("CreateToken", [slow()]);
    let asked = TestEnv::new();
    asked.seed_corp_token(600);
    asked.fake.script("CreateToken", [slow()]);
    let forced = TestEnv::new();
    forced.seed_corp_token(7200);
    forced.fake.script("CreateToken", [slow()]);
    let spawn = |env: &TestEnv, args: &[&str]| {
        env.command(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    };
    let children = [
        spawn(&expired, &["--profile", "dev-sso"]),
        spawn(&asked, &["refresh", "--profile", "dev-sso"]),
        spawn(&forced, &["refresh", "--force", "--profile", "dev-sso"]),
    ];
    let runs: Vec<Run> = children.into_iter().map(|c| to_run(c.wait_with_output().unwrap())).collect();
    runs[0].assert_ok();
    assert!(runs[0].stderr.is_empty(), "{:?}", runs[0]);
    for run in &runs[1..] {
        run.assert_ok();
        assert!(run.stdout.starts_with("corp: refreshed"), "{run:?}");
    }
    for env in [&expired, &asked, &forced] {
        assert_eq!(env.fake.count("CreateToken"), 1);
        assert_ne!(env.corp_token()["accessToken"], "seeded-access-token-DO-NOT-LEAK");
    }
}
