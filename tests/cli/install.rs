//! install.sh into a throwaway PREFIX and back out, and the demo script end to end (docs/installing.md).

use crate::util::*;
use std::path::Path;
use std::process::{Command, Stdio};

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

/// install.sh as a CI runner, cron or `env -i` starts it: PATH and PREFIX only, no HOME, no SHELL.
fn install(prefix: &Path, args: &[&str]) -> Run {
    install_with(prefix, args, &[])
}

fn install_with(prefix: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let out = Command::new("sh")
        .arg(repo().join("install.sh"))
        .args(args)
        .env_clear()
        .env("PREFIX", prefix)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
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
    assert!(run.stdout.contains(&format!("Next: {} setup", prefix.join("bin/aws-sso-process").display())), "{run:?}");
    // Not on PATH, and neither HOME nor SHELL set: the plain path, for sh's ~/.profile.
    assert!(run.stdout.contains("is not on your PATH; to add it for sh (sh)"), "{run:?}");
    let line = format!("echo 'export PATH=\"{}:$PATH\"' >> ~/.profile", prefix.join("bin").display());
    assert!(run.stdout.contains(&line), "{run:?}");
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
fn the_path_note_is_the_exact_line_for_the_users_shell() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("p");
    let home = root.path();
    let shell = |name: &str| install_with(&prefix, &["--binary", BIN], &[("HOME", home), ("SHELL", Path::new(name))]);

    let run = shell("/usr/bin/zsh");
    run.assert_ok();
    assert!(run.stdout.contains("to add it for zsh (/usr/bin/zsh), run:"), "{run:?}");
    // Under HOME the line keeps $HOME, so it still works when copied to another machine.
    assert!(run.stdout.contains("echo 'export PATH=\"$HOME/p/bin:$PATH\"' >> ~/.zshrc"), "{run:?}");
    let run = shell("/bin/bash");
    assert!(run.stdout.contains("echo 'export PATH=\"$HOME/p/bin:$PATH\"' >> ~/.bashrc"), "{run:?}");
    let run = shell("/usr/local/bin/fish");
    let fish = format!("fish -c 'fish_add_path {}'", prefix.join("bin").display());
    assert!(run.stdout.contains(&fish), "{run:?}");
    // Not on PATH: the next step names the binary by the path it can be run by now.
    assert!(run.stdout.contains(&format!("Next: {} setup", prefix.join("bin/aws-sso-process").display())), "{run:?}");
    // Asking fish for its completion path created no ~/.config/fish (uninstall would leave it).
    assert!(!home.join(".config").exists());

    install(&prefix, &["--uninstall"]).assert_ok();
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
        skip_or_fail(&format!("{} built", fake.display()), "run the whole `cargo test`");
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
    assert!(stdout.trim_end().ends_with("Next, with your own start URL: aws-sso-process setup"), "{stdout}");
    // The throwaway HOME is gone, and the real one was never touched.
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
}

/// `fake_sso --seed-home DIR` refuses a DIR that already has `.aws/config` (a real HOME, given by
/// mistake): the file is left byte for byte and no token is written. An empty DIR is seeded.
#[test]
fn the_fake_refuses_to_seed_a_home_that_has_an_aws_config() {
    let fake = Path::new(BIN).parent().unwrap().join("examples/fake_sso");
    if !fake.exists() {
        // `cargo test --test cli` builds no examples; the whole `cargo test` (CI's) does.
        skip_or_fail(&format!("{} built", fake.display()), "run the whole `cargo test`");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".aws/config");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[profile mine]\nregion = eu-north-1\n").unwrap();
    let mut child = Command::new(&fake)
        .arg("--seed-home")
        .arg(home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A fake that seeded anyway serves until killed: bounded.
    if !wait_for(HANG_LIMIT, || child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already exists") && stderr.contains("mktemp -d"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "[profile mine]\nregion = eu-north-1\n");
    assert!(!home.path().join(".aws/sso").exists(), "no token was written");

    // An empty folder is seeded, and the fake serves (its URL on the first line).
    let empty = tempfile::tempdir().unwrap();
    let mut child = Command::new(&fake)
        .arg("--seed-home")
        .arg(empty.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
    assert!(std::fs::read_to_string(empty.path().join(".aws/config")).unwrap().contains("[sso-session corp]"));
}

/// A folder of fake tools: each `(name, script body)` an executable `sh` script.
fn fake_tools(dir: &Path, tools: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in tools {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_missing_or_old_rust_gets_the_fix_for_its_situation_and_nothing_is_built() {
    const RUSTUP: &str = "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh";
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("p");
    // The system's tools, without any Rust (cargo and rustup live in ~/.cargo/bin here and in CI).
    let system = "/usr/bin:/bin";
    let path_with = |dir: &Path| std::path::PathBuf::from(format!("{}:{system}", dir.display()));
    // A build must not start: a fake cargo that records being run for a build.
    let built = root.path().join("built");
    let cargo = format!("[ \"$1\" = build ] && touch '{}'; exit 0", built.display());
    let check = |run: &Run, needles: &[&str], what: &str| {
        assert_eq!(run.code, 1, "{what}: {run:?}");
        assert!(run.stderr.starts_with("install.sh: "), "{what}: {run:?}");
        for needle in needles {
            assert!(run.stderr.contains(needle), "{what}: no {needle:?} in {run:?}");
        }
        // A downloaded release binary is the way in without Rust.
        assert!(run.stderr.contains("./install.sh --binary ./aws-sso-process"), "{what}: {run:?}");
        assert!(!prefix.exists() && !built.exists(), "{what}: something was built or installed");
    };

    // No Rust at all: rustup's official installer command.
    let run = install_with(&prefix, &[], &[("PATH", Path::new(system))]);
    check(&run, &["cargo not found", RUSTUP], "no Rust");

    // rustup installed it, but ~/.cargo/bin is not on PATH yet: its env file, not a second install.
    let home = root.path().join("home");
    fake_tools(&home.join(".cargo/bin"), &[("cargo", "exit 0")]);
    let run = install_with(&prefix, &[], &[("PATH", Path::new(system)), ("HOME", &home)]);
    check(&run, &["cargo not found", ". \"$HOME/.cargo/env\""], "rustup off PATH");
    assert!(!run.stderr.contains(RUSTUP), "{run:?}");

    // Debian's rustc (1.63), no rustup: rustup is the route, and 'rustup update' is not offered.
    let debian = root.path().join("debian");
    fake_tools(&debian, &[("cargo", &cargo), ("rustc", "echo 'rustc 1.63.0'")]);
    let run = install_with(&prefix, &[], &[("PATH", &path_with(&debian))]);
    check(&run, &["Rust 1.63.0 is too old", "needs >= 1.89", "is not managed by rustup", RUSTUP], "Debian's rustc");
    assert!(run.stderr.contains("'rustup update' does not apply"), "{run:?}");

    // An old Rust that rustup manages: rustup update.
    let managed = root.path().join("managed");
    fake_tools(
        &managed,
        &[("cargo", &cargo), ("rustc", "echo 'rustc 1.80.1 (3f5fd8dd4 2024-08-06)'"), ("rustup", "exit 0")],
    );
    let run = install_with(&prefix, &[], &[("PATH", &path_with(&managed))]);
    check(&run, &["Rust 1.80.1 is too old", "rustup update stable"], "rustup's old Rust");
    assert!(!run.stderr.contains(RUSTUP), "{run:?}");

    // A new enough Rust passes the check and builds (the fake cargo builds nothing, so the
    // install then fails on the missing binary: proof that the check let it through).
    let new = root.path().join("new");
    fake_tools(&new, &[("cargo", &cargo), ("rustc", "echo 'rustc 1.89.0 (29483883e 2025-08-04)'")]);
    let run = install_with(&prefix, &[], &[("PATH", &path_with(&new)), ("CARGO_TARGET_DIR", root.path())]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(built.exists() && run.stderr.contains("is not an executable file"), "{run:?}");
}
