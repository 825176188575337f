//! `logout`: portal Logout, then the session's token and its role credentials go; other sessions,
//! registrations, lock files and non-SSO cache entries stay.

use crate::util::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

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

/// A logout racing fetches of cold role caches (docs/shared-cache.md). Fetches are started one
/// after another while the fake holds each GetRoleCredentials for a while, and the logout lands in the middle,
/// so some fetches are answered just before the portal Logout and write just after it. Once the
/// logout has returned and every fetch has finished, no role file of the session may exist, and
/// the next call must ask for a login.
#[test]
fn logout_racing_role_fetches_leaves_no_role_credentials() {
    const ROLES: usize = 12;
    const ROUNDS: usize = 20;
    let mut config = String::from(DEFAULT_CONFIG);
    for i in 0..ROLES {
        config.push_str(&format!(
            "\n[profile r{i}]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = Role{i}\n"
        ));
    }
    let env = TestEnv::new();
    env.write_config(&config);
    env.fake.set_role_delay(Duration::from_millis(60));
    let role_files: Vec<PathBuf> = (0..ROLES)
        .map(|i| {
            env.role_path(&sha1_hex(&format!(
                r#"{{"accountId":"{ACCOUNT}","roleName":"Role{i}","sessionName":"corp"}}"#
            )))
        })
        .collect();
    let started = Instant::now();
    let (mut lost, mut served, mut discarded) = (0, 0, 0);
    for round in 0..ROUNDS {
        env.seed_corp_token(7200);
        let mut fetches = Vec::new();
        let mut logout = None;
        for i in 0..ROLES {
            let profile = format!("r{i}");
            let child =
                env.command(&["--profile", &profile]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            fetches.push(child);
            std::thread::sleep(Duration::from_millis(8));
            // The logout starts at a different point of the train each round.
            if i == 3 + round % 6 {
                logout = Some(
                    env.command(&["logout", "--sso-session", "corp"])
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap(),
                );
            }
        }
        to_run(logout.unwrap().wait_with_output().unwrap()).assert_ok();
        for child in fetches {
            let run = to_run(child.wait_with_output().unwrap());
            match run.code {
                0 => served += 1,
                3 => {
                    run.assert_fails(3, "aws-sso-process login --sso-session corp");
                    discarded += usize::from(run.stderr.contains("logged out while role credentials were fetched"));
                }
                _ => panic!("a fetch neither served nor asked for a login: {run:?}"),
            }
        }
        let left: Vec<_> = role_files.iter().filter(|p| p.exists()).collect();
        if !left.is_empty() {
            lost += 1;
            eprintln!("round {round}: {} role files outlived the logout", left.len());
            for p in left {
                std::fs::remove_file(p).unwrap();
            }
        }
        env.run(&["--profile", "r0"]).assert_fails(3, "aws-sso-process login --sso-session corp");
        assert!(started.elapsed() < Duration::from_secs(60), "the race test must stay bounded");
    }
    eprintln!(
        "{served} fetches served before the logout, {discarded} answers discarded after it, \
         {lost} of {ROUNDS} rounds left role files behind, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "role credentials outlived the logout in {lost} of {ROUNDS} rounds");
}

/// Starts `--profile dev-sso` with a cold role cache, lets the fake hold its GetRoleCredentials,
/// and runs `during` while it is held. Returns the fetch's run and the GetRoleCredentials calls
/// it made. A machine too slow for `during` to end well inside the hold is tried again with a
/// longer one, after `setup` again.
fn during_a_held_fetch(env: &TestEnv, setup: impl Fn(), during: impl Fn()) -> (Run, Vec<String>) {
    for hold in [1500, 5000, 15000] {
        setup();
        let _ = std::fs::remove_file(env.role_path(CORP_ROLE_KEY));
        env.fake.set_role_delay(Duration::from_millis(hold));
        let before = env.fake.count("GetRoleCredentials");
        let fetch =
            env.command(&["--profile", "dev-sso"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        assert!(wait_for(Duration::from_secs(10), || env.fake.count("GetRoleCredentials") > before));
        let arrived = env.fake.calls("GetRoleCredentials")[before].at;
        during();
        let in_time = arrived.elapsed() + Duration::from_millis(300) < Duration::from_millis(hold);
        let run = to_run(fetch.wait_with_output().unwrap());
        if in_time {
            let calls = env.fake.calls("GetRoleCredentials")[before..]
                .iter()
                .map(|r| r.headers["x-amz-sso_bearer_token"].clone())
                .collect();
            return (run, calls);
        }
        eprintln!("this machine is slow: trying again with a hold longer than {hold} ms");
    }
    panic!("even a 15 s hold was not enough");
}

/// The portal answered a fetch, but the session was logged out before the answer was
/// written. Here the logout cannot reach the portal, so the answer is good credentials: they are
/// discarded, not cached, and the fetch asks for a login.
#[test]
fn credentials_answered_after_a_logout_are_not_kept() {
    let env = TestEnv::new();
    let (run, calls) = during_a_held_fetch(
        &env,
        || {
            env.seed_corp_token(7200);
        },
        || {
            let logout = env
                .command(&["logout", "--sso-session", "corp"])
                .env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")
                .output()
                .unwrap();
            to_run(logout).assert_ok();
        },
    );
    run.assert_fails(3, "the SSO session corp was logged out while role credentials were fetched");
    assert!(run.stderr.contains("hint: run 'aws-sso-process login --sso-session corp'"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
    assert!(!env.role_path(CORP_ROLE_KEY).exists(), "the answer was not cached");
    assert_eq!(calls, ["seeded-access-token-DO-NOT-LEAK"], "the portal did answer");
}

/// A token replaced while a fetch runs (a refresh or a login by another process): the answer to
/// the old token is not kept, the fetch is made again with the new one.
#[test]
fn a_fetch_whose_token_was_replaced_is_made_again_with_the_new_token() {
    let env = TestEnv::new();
    let (run, calls) = during_a_held_fetch(
        &env,
        || {
            env.seed_corp_token(7200);
        },
        || {
            let mut doc = env.corp_token();
            doc["accessToken"] = json!("relogin-access-token-DO-NOT-LEAK");
            env.seed_token(CORP_KEY, &doc);
        },
    );
    run.assert_ok();
    assert_eq!(calls, ["seeded-access-token-DO-NOT-LEAK", "relogin-access-token-DO-NOT-LEAK"]);
    let cached = env.read_json(&env.role_path(CORP_ROLE_KEY));
    assert_eq!(cached["Credentials"]["AccessKeyId"], run.json()["AccessKeyId"], "the second answer was kept");
}

/// Role credentials fetched for a target the config does not name (flags only) are found by the
/// role name our entries carry; entries that do not hash to this session stay.
#[test]
fn logout_removes_entries_of_targets_only_named_by_flags() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let adhoc = ["--sso-session", "corp", "--account-id", "999900001111", "--role-name", "Adhoc"];
    env.run(&adhoc).assert_ok();
    let entry = env.role_path(&sha1_hex(r#"{"accountId":"999900001111","roleName":"Adhoc","sessionName":"corp"}"#));
    let doc = env.read_json(&entry);
    assert_eq!(doc["RoleName"], "Adhoc");
    // The same entry under a name that is not its hash, and a CLI entry (no role name) for a
    // target the config does not name: neither can be traced to the session.
    let misnamed = env.role_path("0000000000000000000000000000000000000000");
    env.write_file(&misnamed, &doc.to_string());
    let cli_entry = env.role_path(&sha1_hex(r#"{"accountId":"999900001111","roleName":"Cli","sessionName":"corp"}"#));
    let mut cli_doc = doc.clone();
    cli_doc.as_object_mut().unwrap().remove("RoleName");
    env.write_file(&cli_entry, &cli_doc.to_string());

    let run = env.run(&["logout", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(!entry.exists(), "{run:?}");
    assert!(run.stdout.contains(&format!("corp: removed {}", entry.display())), "{run:?}");
    assert!(misnamed.exists() && cli_entry.exists(), "{run:?}");
    env.run(&adhoc).assert_fails(3, "no cached SSO token");
}
