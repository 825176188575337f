//! The `list` command: every page of ListAccounts and ListAccountRoles, throttling, concurrency,
//! the rate limit, the progress line and token problems.

use crate::util::fake::{FakeAccount, Reply};
use crate::util::*;
use serde_json::json;
use std::time::Duration;

fn throttled() -> Reply {
    Reply::portal_error(429, "TooManyRequestsException", "slow down")
}

#[test]
fn json_lists_every_account_and_role_across_pages() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["list", "--sso-session", "corp", "--json"]);
    run.assert_ok();
    let doc = run.json();
    assert_eq!(doc["ssoSession"], "corp");
    assert_eq!(doc["startUrl"], START_URL);
    assert_eq!(doc["region"], "us-east-1");
    let accounts = doc["accounts"].as_array().unwrap();
    let names: Vec<&str> = accounts.iter().map(|a| a["accountName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Audit & Logging", "Development", "Prod – Payments (EU)", "Sandbox", "Shared Services"]);
    assert_eq!(
        accounts[3],
        json!({"accountId": "444455556666", "accountName": "Sandbox", "emailAddress": "aws+444455556666@example.com",
               "roles": ["Admin", "Developer", "PowerUser"]})
    );

    // Five accounts in pages of two: three ListAccounts calls, each token sent back as next_token.
    let pages = env.fake.calls("ListAccounts");
    let next: Vec<Option<&str>> = pages.iter().map(|r| r.query.get("next_token").map(String::as_str)).collect();
    assert_eq!(next, [None, Some("accounts-2"), Some("accounts-4")]);
    for call in env.fake.requests() {
        assert_eq!(call.headers["x-amz-sso_bearer_token"], "seeded-access-token-DO-NOT-LEAK");
        assert!(!call.headers.contains_key("authorization"));
        assert_eq!(call.query["max_result"], "100");
    }
    // Roles: one page per account, two for the three roles of Sandbox.
    let roles = env.fake.calls("ListAccountRoles");
    assert_eq!(roles.len(), 6);
    let sandbox: Vec<Option<&str>> = roles
        .iter()
        .filter(|r| r.query["account_id"] == "444455556666")
        .map(|r| r.query.get("next_token").map(String::as_str))
        .collect();
    assert_eq!(sandbox.len(), 2);
    assert!(sandbox.contains(&None) && sandbox.contains(&Some("roles-444455556666-2")), "{sandbox:?}");
    assert_eq!(env.fake.count("CreateToken"), 0);
}

#[test]
fn the_table_has_one_row_per_role() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["list", "--profile", "dev-sso"]);
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "ACCOUNT ID    ACCOUNT NAME          ROLE");
    assert_eq!(lines[1], "555566667777  Audit & Logging       SecurityAudit");
    assert!(lines.contains(&"222233334444  Prod – Payments (EU)  ReadOnly"), "{run:?}");
    assert_eq!(lines.len(), 1 + 9 + 1);
    assert_eq!(lines[10], "5 accounts, 9 roles (sso-session corp)");
    assert!(run.stderr.is_empty(), "no progress line when stderr is not a terminal: {run:?}");
}

#[test]
fn the_only_sso_session_is_used_when_nothing_names_one() {
    let env = TestEnv::new();
    env.write_config(&DEFAULT_CONFIG.replace("[profile dev-sso]", "[profile other]"));
    env.seed_corp_token(7200);
    env.run(&["list"]).assert_ok();
    env.write_config(&format!(
        "{DEFAULT_CONFIG}[sso-session two]\nsso_start_url = https://two/start\nsso_region = eu-west-1\n"
    ));
    env.run(&["list"]).assert_fails(1, "2 SSO sessions in the config");
}

#[test]
fn throttling_bursts_are_retried_beyond_the_http_clients_three_tries() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    // Five 429s in a row on the first page, then a burst on the role calls.
    env.fake.script("ListAccounts", vec![throttled(); 5]);
    env.fake.script("ListAccountRoles", vec![throttled(); 8]);
    let run = env.run(&["list", "--sso-session", "corp", "--json"]);
    run.assert_ok();
    assert_eq!(run.json()["accounts"].as_array().unwrap().len(), 5);
    assert_eq!(env.fake.count("ListAccounts"), 5 + 3);
    assert_eq!(env.fake.count("ListAccountRoles"), 8 + 6);
}

#[test]
fn endless_throttling_gives_up_with_a_hint() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script("ListAccounts", vec![throttled(); 20]);
    let run = env.run(&["list", "--sso-session", "corp"]);
    run.assert_fails(1, "ListAccounts");
    assert!(run.stderr.contains("HTTP 429") && run.stderr.contains("throttling"), "{run:?}");
    assert_eq!(env.fake.count("ListAccounts"), 8, "eight tries, then it gives up");
}

#[test]
fn a_large_organisation_respects_the_concurrency_and_rate_limits() {
    let mut env = TestEnv::new();
    env.set_env("AWS_SSO_PROCESS_PROGRESS", "1");
    env.seed_corp_token(7200);
    let accounts: Vec<FakeAccount> =
        (0..30).map(|i| FakeAccount::new(&format!("9000000000{i:02}"), &format!("Team {i:02}"), &["Admin"])).collect();
    env.fake.set_accounts(accounts);
    env.fake.set_page_size(100);
    // Each role call takes 800 ms: at 20 starts per second the cap of 10 in flight is reached.
    env.fake.script("ListAccountRoles", vec![Reply::Default.delayed(800); 30]);
    let run = env.run(&["list", "--sso-session", "corp", "--json"]);
    run.assert_ok();
    assert_eq!(run.json()["accounts"].as_array().unwrap().len(), 30);
    assert_eq!(env.fake.max_in_flight(), 10, "at most 10 requests in flight, and the cap is used");
    let mut at: Vec<_> = env.fake.requests().iter().map(|r| r.at).collect();
    at.sort();
    for window in at.windows(21) {
        let spread = window[20] - window[0];
        assert!(spread >= Duration::from_millis(900), "21 requests within {spread:?}");
    }
    // The progress line: on stderr, rewritten with \r, wiped at the end.
    assert!(run.stderr.contains("\raws-sso-process: listing roles: "), "{run:?}");
    assert!(run.stderr.contains("/30 accounts"), "{run:?}");
    assert!(run.stderr.ends_with('\r'), "{run:?}");
}

#[test]
fn a_rejected_token_is_refreshed_once() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.revoke_access_token("seeded-access-token-DO-NOT-LEAK");
    let run = env.run(&["list", "--sso-session", "corp", "--json"]);
    run.assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
    let fresh = env.corp_token()["accessToken"].as_str().unwrap().to_owned();
    let roles = env.fake.calls("ListAccountRoles");
    assert!(roles.iter().all(|r| r.headers["x-amz-sso_bearer_token"] == fresh));
}

#[test]
fn no_token_or_a_dead_session_means_login() {
    let env = TestEnv::new();
    env.run(&["list", "--sso-session", "corp"]).assert_fails(3, "aws-sso-process login --sso-session corp");
    env.seed_corp_token(7200);
    env.fake.revoke_access_token("seeded-access-token-DO-NOT-LEAK");
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    env.run(&["list", "--sso-session", "corp"]).assert_fails(3, "login --sso-session corp");
    assert_eq!(env.fake.count("ListAccountRoles"), 0);
}

#[test]
fn a_role_call_failure_stops_the_listing() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script("ListAccountRoles", [Reply::portal_error(403, "ForbiddenException", "No access")]);
    let run = env.run(&["list", "--sso-session", "corp"]);
    run.assert_fails(1, "ListAccountRoles");
    assert!(run.stderr.contains("ForbiddenException"), "{run:?}");
}

#[test]
fn malformed_pages_and_looping_tokens_are_errors() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script("ListAccounts", [Reply::Json(200, None, json!({"accountList": "nope"}))]);
    env.run(&["list", "--sso-session", "corp"]).assert_fails(1, "accountList is not a list");
    let page = json!({"nextToken": "same", "accountList": [{"accountId": "1", "accountName": "A"}]});
    env.fake.script("ListAccounts", [Reply::Json(200, None, page.clone()), Reply::Json(200, None, page)]);
    env.run(&["list", "--sso-session", "corp"]).assert_fails(1, "the same nextToken came back twice");
}

#[test]
fn a_listing_past_its_bounds_is_a_clear_error() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    // 2,001 roles in one account: one more than the bound (docs/configure-generate.md#limits).
    let roles: Vec<String> = (0..2001).map(|i| format!("Role{i}")).collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    env.fake.set_accounts(vec![FakeAccount::new("111122223333", "Big", &roles)]);
    env.fake.set_page_size(100);
    let run = env.run(&["list", "--sso-session", "corp"]);
    run.assert_fails(1, "the SSO portal's listing for the SSO session corp is too large: ListAccountRoles listed more than 2000 roles for account 111122223333");
    assert!(env.fake.count("ListAccountRoles") <= 21, "it stops at the bound");
    env.run(&["configure", "generate", "--sso-session", "corp", "--write"]).assert_fails(1, "too large");
}
