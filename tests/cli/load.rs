//! Load (docs/refresh-and-locking.md): 64 processes at once, with the fake rotating refresh
//! tokens. Near expiry they make exactly one CreateToken; on a cold role cache one
//! GetRoleCredentials per role; nobody fails; and the whole crowd takes at most twice as long as a
//! single run doing the same work. Then a fifth of the fake's answers fail (500/429, seeded), and
//! still no session is lost.
//!
//! "Lost session", precisely: afterwards the token file does not parse, or holds a refresh token
//! the fake no longer accepts (the only copy of the rotated one was thrown away), or any process
//! exited with 3 (login required). Processes may fail with exit 1 (the service kept failing past
//! the retries), with the one-line error, never with anything else.

use crate::util::*;
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const CROWD: usize = 64;

fn role_args(role: &str) -> Vec<String> {
    ["--sso-session", "corp", "--account-id", ACCOUNT, "--role-name", role].map(str::to_owned).to_vec()
}

/// Starts `CROWD` processes spread over `roles` and waits for all; (role, run) pairs and the wall time.
fn crowd(env: &TestEnv, roles: &[&str]) -> (Vec<(String, Run)>, Duration) {
    let start = Instant::now();
    let children: Vec<(String, Child)> = (0..CROWD)
        .map(|i| {
            let role = roles[i % roles.len()];
            let args = role_args(role);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let child = env.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            (role.to_owned(), child)
        })
        .collect();
    let runs = children.into_iter().map(|(role, c)| (role, to_run(c.wait_with_output().unwrap()))).collect();
    (runs, start.elapsed())
}

/// One process doing the same work alone: the yardstick.
fn single(env: &TestEnv, role: &str) -> Duration {
    let args = role_args(role);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let start = Instant::now();
    env.run(&args).assert_ok();
    start.elapsed()
}

fn assert_same_credentials_per_role(runs: &[(String, Run)]) {
    let mut seen: HashMap<&str, Value> = HashMap::new();
    for (role, run) in runs {
        run.assert_ok();
        let creds = run.json();
        let first = seen.entry(role).or_insert_with(|| creds.clone());
        assert_eq!(*first, creds, "every process of role {role} got the one cached answer");
    }
}

#[test]
fn sixty_four_processes_make_one_refresh_and_one_call_per_role_in_at_most_twice_the_time() {
    let slow = |env: &TestEnv| {
        env.fake.set_token_delay(Duration::from_millis(500));
        env.fake.set_role_delay(Duration::from_millis(500));
    };

    // Near expiry, cold role cache: one refresh, then one GetRoleCredentials per role.
    let alone = TestEnv::new();
    slow(&alone);
    alone.seed_corp_token(60);
    let one_refresh = single(&alone, "A");
    assert_eq!((alone.fake.count("CreateToken"), alone.fake.count("GetRoleCredentials")), (1, 1));

    let env = TestEnv::new();
    slow(&env);
    env.seed_corp_token(60);
    let roles = ["A", "B", "C", "D"];
    let (runs, took) = crowd(&env, &roles);
    assert_same_credentials_per_role(&runs);
    assert_eq!(env.fake.count("CreateToken"), 1, "exactly one refresh");
    assert_eq!(env.fake.count("GetRoleCredentials"), roles.len(), "one call per role");
    let token = env.corp_token();
    assert_eq!(env.fake.live_refresh_tokens().len(), 1);
    assert!(env.fake.live_refresh_tokens().contains(token["refreshToken"].as_str().unwrap()));
    eprintln!("load: {CROWD} processes near expiry over {} roles: {took:?} (one alone: {one_refresh:?})", roles.len());
    assert!(took <= one_refresh * 2, "{CROWD} processes took {took:?}, one alone {one_refresh:?}");

    // A valid token, cold role cache, eight roles: one call per role, no refresh.
    let alone = TestEnv::new();
    slow(&alone);
    alone.seed_corp_token(7200);
    let one_fetch = single(&alone, "A");
    let env = TestEnv::new();
    slow(&env);
    env.seed_corp_token(7200);
    let roles = ["A", "B", "C", "D", "E", "F", "G", "H"];
    let (runs, took) = crowd(&env, &roles);
    assert_same_credentials_per_role(&runs);
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(env.fake.count("GetRoleCredentials"), roles.len(), "one call per role");
    eprintln!(
        "load: {CROWD} processes on a cold role cache over {} roles: {took:?} (one alone: {one_fetch:?})",
        roles.len()
    );
    assert!(took <= one_fetch * 2, "{CROWD} processes took {took:?}, one alone {one_fetch:?}");
}

#[test]
fn a_fifth_of_answers_failing_never_loses_the_session() {
    let roles = ["A", "B", "C", "D", "E", "F", "G", "H"];
    let (mut ok, mut failed, mut injected, mut refreshes) = (0, 0, 0, 0);
    for seed in [7u64, 1234, 99_991] {
        let env = TestEnv::new();
        env.seed_corp_token(60);
        // Every refreshed token is again inside the window, and role credentials are always too
        // short to cache: every process fetches, and every fetch refreshes, so the rotation races
        // as hard as it can.
        env.fake.set_expires_in(60);
        env.fake.set_role_lifetime(Duration::from_secs(600));
        env.fake.set_token_delay(Duration::from_millis(5));
        env.fake.set_role_delay(Duration::from_millis(5));
        env.fake.set_failures(seed, 20, &["CreateToken", "GetRoleCredentials"]);
        let (runs, _) = crowd(&env, &roles);
        for (role, run) in &runs {
            match run.code {
                0 => {
                    let creds = run.json();
                    assert!(creds["SessionToken"].as_str().unwrap().contains(&format!("session-token-{role}-")));
                    ok += 1;
                }
                1 => {
                    run.assert_fails(1, "aws-sso-process: ");
                    failed += 1;
                }
                code => panic!("seed {seed}: exit {code} means a lost session or a crash: {run:?}"),
            }
        }
        injected += env.fake.failures_injected();
        refreshes += env.fake.issued().len();

        // The session survived: the file parses, and its refresh token still works.
        let token = env.corp_token();
        let rt = token["refreshToken"].as_str().expect("a refresh token");
        assert!(env.fake.live_refresh_tokens().contains(rt), "seed {seed}: the file's refresh token was retired");
        assert!(env.fake.live_access_tokens().contains(token["accessToken"].as_str().unwrap()));
        env.fake.set_failures(seed, 0, &[]);
        env.run(&["refresh", "--force", "--sso-session", "corp"]).assert_ok();
    }
    eprintln!(
        "load with failures: {ok} processes served, {failed} failed with exit 1, {injected} failures injected, \
         {refreshes} refreshes"
    );
    assert!(injected >= 50, "the chaos was real: {injected} failures");
    assert!(ok >= CROWD, "most processes are served despite the failures: {ok}");
}
