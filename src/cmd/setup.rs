//! `setup`: from nothing to working profiles in one command (docs/configure-generate.md, "`setup`"). It asks on the
//! terminal for what no flag gives (the start URL, the SSO region, the session name, the scopes,
//! which profiles to make), writes the `[sso-session]` section, logs in, lists the accounts and
//! roles, and generates profiles as `configure generate` does, through `generate`, whose verified,
//! atomic, backed-up write (`generate::append_session`, `Generator::write_with`) is the only way
//! this command changes the config.
//!
//! Without a terminal a question with a default takes it (and says so on stderr), and one without
//! is an error naming its flag, so every flag given means no question at all (CI, dotfiles). Run
//! again with the same answers it writes nothing, logs in only if the session needs it, and says
//! "nothing to change". A session the config has is adopted (offered on the terminal, or named
//! by --sso-session): its settings are used, and flags that say otherwise are an error naming the
//! difference; setup never rewrites a section the user has, and adds sso_registration_scopes to
//! one only when the user says so (docs/configure-generate.md#setup).
//!
//! All or nothing (docs/reliability.md): until the profiles are written, a failure or a signal
//! takes the session this run added out again; a session left by a killed run is replaced.
//!
//! The answers are checked before they reach the file: an https start URL without spaces or
//! control characters, a region of lower-case letters, digits and '-', a session name and scopes
//! that cannot break the `[sso-session NAME]` header or the line.

use crate::accounts;
use crate::cli::TargetArgs;
use crate::cli::{GenerateWhich, NameArgs, SetupArgs};
use crate::config::{Config, ConfigError, SsoSession};
use crate::context::Context;
use crate::error::Error;
use crate::generate::{self, Generator, Naming, SETUP_MARK};
use crate::login::DEFAULT_SCOPES;
use crate::output::Style;
use crate::session::{self, Mode};
use crate::timefmt;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

/// Tries per question before giving up (bad answers, or empty ones without a default).
const MAX_TRIES: usize = 5;
/// The longest answer read from the terminal.
const MAX_ANSWER: usize = 4096;
/// The longest start URL accepted.
const MAX_URL: usize = 1024;

pub fn run(ctx: &Context, spec: &TargetArgs, args: &SetupArgs) -> Result<u8, Error> {
    if spec.profile.is_some() || spec.account_id.is_some() || spec.role_name.is_some() {
        return Err(Error::Usage(
            "setup takes --start-url, --region and --sso-session; --profile, --account-id and --role-name name \
             targets of other commands"
                .into(),
        ));
    }
    // Every flag is checked before the first question.
    let (program, program_note) = generate::program(ctx, args.command.as_deref())?;
    Naming::new(&args.names, Some(""))?;
    let start_url = spec.start_url.as_deref().map(check_start_url).transpose().map_err(flag_error("--start-url"))?;
    let region = spec.region.as_deref().map(check_region).transpose().map_err(flag_error("--region"))?;
    let name = spec.sso_session.as_deref().map(check_name).transpose().map_err(flag_error("--sso-session"))?;
    let scopes = args.scopes.as_deref().map(check_scopes).transpose().map_err(flag_error("--scopes"))?;
    let profile_region =
        args.profile_region.as_deref().map(check_region).transpose().map_err(flag_error("--profile-region"))?;

    interrupt::catch();
    // The config as it is now, read here (not through the context, which caches it): the session
    // is added to it before anything else reads it.
    let path = ctx.config_path();
    let existing = read_config(&path)?;
    let mut ask = Asker::open(ctx);
    let mut name = name;
    let mut start_url = start_url;
    // A session the config has is adopted, not asked for again: named by --sso-session, or
    // picked on the terminal from the ones the config has. One an interrupted setup left behind
    // (`abandoned`) is not: it is replaced by the answers of this run.
    let mut legacy_region = None;
    let unfinished = |have: &SsoSession| abandoned(ctx, &existing, have);
    if name.is_none() && start_url.is_none() && ask.tty.is_some() {
        match ask.choose_session(&existing)? {
            // One an interrupted setup left: its answers are the defaults of the questions.
            Choice::Session(n) if existing.sso_session(&n).is_ok_and(|s| unfinished(&s)) => {
                let have = existing.sso_session(&n)?;
                start_url = Some(have.start_url);
                legacy_region = Some(have.region).filter(|r| !r.is_empty());
            }
            Choice::Session(n) => name = Some(n),
            Choice::Legacy { start_url: url, region } => {
                start_url = Some(url);
                legacy_region = Some(region).filter(|r| !r.is_empty());
            }
            Choice::New => {}
        }
    } else if name.is_none() && start_url.is_none() {
        // No terminal and no session named: the config's only session, as for every command.
        let usable: Vec<SsoSession> =
            existing.sso_sessions.keys().filter_map(|n| existing.sso_session(n).ok()).collect();
        if let [only] = &usable[..]
            && !unfinished(only)
        {
            name = only.name.clone();
        }
    }
    let mut adopted = name.as_deref().and_then(|n| existing.sso_session(n).ok()).filter(|have| !unfinished(have));
    if name.is_none()
        && let Some(url) = &start_url
    {
        // --start-url alone: the session the config has for it, if any.
        adopted = existing
            .sso_sessions
            .keys()
            .find_map(|n| existing.sso_session(n).ok().filter(|s| s.start_url == *url && !unfinished(s)));
        name = adopted.as_ref().and_then(|s| s.name.clone());
    }
    if let Some(have) = &adopted {
        check_adopted(&path, have, start_url.as_deref(), region.as_deref(), scopes.as_deref())?;
        let region = if have.region.is_empty() { String::new() } else { format!(", {}", have.region) };
        errln!(
            "aws-sso-process: using [sso-session {}] of {} ({}{region})",
            have.name.as_deref().unwrap_or_default(),
            path.display(),
            crate::sanitize::sanitize(&have.start_url)
        );
    }
    let mut add_scopes = None;
    if let Some(have) = &adopted {
        // A session without sso_registration_scopes gets them only when asked to (or on a yes).
        if have.scopes.is_empty() {
            add_scopes = match &scopes {
                Some(s) => Some(s.clone()),
                None => ask.add_scopes(have)?,
            };
        }
        start_url = Some(have.start_url.clone());
    }
    if ask.tty.is_none() {
        // Without a terminal: every answer that has no default is named at once, not one a run.
        let mut missing = Vec::new();
        if start_url.is_none() {
            missing.push("--start-url");
            if region.is_none() {
                missing.push("--region");
            }
        }
        if args.generate.is_none() {
            missing.push("--generate all (or none)");
        }
        if !missing.is_empty() {
            return Err(Error::Usage(format!("no terminal to ask on; give {}", join_and(&missing))));
        }
    }

    let start_url = match start_url {
        Some(url) => url,
        None => ask.ask("SSO start URL", None, "--start-url", check_start_url)?,
    };
    // A session of the config with this start URL answers the rest by default.
    let known = adopted.clone().or_else(|| {
        existing.sso_sessions.keys().find_map(|n| existing.sso_session(n).ok().filter(|s| s.start_url == start_url))
    });
    // One session per start URL: another name for a URL the config has would be a duplicate.
    let duplicate = |name: &str| match known.as_ref().and_then(|s| s.name.clone()) {
        Some(other) if other != name && existing.sso_session(name).is_err() => Err(Error::Usage(format!(
            "{start_url} is already [sso-session {other}] in {}; setup adds no second session for it: give \
             --sso-session {other} (or leave it out)",
            path.display()
        ))),
        _ => Ok(()),
    };
    if let Some(name) = &name {
        duplicate(name)?;
    }
    let region = match region {
        Some(r) => r,
        None if adopted.as_ref().is_some_and(|s| !s.region.is_empty()) => {
            adopted.as_ref().map(|s| s.region.clone()).unwrap_or_default()
        }
        None => {
            // A start URL on another domain (a "vanity" URL) is resolved as a login would: where
            // it redirects may name the region (docs/login.md). Never sent for AWS domains.
            let found = known
                .as_ref()
                .map(|s| s.region.clone())
                .filter(|r| !r.is_empty())
                .or(legacy_region)
                .or_else(|| region_from_start_url(ctx, &start_url));
            ask.ask("SSO region", found.as_deref(), "--region", check_region)?
        }
    };
    let derived = known.as_ref().and_then(|s| s.name.clone()).unwrap_or_else(|| derive_name(&start_url));
    let name = match name {
        Some(n) => n,
        None => ask.ask("SSO session name", Some(&derived), "--sso-session", check_name)?,
    };
    duplicate(&name)?;
    let scopes = match (scopes, &adopted) {
        (_, Some(have)) if !have.scopes.is_empty() => have.scopes.join(","),
        (_, Some(_)) => add_scopes.clone().unwrap_or_else(|| DEFAULT_SCOPES.join(",")),
        (Some(s), None) => s,
        (None, None) => {
            let known_scopes = known.as_ref().map(|s| effective_scopes(&s.scopes).join(","));
            let default_scopes = known_scopes.unwrap_or_else(|| DEFAULT_SCOPES.join(","));
            ask.ask("Registration scopes", Some(&default_scopes), "--scopes", check_scopes)?
        }
    };
    let mut session = SsoSession {
        name: Some(name.clone()),
        start_url,
        region,
        scopes: scopes.split(',').map(str::to_owned).collect(),
    };
    // The profiles' region: --profile-region, else asked, by default [default]'s region or the
    // session's (docs/configure-generate.md).
    let default_region = existing
        .profile("default")
        .and_then(|p| p.get("region"))
        .and_then(|r| check_region(r).ok())
        .unwrap_or_else(|| session.region.clone());
    let profile_region = (profile_region, default_region);

    let mut out = std::io::stdout().lock();
    let mut changed = false;
    let mut backed_up = false;
    match existing.sso_session(&name) {
        Ok(have) if same_session(&have, &session) && have.scopes.is_empty() && add_scopes.is_some() => {
            let mut pending = interrupt::pending();
            let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let before = generate::read_optional(&real)?;
            let scopes = session.scopes.join(",");
            session.start_url.clone_from(&have.start_url);
            set_session_key(&real, &before, &existing, &name, "sso_registration_scopes", &scopes)?;
            *pending = Some(Undo {
                name: name.clone(),
                after: generate::read_optional(&real)?,
                path: real,
                existed: true,
                before,
            });
            crate::output::note_stdout(writeln!(
                out,
                "added sso_registration_scopes = {scopes} to [sso-session {name}] in {}; its other keys stay as they are",
                path.display()
            ));
            changed = true;
        }
        Ok(have) if same_session(&have, &session) => {
            if have.start_url == session.start_url {
                crate::output::note_stdout(writeln!(
                    out,
                    "[sso-session {name}] is already in {} as asked",
                    path.display()
                ));
            } else {
                // The same start URL spelled otherwise: the section keeps its own spelling.
                crate::output::note_stdout(writeln!(
                    out,
                    "[sso-session {name}] is already in {} as asked (its start URL spelled {}); nothing is changed",
                    path.display(),
                    have.start_url
                ));
                session.start_url.clone_from(&have.start_url);
            }
        }
        Ok(have) if abandoned(ctx, &existing, &have) => {
            // A session an earlier setup wrote and never finished (killed before its login
            // completed): no token, no profile uses it. It goes, and the new answers take its place.
            let mut pending = interrupt::pending();
            let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let before = generate::read_optional(&real)?;
            remove_session(&real, &before, &name)?;
            let backup = generate::append_session(ctx, &session)?;
            *pending = Some(Undo {
                name: name.clone(),
                after: generate::read_optional(&real)?,
                path: real,
                existed: true,
                before,
            });
            backed_up = true;
            let kept = backup.map(|b| format!("; the previous file is {}", b.display())).unwrap_or_default();
            crate::output::note_stdout(writeln!(
                out,
                "replaced [sso-session {name}] in {}: an earlier setup wrote it and never finished its login \
                 (no token, no profile uses it){kept}",
                path.display()
            ));
            changed = true;
        }
        Ok(have) => return Err(conflict(&path, &have, &session)),
        Err(ConfigError::SessionNotFound { .. }) => {
            let mut pending = interrupt::pending();
            let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let (existed, before) = (real.exists(), generate::read_optional(&real)?);
            let backup = generate::append_session(ctx, &session)?;
            *pending =
                Some(Undo { name: name.clone(), after: generate::read_optional(&real)?, path: real, existed, before });
            backed_up = true;
            let kept = backup.map(|b| format!("; the previous file is {}", b.display())).unwrap_or_default();
            crate::output::note_stdout(writeln!(out, "added [sso-session {name}] to {}{kept}", path.display()));
            changed = true;
        }
        Err(e) => return Err(e.into()),
    }
    crate::output::note_stdout(out.flush());
    drop(out);

    // From here on the session is in the config, and the context reads it from there. Until the
    // profiles are written (or none were asked for), a failure or a signal takes the session this
    // run added out again, so the file is back byte for byte and setup can simply run again.
    let mut login_failed = false;
    let done = finish(
        ctx,
        args,
        &mut ask,
        (&session, &profile_region),
        (&program, &program_note),
        backed_up,
        &mut login_failed,
    );
    match done {
        Ok(profiles_changed) => {
            if !(changed || profiles_changed) {
                outln!("nothing to change");
            }
            Ok(0)
        }
        Err(e) => {
            let undo = interrupt::pending().take();
            if let Some(undo) = undo {
                undo.run(if login_failed { "its login failed" } else { "setup did not finish" });
            }
            Err(e)
        }
    }
}

/// Setup after its session is in the config: the login, the listing and the profiles. Whether
/// anything changed; `login_failed` says whether a failure was the login's.
fn finish(
    ctx: &Context,
    args: &SetupArgs,
    ask: &mut Asker,
    (session, profile_region): (&SsoSession, &(Option<String>, String)),
    (program, program_note): (&str, &str),
    backed_up: bool,
    login_failed: &mut bool,
) -> Result<bool, Error> {
    let name = session.name.clone().unwrap_or_default();
    let mut changed = false;
    let spec = TargetArgs { sso_session: Some(name.clone()), ..TargetArgs::default() };
    let logged_in = crate::target::session_target(ctx, &spec).and_then(|target| {
        match session::token(ctx, &target, Mode::Normal) {
            Ok(token) => outln!(
                "{name}: already logged in, valid until {} ({})",
                timefmt::format(token.expires_at),
                timefmt::relative(token.expires_at, ctx.now())
            ),
            Err(Error::LoginRequired { .. }) => {
                outln!("{}", login_line(ctx, &target, args)?);
                changed = true;
            }
            Err(e) => return Err(e),
        }
        Ok(target)
    });
    *login_failed = logged_in.is_err();
    let target = logged_in?;
    let accounts = match accounts::fetch(ctx, &target) {
        // The portal refused a token that looked valid: one login, then once more.
        Err(Error::LoginRequired { .. }) => {
            outln!("{}", login_line(ctx, &target, args)?);
            changed = true;
            accounts::fetch(ctx, &target)?
        }
        other => other?,
    };
    let roles: usize = accounts.iter().map(|a| a.roles.len()).sum();
    outln!("{name} reaches {} accounts with {roles} roles", accounts.len());

    let mut names = args.names.clone();
    let mut which = match args.generate {
        Some(which) => which,
        None if roles == 0 => GenerateWhich::None,
        None => {
            ask.show_accounts(&accounts, &name);
            ask.generate(&mut names)?
        }
    };
    // A filter that matches nothing is an error that lists what exists (docs/configure-generate.md);
    // on a terminal, filters typed there are asked again instead.
    let mut naming = Naming::new(&names, Some(&name))?;
    let mut tries = 0;
    while which == GenerateWhich::All
        && let Some(no_match) = generate::unmatched(&accounts, &naming)
    {
        let typed = args.names.accounts.is_none() && args.names.roles.is_none();
        tries += 1;
        if !(typed && ask.on_terminal()) || tries >= MAX_TRIES {
            return Err(no_match.into());
        }
        ask.warn(&no_match.to_string());
        names = args.names.clone();
        which = ask.generate(&mut names)?;
        naming = Naming::new(&names, Some(&name))?;
    }
    if which == GenerateWhich::All {
        // A region the user chose (the flag, or an answer on the terminal) is also set on the
        // profiles an earlier run generated; an unattended default changes nothing already there.
        let (region, chosen) = match profile_region {
            (Some(r), _) => (r.clone(), true),
            (None, default) => {
                let chosen = ask.on_terminal();
                (ask.ask("Region for the profiles", Some(default), "--profile-region", check_region)?, chosen)
            }
        };
        let (planned, skipped) = generate::plan(&accounts, &naming);
        for warning in skipped {
            ctx.warn(warning);
        }
        errln!("aws-sso-process: {program_note}");
        let generator = Generator { target: &target, region: &region, program, backup: !backed_up };
        // A signal waits until the profiles are written (the write is atomic and short), then
        // finds nothing to take back.
        let mut pending = interrupt::pending();
        let options = generate::WriteOptions { prune: None, force: false, update_region: chosen, preview: false };
        let summary = generator.write_with(ctx, &planned, options, &mut print)?;
        *pending = None;
        drop(pending);
        changed |= summary.added > 0 || summary.updated > 0;
        if let Some(first) = planned.first() {
            outln!("try it: aws sts get-caller-identity --profile {}", crate::context::shell_word(&first.name));
        }
    } else {
        *interrupt::pending() = None;
    }
    Ok(changed)
}

/// Flags that say otherwise than the adopted session `have` are an error naming the difference.
/// Scopes for a session without any are an addition, not a difference.
fn check_adopted(
    path: &Path,
    have: &SsoSession,
    start_url: Option<&str>,
    region: Option<&str>,
    scopes: Option<&str>,
) -> Result<(), Error> {
    let want = SsoSession {
        name: have.name.clone(),
        start_url: start_url.map_or_else(|| have.start_url.clone(), str::to_owned),
        region: region.map_or_else(|| have.region.clone(), str::to_owned),
        scopes: match scopes {
            Some(s) if !have.scopes.is_empty() => s.split(',').map(str::to_owned).collect(),
            _ => have.scopes.clone(),
        },
    };
    if same_session(have, &want) { Ok(()) } else { Err(conflict(path, have, &want)) }
}

/// Whether the config's `[sso-session NAME]` is one an earlier setup wrote (it carries
/// `aws_sso_process_generated = setup`) and never finished: no cached token for it and no
/// profile that uses it. Such a session is replaced, not refused.
/// Prints what `Generator::write_with` reports, as `configure generate --write` does.
fn print(report: generate::Report) {
    match report {
        generate::Report::Out(line) => outln!("{line}"),
        generate::Report::Note(line) => errln!("aws-sso-process: {line}"),
    }
}

/// The login `setup` runs when the session needs one, with `login`'s flags and result line.
fn login_line(ctx: &Context, target: &crate::target::SessionTarget, args: &SetupArgs) -> Result<String, Error> {
    let l = &args.login;
    crate::login::explicit(ctx, target, l.use_device_code, l.no_browser, l.redirect_port)
}

fn abandoned(ctx: &Context, config: &Config, have: &SsoSession) -> bool {
    let Some(name) = have.name.as_deref() else { return false };
    let marked = config.sso_sessions.get(name).and_then(|s| s.get(generate::GENERATED_KEY)) == Some(SETUP_MARK);
    let token = ctx.sso_cache_dir().join(format!("{}.json", crate::cache::token_key(Some(name), &have.start_url)));
    let used = config.profiles.values().any(|p| {
        p.get("sso_session") == Some(name)
            || p.get(generate::GENERATED_KEY) == Some(name)
            || p.get("credential_process")
                .and_then(|c| crate::target::line_role(config, c))
                .is_some_and(|(s, _, _)| s.name.as_deref() == Some(name))
    });
    marked && !token.exists() && !used
}

/// Writes `before` (the config's bytes) with `key = value` set in `[sso-session NAME]`, after
/// checking that our parser reads that one key as changed and everything else as it was.
fn set_session_key(
    path: &Path,
    before: &[u8],
    existing: &Config,
    name: &str,
    key: &str,
    value: &str,
) -> Result<(), Error> {
    let refuse = |why: &str| Error::Other {
        what: format!("cannot set {key} in [sso-session {name}] of {}: {why}; the file is unchanged", path.display()),
        hint: Some(format!("add '{key} = {value}' to [sso-session {name}] by hand")),
    };
    let text = std::str::from_utf8(before).map_err(|_| refuse("it is not UTF-8"))?;
    let section = existing.sso_sessions.get(name).ok_or_else(|| refuse("the section was not found"))?;
    if section.path != path && std::fs::canonicalize(&section.path).ok().as_deref() != Some(path) {
        return Err(refuse("the section is in another file"));
    }
    let new = crate::config::set_key(text, section.line, key, value).ok_or_else(|| refuse("its header moved"))?;
    let header = format!("sso-session {name}");
    let old = crate::config::sections(path, text).map_err(|e| refuse(&crate::error::chain(&e)))?;
    let now = crate::config::sections(path, &new).map_err(|e| refuse(&crate::error::chain(&e)))?;
    let want: Vec<_> = old
        .into_iter()
        .map(|(h, mut values)| {
            if h == header {
                values.insert(key.to_owned(), crate::config::Value::Text(value.to_owned()));
            }
            (h, values)
        })
        .collect();
    if now != want {
        return Err(refuse("the other keys would change"));
    }
    crate::cache::write_bytes_atomic_mode(path, new.as_bytes(), crate::cache::file_mode(path))?;
    Ok(())
}

/// What the user picked from the config's sessions.
enum Choice {
    Session(String),
    Legacy { start_url: String, region: String },
    New,
}

/// Writes `before` (the config's bytes) without its `[sso-session NAME]` section and the blank
/// line setup put above it, after checking that our parser reads every other section unchanged.
fn remove_session(path: &Path, before: &[u8], name: &str) -> Result<(), Error> {
    let refuse = |why: &str| Error::Other {
        what: format!("cannot replace [sso-session {name}] in {}: {why}; the file is unchanged", path.display()),
        hint: Some(format!("remove [sso-session {name}] by hand, then run setup again")),
    };
    let text = std::str::from_utf8(before).map_err(|_| refuse("it is not UTF-8"))?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = format!("sso-session {name}");
    // Found and ended by the reader's own header rule, so the section taken out is the one it reads.
    let start = lines
        .iter()
        .position(|l| crate::config::heads_section(l, false, name))
        .ok_or_else(|| refuse("its header was not found"))?;
    let end = (start + 1..lines.len()).find(|&i| crate::config::is_header_line(lines[i])).unwrap_or(lines.len());
    let first = if start > 0 && lines[start - 1].trim().is_empty() { start - 1 } else { start };
    let kept: String = lines[..first].iter().chain(&lines[end..]).copied().collect();
    let old = crate::config::sections(path, text).map_err(|e| refuse(&crate::error::chain(&e)))?;
    let new = crate::config::sections(path, &kept).map_err(|e| refuse(&crate::error::chain(&e)))?;
    let want: Vec<_> = old.into_iter().filter(|(h, _)| *h != header).collect();
    if new != want {
        return Err(refuse("the other sections would change"));
    }
    crate::cache::write_bytes_atomic_mode(path, kept.as_bytes(), crate::cache::file_mode(path))?;
    Ok(())
}

/// "--flag: why" as a usage error.
fn flag_error(flag: &'static str) -> impl Fn(String) -> Error {
    move |why| Error::Usage(format!("{flag}: {why}"))
}

fn read_config(path: &Path) -> Result<Config, Error> {
    let bytes = generate::read_optional(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::Other {
        what: format!("{} is not UTF-8; setup writes nothing to it", path.display()),
        hint: Some("fix the file's encoding, then run setup again".into()),
    })?;
    Ok(Config::parse(path, text, Path::new(""), "")?)
}

/// The scopes a login asks for: the configured ones, or the default when none are.
fn effective_scopes(scopes: &[String]) -> Vec<String> {
    if scopes.is_empty() { DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect() } else { scopes.to_vec() }
}

/// Whether the config's session is the one asked for. One without sso_region (a vanity start URL,
/// whose login finds the region and writes it) matches any region.
fn same_session(have: &SsoSession, want: &SsoSession) -> bool {
    same_start_url(&have.start_url, &want.start_url)
        && (have.region == want.region || have.region.is_empty())
        && effective_scopes(&have.scopes) == effective_scopes(&want.scopes)
}

/// Whether two start URLs name the same portal: equal but for a trailing `/` or the letter case
/// of the scheme and host (which no server tells apart); the path's case counts.
fn same_start_url(a: &str, b: &str) -> bool {
    let key = |url: &str| {
        let url = url.trim_end_matches('/');
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (host, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        (scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), path.to_owned())
    };
    key(a) == key(b)
}

fn conflict(path: &Path, have: &SsoSession, want: &SsoSession) -> Error {
    let name = want.name.clone().unwrap_or_default();
    let mut differ = Vec::new();
    if !same_start_url(&have.start_url, &want.start_url) {
        differ.push(format!("sso_start_url {} (not {})", have.start_url, want.start_url));
    }
    if have.region != want.region && !have.region.is_empty() {
        differ.push(format!("sso_region {} (not {})", have.region, want.region));
    }
    if effective_scopes(&have.scopes) != effective_scopes(&want.scopes) {
        differ.push(format!(
            "sso_registration_scopes {} (not {})",
            effective_scopes(&have.scopes).join(","),
            want.scopes.join(",")
        ));
    }
    Error::Other {
        what: format!(
            "[sso-session {name}] is already in {} with {}; setup changes no section you have",
            path.display(),
            differ.join(", ")
        ),
        hint: Some(format!("give another --sso-session name, or edit [sso-session {name}] by hand")),
    }
}

/// The default session name: the start URL's first host label (`corp` of
/// `https://corp.awsapps.com/start`), letters, digits, '-' and '_' only.
fn derive_name(start_url: &str) -> String {
    let host = start_url.split_once("://").map(|(_, rest)| rest).unwrap_or(start_url);
    let host = host.split(['/', '?', '#', ':']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let label: String = host
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if label.is_empty() { "sso".to_owned() } else { label.to_ascii_lowercase() }
}

fn check_start_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let rest = url.strip_prefix("https://").ok_or("a start URL begins with https://")?;
    if url.len() > MAX_URL {
        return Err(format!("a start URL has at most {MAX_URL} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a start URL has no spaces or control characters".into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err("the start URL has no host name (like https://corp.awsapps.com/start)".into());
    }
    Ok(url.to_owned())
}

/// The region a vanity start URL's redirect names (`<id>.portal.<region>.app.aws`), when it
/// redirects to such a host; nothing for start URLs on AWS domains (which are never requested) or
/// when the request fails (the question is then asked, or its flag required).
fn region_from_start_url(ctx: &Context, start_url: &str) -> Option<String> {
    let session = SsoSession { name: None, start_url: start_url.to_owned(), region: String::new(), scopes: Vec::new() };
    let target = crate::target::session(ctx, session, None, String::new(), "this start URL".to_owned());
    // The run's deadline counts from its start, and the user may have taken a while to answer.
    ctx.reset_deadline(Some(crate::context::RUN_DEADLINE));
    match crate::login::start_url::resolve(ctx, &target) {
        Ok(resolved) => {
            errln!(
                "aws-sso-process: {} leads to {}, in {}",
                crate::sanitize::sanitize(start_url),
                crate::sanitize::display_url(&resolved.url),
                resolved.region
            );
            Some(resolved.region)
        }
        Err(e) => {
            ctx.debug(|| format!("no region from the start URL: {}", crate::error::chain(&e)));
            None
        }
    }
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) while setup runs: the session this
/// run added is taken out again, as after a failed login, and setup exits with 128 + the signal's
/// number (130, 143, 129). A thread does it, woken through a pipe by the handler, since the main
/// thread may be waiting for the login; it is the one place below `main` that ends the process.
mod interrupt {
    use super::Undo;
    use std::sync::{Mutex, MutexGuard};

    /// What to take back: set while the config holds a session of this run whose setup is not done.
    /// Whoever changes the config holds the lock, so the undo never runs in the middle of a write.
    static PENDING: Mutex<Option<Undo>> = Mutex::new(None);

    pub fn pending() -> MutexGuard<'static, Option<Undo>> {
        PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Undoes what is pending, then ends the process with 128 + `signal`.
    fn stop(signal: i32) -> ! {
        let mut pending = pending();
        if let Some(undo) = pending.take() {
            undo.run("setup was interrupted");
        }
        // The lock stays held: nothing else writes the config before the process ends.
        std::process::exit(128 + signal)
    }

    #[cfg(unix)]
    pub fn catch() {
        use std::sync::atomic::{AtomicI32, Ordering};
        static WAKE: AtomicI32 = AtomicI32::new(-1);
        const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

        extern "C" fn on_signal(signal: libc::c_int) {
            let fd = WAKE.load(Ordering::Relaxed);
            let byte = signal as u8;
            // SAFETY: write is async-signal-safe; the byte lives for the call.
            unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
        }

        let mut fds = [-1; 2];
        // SAFETY: pipe writes two fresh fds into the array; fcntl only sets their close-on-exec flag.
        unsafe {
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                return;
            }
            for fd in fds {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        let [read, write] = fds;
        WAKE.store(write, Ordering::Relaxed);
        let watcher = std::thread::Builder::new().name("setup-signals".into()).spawn(move || {
            let mut byte = 0u8;
            loop {
                // SAFETY: reads one byte into a local.
                match unsafe { libc::read(read, (&raw mut byte).cast(), 1) } {
                    1 => stop(i32::from(byte)),
                    n if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                    _ => return,
                }
            }
        });
        if watcher.is_err() {
            return;
        }
        for signal in SIGNALS {
            // SAFETY: installs a handler that only does async-signal-safe work (one write); with
            // SA_RESTART the main thread's reads and waits go on undisturbed.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }

    #[cfg(not(unix))]
    pub fn catch() {}
}

/// The config as it was before this run appended its session, and as that append left it.
struct Undo {
    name: String,
    path: std::path::PathBuf,
    existed: bool,
    before: Vec<u8>,
    after: Vec<u8>,
}

impl Undo {
    /// Puts the file back as it was, unless something else has changed it since (then it stays,
    /// and the user is told what to remove).
    fn run(self, why: &str) {
        let name = &self.name;
        let unchanged = generate::read_optional(&self.path).is_ok_and(|now| now == self.after);
        let restored = unchanged
            && if self.existed {
                crate::cache::write_bytes_atomic_mode(&self.path, &self.before, crate::cache::file_mode(&self.path))
                    .is_ok()
            } else {
                std::fs::remove_file(&self.path).is_ok()
            };
        if restored {
            errln!("aws-sso-process: took [sso-session {name}] out of {} again, since {why}", self.path.display());
        } else {
            errln!(
                "aws-sso-process: warning: [sso-session {name}] stays in {}; remove it before running setup again \
                 with other answers",
                self.path.display()
            );
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Accounts shown before the question which profiles to generate.
const SHOWN_ACCOUNTS: usize = 30;

/// A region name as every AWS partition forms them: groups of lower-case letters, then a number
/// (`us-east-1`, `cn-northwest-1`, `us-gov-west-1`, `eusc-de-east-1`); a typo such as `us-east-l`
/// is caught here, before it is written and sent a login to a host that does not exist.
fn check_region(region: &str) -> Result<String, String> {
    let region = region.trim();
    let mut parts = region.split('-').collect::<Vec<_>>();
    let number = parts.pop().unwrap_or_default();
    let ok = region.len() <= 64
        && parts.len() >= 2
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit());
    if ok { Ok(region.to_owned()) } else { Err(format!("{region:?} is not a region name like us-east-1")) }
}

fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err("a session name has 1 to 64 characters".into());
    }
    match name.chars().find(|c| generate::bad_name_char(*c)) {
        Some(bad) => Err(format!("a session name cannot contain {bad:?}: it goes in an [sso-session NAME] header")),
        None => Ok(name.to_owned()),
    }
}

fn check_scopes(scopes: &str) -> Result<String, String> {
    let list: Vec<&str> = scopes.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if list.is_empty() {
        return Err("give at least one scope, e.g. sso:account:access".into());
    }
    match list.iter().flat_map(|s| s.chars()).find(|c| c.is_whitespace() || c.is_control() || "#;".contains(*c)) {
        Some(bad) => Err(format!("a scope cannot contain {bad:?}")),
        None => Ok(list.join(",")),
    }
}

/// Questions on the terminal (`/dev/tty`, or what `AWS_SSO_PROCESS_TTY` names when that is a
/// terminal). Without one, questions with a default take it and the others are errors.
struct Asker {
    tty: Option<File>,
    color: bool,
}

impl Asker {
    /// Whether questions go to a terminal (else each takes its default or needs its flag).
    fn on_terminal(&self) -> bool {
        self.tty.is_some()
    }

    fn open(ctx: &Context) -> Asker {
        let tty = ctx
            .tty_path()
            .and_then(|path| OpenOptions::new().read(true).write(true).open(path).ok())
            .filter(|f| f.is_terminal());
        Asker { tty, color: ctx.env.get("NO_COLOR").is_none() }
    }

    /// What the user can reach, before the question about which profiles to write: an account a
    /// line with its roles, at most `SHOWN_ACCOUNTS` of them (`list` shows every one).
    /// A short warning on the terminal, as an answer that does not fit is told.
    fn warn(&mut self, text: &str) {
        let why = Style::Warn.paint(&crate::sanitize::sanitize(text), self.color);
        self.say(&format!("  {why}\n"));
    }

    fn show_accounts(&mut self, accounts: &[accounts::AccountRoles], session: &str) {
        if self.tty.is_none() {
            return;
        }
        let mut text = String::new();
        for a in accounts.iter().take(SHOWN_ACCOUNTS) {
            let roles = if a.roles.is_empty() { "(no roles)".to_owned() } else { a.roles.join(", ") };
            text.push_str(&format!(
                "  {} ({}): {}\n",
                crate::sanitize::sanitize(&a.account.account_name),
                crate::sanitize::sanitize(&a.account.account_id),
                crate::sanitize::sanitize(&roles)
            ));
        }
        if accounts.len() > SHOWN_ACCOUNTS {
            text.push_str(&format!(
                "  ... and {} more ('aws-sso-process list --sso-session {session}' shows them all)\n",
                accounts.len() - SHOWN_ACCOUNTS
            ));
        }
        self.say(&text);
    }

    fn say(&mut self, text: &str) {
        if let Some(tty) = &mut self.tty {
            let _ = tty.write_all(text.as_bytes()).and_then(|()| tty.flush());
        }
    }

    /// One answer, checked by `check`; empty takes `default`.
    fn ask(
        &mut self,
        question: &str,
        default: Option<&str>,
        flag: &str,
        check: impl Fn(&str) -> Result<String, String>,
    ) -> Result<String, Error> {
        if self.tty.is_none() {
            let Some(default) = default else {
                return Err(Error::Usage(format!("no terminal to ask for the {question} on; give {flag}")));
            };
            // Mid-sentence: "registration scopes", but "SSO region" as it is.
            let mut chars = question.chars();
            let label = match (chars.next(), chars.next()) {
                (Some(first), Some(second)) if second.is_lowercase() => {
                    format!("{}{}", first.to_lowercase(), &question[first.len_utf8()..])
                }
                _ => question.to_owned(),
            };
            errln!("aws-sso-process: {label}: {} (the default; {flag} sets it)", crate::sanitize::sanitize(default));
            return check(default).map_err(|why| Error::Usage(format!("{flag}: {why}")));
        }
        for _ in 0..MAX_TRIES {
            let shown = match default {
                Some(d) => format!(" [{}]", Style::Dim.paint(&crate::sanitize::sanitize(d), self.color)),
                None => String::new(),
            };
            let line = format!("{}{shown}: ", Style::Bold.paint(question, self.color));
            self.say(&line);
            let answer = self.read_line(question)?;
            let answer = match (answer.trim(), default) {
                ("", Some(d)) => d.to_owned(),
                ("", None) => continue,
                (a, _) => a.to_owned(),
            };
            match check(&answer) {
                Ok(value) => return Ok(value),
                Err(why) => self.warn(&why),
            }
        }
        Err(Error::Usage(format!("no usable {question} after {MAX_TRIES} tries; give {flag}")))
    }

    /// Which of the config's sessions (and legacy start URLs, from profiles with `sso_start_url`
    /// and no `sso_session`) to set up, or a new one. No question when the config has none.
    fn choose_session(&mut self, config: &Config) -> Result<Choice, Error> {
        let mut choices = Vec::new();
        let mut lines = String::new();
        for name in config.sso_sessions.keys() {
            let Ok(s) = config.sso_session(name) else { continue };
            let region = if s.region.is_empty() { String::new() } else { format!(" ({})", s.region) };
            lines.push_str(&format!("  {}) {name}: {}{region}\n", choices.len() + 1, s.start_url));
            choices.push(Choice::Session(name.clone()));
        }
        let mut seen: Vec<String> = Vec::new();
        for (profile, p) in &config.profiles {
            let Some(url) = p.get("sso_start_url").filter(|_| p.get("sso_session").is_none()) else { continue };
            let known = config.sso_sessions.keys().any(|n| config.sso_session(n).is_ok_and(|s| s.start_url == url));
            if known || seen.iter().any(|u| u == url) || check_start_url(url).is_err() {
                continue;
            }
            seen.push(url.to_owned());
            let region = p.get("sso_region").unwrap_or_default();
            lines.push_str(&format!(
                "  {}) {url} ({region}, legacy: profile {profile}; setup makes it an sso-session)\n",
                choices.len() + 1
            ));
            choices.push(Choice::Legacy { start_url: url.to_owned(), region: region.to_owned() });
        }
        if choices.is_empty() {
            return Ok(Choice::New);
        }
        lines.push_str(&format!("  {}) a new one\n", choices.len() + 1));
        // Names and URLs from the file, inert on the terminal line by line.
        let shown: Vec<String> = lines.lines().map(crate::sanitize::sanitize).collect();
        self.say(&format!("SSO sessions in the config:\n{}\n", shown.join("\n")));
        let count = choices.len() + 1;
        let names: Vec<String> = config.sso_sessions.keys().cloned().collect();
        let answer = self.ask("SSO session", Some("1"), "--sso-session", |a| match a.parse::<usize>() {
            Ok(n) if (1..=count).contains(&n) => Ok(n.to_string()),
            _ if names.iter().any(|n| n == a) => Ok(a.to_owned()),
            _ => Err(format!("answer a number from 1 to {count}, or the name of a session above")),
        })?;
        let index = match answer.parse::<usize>() {
            Ok(n) => n - 1,
            Err(_) => return Ok(Choice::Session(answer)),
        };
        Ok(if index < choices.len() { choices.swap_remove(index) } else { Choice::New })
    }

    /// Whether to add `sso_registration_scopes` to an adopted session that has none (without it
    /// the token cannot be refreshed): asked on a terminal (yes by default), otherwise left as it
    /// is, with a note naming the flag.
    fn add_scopes(&mut self, have: &SsoSession) -> Result<Option<String>, Error> {
        let name = have.name.clone().unwrap_or_default();
        let scopes = DEFAULT_SCOPES.join(",");
        if self.tty.is_none() {
            errln!(
                "aws-sso-process: [sso-session {name}] has no sso_registration_scopes, so its token cannot be \
                 refreshed; --scopes {scopes} adds them"
            );
            return Ok(None);
        }
        let question = format!(
            "[sso-session {name}] has no sso_registration_scopes, so its token cannot be refreshed. Add \
             sso_registration_scopes = {scopes}? yes or no"
        );
        let answer = self.ask(&question, Some("yes"), "--scopes", |a| match a.to_ascii_lowercase().as_str() {
            "y" | "yes" => Ok("yes".to_owned()),
            "n" | "no" => Ok("no".to_owned()),
            _ => Err("answer yes or no".to_owned()),
        })?;
        Ok((answer == "yes").then_some(scopes))
    }

    /// Which profiles to generate: all, some (then `--accounts`/`--roles` questions), or none.
    fn generate(&mut self, names: &mut NameArgs) -> Result<GenerateWhich, Error> {
        let which = self.ask(
            "Generate a profile for each account and role? all, some or none",
            self.tty.as_ref().map(|_| "all"),
            "--generate",
            |a| match a.to_ascii_lowercase().as_str() {
                "all" | "a" | "y" | "yes" => Ok("all".to_owned()),
                "some" | "s" | "filter" => Ok("some".to_owned()),
                "none" | "n" | "no" => Ok("none".to_owned()),
                _ => Err("answer all, some or none".to_owned()),
            },
        )?;
        match which.as_str() {
            "none" => Ok(GenerateWhich::None),
            "all" => Ok(GenerateWhich::All),
            _ => {
                let regex = |a: &str| {
                    let args = NameArgs { accounts: Some(a.to_owned()), ..NameArgs::default() };
                    Naming::new(&args, None).map(|_| a.to_owned()).map_err(|e| e.to_string())
                };
                if names.accounts.is_none() {
                    let a = self.ask(
                        "Only accounts whose name or ID matches (a regular expression)",
                        Some(".*"),
                        "--accounts",
                        regex,
                    )?;
                    names.accounts = Some(a);
                }
                if names.roles.is_none() {
                    let r =
                        self.ask("Only roles whose name matches (a regular expression)", Some(".*"), "--roles", regex)?;
                    names.roles = Some(r);
                }
                Ok(GenerateWhich::All)
            }
        }
    }

    /// One line from the terminal, without its line break. End of input is an error.
    fn read_line(&mut self, question: &str) -> Result<String, Error> {
        let Some(tty) = &mut self.tty else { return Ok(String::new()) };
        let mut bytes = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match tty.read(&mut byte) {
                Ok(0) => {
                    return Err(Error::Other {
                        what: format!("no answer for the {question} (end of input); nothing more was done"),
                        hint: None,
                    });
                }
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) if bytes.len() >= MAX_ANSWER => {
                    return Err(Error::Usage(format!("the answer for the {question} is over {MAX_ANSWER} bytes")));
                }
                Ok(_) => bytes.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::Other { what: format!("cannot read the terminal: {e}"), hint: None });
                }
            }
        }
        Ok(String::from_utf8_lossy(&bytes).trim_end_matches('\r').to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The session removed is the one the reader reads: `[ sso-session corp ]` (ignored by the
    /// reader) is left alone, and the real `[sso-session corp]` goes.
    #[test]
    fn remove_session_finds_the_header_as_the_reader_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let text = "[ sso-session corp ]\nsso_region = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n";
        std::fs::write(&path, text).unwrap();
        remove_session(&path, text.as_bytes(), "corp").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[ sso-session corp ]\nsso_region = eu-west-1\n");
        // Only the look-alike: nothing to remove.
        let text = "[ sso-session corp ]\nsso_region = eu-west-1\n";
        std::fs::write(&path, text).unwrap();
        assert!(remove_session(&path, text.as_bytes(), "corp").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn default_names_come_from_the_start_url() {
        for (url, want) in [
            ("https://corp.awsapps.com/start", "corp"),
            ("https://d-90677c8f1c.awsapps.com/start/#/", "d-90677c8f1c"),
            ("https://Sso.Example.com", "sso"),
            ("https://user@my_org.example.com:443/x", "my_org"),
            ("https://[::1]/start", "sso"),
        ] {
            assert_eq!(derive_name(url), want, "{url}");
        }
    }

    #[test]
    fn answers_that_could_break_the_file_are_refused() {
        assert!(check_start_url("https://corp.awsapps.com/start").is_ok());
        for bad in ["http://corp", "https://", "https:///x", "https://a b", "https://a\n[x]", "corp"] {
            assert!(check_start_url(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_region(" eu-west-1 ").as_deref(), Ok("eu-west-1"));
        for good in ["us-gov-west-1", "cn-northwest-1", "us-isob-east-1", "eusc-de-east-1", "ap-southeast-5"] {
            assert_eq!(check_region(good).as_deref(), Ok(good));
        }
        for bad in [
            "",
            "EU-west-1",
            "useast1",
            "us-east-1\nx",
            "us east-1",
            "1us-east",
            "us-east-l",
            "us-east",
            "us--east-1",
            "-east-1",
        ] {
            assert!(check_region(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("my-corp_2").is_ok());
        for bad in ["", "a b", "a]", "[a", "a#b", "a;b", "a\u{7}", "a'b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_scopes(" sso:account:access , codewhisperer:completions ").as_deref(),
            Ok("sso:account:access,codewhisperer:completions")
        );
        for bad in ["", ",", "a b", "a#", "a\nb"] {
            assert!(check_scopes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_unset_scope_list_is_the_default_one() {
        let s = |scopes: &[&str]| SsoSession {
            name: Some("corp".into()),
            start_url: "https://x".into(),
            region: "us-east-1".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(same_session(&s(&[]), &s(&["sso:account:access"])));
        assert!(!same_session(&s(&[]), &s(&["other"])));
    }
}
