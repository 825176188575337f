//! Tests that need something this machine may lack (a real client, a shell, root). With `CI=true` a
//! missing requirement fails the test (`.ci/run` installs them all); elsewhere the test, or the part
//! of it that needs the tool, is skipped, and the skip shows in `cargo test`'s normal output: one
//! `skipped:` line when it happens, and after the test summary one line that counts them and says where
//! README.md tells how to get each tool. (libtest captures `eprintln!` and shows it only for a failed
//! test, so these lines go to the standard error's file itself.)

use std::io::Write;
use std::sync::{Mutex, Once};

/// The skips of this run, as (test, what was missing).
static SKIPS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static SUMMARY: Once = Once::new();

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The test cannot run without `what` (`how`: how to get it): a failure in CI, elsewhere a skip
/// that shows. The caller returns after it.
#[track_caller]
pub fn skip_or_fail(what: &str, how: &str) {
    if in_ci() {
        panic!("{what} is required in CI ({how}; .ci/run installs it)");
    }
    record(what, how);
}

/// Part of a test is left out for want of `what`, which CI does not promise either (pwsh; zsh and
/// fish when apt could not install them): never a failure, but it shows like a skip.
pub fn skip_part(what: &str, how: &str) {
    record(what, how);
}

fn record(what: &str, how: &str) {
    // libtest names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let _ = std::io::stderr().write_all(format!("skipped: {test}: needs {what} ({how})\n").as_bytes());
    SKIPS.lock().unwrap_or_else(|e| e.into_inner()).push((test, what.to_owned()));
    // SAFETY: `summary` is an `extern "C" fn()` that neither unwinds nor calls `exit`.
    SUMMARY.call_once(|| unsafe {
        libc::atexit(summary);
    });
}

/// After libtest's own summary line (it returns from main, or calls `exit`): the skips, counted.
extern "C" fn summary() {
    let skips = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
    let mut by_what: Vec<(&str, usize)> = Vec::new();
    for (_, what) in skips.iter() {
        match by_what.iter_mut().find(|(w, _)| w == what) {
            Some((_, n)) => *n += 1,
            None => by_what.push((what, 1)),
        }
    }
    let list: Vec<String> = by_what.iter().map(|(w, n)| format!("{w} ({n})")).collect();
    let line = format!(
        "note: {} test{} skipped in whole or in part, for want of: {}; README.md (Running the tests) says how \
         to get them; with CI=true a required client that is missing fails its test\n",
        skips.len(),
        if skips.len() == 1 { "" } else { "s" },
        list.join(", ")
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
}
