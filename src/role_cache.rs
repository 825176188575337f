//! Role credentials: the cache the AWS CLI keeps in `~/.aws/cli/cache` (docs/shared-cache.md), its lock, and
//! GetRoleCredentials when the cache cannot serve.
//!
//! The cache-hit path is the hot path of the whole tool (it runs on every AWS call a tool makes):
//! one small file read and parse, no token read, no network, no TLS. A miss takes the role's
//! lock, looks again, then asks the session for a token and the portal for credentials. Locks are
//! always taken role first, session second, never the reverse, so two processes cannot deadlock.
//!
//! A fetch writes only credentials of the session that is still logged in (docs/shared-cache.md, "Logout"): once the
//! portal has answered, and under the role lock, the token file must still hold the access token
//! the call was made with. `logout` removes the token file first and then each role file under its
//! role lock, so a fetch that started before a logout either wrote before the token went (and the
//! logout removes that file) or finds the token gone and discards what it got. A token replaced in
//! the meantime (a refresh, a new login) means the answer belongs to an older token: the fetch is
//! made again with the current one.

use crate::cache::{self, CacheError};
use crate::context::Context;
use crate::endpoints::Service;
use crate::error::Error;
use crate::lock::{LOCK_WAIT, LockError, LockGuard};
use crate::portal::{Portal, RoleCredentials};
use crate::secret::Secret;
use crate::session::{self, Outcome};
use crate::target::RoleTarget;
use crate::timefmt;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Cached credentials are served while at least this much remains (the CLI's own rule).
pub const MIN_REMAINING: TimeDelta = TimeDelta::minutes(15);

#[derive(Debug)]
pub struct Served {
    pub creds: RoleCredentials,
    pub from_cache: bool,
}

/// Credentials for `target` with at least `MIN_REMAINING` left when the portal allows it.
pub fn credentials(ctx: &Context, target: &RoleTarget) -> Result<Served, Error> {
    let path = target.role_path.clone();
    if let Some(creds) = read_fresh(ctx, &path) {
        return Ok(Served { creds, from_cache: true });
    }
    // A read-only or full ~/.aws gives at most one warning (docs/how-it-works.md): the token's, which
    // says for how long things still work, or else the role cache's.
    let mut cache_warning = None;
    let guard = match LockGuard::acquire(&path, LOCK_WAIT) {
        Ok(guard) => Some(guard),
        Err(e @ LockError::Open { .. }) => {
            cache_warning = Some(format!("role credentials will not be cached: {}", crate::error::chain(&e)));
            None
        }
        Err(e) => return Err(e.into()),
    };
    if guard.is_some()
        && let Some(creds) = read_fresh(ctx, &path)
    {
        return Ok(Served { creds, from_cache: true });
    }
    let (creds, token_warning) = fetch_current(ctx, target, |creds| {
        if guard.is_some()
            && let Err(e) = cache::write_atomic(&path, &cache_doc(creds, target))
        {
            cache_warning = Some(format!("role credentials could not be cached: {}", crate::error::chain(&e)));
        }
    })?;
    if let Some(warning) = token_warning.or(cache_warning) {
        ctx.warn(warning);
    }
    Ok(Served { creds, from_cache: false })
}

/// How often a fetch is made again because the session's token was replaced while it ran.
const TOKEN_REPLACED_RETRIES: usize = 2;

/// The lock that orders the writes of a session's role credentials against its logout. `logout`
/// holds it alone while it removes the token file; each fetch holds it, shared with the others,
/// from its look at the token file to the end of its write. Its file lies beside the token's:
/// `<token key>.roles.lock`.
pub fn logout_fence(token_path: &Path) -> PathBuf {
    token_path.with_extension("roles")
}

/// `fetch`, whose answer is kept only while the token it was made with is still the session's:
/// `keep` runs (under the fence, see `logout_fence`) only then.
fn fetch_current(
    ctx: &Context,
    target: &RoleTarget,
    keep: impl FnOnce(&RoleCredentials),
) -> Result<(RoleCredentials, Option<String>), Error> {
    let token_path = target.session.token_path.clone();
    let mut retries = 0;
    loop {
        let (creds, used, warning) = fetch(ctx, target)?;
        let _fence = match LockGuard::acquire_shared(&logout_fence(&token_path), LOCK_WAIT) {
            Ok(guard) => Some(guard),
            // A token folder that cannot be written cannot lose its token to a logout either.
            Err(e @ LockError::Open { .. }) => {
                ctx.debug(|| format!("checking the token without the logout lock: {}", crate::error::chain(&e)));
                None
            }
            Err(e) => return Err(e.into()),
        };
        match token_state(&token_path, &used) {
            TokenState::Current => {
                keep(&creds);
                return Ok((creds, warning));
            }
            TokenState::Replaced if retries < TOKEN_REPLACED_RETRIES => {
                retries += 1;
                ctx.debug(|| {
                    format!("the SSO token of {} was replaced during the call; fetching again", target.session.label)
                });
            }
            TokenState::Replaced => {
                return Err(Error::Other {
                    what: format!(
                        "the SSO token of {} kept changing while role credentials were fetched; they were discarded",
                        target.session.label
                    ),
                    hint: Some(
                        "try again; if it keeps happening, look for another tool logging in in a loop".to_owned(),
                    ),
                });
            }
            TokenState::Gone => {
                return Err(Error::LoginRequired {
                    what: format!(
                        "the SSO session {} was logged out while role credentials were fetched; they were discarded",
                        target.session.label
                    ),
                    login_args: target.session.login_args.clone(),
                    cause: None,
                });
            }
        }
    }
}

enum TokenState {
    /// The token file still holds the access token the call was made with.
    Current,
    /// It holds another one (a refresh or a login happened meanwhile), or one that cannot be read
    /// now: the next fetch reads it again and says what is wrong with it.
    Replaced,
    /// There is no token file: the session was logged out.
    Gone,
}

/// Compares the token file with `used`; the tokens are compared, never shown.
fn token_state(token_path: &Path, used: &Secret) -> TokenState {
    match cache::read_object(token_path) {
        Ok(None) => TokenState::Gone,
        Ok(Some(doc)) => match session::CachedToken::parse(doc) {
            Ok(cached) if cached.access_token == *used => TokenState::Current,
            _ => TokenState::Replaced,
        },
        Err(_) => TokenState::Replaced,
    }
}

/// GetRoleCredentials with the session's token; a 401 replaces the token once and tries again.
/// Also returns the access token that was answered and the warning about the token, if any.
fn fetch(ctx: &Context, target: &RoleTarget) -> Result<(RoleCredentials, Secret, Option<String>), Error> {
    let portal = Portal {
        http: ctx.http(),
        endpoint: ctx.endpoint_used(Service::Portal, target.session.endpoint(Service::Portal)?),
    };
    let (creds, token) = session::with_token(ctx, &target.session, |token| {
        portal.get_role_credentials(token, &target.account_id, &target.role_name)
    })?;
    let warning = token_warning(target, &token.outcome);
    Ok((creds, token.access_token, warning))
}

fn token_warning(target: &RoleTarget, outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::RefreshFailed(why) => Some(format!(
            "could not refresh the SSO token of {} ({why}); using the cached token while it lasts",
            target.session.label
        )),
        _ => None,
    }
}

/// Cached credentials with at least `MIN_REMAINING` left. An unreadable or foreign file is a miss
/// (it will be replaced by fresh credentials).
fn read_fresh(ctx: &Context, path: &Path) -> Option<RoleCredentials> {
    let doc = match cache::read_object(path) {
        Ok(doc) => doc?,
        Err(e @ (CacheError::Corrupt { .. } | CacheError::Io { .. })) => {
            ctx.debug(|| format!("role cache miss: {}", crate::error::chain(&e)));
            return None;
        }
    };
    let creds = parse_cache_doc(&doc)
        .map_err(|why| ctx.debug(|| format!("role cache {} unusable: {why}", path.display())))
        .ok()?;
    let left = creds.expiration - ctx.now();
    ctx.debug(|| format!("role cache {}: {} min left", path.display(), left.num_minutes()));
    (left >= MIN_REMAINING).then_some(creds)
}

pub(crate) fn parse_cache_doc(doc: &Map<String, Value>) -> Result<RoleCredentials, String> {
    let creds = doc.get("Credentials").and_then(Value::as_object).ok_or("no Credentials object")?;
    let text = |key: &str| -> Result<Secret, String> {
        cache::str_field(creds, key)?.filter(|s| !s.is_empty()).map(Secret::new).ok_or(format!("no {key}"))
    };
    let expiration: DateTime<Utc> =
        cache::str_field(creds, "Expiration")?.and_then(timefmt::parse).ok_or("no Expiration with a time zone")?;
    Ok(RoleCredentials {
        access_key_id: text("AccessKeyId")?,
        secret_access_key: text("SecretAccessKey")?,
        session_token: text("SessionToken")?,
        expiration,
    })
}

/// The CLI's entry shape, with `ProviderType` so `aws sso logout` clears it (docs/shared-cache.md), and
/// `RoleName` besides, which the CLI does not write: with it, `logout` can tell which session an
/// entry belongs to (see `entry_role`).
fn cache_doc(creds: &RoleCredentials, target: &RoleTarget) -> Value {
    json!({
        "ProviderType": "sso",
        "Credentials": {
            "AccessKeyId": creds.access_key_id.expose(),
            "SecretAccessKey": creds.secret_access_key.expose(),
            "SessionToken": creds.session_token.expose(),
            "Expiration": timefmt::format(creds.expiration),
            "AccountId": target.account_id,
        },
        "RoleName": target.role_name,
    })
}

/// The account and role an entry we wrote names (`None` for the CLI's entries, which name no
/// role). The entry's file name says whether they belong to a given session: it is the hash of
/// account, role and session (`cache::role_key`).
pub(crate) fn entry_role(doc: &Map<String, Value>) -> Option<(&str, &str)> {
    if doc.get("ProviderType").and_then(Value::as_str) != Some("sso") {
        return None;
    }
    let account = doc.get("Credentials")?.get("AccountId")?.as_str()?;
    Some((account, doc.get("RoleName")?.as_str()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_doc_round_trips() {
        let creds = RoleCredentials {
            access_key_id: Secret::new("AK"),
            secret_access_key: Secret::new("SK"),
            session_token: Secret::new("ST"),
            expiration: timefmt::parse("2026-11-21T08:00:00Z").unwrap(),
        };
        let session = crate::config::SsoSession {
            name: Some("corp".to_owned()),
            start_url: "https://x/start".to_owned(),
            region: "us-east-1".to_owned(),
            scopes: Vec::new(),
        };
        let ctx = crate::context::Context::new(crate::context::Env::default(), false).unwrap();
        let session = crate::target::session(&ctx, session, None, String::new(), "corp".to_owned());
        let target = RoleTarget::new(session, "111122223333".to_owned(), "Dev".to_owned(), &ctx.cli_cache_dir());
        let doc = cache_doc(&creds, &target);
        assert_eq!(
            doc.to_string(),
            r#"{"ProviderType":"sso","Credentials":{"AccessKeyId":"AK","SecretAccessKey":"SK","SessionToken":"ST","Expiration":"2026-11-21T08:00:00Z","AccountId":"111122223333"},"RoleName":"Dev"}"#
        );
        assert_eq!(entry_role(doc.as_object().unwrap()), Some(("111122223333", "Dev")));
        let back = parse_cache_doc(doc.as_object().unwrap()).unwrap();
        assert_eq!(back.session_token.expose(), "ST");
        assert_eq!(back.expiration, creds.expiration);
    }

    #[test]
    fn assume_role_style_utc_suffix_is_read() {
        let doc: Map<String, Value> = serde_json::from_str(
            r#"{"Credentials":{"AccessKeyId":"AK","SecretAccessKey":"SK","SessionToken":"ST","Expiration":"2026-11-21T08:00:00UTC"}}"#,
        )
        .unwrap();
        assert!(parse_cache_doc(&doc).is_ok());
        let bad: Map<String, Value> = serde_json::from_str(r#"{"Credentials":{"AccessKeyId":"AK"}}"#).unwrap();
        assert!(parse_cache_doc(&bad).is_err());
    }
}
