//! `exec`: credentials in the environment of one command; exit codes and signals pass through, no
//! nesting unless forced (docs/export-and-exec.md).

use crate::util::*;
use std::process::{Command, Stdio};

fn exec_env(env: &TestEnv, extra: &[&str]) -> std::collections::BTreeMap<String, String> {
    let mut args = vec!["exec"];
    args.extend_from_slice(extra);
    args.extend(["--", "env", "-0"]);
    let run = env.run(&args);
    run.assert_ok();
    run.stdout.split('\0').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn exec_sets_the_credentials_and_region_and_removes_the_profile() {
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("AWS_PROFILE", "dev-sso");
    env.set_env("AWS_DEFAULT_PROFILE", "dev-sso");
    env.set_env("AWS_SECURITY_TOKEN", "stale");
    env.set_env("KEEP_ME", "1");
    let vars = exec_env(&env, &[]);
    let creds = env.run(&["--profile", "dev-sso"]).json();
    assert_eq!(vars["AWS_ACCESS_KEY_ID"], creds["AccessKeyId"].as_str().unwrap());
    assert_eq!(vars["AWS_SECRET_ACCESS_KEY"], creds["SecretAccessKey"].as_str().unwrap());
    assert_eq!(vars["AWS_SESSION_TOKEN"], creds["SessionToken"].as_str().unwrap());
    assert_eq!(vars["AWS_CREDENTIAL_EXPIRATION"], creds["Expiration"].as_str().unwrap());
    assert_eq!(vars["AWS_REGION"], "eu-west-1");
    assert_eq!(vars["AWS_DEFAULT_REGION"], "eu-west-1");
    assert_eq!(vars["AWS_SSO_PROCESS_EXEC"], "dev-sso");
    assert_eq!(vars["KEEP_ME"], "1");
    for gone in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN"] {
        assert!(!vars.contains_key(gone), "{gone} must be removed");
    }

    // A region in the environment wins over the profile's; --sso-session targets name no profile.
    env.set_env("AWS_DEFAULT_REGION", "ap-south-1");
    let vars = exec_env(&env, &[]);
    assert!(!vars.contains_key("AWS_REGION"));
    assert_eq!(vars["AWS_DEFAULT_REGION"], "ap-south-1");
    env.unset_env("AWS_PROFILE");
    env.unset_env("AWS_DEFAULT_PROFILE");
    env.unset_env("AWS_DEFAULT_REGION");
    let vars = exec_env(&env, &["--sso-session", "corp", "--account-id", ACCOUNT, "--role-name", ROLE]);
    assert_eq!(vars["AWS_SSO_PROCESS_EXEC"], format!("corp/{ACCOUNT}/{ROLE}"));
    assert!(!vars.contains_key("AWS_REGION"), "no [default] profile, so no region");
}

/// The region of the profile the user named wins, also when its credential_process line leads
/// to a session target with no profile (what `configure generate` writes) or to a profile with
/// another region; only with no region there does the SSO profile's count.
#[test]
fn exec_takes_the_region_of_the_profile_the_user_named() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.write_config(&format!(
        "[profile dev]\ncredential_process = aws-sso-process --sso-session corp --account-id {ACCOUNT} --role-name {ROLE}\nregion = ca-central-1\n\n\
         [profile via-sso-profile]\ncredential_process = aws-sso-process --profile dev-sso\nregion = sa-east-1\n\n\
         [profile no-region]\ncredential_process = aws-sso-process --profile dev-sso\n\n\
         [profile dev-sso]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = {ROLE}\nregion = eu-west-1\n\n\
         [sso-session corp]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
    ));
    for (profile, region) in [("dev", "ca-central-1"), ("via-sso-profile", "sa-east-1"), ("no-region", "eu-west-1")] {
        let vars = exec_env(&env, &["--profile", profile]);
        assert_eq!(vars.get("AWS_REGION").map(String::as_str), Some(region), "{profile}");
        assert_eq!(vars.get("AWS_DEFAULT_REGION").map(String::as_str), Some(region), "{profile}");
    }
}

#[test]
fn exec_passes_exit_codes_through() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    for code in [0, 1, 42, 255] {
        let run = env.run(&["exec", "--profile", "dev-sso", "--", "sh", "-c", &format!("echo out; exit {code}")]);
        assert_eq!(run.code, code, "{run:?}");
        assert_eq!(run.stdout, "out\n");
        assert!(run.stderr.is_empty(), "{run:?}");
    }
    // Without `--` too: everything from the command on belongs to it.
    let run = env.run(&["exec", "--profile", "dev-sso", "sh", "-c", "exit 7", "--profile"]);
    assert_eq!(run.code, 7, "{run:?}");
}

#[cfg(unix)]
#[test]
fn exec_passes_a_signal_death_through() {
    use std::os::unix::process::ExitStatusExt;
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    for (signal, name) in [(15, "TERM"), (9, "KILL")] {
        let out = env
            .command(&["exec", "--profile", "dev-sso", "--", "sh", "-c", &format!("kill -{name} $$")])
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(signal), "{out:?}");
        // As a shell reports it: 128 + N.
        let shell = Command::new("sh")
            .arg("-c")
            .arg(format!("\"$0\" exec --profile dev-sso -- sh -c 'kill -{name} $$'; echo $?"))
            .arg(BIN)
            .env("HOME", env.home())
            .env("AWS_ENDPOINT_URL_SSO", env.fake.url())
            .env("AWS_ENDPOINT_URL_SSO_OIDC", env.fake.url())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&shell.stdout).trim(), (128 + signal).to_string());
    }
}

/// Plain `exec` becomes the command (same pid), so every signal sent to it is the command's,
/// SIGUSR1, SIGUSR2, SIGQUIT and SIGWINCH as well as the rest: consistent with `exec --server`.
#[cfg(unix)]
#[test]
fn exec_signals_reach_the_command_itself() {
    use std::io::{BufRead, BufReader, Read};
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let signals =
        [(libc::SIGUSR1, "USR1"), (libc::SIGUSR2, "USR2"), (libc::SIGQUIT, "QUIT"), (libc::SIGWINCH, "WINCH")];
    for (signal, name) in signals {
        let script = format!(
            "trap 'echo got {name}; exit 7' {name}; echo ready; i=0; \
             while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; echo no signal"
        );
        let mut child = env
            .command(&["exec", "--profile", "dev-sso", "--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        // SAFETY: signalling the process we started.
        unsafe { libc::kill(child.id() as i32, signal) };
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, format!("got {name}\n"));
        assert_eq!(child.wait().unwrap().code(), Some(7), "{name}");
    }
}

#[test]
fn exec_shares_stdin_and_stdout_with_the_command() {
    use std::io::Write;
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let mut child = env
        .command(&["exec", "--profile", "dev-sso", "--", "sh", "-c", "read line; echo \"got $line\"; echo err >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
}

#[test]
fn exec_refuses_to_nest_unless_forced() {
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    // A real nest: the inner exec sees the outer one's mark.
    let run = env.run(&["exec", "--profile", "dev-sso", "--", BIN, "exec", "--profile", "dev-sso", "--", "true"]);
    run.assert_fails(1, "already inside 'aws-sso-process exec' for dev-sso");
    assert!(run.stderr.contains("hint: leave that shell first, or pass --force"), "{run:?}");
    let run =
        env.run(&["exec", "--profile", "dev-sso", "--", BIN, "exec", "--force", "--profile", "dev-sso", "--", "true"]);
    run.assert_ok();
    // The check comes before any credential work.
    env.set_env("AWS_SSO_PROCESS_EXEC", "prod");
    let before = env.fake.requests().len();
    env.run(&["exec", "--profile", "nope", "--", "true"]).assert_fails(1, "for prod");
    assert_eq!(env.fake.requests().len(), before);
}

#[test]
fn exec_of_a_missing_or_unrunnable_command_exits_like_a_shell() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["exec", "--profile", "dev-sso", "--", "no-such-command-here", "arg"]);
    run.assert_fails(127, "cannot run 'no-such-command-here': command not found");
    let file = env.home().join("not-executable");
    env.write_file(&file, "echo hi\n");
    let run = env.run(&["exec", "--profile", "dev-sso", "--", file.to_str().unwrap()]);
    run.assert_fails(126, "cannot run");
    // Without a session nothing runs: the login hint, exit 3.
    let env = TestEnv::new();
    let marker = env.home().join("ran");
    let run = env.run(&["exec", "--profile", "dev-sso", "--", "touch", marker.to_str().unwrap()]);
    run.assert_fails(3, "aws-sso-process login");
    assert!(!marker.exists());
    // No command at all is a usage error.
    assert_eq!(env.run(&["exec", "--profile", "dev-sso"]).code, 2);
}
