//! `logout`: portal Logout, then the session's token and its role credentials go; other sessions,
//! registrations, lock files and non-SSO cache entries stay.

use crate::util::*;
use serde_json::json;
use std::path::PathBuf;

const TWO_SESSIONS: &str = "\
[profile dev-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer

[profile ops]
credential_process = aws-sso-process --sso-session corp --account-id 999900001111 --role-name Ops

[profile other-sso]
sso_session = other
sso_account_id = 444455556666
sso_role_name = Admin

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[sso-session other]
sso_start_url = https://other.awsapps.com/start
sso_region = eu-west-1
";

struct Seeded {
    env: TestEnv,
    corp_roles: Vec<PathBuf>,
    other_role: PathBuf,
    other_token: PathBuf,
    registration: PathBuf,
    assume_role: PathBuf,
}

fn seeded() -> Seeded {
    let env = TestEnv::new();
    env.write_config(TWO_SESSIONS);
    env.seed_corp_token(7200);
    let other_token = env.token_path(&sha1_hex("other"));
    env.seed_token(
        &sha1_hex("other"),
        &json!({"startUrl": "https://other.awsapps.com/start", "region": "eu-west-1",
                "accessToken": "other-access-token-DO-NOT-LEAK", "expiresAt": ts(7200)}),
    );
    env.run(&["--profile", "dev-sso"]).assert_ok();
    env.run(&["--profile", "other-sso"]).assert_ok();
    env.run(&["--sso-session", "corp", "--account-id", "999900001111", "--role-name", "Ops"]).assert_ok();
    let role = |account: &str, role: &str, session: &str| {
        env.role_path(&sha1_hex(&format!(
            r#"{{"accountId":"{account}","roleName":"{role}","sessionName":"{session}"}}"#
        )))
    };
    let corp_roles = vec![role(ACCOUNT, ROLE, "corp"), role("999900001111", "Ops", "corp")];
    let other_role = role("444455556666", "Admin", "other");
    let registration = env.home().join(".aws/sso/cache/botocore-client-id-us-east-1.json");
    env.write_file(&registration, r#"{"clientId":"c","clientSecret":"s","expiresAt":"2099-01-01T00:00:00Z"}"#);
    let assume_role = env.role_path("assume-role-entry");
    env.write_file(&assume_role, r#"{"Credentials":{"AccessKeyId":"AK"}}"#);
    for path in corp_roles.iter().chain([&other_role, &other_token]) {
        assert!(path.exists(), "{}", path.display());
    }
    Seeded { env, corp_roles, other_role, other_token, registration, assume_role }
}

#[test]
fn logout_of_one_session_leaves_the_other_intact() {
    let s = seeded();
    let env = &s.env;
    let run = env.run(&["logout", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(run.stdout.contains("corp: signed out at the SSO portal"), "{run:?}");
    let calls = env.fake.calls("Logout");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].headers["x-amz-sso_bearer_token"], "seeded-access-token-DO-NOT-LEAK");
    assert_eq!(calls[0].method, "POST");
    assert!(!env.fake.live_access_tokens().contains("seeded-access-token-DO-NOT-LEAK"));

    assert!(!env.token_path(CORP_KEY).exists());
    for path in &s.corp_roles {
        assert!(!path.exists(), "{}", path.display());
        assert!(run.stdout.contains(&format!("corp: removed {}", path.display())), "{run:?}");
    }
    for path in [&s.other_role, &s.other_token, &s.registration, &s.assume_role] {
        assert!(path.exists(), "{} must stay", path.display());
    }
    assert!(env.token_path(CORP_KEY).with_extension("json.lock").exists(), "lock files are never deleted");

    env.run(&["--profile", "dev-sso"]).assert_fails(3, "no cached SSO token");
    env.run(&["--profile", "other-sso"]).assert_ok();
    // A second logout has nothing left to do.
    let again = env.run(&["logout", "--profile", "dev-sso"]);
    again.assert_ok();
    assert!(again.stdout.contains("corp: no cached SSO token"), "{again:?}");
    assert_eq!(env.fake.count("Logout"), 1);
}

#[test]
fn logout_ignores_a_session_the_portal_already_ended() {
    let s = seeded();
    s.env.fake.revoke_access_token("seeded-access-token-DO-NOT-LEAK");
    let run = s.env.run(&["logout", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(run.stdout.contains("already ended"), "{run:?}");
    assert!(!s.env.token_path(CORP_KEY).exists());
}

#[test]
fn logout_without_network_warns_and_still_removes_the_local_copies() {
    let mut s = seeded();
    s.env.set_env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9");
    let run = s.env.run(&["logout", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(run.stderr.contains("warning: corp: could not reach the SSO portal"), "{run:?}");
    assert!(!s.env.token_path(CORP_KEY).exists());
    assert!(s.corp_roles.iter().all(|p| !p.exists()));
}

#[test]
fn logout_all_is_like_aws_sso_logout() {
    let s = seeded();
    let env = &s.env;
    let run = env.run(&["logout", "--all"]);
    run.assert_ok();
    let bearers: Vec<String> =
        env.fake.calls("Logout").iter().map(|r| r.headers["x-amz-sso_bearer_token"].clone()).collect();
    assert_eq!(bearers.len(), 2, "{run:?}");
    assert!(bearers.contains(&"other-access-token-DO-NOT-LEAK".to_owned()));
    assert!(!env.token_path(CORP_KEY).exists() && !s.other_token.exists());
    assert!(s.corp_roles.iter().chain([&s.other_role]).all(|p| !p.exists()));
    assert!(s.registration.exists() && s.assume_role.exists(), "registrations and non-SSO entries stay");
    assert!(run.stdout.contains("corp: signed out") && run.stdout.contains("other: signed out"), "{run:?}");
}

#[test]
fn logout_of_a_legacy_profile() {
    let env = TestEnv::new();
    env.write_config(
        "[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\n\
         sso_account_id = 111122223333\nsso_role_name = Developer\n",
    );
    let key = sha1_hex("https://legacy.awsapps.com/start");
    env.seed_token(
        &key,
        &json!({"startUrl": "https://legacy.awsapps.com/start", "region": "us-east-1",
                "accessToken": "legacy-access-token-DO-NOT-LEAK", "expiresAt": ts(7200)}),
    );
    env.run(&["--profile", "legacy"]).assert_ok();
    let role = env.role_path(&sha1_hex(
        r#"{"accountId":"111122223333","roleName":"Developer","startUrl":"https://legacy.awsapps.com/start"}"#,
    ));
    assert!(role.exists());
    env.run(&["logout", "--profile", "legacy"]).assert_ok();
    assert!(!env.token_path(&key).exists() && !role.exists());
    assert_eq!(env.fake.count("Logout"), 1);
}
