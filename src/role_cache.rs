//! Role credentials: the cache the AWS CLI keeps in `~/.aws/cli/cache` (SPEC B.7), its lock, and
//! GetRoleCredentials when the cache cannot serve.
//!
//! The cache-hit path is the hot path of the whole tool (it runs on every AWS call a tool makes):
//! one small file read and parse, no token read, no network, no TLS. A miss takes the role's
//! lock, looks again, then asks the session for a token and the portal for credentials. Locks are
//! always taken role first, session second, never the reverse, so two processes cannot deadlock.

use crate::cache::{self, CacheError};
use crate::context::{Context, RoleTarget};
use crate::endpoints::Service;
use crate::error::Error;
use crate::http::CallError;
use crate::lock::{LOCK_WAIT, LockError, LockGuard};
use crate::portal::{Portal, RoleCredentials};
use crate::secret::Secret;
use crate::session::{self, Mode, Outcome};
use crate::timefmt;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Cached credentials are served while at least this much remains (the CLI's own rule).
pub const MIN_REMAINING: TimeDelta = TimeDelta::minutes(15);

#[derive(Debug)]
pub struct Served {
    pub creds: RoleCredentials,
    pub from_cache: bool,
}

/// Credentials for `target` with at least `MIN_REMAINING` left when the portal allows it.
pub fn credentials(ctx: &Context, target: &RoleTarget) -> Result<Served, Error> {
    let path = ctx.role_path(target);
    if let Some(creds) = read_fresh(ctx, &path) {
        return Ok(Served { creds, from_cache: true });
    }
    // A read-only or full ~/.aws gives at most one warning (SPEC Part C 17): the token's, which
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
    let (creds, token_warning) = fetch(ctx, target)?;
    if guard.is_some()
        && let Err(e) = cache::write_atomic(&path, &cache_doc(&creds, &target.account_id))
    {
        cache_warning = Some(format!("role credentials could not be cached: {}", crate::error::chain(&e)));
    }
    if let Some(warning) = token_warning.or(cache_warning) {
        ctx.warn(warning);
    }
    Ok(Served { creds, from_cache: false })
}

/// GetRoleCredentials with the session's token; a 401 replaces the token once and tries again.
/// Also returns the warning about the token, if there is one.
fn fetch(ctx: &Context, target: &RoleTarget) -> Result<(RoleCredentials, Option<String>), Error> {
    let token = session::token(ctx, &target.session, Mode::Normal)?;
    let warning = token_warning(target, &token.outcome);
    let portal = Portal { http: ctx.http(), endpoint: ctx.endpoint(Service::Portal, &target.session)? };
    let first = portal.get_role_credentials(&token.access_token, &target.account_id, &target.role_name);
    let creds = match first {
        Err(CallError::Service(e)) if e.status == 401 => {
            ctx.debug(|| format!("{e}; replacing the access token once"));
            let token = session::token(ctx, &target.session, Mode::Rejected(&token.access_token))?;
            match portal.get_role_credentials(&token.access_token, &target.account_id, &target.role_name) {
                Ok(creds) => Ok(creds),
                Err(CallError::Service(e)) if e.status == 401 => Err(Error::LoginRequired {
                    what: format!(
                        "the SSO portal rejected the access token of {} even after a refresh",
                        target.session.label
                    ),
                    login_args: target.session.login_args.clone(),
                    cause: Some(Box::new(e.into())),
                }),
                Err(e) => Err(e.into()),
            }
        }
        other => other.map_err(Error::from),
    }?;
    Ok((creds, warning))
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

/// The CLI's entry shape, with `ProviderType` so `aws sso logout` clears it (SPEC B.10.20).
fn cache_doc(creds: &RoleCredentials, account_id: &str) -> Value {
    json!({
        "ProviderType": "sso",
        "Credentials": {
            "AccessKeyId": creds.access_key_id.expose(),
            "SecretAccessKey": creds.secret_access_key.expose(),
            "SessionToken": creds.session_token.expose(),
            "Expiration": timefmt::format(creds.expiration),
            "AccountId": account_id,
        }
    })
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
        let doc = cache_doc(&creds, "111122223333");
        assert_eq!(
            doc.to_string(),
            r#"{"ProviderType":"sso","Credentials":{"AccessKeyId":"AK","SecretAccessKey":"SK","SessionToken":"ST","Expiration":"2026-11-21T08:00:00Z","AccountId":"111122223333"}}"#
        );
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
