//! `setup` (docs/configure-generate.md): unattended with every flag and no terminal, interactive on a real
//! pseudo-terminal, re-runs that change nothing; and the bare command's first steps.

use crate::util::*;
use std::process::Stdio;

const SESSION: &str = "[sso-session corp]\n\
                       sso_start_url = https://corp.awsapps.com/start\n\
                       sso_region = us-east-1\n\
                       sso_registration_scopes = sso:account:access\n\
                       aws_sso_process_generated = setup\n";

fn config(env: &TestEnv) -> String {
    std::fs::read_to_string(env.home().join(".aws/config")).unwrap_or_default()
}

/// Every flag: runs without a terminal.
const UNATTENDED: [&str; 11] = [
    "setup",
    "--start-url",
    START_URL,
    "--region",
    "us-east-1",
    "--sso-session",
    "corp",
    "--scopes",
    "sso:account:access",
    "--generate",
    "all",
];

#[test]
fn unattended_setup_writes_the_session_logs_in_and_generates_profiles_botocore_uses() {
    let env = TestEnv::new();
    let mine = "# my settings\n[default]\nregion = eu-west-1\noutput = json\n";
    env.write_config(mine);
    let run = env.run(&UNATTENDED);
    run.assert_ok();
    assert!(run.stdout.contains("added [sso-session corp] to "), "{run:?}");
    assert!(run.stdout.contains("corp: logged in, valid until "), "{run:?}");
    assert!(run.stdout.contains("corp reaches 5 accounts with 9 roles"), "{run:?}");
    assert!(run.stdout.contains("9 added, 0 kept, 0 removed in "), "{run:?}");
    assert!(run.stderr.contains("using the device code flow because there is no display"), "{run:?}");
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);

    // The user's lines byte for byte, then the session, then the profiles.
    let written = config(&env);
    assert!(written.starts_with(&format!("{mine}\n{SESSION}\n# ")), "{written}");
    assert_eq!(written.matches("aws_sso_process_generated = corp\n").count(), 9, "{written}");
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/config.bak")).unwrap(), mine);
    // The binary is not on this PATH: the profiles name it by its full path.
    let me = std::fs::canonicalize(BIN).unwrap();
    assert!(written.contains(&format!("credential_process = {} --sso-session corp ", me.display())), "{written}");
    let token = env.corp_token();
    assert_eq!(token["startUrl"], START_URL);
    assert!(token["refreshToken"].is_string());

    // botocore runs a generated profile's credential_process and gets the role's credentials.
    let script = r#"
import json, boto3
c = boto3.Session(profile_name='sandbox.PowerUser').get_credentials().get_frozen_credentials()
print(json.dumps({"key": c.access_key}))
"#;
    if let Some(py) = crate::interop::python(&env, script) {
        assert!(py.stdout.contains("\"key\""), "{py:?}");
        let call = &env.fake.calls("GetRoleCredentials")[0];
        assert_eq!(
            (call.query["account_id"].as_str(), call.query["role_name"].as_str()),
            ("444455556666", "PowerUser")
        );
        assert_eq!(call.headers["x-amz-sso_bearer_token"], token["accessToken"].as_str().unwrap());
    }

    // The same answers again: nothing to change, the file byte-identical, no new login.
    let before = snapshot(&env.home().join(".aws"));
    let again = env.run(&UNATTENDED);
    again.assert_ok();
    assert!(again.stdout.contains("[sso-session corp] is already in "), "{again:?}");
    assert!(again.stdout.contains("corp: already logged in"), "{again:?}");
    assert!(again.stdout.ends_with("nothing to change\n"), "{again:?}");
    assert_eq!(config(&env), written);
    let after = snapshot(&env.home().join(".aws"));
    let files = |s: &[(String, Vec<u8>)]| s.iter().filter(|(p, _)| !p.starts_with("cli/")).cloned().collect::<Vec<_>>();
    assert_eq!(files(&after), files(&before), "no file but the role cache changed");
    assert_eq!(env.fake.count("StartDeviceAuthorization"), 1);
    assert_eq!(env.fake.count("RegisterClient"), 1);
}

/// Unattended, a filter that matches nothing is an error that lists what exists, and nothing is
/// generated; a second run with another `--profile-region` sets it on the profiles already there.
#[test]
fn a_filter_matching_nothing_fails_and_a_new_profile_region_updates_the_profiles() {
    let env = TestEnv::new();
    let run = env.run(&[&UNATTENDED[..], &["--accounts", "dev|sandbox-nope", "--roles", "^nothing$"]].concat());
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("--roles '^nothing$' matches none of the "), "{run:?}");
    assert!(run.stderr.contains("ReadOnly"), "lists what exists: {run:?}");
    assert!(!config(&env).contains("aws_sso_process_generated = corp"), "{}", config(&env));

    let run = env.run(&[&UNATTENDED[..], &["--profile-region", "eu-west-2"]].concat());
    run.assert_ok();
    // TestEnv's config has dev-sso by hand for one of the nine roles: eight are generated.
    assert_eq!(config(&env).matches("region = eu-west-2\naws_sso_process_generated = corp\n").count(), 8);
    let run = env.run(&[&UNATTENDED[..], &["--profile-region", "ap-south-1"]].concat());
    run.assert_ok();
    assert!(run.stdout.contains("0 added, 8 updated"), "{run:?}");
    let written = config(&env);
    assert_eq!(written.matches("region = ap-south-1\naws_sso_process_generated = corp\n").count(), 8, "{written}");
    assert!(!written.contains("eu-west-2") && written.contains("region = eu-west-1\n"), "{written}");
}

/// The session's start URL given with a trailing slash or the host in other letters is the same
/// portal: the session is adopted as it is (its own spelling kept), not refused as a contradiction.
#[test]
fn a_start_url_that_differs_only_by_a_slash_or_the_hosts_case_adopts_the_session() {
    let env = TestEnv::new();
    env.write_config(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\
         sso_registration_scopes = sso:account:access\n",
    );
    env.seed_corp_token(7200);
    let before = config(&env);
    for url in ["https://corp.awsapps.com/start/", "https://CORP.AwsApps.com/start", "https://Corp.awsapps.com/start/"]
    {
        let run = env.run(&[
            "setup",
            "--sso-session",
            "corp",
            "--start-url",
            url,
            "--region",
            "us-east-1",
            "--generate",
            "none",
        ]);
        run.assert_ok();
        assert!(run.stdout.starts_with("[sso-session corp] is already in "), "{url}: {run:?}");
        assert!(run.stdout.contains("nothing to change"), "{url}: {run:?}");
        assert_eq!(config(&env), before, "{url}");
    }
    // Another path is another portal: still refused.
    let run = env.run(&[
        "setup",
        "--sso-session",
        "corp",
        "--start-url",
        "https://corp.awsapps.com/START",
        "--region",
        "us-east-1",
        "--generate",
        "none",
    ]);
    run.assert_fails(1, "sso_start_url https://corp.awsapps.com/start (not https://corp.awsapps.com/START)");
    assert_eq!(config(&env), before);
}

#[test]
fn an_existing_session_is_never_rewritten() {
    let env = TestEnv::new();
    // Same settings, scopes left to their default: nothing to change, and no generation asked.
    env.write_config("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n");
    env.seed_corp_token(7200);
    let before = config(&env);
    let args = ["setup", "--start-url", START_URL, "--region", "us-east-1", "--generate", "none"];
    let run = env.run(&args);
    run.assert_ok();
    // The config's session for that start URL is adopted, and the scopes it lacks are offered.
    assert!(run.stderr.contains("using [sso-session corp] of "), "{run:?}");
    assert!(
        run.stderr.contains("has no sso_registration_scopes, so its token cannot be refreshed; --scopes"),
        "{run:?}"
    );
    assert!(run.stdout.ends_with("nothing to change\n"), "{run:?}");
    assert_eq!(config(&env), before);
    assert!(!env.home().join(".aws/config.bak").exists());
    let requests = env.fake.requests().len();

    // Another region under the same name: an error naming both, the file untouched.
    let run = env.run(&[
        "setup",
        "--start-url",
        START_URL,
        "--region",
        "eu-west-1",
        "--sso-session",
        "corp",
        "--scopes",
        "sso:account:access",
        "--generate",
        "none",
    ]);
    run.assert_fails(1, "sso_region us-east-1 (not eu-west-1)");
    assert!(run.stderr.contains("hint: give another --sso-session name"), "{run:?}");
    assert_eq!(config(&env), before);
    assert_eq!(env.fake.requests().len(), requests, "refused before any request");
}

#[test]
fn without_a_terminal_missing_answers_are_errors_that_name_the_flag() {
    let env = TestEnv::new();
    std::fs::remove_file(env.home().join(".aws/config")).unwrap();
    for (args, needle) in [
        // Every missing answer at once, not one a run.
        (&["setup"][..], "no terminal to ask on; give --start-url, --region and --generate all (or none)"),
        (&["setup", "--generate", "all"][..], "give --start-url and --region"),
        (&["setup", "--start-url", START_URL, "--generate", "all"][..], "give --region"),
        (&["setup", "--start-url", START_URL, "--region", "us-east-1"][..], "give --generate all (or none)"),
        (
            &["setup", "--start-url", START_URL, "--region", "us-east-l", "--generate", "all"][..],
            "\"us-east-l\" is not a region name like us-east-1",
        ),
        (
            &["setup", "--start-url", "http://corp", "--generate", "all"][..],
            "--start-url: a start URL begins with https://",
        ),
        (
            &["setup", "--start-url", START_URL, "--region", "us-east-1", "--sso-session", "a]b", "--generate", "all"]
                [..],
            "cannot contain ']'",
        ),
        (&["setup", "--scopes", "a b", "--generate", "all"][..], "--scopes: a scope cannot contain ' '"),
        (&["setup", "--profile", "dev", "--generate", "all"][..], "setup takes --start-url"),
        (&["setup", "--template", "{nope}", "--generate", "all"][..], "unknown placeholder"),
    ] {
        env.run(args).assert_fails(2, needle);
    }
    assert!(!env.home().join(".aws/config").exists());
    assert!(env.fake.requests().is_empty());
    // --start-url with --sso-session is still refused everywhere else.
    env.run(&["login", "--start-url", START_URL, "--sso-session", "corp"])
        .assert_fails(2, "cannot be used with --sso-session");
}

/// A session setup added, whose first login fails (a wrong region or start URL, a denied sign-in),
/// is taken out again, so that running setup again with the right answers works; the user's own
/// file is back byte for byte.
#[test]
fn a_failed_first_login_takes_the_new_session_out_again() {
    let env = TestEnv::new();
    let mine = "# my settings\n[default]\nregion = eu-west-1\n";
    env.write_config(mine);
    env.fake.set_device_mode(crate::util::fake::DeviceMode::Deny, 0);
    let args =
        ["setup", "--start-url", START_URL, "--region", "us-east-1", "--sso-session", "corp", "--generate", "all"];
    let run = env.run(&[&args[..], &["--use-device-code"]].concat());
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("took [sso-session corp] out of "), "{run:?}");
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/config")).unwrap(), mine);

    // No config before: none after.
    std::fs::remove_file(env.home().join(".aws/config")).unwrap();
    let run = env.run(&[&args[..], &["--use-device-code"]].concat());
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!env.home().join(".aws/config").exists(), "{run:?}");

    // The same answers again, with the sign-in approved: set up.
    env.fake.set_device_mode(crate::util::fake::DeviceMode::Approve, 0);
    env.run(&[&args[..], &["--use-device-code"]].concat()).assert_ok();
    assert!(std::fs::read_to_string(env.home().join(".aws/config")).unwrap().contains("[sso-session corp]"));
}

/// A config as `aws configure sso` writes it (a `[default]` region, one profile, one session).
fn cli_v2_config() -> String {
    std::fs::read_to_string(repo().join("tests/data/aws-configure-sso.config")).unwrap()
}

/// Setup over a config the AWS CLI v2 wrote: `--sso-session corp` adopts the session (its URL,
/// region and scopes; nothing asked, nothing duplicated, not a byte of it changed) and the
/// profiles get `[default]`'s region, or --profile-region's.
#[test]
fn setup_adopts_a_session_the_aws_cli_wrote() {
    let env = TestEnv::new();
    let theirs = cli_v2_config();
    env.write_config(&theirs);
    let run = env.run(&["setup", "--sso-session", "corp", "--generate", "all"]);
    run.assert_ok();
    assert!(run.stderr.contains("using [sso-session corp] of "), "{run:?}");
    assert!(run.stdout.contains("[sso-session corp] is already in "), "{run:?}");
    assert!(
        run.stderr.contains("region for the profiles: eu-west-1 (the default; --profile-region sets it)"),
        "{run:?}"
    );
    assert!(run.stdout.contains("9 added, 0 kept, 0 removed"), "{run:?}");
    let written = config(&env);
    assert!(written.starts_with(&theirs), "{written}");
    assert_eq!(written.matches("[sso-session ").count(), 1, "{written}");
    assert_eq!(written.matches("region = eu-west-1\naws_sso_process_generated = corp\n").count(), 9, "{written}");
    assert_eq!(env.corp_token()["startUrl"], START_URL);

    // Without a terminal and without --sso-session, the config's only session is the one.
    let env = TestEnv::new();
    env.write_config(&theirs);
    let run = env.run(&["setup", "--generate", "none"]);
    run.assert_ok();
    assert!(run.stderr.contains("using [sso-session corp] of "), "{run:?}");
    assert_eq!(config(&env), theirs);

    // --profile-region sets it without a question.
    let env = TestEnv::new();
    env.write_config(&theirs);
    env.run(&["setup", "--sso-session", "corp", "--generate", "all", "--profile-region", "ap-south-1"]).assert_ok();
    let written = config(&env);
    assert_eq!(written.matches("region = ap-south-1\naws_sso_process_generated = corp\n").count(), 9, "{written}");
    env.run(&["setup", "--sso-session", "corp", "--generate", "all", "--profile-region", "ap-south-l"])
        .assert_fails(2, "--profile-region: \"ap-south-l\" is not a region name");

    // A flag that says otherwise is an error naming the difference, before any request.
    let env = TestEnv::new();
    env.write_config(&theirs);
    let run = env.run(&["setup", "--sso-session", "corp", "--region", "eu-west-1", "--generate", "all"]);
    run.assert_fails(1, "sso_region us-east-1 (not eu-west-1)");
    let run = env.run(&["setup", "--sso-session", "corp", "--start-url", "https://other.awsapps.com/start"]);
    run.assert_fails(1, "sso_start_url https://corp.awsapps.com/start (not https://other.awsapps.com/start)");
    // Another name for the same start URL would be a second session for it.
    let run = env.run(&["setup", "--start-url", START_URL, "--sso-session", "work", "--generate", "none"]);
    run.assert_fails(2, "is already [sso-session corp] in ");
    assert_eq!(config(&env), theirs);
    assert!(env.fake.requests().is_empty());
}

/// A session without sso_registration_scopes: unattended, --scopes adds them (saying so) and
/// nothing else changes; without --scopes they are only offered (see
/// an_existing_session_is_never_rewritten).
#[test]
fn scopes_are_added_to_an_adopted_session_only_when_asked() {
    let env = TestEnv::new();
    let mine = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n";
    env.write_config(mine);
    let run = env.run(&["setup", "--sso-session", "corp", "--scopes", "sso:account:access", "--generate", "none"]);
    run.assert_ok();
    assert!(run.stdout.contains("added sso_registration_scopes = sso:account:access to [sso-session corp]"), "{run:?}");
    assert_eq!(
        config(&env),
        format!("[sso-session corp]\nsso_registration_scopes = sso:account:access\n{}", &mine[19..])
    );
}

#[cfg(unix)]
mod on_a_terminal {
    use super::*;
    use crate::util::pty::{self, Wire};

    /// Answers every question on a real terminal; returns the screen and the run.
    fn interactive(no_color: bool) -> (TestEnv, String, Run) {
        let mut env = TestEnv::new();
        std::fs::remove_file(env.home().join(".aws/config")).unwrap();
        env.unset_env("AWS_SSO_PROCESS_TTY");
        if no_color {
            env.set_env("NO_COLOR", "1");
        }
        // A hostile portal's account: its name and ID reach the terminal as inert text.
        let mut accounts = crate::util::fake::default_accounts();
        accounts.push(crate::util::fake::FakeAccount::new(
            "6666\x1b[2J77778888",
            "Evil\x1b]0;pwned\x07\u{202e}gnikcah",
            &["Admin"],
        ));
        env.fake.set_accounts(accounts);
        let mut cmd = env.command(&["setup"]);
        let (mut tty, child) = pty::spawn(&mut cmd, Wire::ControllingTerminal);
        let mut at = tty.expect(0, "SSO start URL");
        tty.type_line("corp.awsapps.com");
        at = tty.expect(at, "a start URL begins with https://");
        at = tty.expect(at, "SSO start URL");
        tty.type_line(START_URL);
        at = tty.expect(at, "SSO region");
        tty.type_line("us-east-1");
        at = tty.expect(at, "SSO session name");
        tty.type_line("");
        at = tty.expect(at, "Registration scopes");
        tty.type_line("");
        at = tty.expect(at, "using the device code flow because there is no display");
        at = tty.expect(at, "Generate a profile for each account and role? all, some or none");
        // A filter that matches nothing says what exists, and the question comes again.
        tty.type_line("some");
        at = tty.expect(at, "Only accounts whose name or ID matches");
        tty.type_line("^nothing-here$");
        at = tty.expect(at, "Only roles whose name matches");
        tty.type_line("");
        at = tty.expect(at, "--accounts '^nothing-here$' matches none of the 6 accounts: ");
        at = tty.expect(at, "Generate a profile for each account and role? all, some or none");
        tty.type_line("some");
        at = tty.expect(at, "Only accounts whose name or ID matches");
        tty.type_line("^SANDBOX$");
        at = tty.expect(at, "Only roles whose name matches");
        tty.type_line("");
        // No [default] region in the config: the SSO region is the default.
        tty.expect(at, "Region for the profiles");
        tty.type_line("eu-central-1");
        let out = child.wait_with_output().unwrap();
        (env, tty.screen(), to_run(out))
    }

    #[test]
    fn interactive_setup_asks_on_the_terminal() {
        let (env, screen, run) = interactive(false);
        run.assert_ok();
        assert!(screen.contains("\x1b[1mSSO start URL\x1b[0m: "), "bold questions:\n{screen:?}");
        assert!(screen.contains("[\x1b[2mcorp\x1b[0m]"), "dim defaults:\n{screen:?}");
        assert!(run.stdout.contains("added [sso-session corp] to "), "{run:?}");
        assert!(run.stdout.contains("3 added, 0 kept, 0 removed"), "{run:?}");
        for p in ["sandbox.Admin", "sandbox.Developer", "sandbox.PowerUser"] {
            assert!(run.stdout.contains(&format!("added profile {p}\n")), "{run:?}");
        }
        assert!(
            !run.stdout.contains("SSO start URL") && !run.stderr.contains("SSO start URL"),
            "questions only on the terminal"
        );
        assert!(config(&env).starts_with(SESSION), "{}", config(&env));
        // The region typed for the profiles, not the SSO region.
        assert_eq!(config(&env).matches("region = eu-central-1\naws_sso_process_generated = corp\n").count(), 3);
        assert!(env.corp_token()["accessToken"].is_string());
    }

    #[test]
    fn no_color_means_no_escape_sequences_on_the_terminal() {
        let (_env, screen, run) = interactive(true);
        run.assert_ok();
        assert!(!screen.contains('\x1b'), "{screen:?}");
        // What the session reaches, before the question which profiles to write.
        let listed = screen.find("  Development (111122223333): Developer, ReadOnly").expect(&screen);
        assert!(screen.contains("  Sandbox (444455556666): Admin, Developer, PowerUser"), "{screen:?}");
        assert!(listed < screen.find("Generate a profile for each account and role?").unwrap(), "{screen:?}");
        assert!(screen.contains("SSO session name [corp]: "), "{screen:?}");
        assert!(screen.contains("  Evil?]0;pwned??gnikcah (6666?[2J77778888): Admin"), "{screen:?}");
        assert!(!screen.contains('\u{202e}') && !screen.contains('\x07'), "{screen:?}");
    }

    /// Setup with every answer given, waiting for the browser's sign-in on a terminal.
    fn waiting_for_the_login(env: &mut TestEnv, region: &str) -> (pty::Pty, std::process::Child) {
        env.unset_env("AWS_SSO_PROCESS_TTY");
        env.set_env("DISPLAY", ":0");
        let args =
            ["setup", "--start-url", START_URL, "--region", region, "--sso-session", "corp", "--generate", "all"];
        let mut cmd = env.command(&[&args[..], &["--scopes", "sso:account:access", "--no-browser"]].concat());
        let (tty, child) = pty::spawn(&mut cmd, Wire::ControllingTerminal);
        assert!(
            wait_for(std::time::Duration::from_secs(20), || tty.raw_screen().contains("Ctrl-C to stop")),
            "{:?}",
            tty.raw_screen()
        );
        (tty, child)
    }

    /// Ctrl-C, SIGTERM or a closed terminal (SIGHUP) while setup waits for the login: the
    /// session it added is taken out again, the file is back byte for byte, and the exit code is
    /// the shell's 128 + the signal.
    #[test]
    fn a_signal_while_the_login_waits_puts_the_config_back() {
        for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
            let mut env = TestEnv::new();
            let mine = "# my settings\n[default]\nregion = eu-west-1\n";
            env.write_config(mine);
            let (mut tty, child) = waiting_for_the_login(&mut env, "us-east-1");
            assert!(config(&env).contains("[sso-session corp]"));
            if signal == libc::SIGINT {
                tty.send("\x03");
            } else {
                // SAFETY: kill sends a signal to our own child.
                assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
            }
            let run = to_run(pty::finish(child, &tty, std::time::Duration::from_secs(20)));
            assert_eq!(run.code, code, "signal {signal}: {run:?}");
            assert!(run.stderr.contains("took [sso-session corp] out of "), "{run:?}");
            assert!(run.stderr.contains("since setup was interrupted"), "{run:?}");
            assert_eq!(config(&env), mine, "signal {signal}");
        }
    }

    /// After a SIGKILL nothing can be undone; the next setup knows the session as one of its own
    /// that never logged in (the mark, no token, no profile uses it) and replaces it. Once logged
    /// in, the session is the user's: another region is refused again.
    #[test]
    fn after_a_kill_the_next_setup_replaces_the_session_it_left() {
        let mut env = TestEnv::new();
        let mine = "# my settings\n[default]\nregion = eu-west-1\n";
        env.write_config(mine);
        let (tty, mut child) = waiting_for_the_login(&mut env, "us-east-2");
        child.kill().unwrap();
        let _ = pty::finish(child, &tty, std::time::Duration::from_secs(20));
        assert!(config(&env).contains("sso_region = us-east-2"), "{}", config(&env));

        let args = [
            "setup",
            "--start-url",
            START_URL,
            "--region",
            "us-east-1",
            "--sso-session",
            "corp",
            "--scopes",
            "sso:account:access",
            "--generate",
            "none",
        ];
        env.unset_env("DISPLAY");
        env.set_env("AWS_SSO_PROCESS_TTY", "none");
        let run = env.run(&[&args[..], &["--use-device-code"]].concat());
        run.assert_ok();
        assert!(run.stdout.contains("replaced [sso-session corp] in "), "{run:?}");
        assert!(run.stdout.contains("never finished its login"), "{run:?}");
        assert_eq!(config(&env), format!("{mine}\n{SESSION}"));

        let other = ["setup", "--start-url", START_URL, "--region", "eu-west-1", "--sso-session", "corp"];
        env.run(&[&other[..], &["--scopes", "sso:account:access", "--generate", "none"]].concat())
            .assert_fails(1, "sso_region us-east-1 (not eu-west-1)");
    }

    /// On a terminal over the AWS CLI's config: the sessions it has are offered, the chosen one
    /// is adopted (no start URL, region, name or scopes question), and the profiles' region
    /// question defaults to [default]'s region.
    #[test]
    fn on_a_terminal_setup_offers_the_sessions_the_config_has() {
        let mut env = TestEnv::new();
        env.unset_env("AWS_SSO_PROCESS_TTY");
        env.set_env("NO_COLOR", "1");
        let theirs = format!(
            "{}[profile old]\nsso_start_url = https://old.awsapps.com/start\nsso_region = eu-west-2\n\
             sso_account_id = 111122223333\nsso_role_name = Admin\n",
            cli_v2_config()
        );
        env.write_config(&theirs);
        let mut cmd = env.command(&["setup"]);
        let (mut tty, child) = pty::spawn(&mut cmd, Wire::ControllingTerminal);
        let mut at = tty.expect(0, "SSO sessions in the config:\n");
        at = tty.expect(at, "  1) corp: https://corp.awsapps.com/start (us-east-1)\n");
        at = tty.expect(at, "  2) https://old.awsapps.com/start (eu-west-2, legacy: profile old;");
        at = tty.expect(at, "  3) a new one\n");
        at = tty.expect(at, "SSO session [1]: ");
        tty.type_line("7");
        at = tty.expect(at, "answer a number from 1 to 3");
        tty.type_line("corp");
        at = tty.expect(at, "Generate a profile for each account and role?");
        tty.type_line("all");
        at = tty.expect(at, "Region for the profiles [eu-west-1]: ");
        tty.type_line("");
        let run = to_run(pty::finish(child, &tty, std::time::Duration::from_secs(30)));
        run.assert_ok();
        let screen = tty.screen();
        for never in ["SSO start URL", "SSO region", "SSO session name", "Registration scopes"] {
            assert!(!screen[..at].contains(never), "{never}: {screen}");
        }
        let written = config(&env);
        assert!(written.starts_with(&theirs), "{written}");
        assert_eq!(written.matches("[sso-session ").count(), 1, "{written}");
        assert_eq!(written.matches("region = eu-west-1\naws_sso_process_generated = corp\n").count(), 9, "{written}");

        // A session without scopes: adding them is offered; "no" leaves the file as it was.
        let mut env = TestEnv::new();
        env.unset_env("AWS_SSO_PROCESS_TTY");
        env.set_env("NO_COLOR", "1");
        let mine = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n";
        env.write_config(mine);
        let mut cmd = env.command(&["setup", "--sso-session", "corp", "--generate", "none"]);
        let (mut tty, child) = pty::spawn(&mut cmd, Wire::ControllingTerminal);
        tty.expect(0, "Add sso_registration_scopes = sso:account:access? yes or no [yes]: ");
        tty.type_line("no");
        to_run(pty::finish(child, &tty, std::time::Duration::from_secs(30))).assert_ok();
        assert_eq!(config(&env), mine);
    }

    #[test]
    fn end_of_input_on_the_terminal_stops_before_anything_is_written() {
        let mut env = TestEnv::new();
        env.unset_env("AWS_SSO_PROCESS_TTY");
        let before = config(&env);
        let mut cmd = env.command(&["setup", "--generate", "none"]);
        let (mut tty, child) = pty::spawn(&mut cmd, Wire::ControllingTerminal);
        tty.expect(0, "SSO session");
        tty.type_line("\x04"); // ^D after a line: the next read is the end of input
        let run = to_run(child.wait_with_output().unwrap());
        run.assert_fails(1, "no answer for the SSO session (end of input)");
        assert_eq!(config(&env), before);
    }

    #[test]
    fn the_bare_command_on_a_terminal_prints_the_json_and_says_what_it_is() {
        let env = TestEnv::new();
        env.seed_corp_token(7200);
        env.seed_corp_role(3600);
        let mut cmd = env.command(&["--profile", "dev"]);
        let (tty, child) = pty::spawn(&mut cmd, Wire::Stdout);
        let run = to_run(child.wait_with_output().unwrap());
        tty.expect(0, "}");
        let json: serde_json::Value = serde_json::from_str(tty.screen().trim()).unwrap();
        assert_eq!(json["AccessKeyId"], "ASIACACHED");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{run:?}");
        assert!(
            lines[0].contains("this is credential_process output (account 111122223333, role Developer"),
            "{run:?}"
        );

        // Not a terminal (as the SDKs run it): nothing on stderr.
        let piped = env.command(&["--profile", "dev"]).stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
        let piped = to_run(piped);
        piped.assert_ok();
        assert!(piped.stderr.is_empty(), "{piped:?}");
        assert_eq!(piped.json()["AccessKeyId"], "ASIACACHED");
    }
}

#[test]
fn the_bare_command_with_nothing_set_up_says_what_to_run() {
    let env = TestEnv::new();
    std::fs::remove_file(env.home().join(".aws/config")).unwrap();
    let run = env.run(&[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.is_empty());
    let config = env.home().join(".aws/config");
    assert_eq!(
        run.stderr,
        format!(
            "aws-sso-process: the AWS config file {} does not exist\n\
             hint: aws-sso-process gets AWS credentials from IAM Identity Center (SSO) for the AWS CLI and SDKs, \
             which run it as a profile's credential_process\n  \
             to start, run 'aws-sso-process setup': it signs you in and writes one profile per account and role\n  \
             then: 'aws sts get-caller-identity --profile NAME', or 'aws-sso-process exec --profile NAME -- COMMAND'; \
             'aws-sso-process --help' lists the rest\n",
            config.display()
        )
    );
    assert!(!run.stderr.contains("aws configure"), "{run:?}");

    // A config with a plain [default] and no session: the same first steps.
    env.write_config("[default]\nregion = eu-west-1\n");
    let run = env.run(&[]);
    assert!(run.stderr.contains("run 'aws-sso-process setup'"), "{run:?}");

    // A profile named, or anything set up: the specific message, not the introduction.
    let run = env.run(&["--profile", "nope"]);
    assert!(!run.stderr.contains("aws-sso-process setup"), "{run:?}");
    for config in ["[default]\nsso_session = corp\n", DEFAULT_CONFIG] {
        env.write_config(config);
        let run = env.run(&[]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(!run.stderr.contains("aws-sso-process setup"), "{run:?}");
    }
}
