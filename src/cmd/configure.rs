//! `configure generate`: one profile per account and role the SSO session can reach (from `list`),
//! each running this program as its credential_process (SPEC A.1's second pattern), so no profile
//! carries sso_* keys the SDKs would act on themselves (B.8, Part C 11).
//!
//! Profile names: `<prefix><account slug>.<role>`. The account slug is the account name in lower
//! case with every run of characters other than ASCII letters and digits turned into one `-`, and
//! no `-` at either end ("Prod – Payments (EU)" → `prod-payments-eu`); an empty slug becomes the
//! account ID. When two accounts get the same slug, both get `-<account id>` appended. Characters of
//! a role name outside `A-Za-z0-9+=,.@_-` become `-`.
//!
//! `--write` appends the profiles that are not there yet (by name, or because a profile already
//! runs aws-sso-process for that account and role) and touches nothing else: the old bytes stay
//! byte for byte, a copy goes to `<config>.bak`, the new file replaces the old one atomically with
//! its mode, and a symlinked config is written through the link. Run twice, it adds nothing.

use crate::cache;
use crate::cmd::list::{self, AccountRoles};
use crate::config::Config;
use crate::context::{Context, SessionTarget, TargetSpec, shell_word};
use crate::error::Error;
use crate::http::sanitize;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A profile to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub account_id: String,
    pub account_name: String,
    pub role: String,
}

pub fn generate(ctx: &Context, spec: &TargetSpec, prefix: &str, write: bool, program: &str) -> Result<u8, Error> {
    if let Some(bad) = prefix.chars().find(|c| c.is_whitespace() || c.is_control() || "[]'\"\\#;".contains(*c)) {
        return Err(Error::Usage(format!(
            "--prefix cannot contain {bad:?}: it becomes part of [profile NAME] headers"
        )));
    }
    if program.trim().is_empty() {
        return Err(Error::Usage("--command needs the path of the program to run".into()));
    }
    let target = list::list_target(ctx, spec)?;
    // With --start-url, --region is the sso_region, and serves as the profiles' region as well.
    let region = spec.region.clone().unwrap_or_else(|| target.session.region.clone());
    let accounts = list::fetch(ctx, &target)?;
    let planned = plan(&accounts, prefix);
    if planned.is_empty() {
        eprintln!("aws-sso-process: the SSO session {} reaches no account and role; nothing to generate", target.label);
        return Ok(0);
    }
    if !write {
        let blocks: Vec<String> = planned.iter().map(|p| block(p, &target, &region, program, "\n")).collect();
        let _ = std::io::stdout().lock().write_all(blocks.join("\n").as_bytes());
        return Ok(0);
    }
    append(ctx, &target, &region, program, &planned)
}

/// The account slug rule (see the module comment).
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

fn role_part(role: &str) -> String {
    role.chars().map(|c| if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) { c } else { '-' }).collect()
}

/// Profile names for every account and role, in listing order.
pub fn plan(accounts: &[AccountRoles], prefix: &str) -> Vec<Planned> {
    let slugs: Vec<String> = accounts
        .iter()
        .map(|a| Some(slug(&a.account.account_name)).filter(|s| !s.is_empty()).unwrap_or(a.account.account_id.clone()))
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for s in &slugs {
        *count.entry(s).or_default() += 1;
    }
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    for (a, s) in accounts.iter().zip(&slugs) {
        let mut s = if count[s.as_str()] > 1 { format!("{s}-{}", a.account.account_id) } else { s.clone() };
        // Only contrived names (an account called like another's slug plus an ID) get here.
        if !taken.insert(s.clone()) {
            s = a.account.account_id.clone();
        }
        for role in &a.roles {
            out.push(Planned {
                name: format!("{prefix}{s}.{}", role_part(role)),
                account_id: a.account.account_id.clone(),
                account_name: a.account.account_name.clone(),
                role: role.clone(),
            });
        }
    }
    out
}

/// The credential_process line's command: `program` with the target's flags, quoted for both
/// botocore's shlex split and the SDKs' `sh -c`.
fn command(p: &Planned, target: &SessionTarget, program: &str) -> String {
    let session = &target.session;
    let selector = match &session.name {
        Some(name) => format!("--sso-session {}", shell_word(name)),
        None => format!("--start-url {} --region {}", shell_word(&session.start_url), shell_word(&session.region)),
    };
    format!(
        "{} {selector} --account-id {} --role-name {}",
        shell_word(program),
        shell_word(&p.account_id),
        shell_word(&p.role)
    )
}

/// One profile block, lines ending in `eol`. The comment is ASCII (botocore on Windows reads the
/// file in the local code page).
fn block(p: &Planned, target: &SessionTarget, region: &str, program: &str, eol: &str) -> String {
    let name: String = sanitize(&p.account_name).chars().map(|c| if c.is_ascii() { c } else { '?' }).collect();
    [
        format!("# {name} ({}), role {}", p.account_id, p.role),
        format!("[profile {}]", p.name),
        format!("credential_process = {}", command(p, target, program)),
        format!("region = {region}"),
    ]
    .iter()
    .map(|l| format!("{l}{eol}"))
    .collect()
}

/// `--write`: appends the missing profiles, keeping everything else as it is.
fn append(
    ctx: &Context,
    target: &SessionTarget,
    region: &str,
    program: &str,
    planned: &[Planned],
) -> Result<u8, Error> {
    let config = ctx.config()?;
    let session_key = cache::token_key(target.session.name.as_deref(), &target.session.start_url);
    // Targets some profile already runs aws-sso-process for: (account, role) -> profile.
    let mut served: HashMap<(String, String), String> = HashMap::new();
    for (name, section) in &config.profiles {
        if let Some((s, account, role)) =
            section.get("credential_process").and_then(|c| crate::target::line_role(config, c))
            && cache::token_key(s.name.as_deref(), &s.start_url) == session_key
        {
            served.entry((account, role)).or_insert_with(|| name.clone());
        }
    }
    let mut out = std::io::stdout().lock();
    let mut new = Vec::new();
    for p in planned {
        if config.profile(&p.name).is_some() {
            let _ = writeln!(out, "skipped profile {}: it is already in the config", p.name);
        } else if let Some(other) = served.get(&(p.account_id.clone(), p.role.clone())) {
            let _ = writeln!(
                out,
                "skipped profile {}: profile {other} already runs aws-sso-process for {} {}",
                p.name, p.account_id, p.role
            );
        } else {
            new.push(p);
        }
    }
    let shown = ctx.config_path();
    if new.is_empty() {
        let _ = writeln!(out, "nothing to add: {} has every profile", shown.display());
        return Ok(0);
    }

    // Write through a symlink (dotfile managers link ~/.aws/config), not over it.
    let path = std::fs::canonicalize(&shown).unwrap_or_else(|_| shown.clone());
    let old = read_optional(&path)?;
    let eol = if old.windows(2).any(|w| w == b"\r\n") { "\r\n" } else { "\n" };
    let mut text = old.clone();
    if !text.is_empty() {
        if !text.ends_with(b"\n") && !text.ends_with(b"\r") {
            text.extend_from_slice(eol.as_bytes());
        }
        text.extend_from_slice(eol.as_bytes());
    }
    let blocks: Vec<String> = new.iter().map(|p| block(p, target, region, program, eol)).collect();
    text.extend_from_slice(blocks.join(eol).as_bytes());
    check_result(&path, &text, &new)?;

    let mode = file_mode(&path);
    let backup = backup_path(&path);
    if !old.is_empty() {
        cache::write_bytes_atomic_mode(&backup, &old, mode)?;
    }
    // Another program may have changed the file since we read it: then write nothing.
    if read_optional(&path)? != old {
        return Err(Error::Other {
            what: format!("{} changed while the profiles were being generated; nothing was written", path.display()),
            hint: Some("run the command again".into()),
        });
    }
    cache::write_bytes_atomic_mode(&path, &text, mode.or(Some(0o600)))?;
    for p in &new {
        let _ = writeln!(out, "added profile {}", p.name);
    }
    let kept = if old.is_empty() { String::new() } else { format!("; the previous file is {}", backup.display()) };
    let _ = writeln!(out, "{} profiles added to {}{kept}", new.len(), shown.display());
    Ok(0)
}

fn read_optional(path: &Path) -> Result<Vec<u8>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(cache::CacheError::Io { path: path.to_owned(), action: "read", source }.into()),
    }
}

/// The new text must parse, and hold each new profile.
fn check_result(path: &Path, text: &[u8], new: &[&Planned]) -> Result<(), Error> {
    let invalid = |why: String| Error::Other {
        what: format!("the generated config for {} would not be valid ({why}); nothing was written", path.display()),
        hint: None,
    };
    let text = std::str::from_utf8(text).map_err(|e| invalid(e.to_string()))?;
    let parsed = Config::parse(path, text, Path::new(""), "").map_err(|e| invalid(e.to_string()))?;
    match new.iter().find(|p| parsed.profile(&p.name).is_none()) {
        Some(p) => Err(invalid(format!("profile {} is not found in it", p.name))),
        None => Ok(()),
    }
}

fn file_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `<config>.bak` next to the file.
fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".bak");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::Account;

    fn account(id: &str, name: &str, roles: &[&str]) -> AccountRoles {
        AccountRoles {
            account: Account { account_id: id.into(), account_name: name.into(), email_address: None },
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn slugs() {
        for (name, want) in [
            ("Prod – Payments (EU)", "prod-payments-eu"),
            ("  --Sandbox--  ", "sandbox"),
            ("Audit & Logging", "audit-logging"),
            ("ÄÖÜ", ""),
            ("Café Crème 2", "caf-cr-me-2"),
            ("a__b..c", "a-b-c"),
            ("ABC123", "abc123"),
        ] {
            assert_eq!(slug(name), want, "{name}");
        }
    }

    #[test]
    fn names_collisions_and_prefix() {
        let accounts = [
            account("111", "Prod Payments", &["Admin"]),
            account("222", "prod-payments!", &["Admin", "Read Only"]),
            account("333", "Ünïcödé", &["Dev"]),
            account("444", "Sandbox", &["Dev"]),
        ];
        let names: Vec<String> = plan(&accounts, "corp-").into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "corp-prod-payments-111.Admin",
                "corp-prod-payments-222.Admin",
                "corp-prod-payments-222.Read-Only",
                "corp-n-c-d.Dev",
                "corp-sandbox.Dev",
            ]
        );
        let p = &plan(&[account("555", "日本", &["Admin"])], "")[0];
        assert_eq!(p.name, "555.Admin", "an empty slug becomes the account ID");
        assert_eq!(p.role, "Admin");
    }

    #[test]
    fn blocks_quote_what_needs_quoting() {
        let target = SessionTarget {
            session: crate::config::SsoSession {
                name: Some("my corp".into()),
                start_url: "https://x/start".into(),
                region: "us-east-1".into(),
                scopes: Vec::new(),
            },
            settings_profile: None,
            login_args: String::new(),
            label: String::new(),
        };
        let p = &plan(&[account("111122223333", "Prod – Payments\n(EU)", &["Admin"])], "")[0];
        assert_eq!(
            block(p, &target, "eu-west-1", "/opt/my tools/aws-sso-process", "\n"),
            "# Prod ? Payments?(EU) (111122223333), role Admin\n[profile prod-payments-eu.Admin]\n\
             credential_process = '/opt/my tools/aws-sso-process' --sso-session 'my corp' --account-id 111122223333 --role-name Admin\n\
             region = eu-west-1\n"
        );
    }

    #[test]
    fn backup_name() {
        assert_eq!(backup_path(Path::new("/h/.aws/config")), Path::new("/h/.aws/config.bak"));
    }
}
