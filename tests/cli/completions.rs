//! The completion scripts parse in their shells and complete; the man page renders (issue 8).

use crate::util::*;
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
    for needle in ["aws-sso-process exec", "--format", "windows-cmd", "AWS_SSO_PROCESS_EXEC", "126"] {
        assert!(text.contains(needle), "rendered page lacks {needle}");
    }
}
