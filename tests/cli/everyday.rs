//! Everyday use (issue 8): `export` formats and their quoting, `exec` (environment, exit codes,
//! signals, nesting), the completion scripts and the man page, install.sh into a throwaway PREFIX,
//! and the demo script.

use crate::util::fake::Reply;
use crate::util::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

fn has(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
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
                eprintln!("note: zsh is not installed; the env format was checked with sh and bash only");
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
        eprintln!("skipping: fish is not installed (the fish quoting has unit tests)");
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
        eprintln!("note: pwsh is not installed; the PowerShell text was checked literally");
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

// ---------------------------------------------------------------------------------------------- exec

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

// ------------------------------------------------------------------------------ completions, man

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn output_of(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).env_clear().env("HOME", "/nonexistent").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, check) in [("bash", vec!["-n"]), ("zsh", vec!["-n"]), ("fish", vec!["--no-execute"])] {
        let script = output_of(&["completions", shell]);
        assert!(script.contains("aws-sso-process") && script.contains("export") && script.contains("windows-cmd"));
        let path = dir.path().join(shell);
        std::fs::write(&path, &script).unwrap();
        if !has(shell) {
            eprintln!("note: {shell} is not installed; its completion script was generated but not parsed");
            continue;
        }
        let out = Command::new(shell).args(&check).arg(&path).output().unwrap();
        assert!(out.status.success(), "{shell} {check:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(Command::new(BIN).args(["completions", "tcsh"]).output().unwrap().status.code(), Some(2));
}

#[test]
fn bash_completion_completes_subcommand_options() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("completion.bash");
    std::fs::write(&path, output_of(&["completions", "bash"])).unwrap();
    // What bash does on TAB: COMP_WORDS and COMP_CWORD, then the function `complete -F` names.
    let script = r#"source "$1"
fn=$(complete -p aws-sso-process | sed -E 's/.*-F ([^ ]+).*/\1/')
tab() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); "$fn" aws-sso-process "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; echo "${COMPREPLY[*]}"; }
tab aws-sso-process ex
tab aws-sso-process export --format ""
tab aws-sso-process exec --f
"#;
    let out = Command::new("bash").arg("-c").arg(script).arg("bash").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["export exec", "process env env-no-export powershell windows-cmd fish", "--force"], "{out:?}");
}

#[test]
fn man_page_renders() {
    let page = output_of(&["man"]);
    assert!(page.contains(".TH aws-sso-process 1") && page.contains(".SH \"EXIT STATUS\""));
    assert!(!page.contains(".SH \"GLOBAL OPTIONS\"\n.SH"), "no empty sections");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aws-sso-process.1");
    std::fs::write(&path, &page).unwrap();
    if !has("groff") && !has("mandoc") {
        eprintln!("note: neither groff nor mandoc is installed; the roff was checked as text only");
        return;
    }
    let (program, args): (&str, &[&str]) =
        if has("groff") { ("groff", &["-man", "-Tutf8", "-ww"]) } else { ("mandoc", &["-T", "utf8", "-W", "warning"]) };
    let out = Command::new(program).args(args).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{program}: {stderr}");
    // Plain text: no overstrike (x BS x) or SGR bold, ASCII hyphens.
    let raw = String::from_utf8_lossy(&out.stdout);
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{8}' => {
                text.pop();
            }
            '\u{1b}' => {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            }
            '\u{2010}' | '\u{2212}' => text.push('-'),
            c => text.push(c),
        }
    }
    for needle in ["aws-sso-process exec", "--format", "windows-cmd", "AWS_SSO_PROCESS_EXEC", "126"] {
        assert!(text.contains(needle), "rendered page lacks {needle}");
    }
}

// ---------------------------------------------------------------------------------------- install

/// Every folder and file under `root` with its content and mode: "exactly as before" means this.
fn listing(root: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.push(format!("d {rel} {mode:o}"));
                stack.push(path);
            } else {
                out.push(format!(
                    "f {rel} {mode:o} {}",
                    sha1_hex(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()))
                ));
            }
        }
    }
    out.sort();
    out
}

fn install(prefix: &Path, args: &[&str]) -> Run {
    let out = Command::new("sh")
        .arg(repo().join("install.sh"))
        .args(args)
        .env("PREFIX", prefix)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir("/")
        .output()
        .unwrap();
    to_run(out)
}

const INSTALLED: [&str; 5] = [
    "bin/aws-sso-process",
    "share/man/man1/aws-sso-process.1",
    "share/bash-completion/completions/aws-sso-process",
    "share/zsh/site-functions/_aws-sso-process",
    "share/fish/vendor_completions.d/aws-sso-process.fish",
];

#[test]
fn install_into_an_existing_prefix_and_uninstall_leaves_it_exactly_as_before() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("prefix");
    // A lived-in PREFIX: every completion folder exists (so each shell gets its script whether it
    // is installed here or not), with files of other programs next to ours.
    for dir in ["bin", "share/man/man1", "share/bash-completion/completions", "share/zsh/site-functions"] {
        std::fs::create_dir_all(prefix.join(dir)).unwrap();
    }
    std::fs::create_dir_all(prefix.join("share/fish/vendor_completions.d")).unwrap();
    std::fs::write(prefix.join("bin/other-tool"), "#!/bin/sh\n").unwrap();
    std::fs::write(prefix.join("share/man/man1/other-tool.1"), ".TH other\n").unwrap();
    let before = listing(root.path());

    let run = install(&prefix, &["--binary", BIN]);
    run.assert_ok();
    assert!(run.stdout.starts_with("installed aws-sso-process 0.1"), "{run:?}");
    assert!(run.stdout.contains("completions: bash zsh fish"), "{run:?}");
    assert!(run.stdout.contains("credential_process = aws-sso-process --profile dev-sso"), "{run:?}");
    assert!(run.stdout.contains("is not on your PATH"), "{run:?}");
    for file in INSTALLED {
        assert!(prefix.join(file).is_file(), "{file}");
    }
    let version = Command::new(prefix.join("bin/aws-sso-process")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("aws-sso-process "));
    let manifest = std::fs::read_to_string(prefix.join("share/aws-sso-process/install-manifest")).unwrap();
    let entries: Vec<&str> = manifest.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        entries.iter().filter(|l| l.starts_with("dir ")).count(),
        1,
        "only share/aws-sso-process was created: {manifest}"
    );

    // Idempotent: the same files, the same manifest.
    let once = listing(root.path());
    install(&prefix, &["--binary", BIN]).assert_ok();
    assert_eq!(listing(root.path()), once);

    let run = install(&prefix, &["--uninstall"]);
    run.assert_ok();
    assert_eq!(listing(root.path()), before, "{run:?}");
    // Again: nothing left to do, still fine.
    let run = install(&prefix, &["--uninstall"]);
    run.assert_ok();
    assert!(run.stdout.contains("nothing to remove"), "{run:?}");
    assert_eq!(listing(root.path()), before);
}

#[test]
fn install_into_a_new_prefix_and_uninstall_removes_every_folder_it_made() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("keep"), "x").unwrap();
    let before = listing(root.path());
    let prefix = root.path().join("a/b");
    install(&prefix, &["--binary", BIN]).assert_ok();
    assert!(prefix.join("bin/aws-sso-process").is_file() && prefix.join("share/man/man1/aws-sso-process.1").is_file());
    for (shell, file) in [("bash", INSTALLED[2]), ("zsh", INSTALLED[3]), ("fish", INSTALLED[4])] {
        assert_eq!(prefix.join(file).is_file(), has(shell), "{shell}: installed exactly when the shell is");
    }
    // A file of someone else's in a folder the install made: that folder stays, with the file.
    std::fs::write(prefix.join("bin/theirs"), "x").unwrap();
    install(&prefix, &["--uninstall"]).assert_ok();
    let mut expected = before.clone();
    expected.extend(["d a 755".to_owned(), "d a/b 755".to_owned(), "d a/b/bin 755".to_owned()]);
    let theirs = listing(root.path()).into_iter().find(|l| l.starts_with("f a/b/bin/theirs")).expect("kept");
    expected.push(theirs);
    expected.sort();
    assert_eq!(listing(root.path()), expected);
    std::fs::remove_file(prefix.join("bin/theirs")).unwrap();
}

#[test]
fn install_errors_are_clear_and_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("p");
    let impostor = root.path().join("impostor");
    std::fs::write(&impostor, "#!/bin/sh\necho other 1.0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&impostor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = listing(root.path());
    for (args, needle) in [
        (vec!["--bogus"], "unknown option '--bogus'"),
        (vec!["--binary"], "--binary needs a file"),
        (vec!["--binary", "/nonexistent/aws-sso-process"], "is not an executable file"),
        (vec!["--binary", impostor.to_str().unwrap()], "is not aws-sso-process (its --version says 'other 1.0')"),
    ] {
        let run = install(&prefix, &args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.starts_with("install.sh: ") && run.stderr.contains(needle), "{args:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    }
    assert_eq!(listing(root.path()), before);
    // A binary installed without this script is left alone by --uninstall.
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::write(prefix.join("bin/aws-sso-process"), "x").unwrap();
    let run = install(&prefix, &["--uninstall"]);
    run.assert_ok();
    assert!(run.stdout.contains("was not installed by this script; left as it is"), "{run:?}");
    assert!(prefix.join("bin/aws-sso-process").exists());
    let help = install(&prefix, &["--help"]);
    help.assert_ok();
    assert!(help.stdout.contains("./install.sh --uninstall") && !help.stdout.contains("set -eu"), "{help:?}");
}

#[test]
fn uninstall_removes_only_files_inside_the_prefix() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("p");
    install(&prefix, &["--binary", BIN]).assert_ok();
    let outside = root.path().join("precious");
    std::fs::write(&outside, "x").unwrap();
    let manifest = prefix.join("share/aws-sso-process/install-manifest");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!("file {}\n", outside.display()));
    std::fs::write(&manifest, text).unwrap();
    let run = install(&prefix, &["--uninstall"]);
    run.assert_ok();
    assert!(outside.exists(), "{run:?}");
    assert!(run.stderr.contains("it is outside"), "{run:?}");
    assert!(!prefix.exists(), "{run:?}");
}

// ------------------------------------------------------------------------------------------- demo

/// The demo with the binary under test and the fake example `cargo test` builds next to it. CI
/// also runs it from .ci/run against a release build installed by install.sh.
#[test]
fn demo_script_runs_to_the_end() {
    let script = repo().join("scripts/demo.sh");
    let syntax = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "{}", String::from_utf8_lossy(&syntax.stderr));
    let fake = Path::new(BIN).parent().unwrap().join("examples/fake_sso");
    if !fake.exists() {
        // `cargo test --test cli` builds no examples; the whole `cargo test` (CI's) does.
        assert!(std::env::var("CI").is_err(), "CI: {} was not built", fake.display());
        eprintln!("skipping the demo run: {} is not built (run the whole `cargo test`)", fake.display());
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .env("AWS_SSO_PROCESS_BIN", BIN)
        .env("FAKE_SSO", &fake)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for needle in
        ["corp: logged in", "\"Version\":1", "corp: refreshed", "served from the cache in", "AWS_REGION=eu-west-1"]
    {
        assert!(stdout.contains(needle), "demo output lacks {needle:?}:\n{stdout}");
    }
    assert!(stdout.trim_end().ends_with("with your own start URL."), "{stdout}");
    // The throwaway HOME is gone, and the real one was never touched.
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
}
