//! Where interactive text (sign-in URLs, user codes, "waiting for another login") goes, and how it
//! looks: the terminal (`/dev/tty`) when it can be opened for writing, else stderr. Never stdout: in
//! credential_process mode stdout carries only the JSON, and SDKs hide stderr unless the process
//! fails (docs/credential-process.md). The path comes from `Context::tty_path`, so tests and
//! automation can redirect or switch off the terminal with `AWS_SSO_PROCESS_TTY`.
//!
//! On a real terminal a user code is shown in bold (not under `NO_COLOR` or `TERM=dumb`) and a
//! status line ("waiting for the sign-in: 9:58 left") is rewritten in place; anywhere else the text is
//! plain and the status is a plain line at most every 30 seconds, so logs stay readable.

use crate::context::Context;
use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a plain (non-terminal) status line is repeated.
pub const PLAIN_STATUS_EVERY: Duration = Duration::from_secs(30);

pub struct Prompt {
    tty: Option<File>,
    /// Lines can be rewritten in place (a terminal).
    terminal: bool,
    /// Bold is allowed: a terminal, `NO_COLOR` unset, `TERM` not `dumb`.
    bold: bool,
    /// A status line is on screen (terminal only) and must be cleared before the next line.
    status_shown: Cell<bool>,
    last_plain_status: Cell<Option<Instant>>,
}

impl Prompt {
    pub fn open(ctx: &Context) -> Prompt {
        let tty = ctx.tty_path().and_then(|path| {
            let opened = OpenOptions::new().append(true).create(true).open(&path);
            if let Err(e) = &opened {
                ctx.debug(|| format!("no terminal at {} ({e}); prompts go to stderr", path.display()));
            }
            opened.ok()
        });
        let terminal = match &tty {
            Some(file) => file.is_terminal(),
            None => std::io::stderr().is_terminal(),
        };
        let bold = terminal && ctx.env.get("NO_COLOR").is_none() && ctx.env.get("TERM") != Some("dumb");
        Prompt { tty, terminal, bold, status_shown: Cell::new(false), last_plain_status: Cell::new(None) }
    }

    /// Whether a terminal is there to show the prompt (rather than stderr, which SDKs hide).
    pub fn has_tty(&self) -> bool {
        self.tty.is_some()
    }

    fn write(&self, text: &str) {
        match &self.tty {
            Some(file) => {
                let mut tty = file;
                let _ = tty.write_all(text.as_bytes()).and_then(|()| tty.flush());
            }
            None => {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    }

    /// Clears a status line that is on screen, so the next text starts on a clean line.
    fn clear_status(&self) {
        if self.status_shown.replace(false) {
            self.write("\r\x1b[2K");
        }
    }

    /// Writes one line. The text must not hold secrets; it is sanitised here as well.
    pub fn line(&self, text: &str) {
        self.clear_status();
        self.write(&format!("{}\n", crate::sanitize::sanitize(text)));
    }

    /// An indented line of its own for something the user must read exactly (a URL, a code),
    /// in bold when the terminal allows.
    pub fn item(&self, text: &str, emphasis: bool) {
        self.clear_status();
        let text = crate::sanitize::sanitize(text);
        if emphasis && self.bold {
            self.write(&format!("    \x1b[1m{text}\x1b[0m\n"));
        } else {
            self.write(&format!("    {text}\n"));
        }
    }

    /// A status that changes (time left): rewritten in place on a terminal; elsewhere a plain
    /// line, at most every `PLAIN_STATUS_EVERY`.
    pub fn status(&self, text: &str) {
        let text = crate::sanitize::sanitize(text);
        if self.terminal {
            self.write(&format!("\r\x1b[2K{text}"));
            self.status_shown.set(true);
        } else if self.last_plain_status.get().is_none_or(|t| t.elapsed() >= PLAIN_STATUS_EVERY) {
            self.last_plain_status.set(Some(Instant::now()));
            self.write(&format!("{text}\n"));
        }
    }

    /// Ends a status line (the next output starts on a line of its own).
    pub fn end_status(&self) {
        if self.status_shown.replace(false) {
            self.write("\r\x1b[2K");
        }
    }
}

impl Drop for Prompt {
    fn drop(&mut self) {
        self.end_status();
    }
}

/// "9:58" for a duration (minutes and seconds), rounded up so it never shows 0:00 while time remains.
pub fn minutes_seconds(left: Duration) -> String {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    format!("{}:{:02}", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_as_minutes_and_seconds() {
        assert_eq!(minutes_seconds(Duration::from_secs(600)), "10:00");
        assert_eq!(minutes_seconds(Duration::from_millis(598_200)), "9:59");
        assert_eq!(minutes_seconds(Duration::from_millis(1)), "0:01");
        assert_eq!(minutes_seconds(Duration::ZERO), "0:00");
    }
}
