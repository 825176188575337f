//! `status`: what is configured and cached, and what will go wrong (docs/credential-process.md, docs/status.md).
//!
//! For every `[sso-session]` and every legacy start URL (in a profile, or in a
//! `credential_process = aws-sso-process --start-url ...` line) it shows the cached token: when it
//! expires, whether it can be refreshed and until when the client registration lasts; then, for
//! each profile that targets it, the cached role credentials. Then the warnings: profiles the SDKs
//! will not run us for (docs/credential-process.md), legacy profiles that can never refresh, sessions without
//! registration scopes, unreadable cache files (named and left alone), token files with timestamps in
//! a form some SDKs refuse (docs/status.md), and the config parser's notes.
//!
//! It reads local files only; `--check` also asks the portal for one page of ListAccounts per
//! session (refreshing a token that is due, as credential_process would) and sets the exit code.
//! The report is built first and printed last, as a table or as the JSON documented in
//! docs/status.md. Time comes from `ctx.now()`, so tests can fix it.

use crate::cache::{self, CacheError};
use crate::cli::TargetArgs;
use crate::config::{Config, SsoSession};
use crate::context::{Context, RUN_DEADLINE, shell_word};
use crate::endpoints::Service;
use crate::error::{self, Error};
use crate::output::{Cell, Style, table};
use crate::portal::Portal;
use crate::role_cache::MIN_REMAINING;
use crate::sanitize::sanitize;
use crate::session::{self, CachedToken, REFRESH_WINDOW};
use crate::target::SessionTarget;
use crate::timefmt;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// The JSON schema version; bumped only when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

pub fn run(ctx: &Context, spec: &TargetArgs, as_json: bool, check: bool) -> Result<u8, Error> {
    let config = ctx.config()?;
    let mut report = gather(ctx, config);
    // A session or profile named on the command line: that session alone, and a name the config
    // does not have is an error (with the names it does have), as in every other command.
    if spec.profile.is_some() || spec.sso_session.is_some() || spec.start_url.is_some() {
        let target = crate::target::session_target(ctx, spec)?;
        let key = cache::token_key(target.session.name.as_deref(), &target.session.start_url);
        report.sessions.retain(|s| s.key == key);
        if report.sessions.is_empty() {
            add_session(&mut report.sessions, target);
        }
    }
    let mut exit = 0;
    if check {
        for s in &mut report.sessions {
            let result = check_session(ctx, &s.target);
            if let Err(e) = &result {
                exit = exit.max(e.exit_code());
            }
            s.check = Some(result.map_err(|e| (error::chain(&e), e.exit_code() == error::EXIT_LOGIN_REQUIRED)));
        }
    }
    // After the checks, which may have refreshed tokens or fetched nothing: what is on disk now.
    let now = ctx.now();
    let mut warnings = Warnings::from(std::mem::take(&mut report.warnings));
    for s in &mut report.sessions {
        s.token = token_report(&s.target, now);
        for p in &mut s.profiles {
            p.role = role_report(&p.role_file, now);
        }
        let rewritten_by = if s.target.session.name.is_some() { "the next refresh or login" } else { "the next login" };
        for (field, form) in &s.token.foreign_forms {
            warn(
                &mut warnings,
                "timestamp-form",
                s.token.file.display().to_string(),
                format!(
                    "the token file of {} ({}) has {field} {form}; {rewritten_by} writes it as YYYY-MM-DDTHH:MM:SSZ",
                    s.target.label,
                    s.token.file.display()
                ),
            );
        }
    }
    report.warnings = warnings.list;
    let text = if as_json { to_json(&report, now) } else { to_text(&report, now, ctx.color_stdout()) };
    crate::output::stdout_bytes(text.as_bytes());
    Ok(exit)
}

/// `status --prompt`: one line for a shell prompt (docs/status.md). Only the config and the token
/// files are read: no cache folder listing, no network, so it stays fast on every prompt.
pub fn prompt_line(ctx: &Context, spec: &TargetArgs) -> Result<u8, Error> {
    let now = ctx.now();
    let targets: Vec<(String, SessionTarget)> =
        if spec.profile.is_some() || spec.sso_session.is_some() || spec.start_url.is_some() {
            let target = crate::target::session_target(ctx, spec)?;
            let label = spec.profile.clone().unwrap_or_else(|| target.label.clone());
            vec![(label, target)]
        } else {
            // Every sso-session, without building the profiles (thousands in a generated config).
            ctx.config_for(&[])?
                .sso_sessions
                .keys()
                .filter_map(|name| {
                    let spec = TargetArgs { sso_session: Some(name.clone()), ..TargetArgs::default() };
                    crate::target::session_target(ctx, &spec).ok().map(|t| (name.clone(), t))
                })
                .collect()
        };
    let items: Vec<String> = targets
        .iter()
        .map(|(label, target)| {
            let token = token_report(target, now);
            let left = match (&token.state, token.expires_at) {
                (TokenState::Valid, Some(exp)) => short_duration(exp - now),
                (TokenState::Expired, _) if token.refreshable => "refresh".to_owned(),
                _ => "login".to_owned(),
            };
            format!("{} {left}", sanitize(label))
        })
        .collect();
    if !items.is_empty() {
        outln!("{}", items.join(" "));
    }
    Ok(0)
}

/// `7h58m`, `45m`, `0m`: hours and minutes, for a prompt.
fn short_duration(d: chrono::TimeDelta) -> String {
    let minutes = d.num_minutes().max(0);
    match minutes / 60 {
        0 => format!("{minutes}m"),
        hours => format!("{hours}h{:02}m", minutes % 60),
    }
}

struct Report {
    config_file: PathBuf,
    sessions: Vec<SessionReport>,
    warnings: Vec<Warning>,
}

struct SessionReport {
    target: SessionTarget,
    /// The token cache key: equal keys are the same session.
    key: String,
    token: TokenReport,
    profiles: Vec<ProfileReport>,
    /// `--check`: `Ok`, or the error line and whether it means a new login.
    check: Option<Result<(), (String, bool)>>,
}

#[derive(Default)]
struct TokenReport {
    file: PathBuf,
    state: TokenState,
    expires_at: Option<DateTime<Utc>>,
    refreshable: bool,
    /// The service refused the refresh token (invalid_grant): a login is the only way on.
    refused: bool,
    why_not: Option<String>,
    registration_expires_at: Option<DateTime<Utc>>,
    /// Timestamp fields in a form some SDKs cannot read: (field, what is off about it).
    foreign_forms: Vec<(&'static str, String)>,
}

#[derive(Default, PartialEq)]
enum TokenState {
    #[default]
    Missing,
    Valid,
    Expired,
    Unreadable(String),
}

struct ProfileReport {
    profile: String,
    /// "sso" (the profile's own sso_* keys) or "credential_process" (its aws-sso-process flags).
    via: &'static str,
    account_id: String,
    role_name: String,
    role_file: PathBuf,
    role: RoleReport,
}

#[derive(Default)]
struct RoleReport {
    state: RoleState,
    expiration: Option<DateTime<Utc>>,
}

#[derive(Default, PartialEq)]
enum RoleState {
    #[default]
    Missing,
    /// At least 15 minutes left: served from the cache.
    Valid,
    /// Less than 15 minutes left: the next use fetches new ones.
    Expiring,
    Expired,
    Unreadable(String),
}

struct Warning {
    kind: &'static str,
    subject: String,
    message: String,
}

/// The warnings in the order found, each once. The set beside the list keeps this linear: a config
/// of 20,000 broken profiles gives 20,000 warnings (comparing each with every earlier one
/// took seconds).
#[derive(Default)]
struct Warnings {
    list: Vec<Warning>,
    seen: HashSet<(&'static str, String, String)>,
}

impl From<Vec<Warning>> for Warnings {
    fn from(list: Vec<Warning>) -> Warnings {
        let seen = list.iter().map(|w| (w.kind, w.subject.clone(), w.message.clone())).collect();
        Warnings { list, seen }
    }
}

fn warn(warnings: &mut Warnings, kind: &'static str, subject: impl Into<String>, message: impl Into<String>) {
    let (subject, message) = (subject.into(), message.into());
    if warnings.seen.insert((kind, subject.clone(), message.clone())) {
        warnings.list.push(Warning { kind, subject, message });
    }
}

fn gather(ctx: &Context, config: &Config) -> Report {
    let mut warnings = Warnings::default();
    for w in &config.warnings {
        warn(&mut warnings, "config", "config", w.clone());
    }
    let mut sessions: Vec<SessionReport> = Vec::new();
    // Each program of the credential_process lines is looked at once, however many profiles run it.
    let mut programs: HashMap<String, Option<String>> = HashMap::new();
    for name in config.sso_sessions.keys() {
        let spec = TargetArgs { sso_session: Some(name.clone()), ..TargetArgs::default() };
        match crate::target::session_target(ctx, &spec) {
            Ok(target) => {
                if target.session.scopes.is_empty() {
                    warn(
                        &mut warnings,
                        "no-registration-scopes",
                        format!("sso-session {name}"),
                        format!(
                            "sso-session {name} has no sso_registration_scopes: a login by the AWS CLI then gets no refresh \
                             token, and the session ends when its first token expires; add \
                             'sso_registration_scopes = sso:account:access'"
                        ),
                    );
                }
                add_session(&mut sessions, target);
            }
            Err(e) => warn(&mut warnings, "invalid-config", format!("sso-session {name}"), error::chain(&e)),
        }
    }

    for (name, section) in &config.profiles {
        let has = |key: &str| section.values.contains_key(key);
        let sso_keys = ["sso_session", "sso_start_url", "sso_region", "sso_account_id", "sso_role_name"];
        if let Some(Err(why)) = section.get("credential_process").map(crate::config::shlex_words) {
            // The AWS CLI and boto3 split the line as Python's shlex does and stop with this ValueError.
            warn(
                &mut warnings,
                "credential-process-line",
                format!("profile {name}"),
                format!(
                    "tools cannot run the credential_process of profile {name}: its line cannot be split into words \
                     ({why}: an unbalanced quote or a trailing backslash), so the AWS CLI and SDKs stop with \
                     'ValueError: {why}'; close the quote or remove the stray quote or backslash"
                ),
            );
        }
        let command = section.get("credential_process").filter(|c| crate::target::process_line(c).is_some());
        if command.is_some() && (has("sso_account_id") || has("sso_role_name")) {
            warn(
                &mut warnings,
                "sdk-bypass",
                format!("profile {name}"),
                format!(
                    "profile {name} runs aws-sso-process as its credential_process but also has sso_account_id/sso_role_name: \
                     the AWS SDKs use their own SSO provider first and never run aws-sso-process; move the sso_* keys to \
                     another profile and use 'credential_process = aws-sso-process --profile <that profile>'"
                ),
            );
        } else if command.is_some() && sso_keys.iter().any(|k| has(k)) {
            warn(
                &mut warnings,
                "sdk-bypass",
                format!("profile {name}"),
                format!(
                    "profile {name} runs aws-sso-process as its credential_process but also has sso_* keys: the AWS SDK \
                     for Rust then uses its own SSO provider and fails; move the sso_* keys to another profile"
                ),
            );
        }

        if sso_keys.iter().any(|k| has(k)) {
            match config.profile_session(name) {
                Ok(session) => {
                    if session.name.is_none() {
                        warn(
                            &mut warnings,
                            "legacy-no-refresh",
                            format!("profile {name}"),
                            format!(
                                "profile {name} has sso_start_url in the profile itself (legacy): its token can never be \
                                 refreshed, so it needs a new login whenever it expires; move sso_start_url and sso_region \
                                 to an [sso-session] section and set sso_session = <name>"
                            ),
                        );
                        add_session(
                            &mut sessions,
                            legacy_target(ctx, &session, &format!("--profile {}", shell_word(name))),
                        );
                    }
                    match config.profile_target(name) {
                        Ok(t) => add_profile(ctx, &mut sessions, &t.session, name, "sso", &t.account_id, &t.role_name),
                        // A profile with only the session (for `aws sso login`) targets no role.
                        Err(_) if !has("sso_account_id") && !has("sso_role_name") => {}
                        Err(e) => warn(&mut warnings, "invalid-config", format!("profile {name}"), error::chain(&e)),
                    }
                }
                Err(e) => warn(&mut warnings, "invalid-config", format!("profile {name}"), error::chain(&e)),
            }
        }

        if let Some(command) = command {
            let problem = programs
                .entry(crate::config::shlex_split(command).and_then(|w| w.into_iter().next()).unwrap_or_default())
                .or_insert_with_key(|program| program_problem(ctx, program));
            if let Some(problem) = problem {
                warn(
                    &mut warnings,
                    "credential-process-program",
                    format!("profile {name}"),
                    format!("tools cannot run the credential_process of profile {name}: {problem}"),
                );
            }
            match crate::target::line_role_or_why(config, Some(name), command) {
                Some(Ok((session, account, role))) => {
                    if session.name.is_none() {
                        let args = format!(
                            "--start-url {} --region {}",
                            shell_word(&session.start_url),
                            shell_word(&session.region)
                        );
                        add_session(&mut sessions, legacy_target(ctx, &session, &args));
                    }
                    add_profile(ctx, &mut sessions, &session, name, "credential_process", &account, &role);
                }
                Some(Err(why)) => warn(
                    &mut warnings,
                    "invalid-config",
                    format!("profile {name}"),
                    format!("the credential_process of profile {name} names no usable target: {why}"),
                ),
                None => {}
            }
        }
    }

    add_chained_profiles(ctx, config, &mut sessions);

    for dir in [ctx.sso_cache_dir(), ctx.cli_cache_dir()] {
        let files = match cache::json_files(&dir) {
            Ok(files) => files,
            Err(e) => {
                warn(&mut warnings, "unreadable-cache-file", dir.display().to_string(), error::chain(&e));
                continue;
            }
        };
        for file in files {
            match cache::read_object(&file) {
                Ok(_) => {}
                Err(e @ CacheError::Corrupt { .. }) => warn(
                    &mut warnings,
                    "unreadable-cache-file",
                    file.display().to_string(),
                    format!("{}; it was left as it is", error::chain(&e)),
                ),
                Err(e) => warn(&mut warnings, "unreadable-cache-file", file.display().to_string(), error::chain(&e)),
            }
        }
    }
    Report { config_file: ctx.config_path(), sessions, warnings: warnings.list }
}

/// Why a tool cannot start `program`, the first word of a credential_process line, and the fix
/// (docs/credential-process.md). The AWS CLI and boto3 start it without a shell: no `~` or `$VAR`
/// is expanded, and a relative path is looked up from whatever folder the tool runs in.
fn program_problem(ctx: &Context, program: &str) -> Option<String> {
    let fix = match std::env::current_exe() {
        Ok(exe) => format!("write the full path, such as {}", exe.display()),
        Err(_) => "write the full path".to_owned(),
    };
    let shown = sanitize(program);
    if program.starts_with('~') || program.contains('$') {
        let what = if program.starts_with('~') { "starts with ~" } else { "holds a $ variable" };
        return Some(format!(
            "its program {shown} {what}, which nothing expands: the AWS CLI and boto3 run credential_process without \
             a shell (FileNotFoundError); {fix}"
        ));
    }
    let runnable = |path: &std::path::Path| {
        std::fs::metadata(path).is_ok_and(|m| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                m.is_file()
            }
        })
    };
    if !program.contains('/') && !program.contains('\\') {
        let path = ctx.env.get("PATH").unwrap_or_default();
        return match std::env::split_paths(path).any(|dir| dir.is_absolute() && runnable(&dir.join(program))) {
            true => None,
            false => Some(format!("its program {shown} is not found on PATH; {fix}")),
        };
    }
    let path = std::path::Path::new(program);
    if !path.is_absolute() {
        return Some(format!(
            "its program path {shown} is relative, so it is looked up from whatever folder the tool runs in; {fix}"
        ));
    }
    match std::fs::metadata(path) {
        Err(_) => Some(format!("its program {shown} does not exist; {fix}")),
        Ok(m) if m.is_dir() => Some(format!("its program {shown} is a folder, not a program; {fix}")),
        Ok(_) if !runnable(path) => {
            Some(format!("its program {shown} is not an executable file; run 'chmod +x {shown}' or {fix}"))
        }
        Ok(_) => None,
    }
}

/// A legacy session as status shows it: labelled by its start URL, logged in with `login_args`.
fn legacy_target(ctx: &Context, session: &SsoSession, login_args: &str) -> SessionTarget {
    crate::target::session(ctx, session.clone(), None, login_args.to_owned(), session.start_url.clone())
}

fn add_session(sessions: &mut Vec<SessionReport>, target: SessionTarget) {
    let key = cache::token_key(target.session.name.as_deref(), &target.session.start_url);
    if !sessions.iter().any(|s| s.key == key) {
        sessions.push(SessionReport { target, key, token: TokenReport::default(), profiles: Vec::new(), check: None });
    }
}

/// Profiles that assume a role from an SSO role (docs/chained-roles.md), under the session at the
/// root of their chain (`via: "role_arn"`), with their assumed-role cache entry. Role profiles this
/// tool does not serve (static keys, credential_source) are the AWS CLI's and not shown.
fn add_chained_profiles(ctx: &Context, config: &Config, sessions: &mut Vec<SessionReport>) {
    for (name, section) in &config.profiles {
        if !crate::target::is_role_profile(section) {
            continue;
        }
        let spec = TargetArgs { profile: Some(name.clone()), ..TargetArgs::default() };
        let Ok(Some(chain)) = crate::target::chain_target(ctx, &spec) else { continue };
        let target = chain.as_role_target();
        add_session(sessions, chain.root.session.clone());
        let key = cache::token_key(target.session.session.name.as_deref(), &target.session.session.start_url);
        let Some(s) = sessions.iter_mut().find(|s| s.key == key) else { continue };
        s.profiles.push(ProfileReport {
            profile: name.clone(),
            via: "role_arn",
            account_id: target.account_id,
            role_name: target.role_name,
            role_file: target.role_path,
            role: RoleReport::default(),
        });
    }
}

fn add_profile(
    ctx: &Context,
    sessions: &mut [SessionReport],
    session: &SsoSession,
    profile: &str,
    via: &'static str,
    account_id: &str,
    role_name: &str,
) {
    let key = cache::token_key(session.name.as_deref(), &session.start_url);
    let Some(s) = sessions.iter_mut().find(|s| s.key == key) else { return };
    let role_key = cache::role_key(account_id, role_name, session.name.as_deref(), &session.start_url);
    s.profiles.push(ProfileReport {
        profile: profile.to_owned(),
        via,
        account_id: account_id.to_owned(),
        role_name: role_name.to_owned(),
        role_file: ctx.cli_cache_dir().join(format!("{role_key}.json")),
        role: RoleReport::default(),
    });
}

fn token_report(target: &SessionTarget, now: DateTime<Utc>) -> TokenReport {
    let file = target.token_path.clone();
    let unreadable =
        |why: String| TokenReport { file: file.clone(), state: TokenState::Unreadable(why), ..TokenReport::default() };
    let doc = match cache::read_object(&file) {
        Ok(None) => return TokenReport { file, ..TokenReport::default() },
        Ok(Some(doc)) => doc,
        Err(CacheError::Corrupt { detail, .. }) => return unreadable(detail),
        Err(e) => return unreadable(error::chain(&e)),
    };
    let foreign_forms = ["expiresAt", "registrationExpiresAt"]
        .into_iter()
        .filter_map(|field| {
            let raw = cache::str_field(&doc, field).ok().flatten()?;
            timefmt::foreign_form(raw).map(|form| (field, form))
        })
        .collect();
    let token = match CachedToken::parse(doc) {
        Ok(token) => token,
        Err(why) => return unreadable(why),
    };
    let is_session = target.session.name.is_some();
    // The service already refused this refresh token: it will not work, whatever the file says.
    let refused = token.refresh.as_ref().and_then(|r| session::refresh_refused(&file, &r.refresh_token));
    let refreshable = token.refreshable(is_session, now) && refused.is_none();
    let why_not = match refused {
        Some(at) => Some(format!("the service refused its refresh token {}", timefmt::relative(at, now))),
        None => (!refreshable).then(|| token.why_not_refreshable(is_session, now)),
    };
    TokenReport {
        file,
        state: if token.expires_at > now { TokenState::Valid } else { TokenState::Expired },
        expires_at: Some(token.expires_at),
        refreshable,
        refused: refused.is_some(),
        why_not,
        registration_expires_at: token.registration_expires_at,
        foreign_forms,
    }
}

fn role_report(path: &std::path::Path, now: DateTime<Utc>) -> RoleReport {
    let unreadable = |why: String| RoleReport { state: RoleState::Unreadable(why), expiration: None };
    let doc = match cache::read_object(path) {
        Ok(None) => return RoleReport::default(),
        Ok(Some(doc)) => doc,
        Err(CacheError::Corrupt { detail, .. }) => return unreadable(detail),
        Err(e) => return unreadable(error::chain(&e)),
    };
    let expiration = doc
        .get("Credentials")
        .and_then(Value::as_object)
        .and_then(|c| cache::str_field(c, "Expiration").ok().flatten())
        .and_then(timefmt::parse);
    let Some(expiration) = expiration else {
        return unreadable("it has no Credentials.Expiration with a time zone".into());
    };
    let left = expiration - now;
    let state = if left >= MIN_REMAINING {
        RoleState::Valid
    } else if left > chrono::TimeDelta::zero() {
        RoleState::Expiring
    } else {
        RoleState::Expired
    };
    RoleReport { state, expiration: Some(expiration) }
}

/// `--check`: the session's token (refreshed when due) must get one page of ListAccounts. A 401
/// replaces the token once, as credential_process does.
fn check_session(ctx: &Context, target: &SessionTarget) -> Result<(), Error> {
    ctx.reset_deadline(Some(RUN_DEADLINE));
    let portal = Portal { http: ctx.http(), endpoint: target.endpoint(Service::Portal)? };
    session::with_token(ctx, target, |token| portal.list_accounts(token, None, 1)).map(|_| ())
}

// ---------------------------------------------------------------------------------------------------
// Output.

fn at(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", timefmt::format(t), timefmt::relative(t, now))
}

fn token_line(t: &TokenReport, now: DateTime<Utc>) -> Cell {
    match (&t.state, t.expires_at) {
        (TokenState::Missing, _) => Cell::styled("none cached", Style::Bad),
        (TokenState::Unreadable(why), _) => Cell::styled(format!("unreadable: {why}"), Style::Bad),
        (TokenState::Valid, Some(exp)) => {
            let style = if exp - now >= REFRESH_WINDOW || t.refreshable { Style::Good } else { Style::Warn };
            Cell::styled(format!("valid until {}", at(exp, now)), style)
        }
        (_, Some(exp)) if t.refreshable => {
            Cell::styled(format!("expired at {}; refreshed on next use", at(exp, now)), Style::Warn)
        }
        (_, exp) => Cell::styled(format!("expired at {}", exp.map(|e| at(e, now)).unwrap_or_default()), Style::Bad),
    }
}

/// No usable token, an expired one that cannot be refreshed, or one whose refresh token the service
/// refused (it works until it expires, then only a login helps).
fn needs_login(t: &TokenReport) -> bool {
    if t.refused {
        return true;
    }
    match t.state {
        TokenState::Missing | TokenState::Unreadable(_) => true,
        TokenState::Expired => !t.refreshable,
        TokenState::Valid => false,
    }
}

fn role_line(r: &RoleReport, now: DateTime<Utc>) -> Cell {
    match (&r.state, r.expiration) {
        (RoleState::Missing, _) => Cell::styled("none cached", Style::Dim),
        (RoleState::Unreadable(why), _) => Cell::styled(format!("unreadable: {why}"), Style::Bad),
        (RoleState::Valid, Some(t)) => Cell::styled(format!("valid until {}", at(t, now)), Style::Good),
        (RoleState::Expiring, Some(t)) => {
            Cell::styled(format!("until {}; renewed on next use", at(t, now)), Style::Warn)
        }
        (_, t) => Cell::styled(format!("expired at {}", t.map(|t| at(t, now)).unwrap_or_default()), Style::Dim),
    }
}

fn to_text(report: &Report, now: DateTime<Utc>, color: bool) -> String {
    let mut out = Vec::new();
    let bold = |s: &str| Style::Bold.paint(s, color);
    out.push(format!("now {}  config {}", timefmt::format(now), sanitize(&report.config_file.display().to_string())));
    if report.sessions.is_empty() {
        out.push(String::new());
        let file = sanitize(&report.config_file.display().to_string());
        out.push(if report.config_file.exists() {
            format!("no sso-session and no SSO profile in {file}; to set one up, run 'aws-sso-process setup'")
        } else {
            format!("the AWS config file {file} does not exist; to set it up, run 'aws-sso-process setup'")
        });
    }
    for s in &report.sessions {
        let session = &s.target.session;
        out.push(String::new());
        let title = match &session.name {
            Some(name) => format!("sso-session {name}"),
            None => "legacy start URL".to_owned(),
        };
        let region = match session.region.as_str() {
            "" => "no sso_region (the next login finds it)".to_owned(),
            region => sanitize(region),
        };
        out.push(format!("{}  {}  {region}", bold(&title), sanitize(&session.start_url)));
        let mut rows = vec![vec![Cell::new("token"), token_line(&s.token, now)]];
        match (&s.token.state, s.token.refreshable) {
            (TokenState::Missing | TokenState::Unreadable(_), _) => {}
            (_, true) => rows.push(vec![
                Cell::new("refresh"),
                Cell::new(match s.token.registration_expires_at {
                    Some(t) => format!("yes; client registration until {}", at(t, now)),
                    None => "yes".to_owned(),
                }),
            ]),
            (_, false) => rows.push(vec![
                Cell::new("refresh"),
                Cell::styled(format!("no: {}", s.token.why_not.as_deref().unwrap_or("not refreshable")), Style::Warn),
            ]),
        }
        if needs_login(&s.token) || matches!(s.check, Some(Err((_, true)))) {
            rows.push(vec![Cell::new("login"), Cell::new(error::login_hint(&s.target.login_args))]);
        }
        match &s.check {
            None => {}
            Some(Ok(())) => {
                rows.push(vec![Cell::new("check"), Cell::styled("ok: the portal accepts the token", Style::Good)])
            }
            Some(Err((why, _))) => {
                rows.push(vec![Cell::new("check"), Cell::styled(format!("failed: {why}"), Style::Bad)])
            }
        }
        out.extend(table(&rows, "  ", color));
        if !s.profiles.is_empty() {
            let head = |t: &str| Cell::styled(t, Style::Bold);
            let mut rows =
                vec![vec![head("PROFILE"), head("VIA"), head("ACCOUNT"), head("ROLE"), head("ROLE CREDENTIALS")]];
            for p in &s.profiles {
                let via = match p.via {
                    "sso" => "sso keys",
                    "role_arn" => "role_arn",
                    _ => "process",
                };
                rows.push(vec![
                    Cell::new(&p.profile),
                    Cell::new(via),
                    Cell::new(&p.account_id),
                    Cell::new(&p.role_name),
                    role_line(&p.role, now),
                ]);
            }
            out.extend(table(&rows, "  ", color));
        }
    }
    if !report.warnings.is_empty() {
        out.push(String::new());
        out.push(bold(&format!("warnings ({})", report.warnings.len())));
        for w in &report.warnings {
            out.push(format!("  {} {}", Style::Warn.paint("!", color), sanitize(&w.message)));
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// The `--json` document; the schema is documented in docs/status.md. Written straight from the
/// report through these borrowing structs (fields in the document's order), not through a tree of
/// `Value`s: at 20,000 profiles that tree alone took about 80 MB.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonDoc<'a> {
    version: u32,
    now: String,
    config_file: Cow<'a, str>,
    sessions: Vec<JsonSession<'a>>,
    warnings: Vec<JsonWarning<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSession<'a> {
    kind: &'static str,
    name: Option<&'a str>,
    start_url: &'a str,
    region: &'a str,
    registration_scopes: &'a [String],
    login_command: String,
    token: JsonToken<'a>,
    profiles: Vec<JsonProfile<'a>>,
    check: Option<JsonCheck<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonToken<'a> {
    file: Cow<'a, str>,
    state: &'static str,
    problem: Option<&'a str>,
    expires_at: Option<String>,
    expires_in_seconds: Option<i64>,
    refreshable: bool,
    not_refreshable_reason: Option<&'a str>,
    registration_expires_at: Option<String>,
    needs_login: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonProfile<'a> {
    profile: &'a str,
    via: &'static str,
    account_id: &'a str,
    role_name: &'a str,
    role_credentials: JsonRole<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonRole<'a> {
    file: Cow<'a, str>,
    state: &'static str,
    problem: Option<&'a str>,
    expiration: Option<String>,
    expires_in_seconds: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonCheck<'a> {
    ok: bool,
    error: Option<&'a str>,
    login_required: bool,
}

#[derive(Serialize)]
struct JsonWarning<'a> {
    kind: &'static str,
    subject: &'a str,
    message: &'a str,
}

fn time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(timefmt::format)
}

fn seconds(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<i64> {
    t.map(|t| (t - now).num_seconds())
}

fn to_json(report: &Report, now: DateTime<Utc>) -> String {
    let sessions = report
        .sessions
        .iter()
        .map(|s| {
            let session = &s.target.session;
            let (token_state, token_problem) = match &s.token.state {
                TokenState::Missing => ("missing", None),
                TokenState::Valid => ("valid", None),
                TokenState::Expired => ("expired", None),
                TokenState::Unreadable(why) => ("unreadable", Some(why.as_str())),
            };
            let profiles = s
                .profiles
                .iter()
                .map(|p| {
                    let (state, problem) = match &p.role.state {
                        RoleState::Missing => ("missing", None),
                        RoleState::Valid => ("valid", None),
                        RoleState::Expiring => ("expiring", None),
                        RoleState::Expired => ("expired", None),
                        RoleState::Unreadable(why) => ("unreadable", Some(why.as_str())),
                    };
                    JsonProfile {
                        profile: &p.profile,
                        via: p.via,
                        account_id: &p.account_id,
                        role_name: &p.role_name,
                        role_credentials: JsonRole {
                            file: p.role_file.to_string_lossy(),
                            state,
                            problem,
                            expiration: time(p.role.expiration),
                            expires_in_seconds: seconds(p.role.expiration, now),
                        },
                    }
                })
                .collect();
            let check = s.check.as_ref().map(|check| match check {
                Ok(()) => JsonCheck { ok: true, error: None, login_required: false },
                Err((why, login)) => JsonCheck { ok: false, error: Some(why), login_required: *login },
            });
            JsonSession {
                kind: if session.name.is_some() { "sso-session" } else { "legacy" },
                name: session.name.as_deref(),
                start_url: &session.start_url,
                region: &session.region,
                registration_scopes: &session.scopes,
                login_command: format!("aws-sso-process login {}", s.target.login_args),
                token: JsonToken {
                    file: s.token.file.to_string_lossy(),
                    state: token_state,
                    problem: token_problem,
                    expires_at: time(s.token.expires_at),
                    expires_in_seconds: seconds(s.token.expires_at, now),
                    refreshable: s.token.refreshable,
                    not_refreshable_reason: s.token.why_not.as_deref(),
                    registration_expires_at: time(s.token.registration_expires_at),
                    needs_login: needs_login(&s.token),
                },
                profiles,
                check,
            }
        })
        .collect();
    let warnings = report
        .warnings
        .iter()
        .map(|w| JsonWarning { kind: w.kind, subject: &w.subject, message: &w.message })
        .collect();
    let doc = JsonDoc {
        version: SCHEMA_VERSION,
        now: timefmt::format(now),
        config_file: report.config_file.to_string_lossy(),
        sessions,
        warnings,
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_keep_their_order_and_appear_once() {
        let mut w = Warnings::default();
        for (kind, subject) in [("a", "x"), ("b", "x"), ("a", "x"), ("a", "y"), ("b", "x")] {
            warn(&mut w, kind, subject, "message");
        }
        warn(&mut w, "a", "x", "another message");
        let got: Vec<(&str, &str, &str)> =
            w.list.iter().map(|w| (w.kind, w.subject.as_str(), w.message.as_str())).collect();
        assert_eq!(
            got,
            [("a", "x", "message"), ("b", "x", "message"), ("a", "y", "message"), ("a", "x", "another message")]
        );
    }
}
