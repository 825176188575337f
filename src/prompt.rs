//! Where interactive text (sign-in URLs, user codes, "waiting for another login") goes: the
//! terminal (`/dev/tty`) when it can be opened for writing, else stderr. Never stdout: in
//! credential_process mode stdout carries only the JSON, and SDKs hide stderr unless the process
//! fails (SPEC A.3, B.10.13, Part C 9). The path comes from `Context::tty_path`, so tests and
//! automation can redirect or switch off the terminal with `AWS_SSO_PROCESS_TTY`.

use crate::context::Context;
use std::fs::{File, OpenOptions};
use std::io::Write;

pub struct Prompt {
    tty: Option<File>,
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
        Prompt { tty }
    }

    /// Whether a terminal is there to show the prompt (rather than stderr, which SDKs hide).
    pub fn has_tty(&self) -> bool {
        self.tty.is_some()
    }

    /// Writes one line. The text must not hold secrets; server-supplied parts are sanitised by the caller.
    pub fn line(&self, text: &str) {
        let line = format!("{}\n", crate::sanitize::sanitize(text));
        match &self.tty {
            Some(file) => {
                let mut tty = file;
                let _ = tty.write_all(line.as_bytes()).and_then(|()| tty.flush());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }
}
