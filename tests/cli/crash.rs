//! Crash safety (docs/refresh-and-locking.md, docs/how-it-works.md): 200 refreshes against a slow fake,
//! each killed with SIGKILL at a random moment (before, during or after the write). After every
//! kill the token file parses and holds either the token it held before or exactly one new
//! CreateToken answer (access token, refresh token and expiry of the same answer, the other fields
//! kept); the next run succeeds at once (the kernel dropped the dead process's lock) and leaves no
//! temp file behind.

use crate::util::fake::next_random;
use crate::util::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ITERATIONS: usize = 200;
/// Token lifetimes by issue number, 50 s apart: a file mixing two answers shows in its `expiresAt`.
/// All are inside the 15-minute window, so every run refreshes.
const SCHEDULE: [i64; 10] = [30, 80, 130, 180, 230, 280, 330, 380, 430, 480];

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".tmp")).collect()
        })
        .unwrap_or_default()
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The file is `before` byte for byte, or the answer of one CreateToken issued since `since`
/// (returned), with every other field as it was.
fn check_token_file(env: &TestEnv, before: &[u8], since: SystemTime, what: &str) -> Option<usize> {
    let bytes = std::fs::read(env.token_path(CORP_KEY)).unwrap_or_else(|e| panic!("{what}: token file gone: {e}"));
    if bytes == before {
        return None;
    }
    let doc: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{what}: token file does not parse ({e}): {}", String::from_utf8_lossy(&bytes)));
    let old: Value = serde_json::from_slice(before).unwrap();
    let issued = env.fake.issued();
    let (n, answer) = issued
        .iter()
        .enumerate()
        .find(|(_, i)| doc["accessToken"] == i.access_token.as_str())
        .unwrap_or_else(|| panic!("{what}: the access token is from no CreateToken answer: {doc}"));
    assert!(answer.at >= since, "{what}: a stale answer came back: {doc}");
    assert_eq!(doc["refreshToken"].as_str(), answer.refresh_token.as_deref(), "{what}: mixed refresh token");
    let expires = chrono::DateTime::parse_from_rfc3339(doc["expiresAt"].as_str().unwrap()).unwrap().timestamp();
    let issued_at = epoch(answer.at);
    let lo = issued_at.floor() as i64 + answer.expires_in;
    assert!(
        (lo..=lo + 2).contains(&expires),
        "{what}: expiresAt {expires} is not the answer's ({} s after {issued_at})",
        answer.expires_in
    );
    for key in ["startUrl", "region", "clientId", "clientSecret", "registrationExpiresAt"] {
        assert_eq!(doc[key], old[key], "{what}: {key} was not kept");
    }
    Some(n)
}

#[test]
fn sigkill_at_any_moment_never_corrupts_or_mixes_the_token_file() {
    let seed: u64 = std::env::var("PROOF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_c0ff_ee00_0007);
    let mut rng = seed;
    let env = TestEnv::new();
    env.seed_corp_token(60);
    env.fake.set_expires_in_schedule(SCHEDULE.to_vec());
    // A killed run may have burned the refresh token the file still holds; a real service that
    // retires rotated tokens at once would then need a login, which no client can avoid.
    env.fake.set_retire_old_refresh_tokens(false);
    env.fake.set_role_lifetime(Duration::from_secs(600)); // under 15 min: every run fetches again
    let sso_cache = env.home().join(".aws/sso/cache");
    let cli_cache = env.home().join(".aws/cli/cache");
    let start = Instant::now();
    let (mut replaced, mut kept, mut finished, mut temp_seen, mut slowest) = (0, 0, 0, 0, Duration::ZERO);
    for i in 0..ITERATIONS {
        let before = std::fs::read(env.token_path(CORP_KEY)).unwrap();
        let since = SystemTime::now();
        let delay = next_random(&mut rng) % 31;
        let kill_after = next_random(&mut rng) % (delay + 25);
        env.fake.set_token_delay(Duration::from_millis(delay));
        let args: &[&str] =
            if i % 2 == 0 { &["refresh", "--force", "--profile", "dev-sso"] } else { &["--profile", "dev-sso"] };
        let mut child =
            env.command(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(kill_after));
        match child.try_wait().unwrap() {
            Some(_) => finished += 1,
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
        let what =
            format!("iteration {i} (seed {seed}, {args:?}, CreateToken delay {delay} ms, kill after {kill_after} ms)");
        if !temp_files(&sso_cache).is_empty() || !temp_files(&cli_cache).is_empty() {
            temp_seen += 1;
        }
        // A temp file younger than a minute is kept whoever wrote it (its pid may be a live
        // writer in another pid namespace): the next run comes later here, as if a minute on.
        for dir in [&sso_cache, &cli_cache] {
            for temp in temp_files(dir) {
                let file = std::fs::File::options().write(true).open(dir.join(temp)).unwrap();
                file.set_modified(SystemTime::now() - Duration::from_secs(120)).unwrap();
            }
        }
        match check_token_file(&env, &before, since, &what) {
            Some(_) => replaced += 1,
            None => kept += 1,
        }
        let role = env.role_path(CORP_ROLE_KEY);
        if role.exists() {
            let doc = env.read_json(&role);
            assert!(doc["Credentials"]["SessionToken"].is_string(), "{what}: role cache {doc}");
        }

        // The next run: no stale lock to wait for, a good token, and no temp file left.
        env.fake.set_token_delay(Duration::ZERO);
        let before = std::fs::read(env.token_path(CORP_KEY)).unwrap();
        let since = SystemTime::now();
        let t = Instant::now();
        let run = env.run(&["--profile", "dev-sso"]);
        let took = t.elapsed();
        slowest = slowest.max(took);
        assert_eq!(run.code, 0, "{what}: the next run failed: {run:?}");
        assert!(took < Duration::from_secs(1), "{what}: the next run took {took:?}");
        assert!(check_token_file(&env, &before, since, &what).is_some(), "{what}: the next run refreshed");
        assert!(temp_files(&sso_cache).is_empty(), "{what}: {:?}", temp_files(&sso_cache));
        assert!(temp_files(&cli_cache).is_empty(), "{what}: {:?}", temp_files(&cli_cache));
    }
    let total = start.elapsed();
    eprintln!(
        "crash safety: {ITERATIONS} kills (seed {seed}) in {total:?}: file replaced {replaced}, kept {kept}, \
         run finished before the kill {finished}, temp file left by the kill {temp_seen}; slowest next run {slowest:?}"
    );
    // The kills must have landed on both sides of the rename, and some in the middle of a write.
    assert!(
        replaced >= 10 && kept >= 10 && temp_seen >= 5,
        "kills did not cover the write: {replaced} {kept} {temp_seen}"
    );
}

/// What a killed writer left (a temp file with the name pattern of a token or role cache file) is
/// removed by the next writer of that file once older than a minute, even when its process id is
/// in use again (process 1 here); a fresh one of a live process, and other files' ones, stay.
#[test]
fn the_next_writer_of_a_token_or_role_file_removes_old_temp_files_only() {
    let env = TestEnv::new();
    env.seed_corp_token(60);
    let make = |dir: &Path, name: String, age: u64| {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        let f = std::fs::File::create(&path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age)).unwrap();
        path
    };
    let (sso, cli) = (env.home().join(".aws/sso/cache"), env.home().join(".aws/cli/cache"));
    let old_token = make(&sso, format!("{CORP_KEY}.json.1000000001.tmp"), 90);
    let fresh_token = make(&sso, format!("{CORP_KEY}.json.1000000002.tmp"), 5);
    let old_role = make(&cli, format!("{CORP_ROLE_KEY}.json.1000000001.tmp"), 90);
    let fresh_role = make(&cli, format!("{CORP_ROLE_KEY}.json.1000000002.tmp"), 5);
    let other = make(&sso, "0123456789abcdef.json.1000000003.tmp".to_owned(), 3600);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert!(!old_token.exists() && !old_role.exists(), "{:?} {:?}", temp_files(&sso), temp_files(&cli));
    assert!(fresh_token.exists() && fresh_role.exists(), "a live writer's fresh temp file is kept");
    assert!(other.exists(), "another file's temp files are its writer's business");
}
