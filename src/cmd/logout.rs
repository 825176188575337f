//! `logout`: sign out at the SSO portal, then delete the session's cached token and the role
//! credentials derived from it (docs/shared-cache.md). One line per action on stdout.
//!
//! Which role credential files are "derived from" a session: `~/.aws/cli/cache` names its files
//! by a hash of account, role and session (docs/shared-cache.md), so the name alone does not say. Our own
//! entries also hold the role name, so for each of them the hash of its account, role and this
//! session is compared with its file name. For the CLI's entries, which name no role, we compute
//! the names for every target the config knows for that session: each profile whose sso_* keys
//! (or whose `credential_process = aws-sso-process ...` flags) point at it. CLI entries for targets
//! the config does not name are left alone; `--all` removes every `"ProviderType": "sso"` entry, as
//! `aws sso logout` does. The assumed-role entries of profiles whose `source_profile` chain ends in
//! the session go too (docs/chained-roles.md): their keys follow from the config alone.
//!
//! Nothing of the session may outlive the logout (docs/shared-cache.md, "Logout"). The token is removed under its lock,
//! so a refresh in flight cannot write it back afterwards, and under the logout fence
//! (`role_cache::logout_fence`), so a fetch of role credentials in flight either has written its
//! file already (it is removed below) or finds the token gone and writes nothing. The role files
//! go after the token.
//! Lock files and client registrations are kept (docs/shared-cache.md).

use crate::cache;
use crate::cli::TargetArgs;
use crate::config::SsoSession;
use crate::context::Context;
use crate::endpoints::Service;
use crate::error::{EXIT_FAILURE, Error};
use crate::http::CallError;
use crate::lock::{LOCK_WAIT, LockGuard};
use crate::portal::Portal;
use crate::role_cache;
use crate::secret::Secret;
use crate::target::SessionTarget;
use crate::timefmt;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub fn run(ctx: &Context, spec: &TargetArgs, all: bool) -> Result<u8, Error> {
    if all {
        return run_all(ctx);
    }
    let target = crate::target::session_target(ctx, spec)?;
    let path = target.token_path.clone();
    let _guard = LockGuard::acquire(&path, LOCK_WAIT)?;
    let mut exit = 0;
    match cache::read_object(&path) {
        Ok(Some(doc)) => {
            exit = sign_out(ctx, &target, &doc);
            remove_token(&target.label, &path)?;
        }
        Ok(None) => outln!("{}: no cached SSO token", target.label),
        Err(e @ cache::CacheError::Corrupt { .. }) => {
            outln!("{}: cannot sign out at the portal: {}", target.label, crate::error::chain(&e));
            remove_token(&target.label, &path)?;
        }
        Err(e) => return Err(e.into()),
    }
    let mut removed = 0;
    let mut role_files = derived_role_files(ctx, &target.session)?;
    role_files.extend(own_role_files(ctx, &target.session)?);
    for role_file in role_files {
        if role_file.exists() {
            remove(&target.label, &role_file)?;
            removed += 1;
        }
    }
    if removed == 0 {
        outln!("{}: no cached role credentials of this session", target.label);
    }
    Ok(exit)
}

/// Portal Logout with the cached access token; what happened goes to stdout, the exit code
/// contribution is returned. A 401 means the portal has already forgotten the session; a network
/// failure only warns (the local copies go anyway).
fn sign_out(ctx: &Context, target: &SessionTarget, doc: &Map<String, Value>) -> u8 {
    let label = &target.label;
    let Some(token) = cache::str_field(doc, "accessToken").ok().flatten().filter(|t| !t.is_empty()) else {
        outln!("{label}: the cached file holds no access token; nothing to sign out at the portal");
        return 0;
    };
    let expires = cache::str_field(doc, "expiresAt").ok().flatten().and_then(timefmt::parse);
    if expires.is_some_and(|t| t <= ctx.now()) {
        outln!("{label}: the access token had expired; nothing to sign out at the portal");
        return 0;
    }
    let endpoint = match target.endpoint(Service::Portal) {
        Ok(e) => e,
        Err(e) => {
            outln!("{label}: cannot sign out at the portal: {}", crate::error::chain(&e));
            return EXIT_FAILURE;
        }
    };
    let portal = Portal { http: ctx.http(), endpoint };
    match portal.logout(&Secret::new(token)) {
        Ok(()) => {
            outln!("{label}: signed out at the SSO portal");
            0
        }
        Err(CallError::Service(e)) if e.status == 401 => {
            outln!("{label}: the SSO portal had already ended this session");
            0
        }
        Err(CallError::Http(e)) => {
            ctx.warn(format!(
                "{label}: could not reach the SSO portal to sign out ({e}); removing the local copies anyway"
            ));
            0
        }
        Err(CallError::Service(e)) => {
            outln!("{label}: the SSO portal did not sign out: {e}; removing the local copies anyway");
            EXIT_FAILURE
        }
    }
}

/// Removes a token file under the logout fence: no fetch of role credentials is then between its
/// look at the token file and its write.
fn remove_token(label: &str, path: &Path) -> Result<(), Error> {
    let _fence = LockGuard::acquire(&role_cache::logout_fence(path), LOCK_WAIT)?;
    remove(label, path)
}

fn remove(label: &str, path: &Path) -> Result<(), Error> {
    cache::remove(path)?;
    outln!("{label}: removed {}", path.display());
    Ok(())
}

/// The same SSO session (same token file): equal session names, or equal legacy start URLs.
fn same_session(a: &SsoSession, b: &SsoSession) -> bool {
    cache::token_key(a.name.as_deref(), &a.start_url) == cache::token_key(b.name.as_deref(), &b.start_url)
}

/// `~/.aws/cli/cache` files of every role target in the config that uses `session`.
fn derived_role_files(ctx: &Context, session: &SsoSession) -> Result<BTreeSet<PathBuf>, Error> {
    let config = ctx.config()?;
    let mut out = BTreeSet::new();
    let mut add = |s: &SsoSession, account: &str, role: &str| {
        if same_session(s, session) {
            let key = cache::role_key(account, role, s.name.as_deref(), &s.start_url);
            out.insert(ctx.cli_cache_dir().join(format!("{key}.json")));
        }
    };
    for (name, profile) in &config.profiles {
        if let Ok(t) = config.profile_target(name) {
            add(&t.session, &t.account_id, &t.role_name);
        }
        if let Some((s, account, role)) =
            profile.get("credential_process").and_then(|c| crate::target::line_role(config, c))
        {
            add(&s, &account, &role);
        }
    }
    out.extend(chained_role_files(ctx, Some(session)));
    Ok(out)
}

/// The assumed-role entries (docs/chained-roles.md) of every profile in the config whose chain of
/// `source_profile`s ends in `session` (any SSO session when `None`): every hop's entry.
fn chained_role_files(ctx: &Context, session: Option<&SsoSession>) -> Vec<PathBuf> {
    let Ok(config) = ctx.config() else { return Vec::new() };
    let mut out = Vec::new();
    for (name, section) in &config.profiles {
        if !crate::target::is_role_profile(section) {
            continue;
        }
        let spec = TargetArgs { profile: Some(name.clone()), ..TargetArgs::default() };
        let Ok(Some(chain)) = crate::target::chain_target(ctx, &spec) else { continue };
        if session.is_none_or(|s| same_session(&chain.root.session.session, s)) {
            out.extend(chain.hops.into_iter().map(|hop| hop.cache_path));
        }
    }
    out
}

/// `~/.aws/cli/cache` entries that we wrote for `session`: those whose account and role hash,
/// with the session, to their file name.
fn own_role_files(ctx: &Context, session: &SsoSession) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for path in cache::json_files(&ctx.cli_cache_dir())? {
        let Ok(Some(doc)) = cache::read_object(&path) else { continue };
        if let Some((account, role)) = role_cache::entry_role(&doc)
            && path.file_stem().is_some_and(|stem| {
                *stem == *cache::role_key(account, role, session.name.as_deref(), &session.start_url)
            })
        {
            out.push(path);
        }
    }
    Ok(out)
}

/// `--all`: every cached token (files holding `accessToken`, as `aws sso logout` picks them), then
/// every SSO role credential entry.
fn run_all(ctx: &Context) -> Result<u8, Error> {
    let config = ctx.config()?;
    let settings_profile = Some(ctx.profile_name(&TargetArgs::default())).filter(|p| config.profile(p).is_some());
    let mut exit = 0;
    let mut count = 0;
    for path in cache::json_files(&ctx.sso_cache_dir())? {
        let _guard = LockGuard::acquire(&path, LOCK_WAIT)?;
        let doc = match cache::read_object(&path) {
            Ok(Some(doc)) if doc.contains_key("accessToken") => doc,
            Ok(_) => continue,
            Err(e) => {
                outln!("skipped {}: {}", path.display(), crate::error::chain(&e));
                continue;
            }
        };
        count += 1;
        let start_url = cache::str_field(&doc, "startUrl").ok().flatten().unwrap_or_default().to_owned();
        let session_name =
            config.sso_sessions.keys().find(|n| crate::target::token_path(ctx, &named(n)) == path).cloned();
        let label = session_name
            .clone()
            .unwrap_or_else(|| if start_url.is_empty() { file_name(&path) } else { start_url.clone() });
        match cache::str_field(&doc, "region").ok().flatten().filter(|r| !r.is_empty()) {
            Some(region) => {
                let session =
                    SsoSession { name: session_name, start_url, region: region.to_owned(), scopes: Vec::new() };
                let target =
                    crate::target::session(ctx, session, settings_profile.clone(), String::new(), label.clone());
                exit = exit.max(sign_out(ctx, &target, &doc));
            }
            None => outln!("{label}: the cached token names no region; nothing to sign out at the portal"),
        }
        remove_token(&label, &path)?;
    }
    if count == 0 {
        outln!("no cached SSO tokens in {}", ctx.sso_cache_dir().display());
    }
    for path in cache::json_files(&ctx.cli_cache_dir())? {
        if let Ok(Some(doc)) = cache::read_object(&path)
            && doc.get("ProviderType").and_then(Value::as_str) == Some("sso")
        {
            remove("role credentials", &path)?;
        }
    }
    for path in chained_role_files(ctx, None) {
        if path.exists() {
            remove("assumed-role credentials", &path)?;
        }
    }
    Ok(exit)
}

fn named(name: &str) -> SsoSession {
    SsoSession { name: Some(name.to_owned()), start_url: String::new(), region: String::new(), scopes: Vec::new() }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
