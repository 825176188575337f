//! The completion scripts parse in their shells and complete; the man page renders; names are offered only when they mean themselves unquoted (docs/installing.md).

use crate::util::*;
use std::path::Path;
use std::process::Command;

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
            skip_part(shell, "its completion script was generated but not parsed");
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
        skip_part("groff or mandoc", "the roff was checked as text only");
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
    for needle in [
        "aws-sso-process exec",
        "--format",
        "windows-cmd",
        "AWS_SSO_PROCESS_EXEC",
        "126",
        "NO_COLOR",
        "AWS_ENDPOINT_URL_SIGNIN",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_USE_FIPS_ENDPOINT",
    ] {
        assert!(text.contains(needle), "rendered page lacks {needle}");
    }
}

/// A HOME whose config has three profiles (one `default`) and two sso-sessions, and a PATH whose
/// first folder holds `aws-sso-process`, as after an install: what the scripts call for names.
fn names_home() -> (tempfile::TempDir, String) {
    names_home_with(
        "[profile alpha]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Dev\n\n\
         [profile beta]\ncredential_process = aws-sso-process --profile alpha\n\n[default]\nregion = eu-west-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n\
         [sso-session ops]\nsso_start_url = https://ops.awsapps.com/start\nsso_region = us-east-1\n",
    )
}

fn names_home_with(config: &str) -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    let config = config.replace("HOME", home.path().to_str().unwrap());
    std::fs::write(home.path().join(".aws/config"), config).unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("aws-sso-process")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    (home, path)
}

fn shell(program: &str, home: &Path, path: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).env_clear().env("HOME", home).env("PATH", path).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn complete_names_lists_the_configs_profiles_and_sessions() {
    let (home, path) = names_home();
    assert_eq!(shell(BIN, home.path(), &path, &["complete-names", "profiles"]), "alpha\nbeta\ndefault\n");
    assert_eq!(shell(BIN, home.path(), &path, &["complete-names", "sso-sessions"]), "corp\nops\n");
    // No config (or a broken one): no names and no error text in the line being typed.
    let out = Command::new(BIN)
        .args(["complete-names", "profiles"])
        .env_clear()
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn bash_completes_profile_and_session_names_from_the_config() {
    let (home, path) = names_home();
    let script = home.path().join("completion.bash");
    std::fs::write(&script, output_of(&["completions", "bash"])).unwrap();
    let driver = r#"source "$1"
fn=$(complete -p aws-sso-process | sed -E 's/.*-F ([^ ]+).*/\1/')
tab() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); "$fn" aws-sso-process "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; echo "${COMPREPLY[*]}"; }
tab aws-sso-process --profile ""
tab aws-sso-process export --profile b
tab aws-sso-process login --sso-session ""
tab aws-sso-process status --sso-session o
"#;
    let out = shell("bash", home.path(), &path, &["-c", driver, "bash", script.to_str().unwrap()]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["alpha beta default", "beta", "corp ops", "ops"], "{out}");
}

#[test]
fn zsh_completes_profile_and_session_names_from_the_config() {
    if !has("zsh") {
        assert!(std::env::var("CI").is_err(), "zsh is needed in CI");
        eprintln!("note: zsh is not installed; its name completion was not run");
        return;
    }
    let (home, path) = names_home();
    let script = home.path().join("_aws-sso-process");
    std::fs::write(&script, output_of(&["completions", "zsh"])).unwrap();
    // An interactive zsh on a pseudo-terminal (zpty): compinit, the script, and a compadd that
    // also writes every candidate it is given to a file; then a line and TAB.
    let driver = r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='>'; autoload -U compinit; compinit -u -D; source $1; compadd() { local -a __h; builtin compadd -O __h \"\$@\"; print -rl -- \$__h >> $2; builtin compadd \"\$@\" }; print READY"
for i in {1..100}; do zpty -r -t z line && [[ $line == READY* ]] && break; sleep 0.1; done
zpty -w z "$3"$'\t'
for i in {1..100}; do [[ -s $2 ]] && break; sleep 0.1; done
sleep 0.3
zpty -d z
"#;
    for (line, want) in [
        ("aws-sso-process --profile ", "alpha\nbeta\ndefault\n"),
        ("aws-sso-process login --profile b", "beta\n"),
        ("aws-sso-process status --sso-session ", "corp\nops\n"),
    ] {
        let found = home.path().join("candidates");
        let _ = std::fs::remove_file(&found);
        shell(
            "zsh",
            home.path(),
            &path,
            &["-f", "-c", driver, "zsh", script.to_str().unwrap(), found.to_str().unwrap(), line],
        );
        assert_eq!(std::fs::read_to_string(&found).unwrap_or_default(), want, "{line}");
    }
}

#[test]
fn fish_completes_profile_and_session_names_from_the_config() {
    if !has("fish") {
        assert!(std::env::var("CI").is_err(), "fish is needed in CI");
        eprintln!("note: fish is not installed; its name completion was not run");
        return;
    }
    let (home, path) = names_home();
    let script = home.path().join("aws-sso-process.fish");
    std::fs::write(&script, output_of(&["completions", "fish"])).unwrap();
    let candidates = |line: &str| -> Vec<String> {
        let cmd = format!("source {}; complete -C '{line}'", script.display());
        let out = Command::new("fish")
            .args(["--no-config", "-c", &cmd])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{line}: {out:?}");
        String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').next().unwrap().to_owned()).collect()
    };
    assert_eq!(candidates("aws-sso-process --profile "), ["alpha", "beta", "default"]);
    assert_eq!(candidates("aws-sso-process export --profile "), ["alpha", "beta", "default"]);
    assert_eq!(candidates("aws-sso-process --sso-session o"), ["ops"]);
    assert_eq!(candidates("aws-sso-process login --sso-session "), ["corp", "ops"]);
    // The export formats' helps hold quotes and $(...): sourcing the script runs nothing.
    let formats = candidates("aws-sso-process export --format ");
    assert_eq!(formats, ["env", "env-no-export", "fish", "powershell", "process", "windows-cmd"]);
}

/// Profile and session names that are shell code: `$(...)`, backquotes, `${VAR}`, a glob, an
/// option-like name and a quote. `HOME` becomes the test's home, where a run command would leave
/// a file.
fn hostile_home() -> (tempfile::TempDir, String) {
    names_home_with(
        "[profile alpha]\nregion = eu-west-1\n\n[profile $(touch${IFS}HOME/PWNED)]\nregion = eu-west-1\n\n\
         [profile `touch${IFS}HOME/PWNED2`]\nregion = eu-west-1\n\n[profile a${IFS}b]\nregion = eu-west-1\n\n\
         [profile a*]\nregion = eu-west-1\n\n[profile -x]\nregion = eu-west-1\n\n[profile a;b]\nregion = eu-west-1\n\n\
         [sso-session $(touch${IFS}HOME/PWNED3)]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n\
         [sso-session ops]\nsso_start_url = https://ops.awsapps.com/start\nsso_region = us-east-1\n",
    )
}

fn assert_nothing_ran(home: &Path) {
    for file in ["PWNED", "PWNED2", "PWNED3"] {
        assert!(!home.join(file).exists(), "a config name ran as a command and created {file}");
    }
}

#[test]
fn names_that_are_shell_code_are_not_run_or_offered() {
    let (home, path) = hostile_home();
    // The list itself holds only names that mean themselves when inserted unquoted.
    assert_eq!(shell(BIN, home.path(), &path, &["complete-names", "profiles"]), "alpha\n");
    assert_eq!(shell(BIN, home.path(), &path, &["complete-names", "sso-sessions"]), "ops\n");

    // bash: sourcing and TAB run nothing, even with the list unfiltered (a stand-in program
    // that prints the hostile names), and offer only the plain names.
    let script = home.path().join("completion.bash");
    std::fs::write(&script, output_of(&["completions", "bash"])).unwrap();
    let driver = r#"source "$1"
fn=$(complete -p aws-sso-process | sed -E 's/.*-F ([^ ]+).*/\1/')
tab() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); "$fn" aws-sso-process "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; printf '%s|' "${COMPREPLY[@]}"; echo; }
tab aws-sso-process --profile ""
tab aws-sso-process export --profile ""
tab aws-sso-process login --sso-session ""
"#;
    let out = shell("bash", home.path(), &path, &["-c", driver, "bash", script.to_str().unwrap()]);
    assert_nothing_ran(home.path());
    assert_eq!(out.lines().collect::<Vec<_>>(), ["alpha|", "alpha|", "ops|"], "{out}");
    let fake = home.path().join("fake");
    std::fs::create_dir_all(&fake).unwrap();
    let printer = fake.join("aws-sso-process");
    let names = "$(touch${IFS}HOME/PWNED)\n`touch${IFS}HOME/PWNED2`\n${IFS}*\nalpha\n"
        .replace("HOME", home.path().to_str().unwrap());
    std::fs::write(&printer, format!("#!/bin/sh\nprintf '%s' '{names}'\n")).unwrap();
    std::fs::set_permissions(&printer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fake_path = format!("{}:{path}", fake.display());
    let out = shell("bash", home.path(), &fake_path, &["-c", driver, "bash", script.to_str().unwrap()]);
    assert_nothing_ran(home.path());
    assert!(out.lines().next().unwrap().starts_with("$(touch${IFS}"), "taken literally: {out}");

    if has("zsh") {
        let script = home.path().join("_aws-sso-process");
        std::fs::write(&script, output_of(&["completions", "zsh"])).unwrap();
        let driver = r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='>'; autoload -U compinit; compinit -u -D; source $1; compadd() { local -a __h; builtin compadd -O __h \"\$@\"; print -rl -- \$__h >> $2; builtin compadd \"\$@\" }; print READY"
for i in {1..100}; do zpty -r -t z line && [[ $line == READY* ]] && break; sleep 0.1; done
zpty -w z "$3"$'\t'
for i in {1..100}; do [[ -s $2 ]] && break; sleep 0.1; done
sleep 0.3
zpty -d z
"#;
        for (line, want) in
            [("aws-sso-process --profile ", "alpha\n"), ("aws-sso-process status --sso-session ", "ops\n")]
        {
            let found = home.path().join("candidates");
            let _ = std::fs::remove_file(&found);
            shell(
                "zsh",
                home.path(),
                &path,
                &["-f", "-c", driver, "zsh", script.to_str().unwrap(), found.to_str().unwrap(), line],
            );
            assert_nothing_ran(home.path());
            assert_eq!(std::fs::read_to_string(&found).unwrap_or_default(), want, "{line}");
        }
    } else {
        assert!(std::env::var("CI").is_err(), "zsh is needed in CI");
        eprintln!("note: zsh is not installed; its hostile-name completion was not run");
    }

    if has("fish") {
        let script = home.path().join("aws-sso-process.fish");
        std::fs::write(&script, output_of(&["completions", "fish"])).unwrap();
        for (line, want) in [("aws-sso-process --profile ", "alpha"), ("aws-sso-process login --sso-session ", "ops")] {
            let cmd = format!("source {}; complete -C '{line}'", script.display());
            let out = Command::new("fish")
                .args(["--no-config", "-c", &cmd])
                .env_clear()
                .env("HOME", home.path())
                .env("PATH", &path)
                .output()
                .unwrap();
            assert!(out.status.success() && out.stderr.is_empty(), "{line}: {out:?}");
            assert_nothing_ran(home.path());
            let text = String::from_utf8(out.stdout).unwrap();
            let got: Vec<&str> = text.lines().map(|l| l.split('\t').next().unwrap()).collect();
            assert_eq!(got, [want], "{line}");
        }
    } else {
        assert!(std::env::var("CI").is_err(), "fish is needed in CI");
        eprintln!("note: fish is not installed; its hostile-name completion was not run");
    }
}
