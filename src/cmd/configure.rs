//! `configure generate`: one profile per account and role the SSO session can reach (from `list`),
//! each running this program as its credential_process (SPEC A.1's second pattern), so no profile
//! carries sso_* keys the SDKs would act on themselves (B.8, Part C 11).
//!
//! Profile names: `<prefix><account slug>.<role>`. The account slug is the account name in lower
//! case with every run of characters other than ASCII letters and digits turned into one `-`, and
//! no `-` at either end ("Prod – Payments (EU)" → `prod-payments-eu`); an empty slug becomes the
//! account ID. When two accounts get the same slug, both get `-<account id>` appended.
//!
//! The listing is server text, and nothing in it may shape the config (issue 11; the rules are in
//! docs/configure-generate.md). An account whose ID is not 12 digits, or a role whose name is not an
//! IAM role name, is left out with one warning naming the account; account names reach the text
//! only slugged (in profile names) or as ASCII comments without control characters. Before anything
//! is printed or written, the text is read back with our own parser (config.rs): it must hold every
//! section the user had with exactly its keys and values, and besides them only the planned
//! profiles with exactly their two keys. Otherwise nothing is printed or written.
//!
//! `--write` appends the profiles that are not there yet (by name, or because a profile already
//! runs aws-sso-process for that account and role) and touches nothing else: the old bytes stay
//! byte for byte, a copy goes to `<config>.bak`, the new file replaces the old one atomically with
//! its mode, and a symlinked config is written through the link. Run twice, it adds nothing.

use crate::cache;
use crate::cmd::list::{self, AccountRoles};
use crate::config::{self, Config, Value, Values};
use crate::context::{Context, SessionTarget, TargetSpec, shell_word};
use crate::error::Error;
use crate::portal::Account;
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
    let (planned, skipped) = plan(&accounts, prefix);
    for warning in skipped {
        ctx.warn(warning);
    }
    if planned.is_empty() {
        eprintln!("aws-sso-process: the SSO session {} reaches no account and role; nothing to generate", target.label);
        return Ok(0);
    }
    if !write {
        let blocks: Vec<String> = planned.iter().map(|p| block(p, &target, &region, program, "\n")).collect();
        let text = blocks.join("\n");
        let expected: Vec<Expected> = planned.iter().map(|p| expect(p, &target, &region, program)).collect();
        if let Err(why) = verify(Path::new("the printed profiles"), "", &text, &expected) {
            return Err(Error::Other { what: format!("refusing to print the profiles: {why}"), hint: None });
        }
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return Ok(0);
    }
    append(ctx, &target, &region, program, &planned)
}

/// An AWS account ID: 12 ASCII digits.
fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM role name: 1 to 64 ASCII letters, digits and `_+=,.@-`.
fn valid_role_name(role: &str) -> bool {
    (1..=64).contains(&role.len()) && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// Server text for a message, at most 64 characters (it is sanitised when printed).
fn clip(s: &str) -> String {
    if s.chars().count() > 64 { s.chars().take(64).collect::<String>() + "…" } else { s.to_owned() }
}

fn account_label(a: &Account) -> String {
    format!("account {} ({})", clip(&a.account_id), clip(&a.account_name))
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

/// Profile names for every account and role that may reach the config, in listing order, and one
/// warning for each account or role left out (see the module comment).
pub fn plan(accounts: &[AccountRoles], prefix: &str) -> (Vec<Planned>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut ids = HashSet::new();
    let mut kept = Vec::new();
    for a in accounts {
        let id = a.account.account_id.as_str();
        let why = if !valid_account_id(id) {
            "an account ID is 12 digits"
        } else if !ids.insert(id) {
            "it is listed twice"
        } else {
            kept.push(a);
            continue;
        };
        warnings.push(format!("skipped {}: {why}", account_label(&a.account)));
    }
    let slugs: Vec<String> = kept
        .iter()
        .map(|a| Some(slug(&a.account.account_name)).filter(|s| !s.is_empty()).unwrap_or(a.account.account_id.clone()))
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for s in &slugs {
        *count.entry(s).or_default() += 1;
    }
    let mut taken = HashSet::new();
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (a, s) in kept.iter().zip(&slugs) {
        let mut s = if count[s.as_str()] > 1 { format!("{s}-{}", a.account.account_id) } else { s.clone() };
        // Only contrived names (an account called like another's slug plus an ID) get here.
        if !taken.insert(s.clone()) {
            s = a.account.account_id.clone();
        }
        for role in &a.roles {
            let name = format!("{prefix}{s}.{role}");
            if !valid_role_name(role) {
                warnings.push(format!(
                    "skipped role '{}' of {}: an IAM role name is 1 to 64 letters, digits and _+=,.@-",
                    clip(role),
                    account_label(&a.account)
                ));
            } else if !names.insert(name.clone()) {
                warnings.push(format!(
                    "skipped role {role} of {}: another account already gets profile {name}",
                    account_label(&a.account)
                ));
            } else {
                out.push(Planned {
                    name,
                    account_id: a.account.account_id.clone(),
                    account_name: a.account.account_name.clone(),
                    role: role.clone(),
                });
            }
        }
    }
    (out, warnings)
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

/// The keys of a generated profile, in the order they are written.
fn keys(p: &Planned, target: &SessionTarget, region: &str, program: &str) -> [(&'static str, String); 2] {
    [("credential_process", command(p, target, program)), ("region", region.to_owned())]
}

/// One profile block, lines ending in `eol`. The comment is printable ASCII: nothing in it can end
/// the line, and botocore on Windows reads the file in the local code page.
fn block(p: &Planned, target: &SessionTarget, region: &str, program: &str, eol: &str) -> String {
    let name: String = p.account_name.chars().map(|c| if matches!(c, ' '..='~') { c } else { '?' }).collect();
    let mut lines = vec![format!("# {name} ({}), role {}", p.account_id, p.role), format!("[profile {}]", p.name)];
    lines.extend(keys(p, target, region, program).into_iter().map(|(k, v)| format!("{k} = {v}")));
    lines.iter().map(|l| format!("{l}{eol}")).collect()
}

/// A generated profile as our parser must read it back.
#[derive(Debug)]
struct Expected {
    name: String,
    values: Values,
}

fn expect(p: &Planned, target: &SessionTarget, region: &str, program: &str) -> Expected {
    let values = keys(p, target, region, program).into_iter().map(|(k, v)| (k.to_owned(), Value::Text(v))).collect();
    Expected { name: p.name.clone(), values }
}

/// What generating may do to a config: `new`, read with our own parser, holds every section of
/// `old` with exactly its keys and values, and besides them only the `[profile NAME]` sections of
/// `added`, each with exactly its keys and values and read as profile NAME. The reason otherwise.
fn verify(path: &Path, old: &str, new: &str, added: &[Expected]) -> Result<(), String> {
    let old_sections = config::sections(path, old).map_err(|e| crate::error::chain(&e))?;
    let mut new_sections: HashMap<String, Values> = config::sections(path, new)
        .map_err(|e| format!("the new text would not parse ({})", crate::error::chain(&e)))?
        .into_iter()
        .collect();
    for (header, values) in old_sections {
        match new_sections.remove(&header) {
            None => return Err(format!("section [{}] would be lost", clip(&header))),
            Some(now) if now != values => return Err(format!("section [{}] would change", clip(&header))),
            Some(_) => {}
        }
    }
    for p in added {
        let header = format!("profile {}", p.name);
        match new_sections.remove(&header) {
            None => return Err(format!("section [{}] would be missing", clip(&header))),
            Some(now) if now != p.values => {
                return Err(format!("section [{}] would hold other keys or values", clip(&header)));
            }
            Some(_) => {}
        }
    }
    if let Some(header) = new_sections.keys().min() {
        return Err(format!("section [{}] would be added", clip(header)));
    }
    let parsed = Config::parse(path, new, Path::new(""), "").map_err(|e| crate::error::chain(&e))?;
    match added.iter().find(|p| parsed.profile(&p.name).map(|s| &s.values) != Some(&p.values)) {
        Some(p) => Err(format!("section [profile {}] would not be read as that profile", clip(&p.name))),
        None => Ok(()),
    }
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
    let expected: Vec<Expected> = new.iter().map(|p| expect(p, target, region, program)).collect();
    let backup = replace(&path, &old, &text, &expected)?;

    for p in &new {
        let _ = writeln!(out, "added profile {}", p.name);
    }
    let kept = backup.map(|b| format!("; the previous file is {}", b.display())).unwrap_or_default();
    let _ = writeln!(out, "{} profiles added to {}{kept}", new.len(), shown.display());
    Ok(0)
}

/// Replaces the config at `path`, whose bytes were `old`, with `text`: only when `verify` passes
/// and the file still holds `old`, after a copy of `old` went to `<config>.bak` (returned; none
/// for an empty file). On any error the file is untouched.
fn replace(path: &Path, old: &[u8], text: &[u8], added: &[Expected]) -> Result<Option<PathBuf>, Error> {
    let refuse = |why: String| Error::Other {
        what: format!("refusing to write {}: {why}; the file is unchanged", path.display()),
        hint: None,
    };
    let old_text = std::str::from_utf8(old).map_err(|_| refuse("it is not UTF-8".into()))?;
    let new_text = std::str::from_utf8(text).map_err(|_| refuse("the new text would not be UTF-8".into()))?;
    verify(path, old_text, new_text, added).map_err(refuse)?;

    let mode = file_mode(path);
    let backup = (!old.is_empty()).then(|| backup_path(path));
    if let Some(backup) = &backup {
        cache::write_bytes_atomic_mode(backup, old, mode)?;
    }
    // Another program may have changed the file since we read it: then write nothing.
    if read_optional(path)? != old {
        return Err(Error::Other {
            what: format!("{} changed while the profiles were being generated; nothing was written", path.display()),
            hint: Some("run the command again".into()),
        });
    }
    cache::write_bytes_atomic_mode(path, text, mode.or(Some(0o600)))?;
    Ok(backup)
}

fn read_optional(path: &Path) -> Result<Vec<u8>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(cache::CacheError::Io { path: path.to_owned(), action: "read", source }.into()),
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
            account("111111111111", "Prod Payments", &["Admin"]),
            account("222222222222", "prod-payments!", &["Admin", "Read.Only"]),
            account("333333333333", "Ünïcödé", &["Dev"]),
            account("444444444444", "Sandbox", &["Dev"]),
        ];
        let (planned, skipped) = plan(&accounts, "corp-");
        let names: Vec<String> = planned.into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "corp-prod-payments-111111111111.Admin",
                "corp-prod-payments-222222222222.Admin",
                "corp-prod-payments-222222222222.Read.Only",
                "corp-n-c-d.Dev",
                "corp-sandbox.Dev",
            ]
        );
        assert!(skipped.is_empty(), "{skipped:?}");
        let p = &plan(&[account("555555555555", "日本", &["Admin"])], "").0[0];
        assert_eq!(p.name, "555555555555.Admin", "an empty slug becomes the account ID");
        assert_eq!(p.role, "Admin");
    }

    #[test]
    fn ids_and_role_names_that_break_the_rules_are_left_out_with_one_warning_each() {
        let longest = "R".repeat(64);
        let long = "R".repeat(65);
        let accounts = [
            account("11111111111", "Short", &["Admin"]),
            account("1111111111111", "Long", &["Admin"]),
            account("11111111111x", "Letter", &["Admin"]),
            account("١١١١١١١١١١١١", "Arabic digits", &["Admin"]),
            account("222222222222\n[profile x]", "Line break", &["Admin"]),
            account("333333333333", "Roles", &["Admin\nendpoint_url = http://evil", "]", "[profile x]", "", &long]),
            account("333333333333", "Again", &["Admin"]),
            account("444444444444", "Fine", &[&longest, "a_b+c=d,e.f@g-h"]),
        ];
        let (planned, skipped) = plan(&accounts, "");
        let names: Vec<&str> = planned.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, [format!("fine.{longest}").as_str(), "fine.a_b+c=d,e.f@g-h"]);
        assert_eq!(
            skipped,
            [
                "skipped account 11111111111 (Short): an account ID is 12 digits",
                "skipped account 1111111111111 (Long): an account ID is 12 digits",
                "skipped account 11111111111x (Letter): an account ID is 12 digits",
                "skipped account ١١١١١١١١١١١١ (Arabic digits): an account ID is 12 digits",
                "skipped account 222222222222\n[profile x] (Line break): an account ID is 12 digits",
                "skipped account 333333333333 (Again): it is listed twice",
                "skipped role 'Admin\nendpoint_url = http://evil' of account 333333333333 (Roles): \
                 an IAM role name is 1 to 64 letters, digits and _+=,.@-",
                "skipped role ']' of account 333333333333 (Roles): an IAM role name is 1 to 64 letters, digits and _+=,.@-",
                "skipped role '[profile x]' of account 333333333333 (Roles): an IAM role name is 1 to 64 letters, digits and _+=,.@-",
                "skipped role '' of account 333333333333 (Roles): an IAM role name is 1 to 64 letters, digits and _+=,.@-",
                &format!(
                    "skipped role '{}…' of account 333333333333 (Roles): an IAM role name is 1 to 64 letters, digits and _+=,.@-",
                    "R".repeat(64)
                ),
            ]
        );
    }

    fn target() -> SessionTarget {
        SessionTarget {
            session: crate::config::SsoSession {
                name: Some("my corp".into()),
                start_url: "https://x/start".into(),
                region: "us-east-1".into(),
                scopes: Vec::new(),
            },
            settings_profile: None,
            login_args: String::new(),
            label: String::new(),
        }
    }

    #[test]
    fn blocks_quote_what_needs_quoting() {
        let name = "Prod – Payments\n(EU)\u{202e}\u{1b}[31m";
        let p = &plan(&[account("111122223333", name, &["Admin"])], "").0[0];
        assert_eq!(
            block(p, &target(), "eu-west-1", "/opt/my tools/aws-sso-process", "\n"),
            "# Prod ? Payments?(EU)??[31m (111122223333), role Admin\n[profile prod-payments-eu-31m.Admin]\n\
             credential_process = '/opt/my tools/aws-sso-process' --sso-session 'my corp' --account-id 111122223333 --role-name Admin\n\
             region = eu-west-1\n"
        );
    }

    const USER: &str = "# mine\n[default]\nregion = eu-west-1\n\n[profile dev]\nsso_session = corp\ns3 =\n  max_concurrent_requests = 4\n\n\
                        [sso-session corp]\nsso_start_url = https://corp/start\nsso_region = us-east-1\n\n[plugins]\ncli_legacy_plugin_path = /x\n";

    /// USER plus the block of `admin.Admin`, and what the block should read as.
    fn appended() -> (String, Vec<Expected>) {
        let p = &plan(&[account("111122223333", "Admin", &["Admin"])], "").0[0];
        let text = format!("{USER}\n{}", block(p, &target(), "us-east-1", "aws-sso-process", "\n"));
        (text, vec![expect(p, &target(), "us-east-1", "aws-sso-process")])
    }

    #[test]
    fn verify_accepts_the_append_and_nothing_else() {
        let path = Path::new("/h/.aws/config");
        let (good, expected) = appended();
        assert_eq!(verify(path, USER, &good, &expected), Ok(()));
        assert_eq!(verify(path, "", &good[USER.len()..], &expected), Ok(()));

        let block_start = good.len() - good[USER.len()..].len();
        let (user, ours) = good.split_at(block_start);
        let cases = [
            // A user's value changed, or a key added to the user's last section.
            (good.replace("region = eu-west-1", "region = us-west-2"), "section [default] would change"),
            (format!("{user}endpoint_url = http://evil\n{ours}"), "section [plugins] would change"),
            (good.replace("  max_concurrent_requests = 4\n", ""), "section [profile dev] would change"),
            // A user's section lost, or renamed.
            (good.replace("[profile dev]", "[profile dev2]"), "section [profile dev] would be lost"),
            // A section that nobody planned, even one the profile map ignores.
            (format!("{good}[plugins2]\nx = 1\n"), "section [plugins2] would be added"),
            (format!("{good}[profile x]\ncredential_process = /tmp/evil\n"), "section [profile x] would be added"),
            // The new profile with an extra key, another value, or missing.
            (format!("{good}endpoint_url = http://evil\n"), "section [profile admin.Admin] would hold other keys"),
            (
                good.replace("--role-name Admin", "--role-name Other"),
                "section [profile admin.Admin] would hold other keys",
            ),
            (user.to_owned(), "section [profile admin.Admin] would be missing"),
            // Text that does not parse.
            (format!("{good}[profile admin.Admin]\n"), "the new text would not parse"),
        ];
        for (text, why) in cases {
            let got = verify(path, USER, &text, &expected);
            assert!(got.as_ref().is_err_and(|e| e.contains(why)), "{why}: {got:?}\n{text}");
        }

        // Our own inputs are held to the same rule: a region (or session name) with a line break.
        let p = &plan(&[account("111122223333", "Admin", &["Admin"])], "").0[0];
        let region = "us-east-1\nendpoint_url = http://evil";
        let text = block(p, &target(), region, "aws-sso-process", "\n");
        let got = verify(path, "", &text, &[expect(p, &target(), region, "aws-sso-process")]);
        assert!(got.as_ref().is_err_and(|e| e.contains("would hold other keys")), "{got:?}");
    }

    #[test]
    fn a_replacement_that_fails_verification_leaves_the_file_untouched() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config");
        std::fs::write(&path, USER).unwrap_or_else(|e| panic!("{e}"));
        let (good, expected) = appended();
        for bad in [
            good.replace("region = eu-west-1", "region = us-west-2"),
            good.replace("[plugins]\n", "[plugins]\nendpoint_url = http://evil\n"),
            format!("{good}[profile x]\ncredential_process = /tmp/evil\n"),
        ] {
            let e = replace(&path, USER.as_bytes(), bad.as_bytes(), &expected).err().map(|e| e.to_string());
            assert!(e.as_deref().is_some_and(|e| e.starts_with("refusing to write ")), "{e:?}");
            assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some(USER));
            let files: Vec<_> =
                std::fs::read_dir(dir.path()).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
            assert_eq!(files, ["config"], "no backup, no temp file");
        }
        let backup = replace(&path, USER.as_bytes(), good.as_bytes(), &expected).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&path).ok(), Some(good));
        assert_eq!(backup.and_then(|b| std::fs::read_to_string(b).ok()).as_deref(), Some(USER));
    }

    #[test]
    fn backup_name() {
        assert_eq!(backup_path(Path::new("/h/.aws/config")), Path::new("/h/.aws/config.bak"));
    }
}
