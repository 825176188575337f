//! A credential_process that runs aws-sso-process again never starts processes without end
//! (docs/chained-roles.md). Every run here is watched: it gets a process group of its own, and the
//! group is killed when it grows past a few processes or outlives a generous bound, so a build without the fix
//! fails these tests instead of filling the machine.

use crate::util::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CALL: [&str; 7] =
    ["create-token-with-iam", "--region", "us-east-1", "--client-id", "app", "--grant-type", "jwt-bearer"];

/// What a watched run did: `run` is `None` when the group had to be killed.
struct Watched {
    run: Option<Run>,
    /// The most processes seen in the group at once.
    peak: usize,
    elapsed: Duration,
}

/// Processes whose process group is `pgid`, from /proc.
fn group_size(pgid: i32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| unsafe { libc::getpgid(pid) } == pgid)
        .count()
}

/// Runs `cmd` in a new process group; kills the group once it holds more than `max` processes or
/// has run for `limit`.
fn watched(mut cmd: Command, max: usize, limit: Duration) -> Watched {
    use std::os::unix::process::CommandExt;
    let out = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
    cmd.process_group(0)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let pgid = child.id() as i32;
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        peak = peak.max(group_size(pgid));
        if peak > max || started.elapsed() > limit {
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            child.wait().unwrap();
            // Orphans of the killed group go too (they were in it when the signal was sent).
            assert!(wait_for(Duration::from_secs(10), || group_size(pgid) == 0), "the group did not die");
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed();
    let run = status.map(|status| Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&stdout).unwrap(),
        stderr: std::fs::read_to_string(&stderr).unwrap(),
    });
    Watched { run, peak, elapsed }
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.display())
}

/// Profiles whose credential_process comes back to themselves through `create-token-with-iam
/// --source-profile` are refused from the config alone: nothing is started, nothing is sent.
#[test]
fn a_credential_process_that_leads_back_to_its_profile_is_refused_before_anything_runs() {
    let env = TestEnv::new();
    let bin = quoted(Path::new(BIN));
    env.write_config(&format!(
        "{DEFAULT_CONFIG}
[profile self]
credential_process = {bin} create-token-with-iam --source-profile self --region us-east-1 --client-id app --grant-type jwt-bearer

[profile a]
credential_process = \"{BIN}\" create-token-with-iam --source-profile=b --region us-east-1
[profile b]
credential_process = {bin} --debug create-token-with-iam --region us-east-1 --source-profile a
"
    ));
    for (profile, chain) in
        [("self", "profile self -> self"), ("a", "profile a -> b -> a"), ("b", "profile b -> a -> b")]
    {
        let mut cmd = env.command(&CALL);
        cmd.args(["--source-profile", profile]);
        let w = watched(cmd, 3, Duration::from_secs(20));
        let run = w.run.unwrap_or_else(|| panic!("{profile}: the chain grew to {} processes and was killed", w.peak));
        run.assert_fails(1, &format!("credential_process loop: {chain}; nothing was run"));
        assert!(run.stderr.contains("hint: the credential_process of profile"), "{run:?}");
        assert_eq!(w.peak, 1, "{profile}: no process was started");
        assert!(w.elapsed < Duration::from_secs(10), "{profile}: {:?}", w.elapsed);
        eprintln!("{profile}: refused in {} ms", w.elapsed.as_millis());
    }
    assert!(env.fake.requests().is_empty());
}

/// A loop the config does not show (a script in between) stops at the depth limit: three nested
/// processes, then a one-line error naming the chain of profiles.
#[test]
fn a_loop_through_a_script_stops_three_processes_deep() {
    let env = TestEnv::new();
    let script = env.home().join("bin/creds-step");
    let log = env.home().join("spawns.log");
    // The script caps itself at 30 steps, so that a build without the limit ends too.
    env.write_file(
        &script,
        &format!(
            "#!/bin/sh\necho \"${{AWS_SSO_PROCESS_DEPTH:-none}} ${{AWS_SSO_PROCESS_CHAIN:-none}}\" >> '{log}'\n\
             [ \"$(wc -l < '{log}')\" -le 30 ] || exit 9\n\
             exec '{BIN}' {args} --source-profile loop\n",
            log = log.display(),
            args = CALL.join(" "),
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.write_config(&format!("{DEFAULT_CONFIG}\n[profile loop]\ncredential_process = {}\n", quoted(&script)));
    let mut cmd = env.command(&CALL);
    cmd.args(["--source-profile", "loop"]).stdin(Stdio::null());
    let w = watched(cmd, 12, Duration::from_secs(30));
    let run = w.run.unwrap_or_else(|| panic!("the chain grew to {} processes and was killed", w.peak));
    let spawns = std::fs::read_to_string(&log).unwrap();
    eprintln!("{} spawns, at most {} processes at once, {} ms", spawns.lines().count(), w.peak, w.elapsed.as_millis());
    assert_eq!(spawns, "1 loop\n2 loop -> loop\n3 loop -> loop -> loop\n", "{run:?}");
    assert_eq!(run.code, 1, "{run:?}");
    let refusal: Vec<&str> = run.stderr.lines().filter(|l| l.contains("nested")).collect();
    assert_eq!(
        refusal,
        ["aws-sso-process: credential_process commands nested 3 deep (profile loop -> loop -> loop -> loop); \
          not running another, this looks like a loop"],
        "{run:?}"
    );
    // Each process above it says that its credential_process failed: one error and one hint each.
    assert!(run.stderr.lines().count() <= 2 * 4, "{run:?}");
    assert!(env.fake.requests().is_empty());
    assert!(w.elapsed < Duration::from_secs(20), "{:?}", w.elapsed);
}
