//! The `refresh` command.

use crate::util::fake::Reply;
use crate::util::*;
use serde_json::json;

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
