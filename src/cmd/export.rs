//! `export`: the role credentials as text for a shell or a tool, in the formats of the AWS CLI's
//! `aws configure export-credentials --format` (awscli/customizations/configure/exportcreds.py):
//! the same variables in the same order, one per line, and the same line shapes. Two differences,
//! both deliberate: values are quoted for their shell whenever they need it (the CLI pastes them in
//! raw), and times are `YYYY-MM-DDTHH:MM:SSZ` (the CLI prints `+00:00`; every SDK reads both).
//!
//! Quoting, per format:
//! - env, env-no-export (POSIX sh, bash, zsh): bare when only `[A-Za-z0-9_@%+=:,./-]`, else single
//!   quotes with `'` written as `'\''`; newlines stay inside the quotes, so `eval "$(...)"` works.
//! - fish: `"value"` like the CLI when bare-safe, else single quotes with `\` and `'` escaped.
//! - powershell: always `"..."` like the CLI, with `` ` ``, `$` and the double quotes PowerShell knows
//!   (`"`, U+201C-U+201E) escaped by a backtick, and control characters written as escapes, so
//!   every value stays on its line for `... | Invoke-Expression`.
//! - windows-cmd: `set NAME=value` with `^` before `^ & | < > ( ) "`. cmd.exe has no quoting for
//!   `%` and `!` that works both typed and in a batch file, nor any for line breaks: a value with
//!   one of those is an error (naming the variable, never the value), and nothing is printed.

use crate::cli::ExportFormat;
use crate::cli::TargetArgs;
use crate::context::Context;
use crate::credentials;
use crate::error::Error;
use crate::output;
use crate::portal::RoleCredentials;
use std::io::Write;

pub fn run(ctx: &Context, spec: &TargetArgs, login_if_needed: bool, format: ExportFormat) -> Result<u8, Error> {
    let (target, served) = credentials::fetch(ctx, spec, login_if_needed)?;
    let text = render(format, &served.creds, &target.account_id)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Other { what: format!("cannot write to stdout: {e}"), hint: None })?;
    Ok(0)
}

/// The whole output, or an error before anything is printed.
pub fn render(format: ExportFormat, creds: &RoleCredentials, account_id: &str) -> Result<String, Error> {
    type Quote = fn(&str) -> Option<String>;
    let (prefix, separator, quote): (&str, &str, Quote) = match format {
        ExportFormat::Process => return Ok(output::process_json_pretty(creds, account_id) + "\n"),
        ExportFormat::Env => ("export ", "=", |v| Some(posix(v))),
        ExportFormat::EnvNoExport => ("", "=", |v| Some(posix(v))),
        ExportFormat::Powershell => ("$Env:", "=", |v| Some(powershell(v))),
        ExportFormat::WindowsCmd => ("set ", "=", windows_cmd),
        ExportFormat::Fish => ("set -gx ", " ", |v| Some(fish(v))),
    };
    let mut out = String::new();
    for (name, value) in output::variables(creds) {
        let Some(quoted) = quote(&value) else {
            return Err(Error::Other {
                what: format!(
                    "cannot export {name} for cmd.exe: the value holds a character cmd.exe cannot take safely (%, !, a control character)"
                ),
                hint: Some("use --format powershell or --format process instead".to_owned()),
            });
        };
        out.push_str(&format!("{prefix}{name}{separator}{quoted}\n"));
    }
    Ok(out)
}

fn bare_safe(value: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
}

/// POSIX shell word.
pub fn posix(value: &str) -> String {
    if bare_safe(value) { value.to_owned() } else { format!("'{}'", value.replace('\'', r"'\''")) }
}

/// fish word: inside single quotes only `\\` and `\'` are escapes.
pub fn fish(value: &str) -> String {
    if bare_safe(value) {
        format!("\"{value}\"")
    } else {
        format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
    }
}

/// PowerShell double-quoted string that expands nothing and keeps to one line.
pub fn powershell(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '`' | '$' | '"' | '\u{201C}' | '\u{201D}' | '\u{201E}' => {
                out.push('`');
                out.push(c);
            }
            '\n' => out.push_str("`n"),
            '\r' => out.push_str("`r"),
            '\t' => out.push_str("`t"),
            '\0' => out.push_str("`0"),
            c if c.is_control() => out.push_str(&format!("$([char]0x{:x})", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// cmd.exe `set` value, or `None` when it holds what cmd.exe cannot take safely.
pub fn windows_cmd(value: &str) -> Option<String> {
    let mut out = String::new();
    for c in value.chars() {
        match c {
            '%' | '!' => return None,
            c if c.is_control() => return None,
            '^' | '&' | '|' | '<' | '>' | '(' | ')' | '"' => {
                out.push('^');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::timefmt;

    fn creds(secret: &str) -> RoleCredentials {
        RoleCredentials {
            access_key_id: Secret::new("ASIAEXAMPLE"),
            secret_access_key: Secret::new(secret),
            session_token: Secret::new("IQoJb3JpZ2luX2VjE+/x=="),
            expiration: timefmt::parse("2026-11-21T08:00:00Z").unwrap(),
        }
    }

    #[test]
    fn plain_values_look_like_the_aws_cli() {
        let c = creds("wJalrXUtnFEMI/K7MDENG");
        let text = |f| render(f, &c, "111122223333").unwrap();
        assert_eq!(
            text(ExportFormat::Env),
            "export AWS_ACCESS_KEY_ID=ASIAEXAMPLE\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG\n\
             export AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjE+/x==\nexport AWS_CREDENTIAL_EXPIRATION=2026-11-21T08:00:00Z\n"
        );
        assert!(text(ExportFormat::EnvNoExport).starts_with("AWS_ACCESS_KEY_ID=ASIAEXAMPLE\nAWS_SECRET_ACCESS_KEY="));
        assert!(text(ExportFormat::Powershell).starts_with("$Env:AWS_ACCESS_KEY_ID=\"ASIAEXAMPLE\"\n"));
        assert!(text(ExportFormat::WindowsCmd).starts_with("set AWS_ACCESS_KEY_ID=ASIAEXAMPLE\n"));
        assert!(text(ExportFormat::Fish).starts_with("set -gx AWS_ACCESS_KEY_ID \"ASIAEXAMPLE\"\n"));
        assert_eq!(
            text(ExportFormat::Process),
            "{\n  \"Version\": 1,\n  \"AccessKeyId\": \"ASIAEXAMPLE\",\n  \"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG\",\n  \
             \"SessionToken\": \"IQoJb3JpZ2luX2VjE+/x==\",\n  \"Expiration\": \"2026-11-21T08:00:00Z\",\n  \
             \"AccountId\": \"111122223333\"\n}\n"
        );
    }

    #[test]
    fn hostile_values_are_quoted() {
        let v = "a'b\"c$d`e\\f\ng h;i&j%k!l";
        assert_eq!(posix(v), "'a'\\''b\"c$d`e\\f\ng h;i&j%k!l'");
        assert_eq!(posix(""), "''");
        assert_eq!(fish(v), "'a\\'b\"c$d`e\\\\f\ng h;i&j%k!l'");
        assert_eq!(powershell(v), "\"a'b`\"c`$d``e\\f`ng h;i&j%k!l\"");
        assert_eq!(powershell("x\u{201C}y\u{1b}"), "\"x`\u{201C}y$([char]0x1b)\"");
        assert_eq!(windows_cmd("a&b|c<d>e(f)g^h\"i j").as_deref(), Some("a^&b^|c^<d^>e^(f^)g^^h^\"i j"));
        for bad in ["a%PATH%", "a!b", "a\nb", "a\rb"] {
            assert_eq!(windows_cmd(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_unsafe_value_for_cmd_prints_nothing_and_names_no_secret() {
        let err = render(ExportFormat::WindowsCmd, &creds("se%cret"), "1").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("AWS_SECRET_ACCESS_KEY") && !text.contains("se%cret"), "{text}");
        assert_eq!(err.exit_code(), 1);
    }
}
