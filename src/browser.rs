//! Opening a URL in the user's browser: the `BROWSER` command (given the URL as its one argument),
//! else `open` on macOS, the URL protocol handler on Windows (`rundll32 url.dll,FileProtocolHandler`,
//! started without a shell: `cmd /c start` would split the URL at `&`) and `xdg-open` elsewhere.
//!
//! The child gets no stdin, stdout or stderr of ours: in credential_process mode our stdout must
//! carry only the JSON (docs/credential-process.md), and a browser's chatter on a terminal helps nobody. We
//! do not wait for it (a `BROWSER` script may well run until the sign-in is over); a thread reaps
//! it so no zombie stays behind while the login runs.

use crate::context::Context;
use std::process::{Command, Stdio};

/// Starts the browser on `url`. The error says why it could not be started (the caller has
/// printed the URL already, so the user can open it by hand).
pub fn open(ctx: &Context, url: &str) -> Result<(), String> {
    // Device-flow URLs come from the service: never hand an opener a `file:` URL or something
    // that looks like an option.
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("the sign-in URL is not an http(s) URL, so no browser was started".to_owned());
    }
    let (program, first_args): (String, &[&str]) = match ctx.browser_command() {
        Some(cmd) => (cmd.to_owned(), &[]),
        None if cfg!(target_os = "macos") => ("open".to_owned(), &[]),
        None if cfg!(windows) => ("rundll32".to_owned(), &["url.dll,FileProtocolHandler"]),
        None => ("xdg-open".to_owned(), &[]),
    };
    let mut child = Command::new(&program)
        .args(first_args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            // One short line, not an OS error: the user only needs to know to open the URL by hand.
            ctx.debug(|| format!("cannot start {program}: {e}"));
            let name = program.rsplit(['/', '\\']).next().unwrap_or(&program);
            match e.kind() {
                std::io::ErrorKind::NotFound => format!("could not open a browser ({name} is not installed)"),
                _ => format!("could not open a browser ({name} did not start)"),
            }
        })?;
    ctx.debug(|| format!("started browser command {program}"));
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}
