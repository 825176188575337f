//! `export`: every format the AWS CLI knows (and fish), with values quoted so that each shell reads
//! them back byte for byte (docs/export-and-exec.md).

use crate::util::fake::Reply;
use crate::util::*;
use serde_json::json;
use std::process::Command;

/// Role credentials no real AWS key holds, to prove the quoting: both quote kinds, `$`, command
/// substitutions of both shells, backslashes, a newline, cmd.exe's and PowerShell's specials.
const HOSTILE_SECRET: &str = "a'b\"c$HOME`touch pwned-bt`$(touch pwned-ps)\\n\nx;y&z|w%PATH%!q*~ {}";
const HOSTILE_TOKEN: &str = "tok\u{201C}en\u{201D}$env:HOME `$x'";

fn script_hostile(env: &TestEnv) {
    env.fake.script(
        "GetRoleCredentials",
        [Reply::Json(
            200,
            None,
            json!({"roleCredentials": {
                "accessKeyId": "ASIAHOSTILE",
                "secretAccessKey": HOSTILE_SECRET,
                "sessionToken": HOSTILE_TOKEN,
                "expiration": (now_secs() + 3600) * 1000,
            }}),
        )],
    );
}

/// Runs `script` in `shell -c` with the export output in `$HOME/creds` and returns stdout.
fn shell_reads(env: &TestEnv, shell: &str, script: &str) -> String {
    let out =
        Command::new(shell).arg("-c").arg(script).current_dir(env.home()).env("HOME", env.home()).output().unwrap();
    assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn export_env_round_trips_hostile_values_through_posix_shells() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    script_hostile(&env);
    for format in ["env", "env-no-export"] {
        let run = env.run(&["export", "--profile", "dev-sso", "--format", format]);
        run.assert_ok();
        assert!(run.stderr.is_empty(), "{run:?}");
        env.write_file(&env.home().join("creds"), &run.stdout);
        let prefix = if format == "env" { "export " } else { "" };
        assert!(run.stdout.starts_with(&format!("{prefix}AWS_ACCESS_KEY_ID=ASIAHOSTILE\n")), "{}", run.stdout);
        let names: Vec<&str> =
            run.stdout.lines().filter_map(|l| l.strip_prefix(prefix)?.split_once('=')).map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION"]
        );
        for shell in ["sh", "bash", "zsh"] {
            if !has(shell) && shell == "zsh" {
                skip_part("zsh", "the env format was checked with sh and bash only");
                continue;
            }
            let script = format!(
                "eval \"$(cat creds)\"; printf '%s\\0%s\\0%s\\0%s' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" \
                 \"$AWS_SESSION_TOKEN\" \"$AWS_CREDENTIAL_EXPIRATION\"{}",
                if format == "env" { "; sh -c 'printf \"\\0%s\" \"$AWS_SECRET_ACCESS_KEY\"'" } else { "" }
            );
            let got = shell_reads(&env, shell, &script);
            let parts: Vec<&str> = got.split('\0').collect();
            assert_eq!(parts[0], "ASIAHOSTILE", "{shell}");
            assert_eq!(parts[1], HOSTILE_SECRET, "{shell} {format}");
            assert_eq!(parts[2], HOSTILE_TOKEN, "{shell} {format}");
            assert!((3500..3700).contains(&secs_until(parts[3])), "{shell}: {}", parts[3]);
            if format == "env" {
                assert_eq!(parts[4], HOSTILE_SECRET, "{shell}: exported to children");
            }
            assert!(!env.home().join("pwned-bt").exists() && !env.home().join("pwned-ps").exists(), "{shell} ran code");
        }
    }
    // Served from the role cache after the first run: one call in all.
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
}

#[test]
fn export_fish_round_trips_hostile_values() {
    if !has("fish") {
        skip_part("fish", "the fish quoting has unit tests");
        return;
    }
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    script_hostile(&env);
    let run = env.run(&["export", "--profile", "dev-sso", "--format", "fish"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("set -gx AWS_ACCESS_KEY_ID \"ASIAHOSTILE\"\n"), "{}", run.stdout);
    env.write_file(&env.home().join("creds.fish"), &run.stdout);
    let got =
        shell_reads(&env, "fish", "source creds.fish; printf '%s\\0%s' $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN");
    assert_eq!(got, format!("{HOSTILE_SECRET}\0{HOSTILE_TOKEN}"));
    assert!(!env.home().join("pwned-bt").exists() && !env.home().join("pwned-ps").exists());
}

#[test]
fn export_powershell_escapes_and_stays_on_one_line_per_variable() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    script_hostile(&env);
    let run = env.run(&["export", "--profile", "dev-sso", "--format", "powershell"]);
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[0], "$Env:AWS_ACCESS_KEY_ID=\"ASIAHOSTILE\"");
    assert_eq!(
        lines[1],
        "$Env:AWS_SECRET_ACCESS_KEY=\"a'b`\"c`$HOME``touch pwned-bt```$(touch pwned-ps)\\n`nx;y&z|w%PATH%!q*~ {}\""
    );
    assert_eq!(lines[2], "$Env:AWS_SESSION_TOKEN=\"tok`\u{201C}en`\u{201D}`$env:HOME ```$x'\"");
    if has("pwsh") {
        env.write_file(&env.home().join("creds.ps1"), &run.stdout);
        let got = shell_reads(&env, "pwsh", ". ./creds.ps1; [Console]::Write($Env:AWS_SECRET_ACCESS_KEY)");
        assert_eq!(got, HOSTILE_SECRET);
    } else {
        skip_part("pwsh", "the PowerShell text was checked literally");
    }
}

#[test]
fn export_windows_cmd_refuses_what_cmd_cannot_carry_and_quotes_the_rest() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    script_hostile(&env);
    let run = env.run(&["export", "--profile", "dev-sso", "--format", "windows-cmd"]);
    run.assert_fails(1, "cannot export AWS_SECRET_ACCESS_KEY for cmd.exe");
    assert!(!run.stderr.contains("pwned"), "the value is never shown: {run:?}");
    assert!(run.stderr.contains("hint: use --format powershell"), "{run:?}");

    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script(
        "GetRoleCredentials",
        [Reply::Json(
            200,
            None,
            json!({"roleCredentials": {"accessKeyId": "ASIA1", "secretAccessKey": "a&b|c<d>e^f\"g(h) i",
                   "sessionToken": "T", "expiration": (now_secs() + 3600) * 1000}}),
        )],
    );
    let run = env.run(&["export", "--profile", "dev-sso", "--format", "windows-cmd"]);
    run.assert_ok();
    assert_eq!(run.stdout.lines().nth(1), Some("set AWS_SECRET_ACCESS_KEY=a^&b^|c^<d^>e^^f^\"g^(h^) i"));
    assert!(run.stdout.starts_with("set AWS_ACCESS_KEY_ID=ASIA1\n"));
}

#[test]
fn export_process_is_what_credential_process_reads() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["export", "--profile", "dev-sso"]);
    run.assert_ok();
    let out = run.json();
    let keys: Vec<&str> = out.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AccountId"]);
    assert_eq!(out["Version"], 1);
    assert!(run.stdout.starts_with("{\n  \"Version\": 1,\n"), "indented like the AWS CLI: {}", run.stdout);
    // The same credentials credential_process mode serves from the cache.
    let plain = env.run(&["--profile", "dev-sso"]);
    assert_eq!(plain.json(), out);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
}

#[test]
fn export_without_a_session_asks_for_a_login() {
    let env = TestEnv::new();
    env.run(&["export", "--profile", "dev-sso", "--format", "env"]).assert_fails(3, "aws-sso-process login");
}
