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
    // The exit code with stdout, then stderr, closed. Only the commands whose point is what they
    // print on stdout (credentials, a link) fail without a reader there, with one line on stderr.
    let commands: &[(&[&str], i32, i32)] = &[
        (&["--profile", "dev"], 1, 0),
        (&["login", "--sso-session", "corp", "--use-device-code", "--no-browser"], 0, 0),
        (&["refresh", "--sso-session", "corp"], 0, 0),
        (&["refresh", "--all"], 0, 0),
        (&["status"], 0, 0),
        (&["status", "--json"], 0, 0),
        (&["list", "--sso-session", "corp"], 0, 0),
        (&["configure", "generate", "--sso-session", "corp"], 0, 0),
        (&["configure", "generate", "--sso-session", "corp", "--write"], 0, 0),
        (&["export", "--profile", "dev"], 1, 0),
        (&["console", "--profile", "dev", "--no-browser"], 1, 0),
        (&["register-client", "--generate-cli-skeleton"], 0, 0),
        (&["completions", "bash"], 0, 0),
        (&["man"], 0, 0),
        (&["--help"], 0, 0),
        (&["--version"], 0, 0),
        (&["status", "--no-such-flag"], 2, 2),
        (&["--profile", "nope"], 1, 1),
        (&["logout", "--sso-session", "corp"], 0, 0),
        (&["logout", "--all"], 0, 0),
    ];
    for closed in [Closed::Stdout, Closed::Stderr] {
        let mut env = TestEnv::new();
        let signin = env.fake.url();
        env.set_env("AWS_ENDPOINT_URL_SIGNIN", &signin);
        for (args, on_stdout, on_stderr) in commands {
            env.seed_corp_token(7200);
            let run = run_closed(&env, args, closed);
            let want = match closed {
                Closed::Stdout => *on_stdout,
                Closed::Stderr => *on_stderr,
            };
            assert_eq!(run.code, want, "{args:?} with {closed:?} closed: {run:?}");
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

fn run_full(env: &TestEnv, args: &[&str]) -> Run {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let mut cmd = env.command(args);
    cmd.stdout(Stdio::from(full)).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if !wait_for(HANG_LIMIT, || child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
        panic!("{args:?} with stdout at /dev/full still ran after {HANG_LIMIT:?}");
    }
    to_run(child.wait_with_output().unwrap())
}

/// Stdout that cannot be written for another reason than a closed pipe (a full disk, here
/// /dev/full): every command that prints finishes its work, then exits with 1 and one line
/// naming the error, never 0 with its output lost.
#[test]
fn a_full_stdout_is_an_error_for_every_command() {
    let commands: &[&[&str]] = &[
        &["list", "--sso-session", "corp"],
        &["list", "--sso-session", "corp", "--json"],
        &["status"],
        &["status", "--json"],
        &["status", "--prompt"],
        &["refresh", "--sso-session", "corp"],
        &["refresh", "--all"],
        &["configure", "generate", "--sso-session", "corp"],
        &["configure", "generate", "--sso-session", "corp", "--write"],
        &["--profile", "dev"],
        &["export", "--profile", "dev"],
    ];
    let env = TestEnv::new();
    for args in commands {
        env.seed_corp_token(7200);
        let run = run_full(&env, args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(!run.stderr.contains("panicked"), "{args:?}: {run:?}");
        let lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains("cannot write to stdout")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {run:?}");
        assert!(lines[0].contains("No space left on device"), "{args:?}: {run:?}");
    }
    // `configure generate --write` still wrote its profiles (dev-sso already served one role).
    let config = std::fs::read_to_string(env.home().join(".aws/config")).unwrap();
    assert_eq!(config.matches("aws_sso_process_generated = corp").count(), 8, "{config}");

    // setup: the session and the profiles are written, then the run fails for what it could not print.
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
    let run = run_full(&env, &args);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stderr.matches("cannot write to stdout: No space left on device").count(), 1, "{run:?}");
    let config = std::fs::read_to_string(env.home().join(".aws/config")).unwrap();
    assert_eq!(config.matches("aws_sso_process_generated = corp").count(), 9, "{config}");
}
