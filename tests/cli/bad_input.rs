//! Bad input: every broken file, flag or profile gets a clear error, a non-zero exit (never a
//! panic's 101), and leaves the cache files byte for byte as they were.

use crate::util::*;

#[test]
fn broken_token_files_are_named_and_left_alone() {
    let cases: &[(&str, &str)] = &[
        (r#"{"startUrl": "https://corp.awsapps.com/start", "accessToken": "abc"#, "truncated JSON"),
        (r#"[{"accessToken": "abc"}]"#, "expected a JSON object, found a list"),
        (r#"{"accessToken": 42, "expiresAt": "2030-01-01T00:00:00Z"}"#, "accessToken is a number"),
        (r#"{"accessToken": "abc", "expiresAt": 1893456000}"#, "expiresAt is a number"),
        (r#"{"accessToken": "abc"}"#, "no expiresAt"),
        (r#"{"expiresAt": "2030-01-01T00:00:00Z"}"#, "no accessToken"),
        (r#"{"accessToken": "abc", "expiresAt": "next tuesday"}"#, "not a timestamp"),
        ("", "truncated JSON"),
        ("\u{0}\u{1}binary", "invalid JSON"),
    ];
    for (content, needle) in cases {
        let env = TestEnv::new();
        env.write_file(&env.token_path(CORP_KEY), content);
        let before = snapshot(env.home());
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_fails(3, needle);
        assert!(run.stderr.contains(&format!("{CORP_KEY}.json")), "names the file: {run:?}");
        assert!(run.stderr.contains("left as it is"), "{run:?}");
        let after: Vec<_> = snapshot(env.home()).into_iter().filter(|(p, _)| !p.ends_with(".lock")).collect();
        assert_eq!(after, before, "files unchanged for {content:?}");
        assert_eq!(env.fake.requests().len(), 0);
    }
}

#[test]
fn broken_role_cache_is_a_miss_and_gets_replaced() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.write_file(&env.role_path(CORP_ROLE_KEY), r#"{"ProviderType": "sso", "Credentials": {"#);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    assert_eq!(env.read_json(&env.role_path(CORP_ROLE_KEY))["ProviderType"], "sso");
}

#[test]
fn configuration_errors() {
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (DEFAULT_CONFIG, &["--profile", "nope"], 1, "nope"),
        ("[profile plain]\nregion = us-east-1\n", &["--profile", "plain"], 1, "plain"),
        ("[profile p]\nsso_session = ghost\nsso_account_id = 1\nsso_role_name = r\n", &["--profile", "p"], 1, "ghost"),
        (
            "[profile p]\nsso_session = corp\n[sso-session corp]\nsso_region = us-east-1\n",
            &["--profile", "p"],
            1,
            "sso_start_url",
        ),
        (
            "[profile p]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n[sso-session corp]\nsso_start_url = https://a\nsso_region = us-east-1\n",
            &["--sso-session", "missing", "--account-id", "1", "--role-name", "r"],
            1,
            "missing",
        ),
        (
            "[profile p]\nsso_session = corp\n[sso-session corp]\nsso_start_url = https://a\nsso_region = us-east-1\n",
            &["--profile", "p"],
            1,
            "sso_account_id",
        ),
        ("[profile p]\nthis line is garbage\n", &["--profile", "p"], 1, "config:2"),
        ("region = us-east-1\n", &["--profile", "p"], 1, "config:1"),
        ("[profile p]\nregion = a\nregion = b\n", &["--profile", "p"], 1, "duplicate"),
        (DEFAULT_CONFIG, &["--no-such-flag"], 2, "--no-such-flag"),
        (DEFAULT_CONFIG, &["--profile", "dev-sso", "--sso-session", "corp"], 2, "cannot be used with"),
        (DEFAULT_CONFIG, &["--start-url", "https://x", "--account-id", "1", "--role-name", "r"], 2, "--region"),
    ];
    for (config, args, code, needle) in cases {
        let env = TestEnv::new();
        env.write_config(config);
        env.seed_corp_token(7200);
        let before = snapshot(env.home());
        let run = env.run(args);
        assert_eq!(run.code, *code, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(run.stderr.contains(needle), "{args:?} wants {needle:?}: {run:?}");
        if *code != 2 {
            run.assert_fails(*code, needle);
        }
        assert_eq!(snapshot(env.home()), before);
    }
}

#[test]
fn missing_config_file() {
    let mut env = TestEnv::new();
    env.set_env("AWS_CONFIG_FILE", &env.home().join("does/not/exist").display().to_string());
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "does/not/exist does not exist");
    assert!(run.stderr.contains("hint: check AWS_CONFIG_FILE"), "{run:?}");
    env.unset_env("AWS_CONFIG_FILE");
    std::fs::remove_file(env.home().join(".aws/config")).unwrap();
    let run = env.run(&["login", "--profile", "dev"]);
    run.assert_fails(1, ".aws/config does not exist");
}

#[test]
fn unreadable_config_path_is_an_error_naming_it() {
    let mut env = TestEnv::new();
    // A folder where the file should be: reading it fails with something other than "not found".
    let dir = env.home().join("cfgdir");
    std::fs::create_dir_all(&dir).unwrap();
    env.set_env("AWS_CONFIG_FILE", &dir.display().to_string());
    env.run(&["--profile", "dev-sso"]).assert_fails(1, "cfgdir");
}

#[test]
fn help_and_version_exit_0() {
    let env = TestEnv::new();
    let help = env.run(&["--help"]);
    help.assert_ok();
    assert!(help.stdout.contains("--profile") && help.stdout.contains("refresh"));
    let version = env.run(&["--version"]);
    version.assert_ok();
    assert!(version.stdout.starts_with("aws-sso-process "));
}

#[test]
fn a_profile_without_sso_keys_that_runs_no_aws_sso_process_keeps_the_plain_message() {
    let env = TestEnv::new();
    env.write_config("[profile plain]\nregion = us-east-1\ncredential_process = /bin/other-tool --x\n");
    env.run(&["--profile", "plain"]).assert_fails(1, "point --profile at the profile that has them");
}

/// Lines botocore (and so the AWS CLI) reads are not refused: a block line with an empty key, an
/// upper-case block key, a line starting with `[` that is no header. The profile works.
#[test]
fn lines_botocore_reads_do_not_break_the_config() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let extra = "s3 =\n  = value\n  Addressing_Style = path\n[x = y\n";
    env.write_config(&DEFAULT_CONFIG.replace("region = eu-west-1\n", &format!("region = eu-west-1\n{extra}")));
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
}
