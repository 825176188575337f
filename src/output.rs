//! What commands print: the credential_process output (docs/credential-process.md: one JSON object on stdout,
//! exact key casing, `Version` the number 1, `Expiration` in `YYYY-MM-DDTHH:MM:SSZ`), and the aligned
//! tables of the human-facing commands (`status`, `list`), coloured only when the caller says so.

use crate::portal::RoleCredentials;
use crate::timefmt;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessCredentials<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
    account_id: &'a str,
}

fn object<'a>(creds: &'a RoleCredentials, account_id: &'a str) -> ProcessCredentials<'a> {
    ProcessCredentials {
        version: 1,
        access_key_id: creds.access_key_id.expose(),
        secret_access_key: creds.secret_access_key.expose(),
        session_token: creds.session_token.expose(),
        expiration: timefmt::format(creds.expiration),
        account_id,
    }
}

/// The environment variables that carry the credentials, in the AWS CLI's order (`export`'s lines, `exec`'s environment).
pub fn variables(creds: &RoleCredentials) -> [(&'static str, String); 4] {
    [
        ("AWS_ACCESS_KEY_ID", creds.access_key_id.expose().to_owned()),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.expose().to_owned()),
        ("AWS_SESSION_TOKEN", creds.session_token.expose().to_owned()),
        ("AWS_CREDENTIAL_EXPIRATION", timefmt::format(creds.expiration)),
    ]
}

pub fn process_json(creds: &RoleCredentials, account_id: &str) -> String {
    serde_json::to_string(&object(creds, account_id)).unwrap_or_default()
}

/// The same object indented by two spaces, as `aws configure export-credentials --format process` prints it.
pub fn process_json_pretty(creds: &RoleCredentials, account_id: &str) -> String {
    serde_json::to_string_pretty(&object(creds, account_id)).unwrap_or_default()
}

/// How a table cell is painted when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Bold,
    Dim,
    Good,
    Warn,
    Bad,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Good => "32",
            Style::Warn => "33",
            Style::Bad => "31",
        }
    }

    /// `text` in this style (plain when `color` is off).
    pub fn paint(self, text: &str, color: bool) -> String {
        if !color || self == Style::Plain || text.is_empty() {
            text.to_owned()
        } else {
            format!("\x1b[{}m{text}\x1b[0m", self.sgr())
        }
    }
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub style: Style,
}

impl Cell {
    /// A plain cell; control characters in server-supplied text become `?`.
    pub fn new(text: impl AsRef<str>) -> Cell {
        Cell { text: crate::sanitize::sanitize(text.as_ref()), style: Style::Plain }
    }

    pub fn styled(text: impl AsRef<str>, style: Style) -> Cell {
        Cell { style, ..Cell::new(text) }
    }
}

/// Rows as lines with aligned columns (two spaces apart, widths in characters), each line
/// starting with `indent`; no line ends in spaces.
pub fn table(rows: &[Vec<Cell>], indent: &str, color: bool) -> Vec<String> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.text.chars().count();
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = indent.to_owned();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(&cell.style.paint(&cell.text, color));
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.text.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line.truncate(line.trim_end().len());
            line
        })
        .collect()
}

/// The first error writing stdout other than a closed pipe, kept for `main` (`stdout_failure`).
static STDOUT_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Keeps the outcome of a write to stdout. A reader that has gone away (`| head`, a closed
/// terminal, EPIPE) is not an error: the rest of the output is dropped and the command goes on,
/// so it finishes what it was doing. Any other failure (a full disk, an I/O error) is remembered,
/// the command still finishes, and `main` then exits with 1 and names it (docs/reliability.md).
pub fn note_stdout(result: std::io::Result<()>) {
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        let mut first = STDOUT_ERROR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        first.get_or_insert_with(|| e.to_string());
    }
}

/// Bytes on stdout, flushed; a failure is kept by `note_stdout`.
pub fn stdout_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    note_stdout(out.write_all(bytes).and_then(|()| out.flush()));
}

/// Flushes stdout and gives the first write error other than a closed pipe, if any was seen.
pub fn stdout_failure() -> Option<String> {
    note_stdout(std::io::stdout().lock().flush());
    STDOUT_ERROR.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

/// A line on stdout (`outln!`); a failure is kept by `note_stdout`.
pub fn stdout_line(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    note_stdout(out.write_fmt(args).and_then(|()| out.write_all(b"\n")));
}

/// Text on stdout without a line break (`out!`), kept like `stdout_line`'s.
pub fn stdout_text(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    note_stdout(out.write_fmt(args).and_then(|()| out.flush()));
}

/// A line on stderr (`errln!`), dropped like `stdout_line`'s when stderr cannot be written.
pub fn stderr_line(args: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn tables_align_by_characters_and_colour_only_when_asked() {
        let rows = vec![
            vec![Cell::styled("ID", Style::Bold), Cell::new("NAME"), Cell::new("ROLE")],
            vec![Cell::new("1"), Cell::new("Prod – Payments"), Cell::styled("Admin", Style::Good)],
            vec![Cell::new("22"), Cell::new("x\u{1b}[2J"), Cell::new("")],
        ];
        assert_eq!(
            table(&rows, "  ", false),
            ["  ID  NAME             ROLE", "  1   Prod – Payments  Admin", "  22  x?[2J"]
        );
        let colored = table(&rows, "", true);
        assert_eq!(colored[0], "\x1b[1mID\x1b[0m  NAME             ROLE");
        assert!(colored[1].ends_with("\x1b[32mAdmin\x1b[0m"));
    }

    #[test]
    fn exact_shape() {
        let creds = RoleCredentials {
            access_key_id: Secret::new("ASIA1"),
            secret_access_key: Secret::new("s\"k"),
            session_token: Secret::new("st"),
            expiration: timefmt::parse("2026-11-21T08:00:00.123Z").unwrap(),
        };
        assert_eq!(
            process_json(&creds, "111122223333"),
            r#"{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s\"k","SessionToken":"st","Expiration":"2026-11-21T08:00:00Z","AccountId":"111122223333"}"#
        );
    }
}
