//! Closed pipes: no command panics when its stdout or stderr has no reader (`| head`, a terminal
//! that went away), from the start or part way; it stops quietly, and what it was doing is
//! finished (docs/reliability.md).

use crate::util::*;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

/// The write end of a pipe whose read end is already closed: every write fails with EPIPE.
fn dead_pipe() -> Stdio {
    let mut fds = [-1; 2];
    // SAFETY: pipe writes two fresh fds into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both fds were just opened and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

#[derive(Clone, Copy, Debug)]
enum Closed {
    Stdout,
    Stderr,
}

fn run_closed(env: &TestEnv, args: &[&str], closed: Closed) -> Run {
    let mut cmd = env.command(args);
    match closed {
        Closed::Stdout => cmd.stdout(dead_pipe()).stderr(Stdio::piped()),
        Closed::Stderr => cmd.stdout(Stdio::piped()).stderr(dead_pipe()),
    };
    let mut child = cmd.spawn().unwrap();
    if !wait_for(HANG_LIMIT, || child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
        panic!("{args:?} with {closed:?} closed still ran after {HANG_LIMIT:?}");
    }
    to_run(child.wait_with_output().unwrap())
}

/// Every command, with stdout and then stderr read by nobody: never the panic's exit code 101
/// nor its message; the commands that change something still do.
#[test]
fn no_command_panics_when_nobody_reads_its_output() {
    let commands: &[&[&str]] = &[
        &["--profile", "dev"],
        &["login", "--sso-session", "corp", "--use-device-code", "--no-browser"],
        &["refresh", "--sso-session", "corp"],
        &["refresh", "--all"],
        &["status"],
        &["status", "--json"],
        &["list", "--sso-session", "corp"],
        &["configure", "generate", "--sso-session", "corp"],
        &["configure", "generate", "--sso-session", "corp", "--write"],
        &["export", "--profile", "dev"],
        &["console", "--profile", "dev", "--no-browser"],
        &["register-client", "--generate-cli-skeleton"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &["--version"],
        &["status", "--no-such-flag"],
        &["--profile", "nope"],
        &["logout", "--sso-session", "corp"],
        &["logout", "--all"],
    ];
    for closed in [Closed::Stdout, Closed::Stderr] {
        let env = TestEnv::new();
        for args in commands {
            env.seed_corp_token(7200);
            let run = run_closed(&env, args, closed);
            assert_ne!(run.code, 101, "{args:?} with {closed:?} closed: {run:?}");
            assert!(!run.stderr.contains("panicked"), "{args:?} with {closed:?} closed: {run:?}");
        }
        // `configure generate --write` finished its job with nobody reading (dev-sso already
        // served one of the nine roles).
        let config = std::fs::read_to_string(env.home().join(".aws/config")).unwrap();
        assert_eq!(config.matches("aws_sso_process_generated = corp").count(), 8, "{closed:?}: {config}");
    }
}

/// `setup ... | head`: the profiles are written all the same (the output is dropped, the work
/// goes on), and the exit is not a panic.
#[test]
fn setup_finishes_its_profiles_when_nobody_reads_its_output() {
    for closed in [Closed::Stdout, Closed::Stderr] {
        let env = TestEnv::new();
        std::fs::remove_file(env.home().join(".aws/config")).unwrap();
        let args = [
            "setup",
            "--start-url",
            START_URL,
            "--region",
            "us-east-1",
            "--sso-session",
            "corp",
            "--generate",
            "all",
            "--use-device-code",
        ];
        let run = run_closed(&env, &args, closed);
        assert_eq!(run.code, 0, "{closed:?}: {run:?}");
        assert!(!run.stderr.contains("panicked"), "{closed:?}: {run:?}");
        let config = std::fs::read_to_string(env.home().join(".aws/config")).unwrap();
        assert!(config.contains("[sso-session corp]"), "{closed:?}: {config}");
        assert_eq!(config.matches("aws_sso_process_generated = corp").count(), 9, "{closed:?}: {config}");
    }
}
