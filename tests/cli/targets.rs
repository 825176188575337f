//! Every command resolves its target the same way (docs/credential-process.md). The profile tools use (whose
//! `credential_process` runs aws-sso-process) names the target its line names; one default order
//! (AWS_PROFILE, [default], the only sso-session); loops, unknown names and a missing config explain
//! themselves with a hint that keeps the subcommand.

use crate::util::{ACCOUNT, BIN, CORP_KEY, CORP_ROLE_KEY, DEFAULT_CONFIG, ROLE, TestEnv};

/// Every command with the tool-facing profile `dev` (its line: `aws-sso-process --profile dev-sso`).
#[test]
fn every_command_accepts_the_profile_tools_use() {
    let mut env = TestEnv::new();
    // A second session: a command that ignored `dev` would have to ask which one.
    env.write_config(&format!(
        "{DEFAULT_CONFIG}\n[sso-session other]\nsso_start_url = https://other.awsapps.com/start\nsso_region = eu-west-1\n"
    ));
    env.seed_corp_token(7200);
    let out = env.run(&["--profile", "dev"]);
    out.assert_ok();
    assert_eq!(out.json()["AccountId"], ACCOUNT);
    env.run(&["export", "--profile", "dev"]).assert_ok();
    let exec = env.run(&["exec", "--profile", "dev", "--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID"]);
    exec.assert_ok();
    assert!(exec.stdout.starts_with("ASIA"), "{exec:?}");
    let refresh = env.run(&["refresh", "--profile", "dev"]);
    refresh.assert_ok();
    assert!(refresh.stdout.starts_with("corp"), "{refresh:?}");
    let list = env.run(&["list", "--profile", "dev"]);
    list.assert_ok();
    assert!(list.stdout.contains("corp"), "{list:?}");
    let generate = env.run(&["configure", "generate", "--profile", "dev"]);
    generate.assert_ok();
    assert!(generate.stdout.contains("[profile "), "{generate:?}");
    assert!(generate.stdout.contains("--sso-session corp --account-id"), "{generate:?}");
    let status = env.run(&["status", "--profile", "dev"]);
    status.assert_ok();
    assert!(status.stdout.contains("\nsso-session corp  ") && !status.stdout.contains("sso-session other  "));
    env.set_env("AWS_ENDPOINT_URL_SIGNIN", &env.fake.url());
    let console = env.run(&["console", "--profile", "dev", "--no-browser"]);
    console.assert_ok();
    assert!(console.stdout.contains("SigninToken="), "{console:?}");
    let logout = env.run(&["logout", "--profile", "dev"]);
    logout.assert_ok();
    assert!(!env.token_path(CORP_KEY).exists(), "logout --profile dev removes the corp token");
    assert!(!env.role_path(CORP_ROLE_KEY).exists());
    let login = env.run(&["login", "--profile", "dev"]);
    login.assert_ok();
    assert!(login.stdout.starts_with("corp: logged in"), "{login:?}");
    assert!(env.token_path(CORP_KEY).exists());
}

/// The same through AWS_PROFILE / AWS_DEFAULT_PROFILE, for the commands that take no flag.
#[test]
fn aws_profile_naming_the_tool_profile_works_for_every_command() {
    for var in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"] {
        let mut env = TestEnv::new();
        env.seed_corp_token(7200);
        env.set_env(var, "dev");
        env.run(&[]).assert_ok();
        env.run(&["refresh"]).assert_ok();
        env.run(&["list"]).assert_ok();
        env.run(&["configure", "generate"]).assert_ok();
        env.run(&["export"]).assert_ok();
        env.run(&["logout"]).assert_ok();
        assert!(!env.token_path(CORP_KEY).exists(), "{var}");
    }
}

/// Any path to the binary, any flag order, quoted or not, `--flag=value`: one shell-word tokenizer.
#[test]
fn credential_process_lines_are_read_as_botocore_splits_them() {
    let lines = [
        format!("\"{BIN}\" --role-name {ROLE} --account-id {ACCOUNT} --sso-session corp"),
        format!("'{BIN}' --sso-session=corp --account-id={ACCOUNT} --role-name='{ROLE}'"),
        format!("{BIN} --debug --profile 'dev-sso'"),
        "aws-sso-process --profile=dev-sso".to_owned(),
    ];
    for line in lines {
        let env = TestEnv::new();
        env.seed_corp_token(7200);
        env.write_config(&format!("[profile tool]\ncredential_process = {line}\n{DEFAULT_CONFIG}"));
        let out = env.run(&["--profile", "tool"]);
        out.assert_ok();
        assert_eq!(out.json()["AccountId"], ACCOUNT, "{line}");
        let refresh = env.run(&["refresh", "--profile", "tool"]);
        refresh.assert_ok();
        assert!(refresh.stdout.starts_with("corp"), "{line}: {refresh:?}");
    }
}

/// Flags typed on our command line win over what the line names.
#[test]
fn typed_role_flags_override_the_line() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.run(&["--profile", "dev", "--role-name", "Admin"]).assert_ok();
    let call = &env.fake.calls("GetRoleCredentials")[0];
    assert_eq!(call.query["role_name"], "Admin");
}

#[test]
fn loops_name_the_chain_and_do_not_repeat_the_failing_command() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.write_config(&format!(
        "[profile self]\ncredential_process = aws-sso-process --profile self\n\
         [profile a]\ncredential_process = aws-sso-process --profile b\n\
         [profile b]\ncredential_process = /opt/bin/aws-sso-process --profile a\n{DEFAULT_CONFIG}"
    ));
    let run = env.run(&["--profile", "self"]);
    run.assert_fails(1, "self -> self");
    assert!(!run.stderr.contains("hint: run 'aws-sso-process --profile self'"), "{run:?}");
    let run = env.run(&["login", "--profile", "a"]);
    run.assert_fails(1, "a -> b -> a");
    assert!(run.stderr.contains("hint: point the credential_process of profile a"), "{run:?}");
    assert_eq!(env.fake.requests().len(), 0, "nothing was sent");
}

#[test]
fn unknown_names_suggest_the_closest_and_keep_the_subcommand() {
    let mut env = TestEnv::new();
    let run = env.run(&["login", "--profile", "dev-ss"]);
    run.assert_fails(1, "profile dev-ss is not in");
    assert!(run.stderr.contains(".aws/config"), "{run:?}");
    assert!(run.stderr.contains("hint: did you mean dev-sso"), "{run:?}");
    assert!(run.stderr.contains("'aws-sso-process login --profile dev-sso'"), "{run:?}");

    let run = env.run(&["refresh", "--sso-session", "Corp"]);
    run.assert_fails(1, "sso-session Corp is not in");
    assert!(run.stderr.contains("did you mean corp? run 'aws-sso-process refresh --sso-session corp'"), "{run:?}");

    env.set_env("AWS_PROFILE", "DEV");
    let run = env.run(&["export"]);
    run.assert_fails(1, "profile DEV (named by AWS_PROFILE) is not in");
    assert!(run.stderr.contains("'aws-sso-process export --profile dev'"), "{run:?}");

    // A line naming a profile that is not there says which line named it.
    env.unset_env("AWS_PROFILE");
    env.write_config(&format!("[profile tool]\ncredential_process = aws-sso-process --profile gone\n{DEFAULT_CONFIG}"));
    env.run(&["--profile", "tool"]).assert_fails(1, "profile gone (named by the credential_process of profile tool)");
}

#[test]
fn one_default_order_for_every_command() {
    // No AWS_PROFILE, a [default] that only sets a region, one sso-session: that session.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.write_config(&format!("[default]\nregion = eu-west-1\n\n{DEFAULT_CONFIG}"));
    for args in [&["refresh"][..], &["list"], &["configure", "generate"], &["logout"]] {
        let run = env.run(args);
        run.assert_ok();
    }
    // The credential output needs a role: the session alone is not enough, and the message says so.
    env.seed_corp_token(7200);
    let run = env.run(&[]);
    run.assert_fails(1, "the only SSO session (corp) names no account and role");
    env.run(&["--account-id", ACCOUNT, "--role-name", ROLE]).assert_ok();

    // A [default] that runs us wins over the only session.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.write_config(&format!("[default]\ncredential_process = aws-sso-process --profile dev-sso\n{DEFAULT_CONFIG}"));
    env.run(&[]).assert_ok();
    env.run(&["export"]).assert_ok();

    // AWS_PROFILE wins over [default].
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.write_config(&format!("[default]\ncredential_process = aws-sso-process --profile nowhere\n{DEFAULT_CONFIG}"));
    env.set_env("AWS_PROFILE", "dev");
    env.run(&[]).assert_ok();
}

#[test]
fn a_profile_with_both_credential_process_and_sso_keys_is_warned_about_on_use() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.write_config(&format!(
        "[profile both]\ncredential_process = aws-sso-process --profile both\nsso_session = corp\n\
         sso_account_id = {ACCOUNT}\nsso_role_name = {ROLE}\n{DEFAULT_CONFIG}"
    ));
    for args in [&["--profile", "both"][..], &["refresh", "--profile", "both"], &["export", "--profile", "both"]] {
        let run = env.run(args);
        run.assert_ok();
        assert!(
            run.stderr.contains("warning: profile both has both credential_process and sso_* keys"),
            "{args:?}: {run:?}"
        );
    }
}

/// Usage hints keep the subcommand the user ran.
#[test]
fn usage_hints_keep_the_subcommand() {
    let env = TestEnv::new();
    let run = env.run(&["login", "--start-url", "https://corp.awsapps.com/start"]);
    run.assert_fails(2, "--start-url needs --region");
    assert!(run.stderr.contains("hint: run 'aws-sso-process login --help' for the flags"), "{run:?}");
    let run = env.run(&["--sso-session", "corp"]);
    run.assert_fails(2, "--sso-session needs --account-id and --role-name");
    assert!(run.stderr.contains("hint: run 'aws-sso-process --help' for the flags"), "{run:?}");
}

/// A config with a session and no profile yet (setup with `--generate none`): the hint is the
/// command that writes the profiles.
#[test]
fn a_session_without_profiles_points_at_configure_generate() {
    let env = TestEnv::new();
    env.write_config("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n");
    env.run(&[]).assert_fails(1, "names no account and role").assert_fails(
        1,
        "hint: no profile names one yet: 'aws-sso-process configure generate --sso-session corp --write'",
    );
}
