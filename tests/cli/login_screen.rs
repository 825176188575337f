//! The login screen (docs/logging-in.md), read through a real pseudo-terminal: the URL and the user code
//! each on a line of their own, the code in bold where the terminal allows (plain under `NO_COLOR`,
//! plain in a file), a waiting line with the time left rewritten in place, a short line when no
//! browser can be started, and Ctrl-C leaves the caches as they were.

use crate::util::fake::DeviceMode;
use crate::util::pty::{self, Pty, Wire};
use crate::util::*;
use std::process::Child;
use std::time::Duration;

const BOLD: &str = "\x1b[1m";
const REWRITE: &str = "\r\x1b[2K";

/// `login` on a pty: /dev/tty is the pty (no AWS_SSO_PROCESS_TTY), no display, so the device flow.
fn login_on_pty(env: &TestEnv, args: &[&str], extra_env: &[(&str, &str)]) -> (Pty, Child) {
    let mut cmd = env.command(args);
    cmd.env_remove("AWS_SSO_PROCESS_TTY").env("TERM", "xterm");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    pty::spawn(&mut cmd, Wire::ControllingTerminal)
}

/// Waits for the end; the output streams and the raw screen.
fn finish(pty: Pty, child: Child) -> (std::process::Output, String) {
    let out = pty::finish(child, &pty, Duration::from_secs(30));
    (out, pty.raw_screen())
}

/// Waits until the raw screen holds `needle`.
fn expect_raw(pty: &Pty, needle: &str) -> String {
    assert!(wait_for(Duration::from_secs(20), || pty.raw_screen().contains(needle)), "{:?}", pty.raw_screen());
    pty.raw_screen()
}

fn device_env() -> TestEnv {
    let env = TestEnv::new();
    // Polls every second; approved at the 4th poll, so the wait lasts a few seconds.
    env.fake.set_device_timing(600, Some(1));
    env.fake.set_device_mode(DeviceMode::Approve, 3);
    env
}

#[test]
fn the_device_screen_puts_url_and_code_on_lines_of_their_own_and_counts_down_in_place() {
    let env = device_env();
    let (pty, child) =
        login_on_pty(&env, &["login", "--sso-session", "corp", "--use-device-code", "--no-browser"], &[]);
    let (out, screen) = finish(pty, child);
    let run = to_run(out);
    run.assert_ok();
    assert!(run.stdout.starts_with("corp: logged in"), "{run:?}");
    let lines: Vec<&str> = screen.split("\r\n").collect();
    assert!(lines.iter().any(|l| l.ends_with("open this page and enter the code:")), "{screen:?}");
    assert!(lines.contains(&"    https://device.sso.example/"), "the URL alone on its line: {screen:?}");
    let code_line = lines.iter().find(|l| l.contains("FAKE-")).expect("the code is shown");
    assert!(code_line.starts_with(&format!("    {BOLD}FAKE-")), "the code alone on its line, in bold: {code_line:?}");
    // The waiting line is rewritten in place (several times, the time left counting down) and
    // cleared at the end, never left as a stack of lines.
    let waiting = format!("{REWRITE}aws-sso-process: waiting for the sign-in (the code expires in 9:5");
    assert!(screen.matches(&waiting).count() >= 2, "{screen:?}");
    assert!(!screen.contains("waiting for the sign-in (the code expires in 9:5\r\n"), "{screen:?}");
}

#[test]
fn no_color_and_no_terminal_give_plain_text() {
    // NO_COLOR on a terminal: still in place, but no bold.
    let env = device_env();
    let (pty, child) = login_on_pty(
        &env,
        &["login", "--sso-session", "corp", "--use-device-code", "--no-browser"],
        &[("NO_COLOR", "1")],
    );
    let (out, screen) = finish(pty, child);
    to_run(out).assert_ok();
    assert!(screen.contains("\r\n    FAKE-"), "{screen:?}");
    assert!(!screen.contains(BOLD), "no bold under NO_COLOR: {screen:?}");

    // No terminal (a file): no escape sequence at all, and the waiting line once, not every second.
    let mut env = device_env();
    let file = env.home().join("prompt.txt");
    env.set_env("AWS_SSO_PROCESS_TTY", file.to_str().unwrap());
    env.run(&["login", "--sso-session", "corp", "--use-device-code", "--no-browser"]).assert_ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
    assert!(text.contains("\n    https://device.sso.example/\n    FAKE-"), "{text:?}");
    assert_eq!(text.matches("waiting for the sign-in").count(), 1, "{text:?}");
}

#[test]
fn pkce_without_a_browser_says_it_waits_and_for_how_long() {
    let env = TestEnv::new();
    let (mut pty, child) =
        login_on_pty(&env, &["login", "--sso-session", "corp", "--no-browser"], &[("DISPLAY", ":0")]);
    let screen = expect_raw(&pty, "left; Ctrl-C to stop)");
    assert!(screen.contains("open this URL in a browser on this machine:\r\n    http://127.0.0.1:"), "{screen:?}");
    assert!(
        screen.contains(&format!("{REWRITE}aws-sso-process: waiting for the sign-in in the browser (10:00 left"))
            || screen.contains(&format!("{REWRITE}aws-sso-process: waiting for the sign-in in the browser (9:5")),
        "{screen:?}"
    );
    pty.send("\x03");
    let (out, _) = finish(pty, child);
    assert!(!out.status.success());
}

#[test]
fn a_browser_that_cannot_start_is_one_short_line() {
    let env = device_env();
    let (pty, child) = login_on_pty(
        &env,
        &["login", "--sso-session", "corp", "--use-device-code"],
        &[("BROWSER", "/nonexistent/bin/firefox")],
    );
    let (out, screen) = finish(pty, child);
    to_run(out).assert_ok();
    assert!(
        screen.contains("aws-sso-process: could not open a browser (firefox is not installed); open the page by hand"),
        "{screen:?}"
    );
    assert!(!screen.contains("os error") && !screen.contains("No such file"), "{screen:?}");
}

#[test]
fn ctrl_c_at_any_point_leaves_the_caches_as_they_were() {
    for flow in [&["--use-device-code"][..], &[]] {
        let env = TestEnv::new();
        env.fake.set_device_timing(600, Some(1));
        env.fake.set_device_mode(DeviceMode::Approve, 1000);
        let before = caches(&env);
        let mut args = vec!["login", "--sso-session", "corp", "--no-browser"];
        args.extend_from_slice(flow);
        let (mut pty, child) = login_on_pty(&env, &args, &[("DISPLAY", ":0")]);
        expect_raw(&pty, "Ctrl-C to stop");
        assert!(env.fake.count("RegisterClient") == 1, "a client was registered before the interrupt");
        pty.send("\x03");
        let (out, _) = finish(pty, child);
        assert!(!out.status.success(), "{flow:?}");
        assert_eq!(caches(&env), before, "{flow:?}: the caches are as they were (no registration, no temp file)");
    }
}

/// The cache folders' files, lock files aside (they are empty and stay, by design).
fn caches(env: &TestEnv) -> Vec<(String, Vec<u8>)> {
    let aws = env.home().join(".aws");
    snapshot(&aws).into_iter().filter(|(name, _)| !name.ends_with(".lock")).collect()
}
