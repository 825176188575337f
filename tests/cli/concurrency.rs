//! Many processes at once: one refresh, one GetRoleCredentials per role, nothing lost.

use crate::util::*;
use std::time::Duration;

#[test]
fn sixteen_processes_near_expiry_make_one_refresh_and_one_role_call() {
    let env = TestEnv::new();
    env.seed_corp_token(60);
    env.fake.set_token_delay(Duration::from_millis(300));
    let runs = env.run_many(16, &["--profile", "dev-sso"]);
    for run in &runs {
        run.assert_ok();
    }
    let first = runs[0].json();
    assert!(runs.iter().all(|r| r.json() == first), "everyone got the same cached credentials");
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    let token = env.corp_token();
    let live = env.fake.live_refresh_tokens();
    assert_eq!(live.len(), 1);
    assert!(live.contains(token["refreshToken"].as_str().unwrap()), "the file holds the newest refresh token");
}

#[test]
fn two_roles_of_one_session_share_one_refresh() {
    let env = TestEnv::new();
    env.seed_corp_token(60);
    env.fake.set_token_delay(Duration::from_millis(200));
    let a = env.command(&["--sso-session", "corp", "--account-id", ACCOUNT, "--role-name", "A"]);
    let b = env.command(&["--sso-session", "corp", "--account-id", ACCOUNT, "--role-name", "B"]);
    let mut children = Vec::new();
    for mut cmd in [a, b] {
        for _ in 0..4 {
            children
                .push(cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap());
        }
    }
    for child in children {
        to_run(child.wait_with_output().unwrap()).assert_ok();
    }
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 2, "one per role");
}
