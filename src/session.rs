//! The SSO session's access token: load it from the cache the AWS CLI shares (docs/shared-cache.md), decide
//! whether it needs a refresh, refresh it under the session's lock, and write it back.
//!
//! The decision is a pure function of `now` (`decide`). The refresh is read → decide →
//! CreateToken → write under an exclusive lock on `<token file>.lock`, re-reading the file once the
//! lock is held, so N processes near expiry make one CreateToken call (docs/refresh-and-locking.md). The
//! written file keeps every field it had, unknown ones included, and the old refresh token when
//! the service sends none (docs/shared-cache.md).
//!
//! A slow or hung SSO OIDC endpoint never breaks a session that still works (see
//! docs/reliability.md). A refresh the run can do without (the cached token is still valid) gets
//! `OPTIONAL_REFRESH_BUDGET`, and when it fails, no process tries an optional refresh of that token
//! again for `RETRY_OPTIONAL_AFTER`: the time of the failure is kept in `<token file>.refresh-failed`
//! (not a `.json`, which other tools read as a token). A refresh token whose request may have
//! reached the service without its answer reaching us is not sent again in the same run.

use crate::cache::{self, CacheError};
use crate::context::Context;
use crate::endpoints::Service;
use crate::error::Error;
use crate::http::CallError;
use crate::lock::{LOCK_WAIT, LockError, LockGuard};
use crate::oidc::{Oidc, TokenResponse};
use crate::secret::Secret;
use crate::target::SessionTarget;
use crate::timefmt;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refresh once less than this remains (botocore's advisory window).
pub const REFRESH_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Lock wait when the cached token is still valid and can be used if the wait runs out.
const LOCK_WAIT_WITH_VALID_TOKEN: Duration = Duration::from_secs(10);

/// The most an optional refresh (the cached token is still valid, and no one asked for the
/// refresh) may take, every try included; then the cached token is used. CreateToken normally
/// answers in well under a second: this leaves room for a slow proxy or a distant region, and keeps
/// a run facing a hung endpoint far from its 30 s deadline.
pub const OPTIONAL_REFRESH_BUDGET: Duration = Duration::from_secs(5);

/// After a failed refresh, no optional one for this long, in any process (the AWS SDK for Rust
/// waits 30 s between attempts, botocore 60 s), so a crowd of processes does not hammer a failing
/// endpoint while the token still works. A needed or asked-for refresh is never held back.
pub const RETRY_OPTIONAL_AFTER: TimeDelta = TimeDelta::seconds(30);

/// Refresh tokens this process sent without getting the answer, which may have been given: the
/// service may have rotated them, and a second use of a rotated refresh token can end the whole
/// session, so none goes out twice in one run. A credential run lasts at most 30 s (`context::RUN_DEADLINE`); a
/// long-lived process (`serve`) counts `UNANSWERED_FOR` as one run, after which it may try again,
/// as the next credential run would.
static SENT_UNANSWERED: Mutex<Vec<(Secret, Instant)>> = Mutex::new(Vec::new());

/// How long a lost answer keeps its refresh token from going out again in this process.
const UNANSWERED_FOR: Duration = Duration::from_secs(60);

/// What the refresh needs besides the token itself.
pub struct RefreshMaterial {
    pub refresh_token: Secret,
    pub client_id: String,
    pub client_secret: Secret,
}

/// A token file as read from the cache. The whole document is kept for write-back.
pub struct CachedToken {
    doc: Map<String, Value>,
    pub access_token: Secret,
    pub expires_at: DateTime<Utc>,
    pub refresh: Option<RefreshMaterial>,
    pub registration_expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("expires_at", &self.expires_at)
            .field("has_refresh", &self.refresh.is_some())
            .field("registration_expires_at", &self.registration_expires_at)
            .finish_non_exhaustive()
    }
}

impl CachedToken {
    /// Checks the fields we rely on; the reason never quotes a value.
    pub fn parse(doc: Map<String, Value>) -> Result<CachedToken, String> {
        let access_token =
            cache::str_field(&doc, "accessToken")?.filter(|s| !s.is_empty()).ok_or("it has no accessToken")?;
        let expires_raw = cache::str_field(&doc, "expiresAt")?.ok_or("it has no expiresAt")?;
        let expires_at = timefmt::parse(expires_raw).ok_or("its expiresAt is not a timestamp with a time zone")?;
        let refresh_token = cache::str_field(&doc, "refreshToken")?.filter(|s| !s.is_empty());
        let client_id = cache::str_field(&doc, "clientId")?.filter(|s| !s.is_empty());
        let client_secret = cache::str_field(&doc, "clientSecret")?.filter(|s| !s.is_empty());
        let registration_expires_at = cache::str_field(&doc, "registrationExpiresAt")?.and_then(timefmt::parse);
        let refresh = match (refresh_token, client_id, client_secret) {
            (Some(rt), Some(id), Some(secret)) => Some(RefreshMaterial {
                refresh_token: Secret::new(rt),
                client_id: id.to_owned(),
                client_secret: Secret::new(secret),
            }),
            _ => None,
        };
        Ok(CachedToken { access_token: Secret::new(access_token), expires_at, refresh, registration_expires_at, doc })
    }

    /// Whether a refresh_token grant can be tried now (docs/refresh-and-locking.md, docs/shared-cache.md). Legacy sessions never refresh.
    pub fn refreshable(&self, is_session: bool, now: DateTime<Utc>) -> bool {
        is_session && self.refresh.is_some() && self.registration_expires_at.is_some_and(|t| t > now)
    }

    /// Why `refreshable` is false, for messages.
    pub fn why_not_refreshable(&self, is_session: bool, now: DateTime<Utc>) -> String {
        if !is_session {
            "legacy sessions (sso_start_url in the profile) cannot be refreshed".to_owned()
        } else if self.refresh.is_none() {
            "the cache holds no refresh token and client registration".to_owned()
        } else {
            match self.registration_expires_at {
                Some(t) if t <= now => format!("the client registration expired at {}", timefmt::format(t)),
                Some(_) => "it cannot be refreshed".to_owned(),
                None => "the cache has no registrationExpiresAt".to_owned(),
            }
        }
    }

    /// The document after a successful refresh.
    pub(crate) fn refreshed(&self, resp: &TokenResponse, now: DateTime<Utc>) -> Value {
        let mut doc = self.doc.clone();
        doc.insert("accessToken".into(), resp.access_token.expose().into());
        doc.insert("expiresAt".into(), timefmt::format(now + TimeDelta::seconds(resp.expires_in)).into());
        // Written back in the CLI's form, whatever form another tool left it in (a Go SDK's local
        // offset, a fraction): the AWS SDK for Rust reads only that one.
        if let Some(t) = self.registration_expires_at {
            doc.insert("registrationExpiresAt".into(), timefmt::format(t).into());
        }
        if let Some(rt) = &resp.refresh_token {
            doc.insert("refreshToken".into(), rt.expose().into());
        }
        Value::Object(doc)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// More than the window remains (and no refresh was forced).
    UseCached,
    Refresh,
    /// Still valid, inside the window or forced, but not refreshable.
    UseUnrefreshable,
    Expired,
}

pub fn decide(expires_at: DateTime<Utc>, refreshable: bool, now: DateTime<Utc>, force: bool) -> Decision {
    let remaining = expires_at - now;
    if !force && remaining >= REFRESH_WINDOW {
        Decision::UseCached
    } else if refreshable {
        Decision::Refresh
    } else if remaining > TimeDelta::zero() {
        Decision::UseUnrefreshable
    } else {
        Decision::Expired
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The cached token was good (possibly just refreshed by another process).
    Cached,
    Refreshed,
    /// A refresh was due but failed; the cached token is still valid. The reason is safe to show.
    RefreshFailed(String),
    /// Inside the window (or forced) but not refreshable; still valid.
    NotRefreshable(String),
}

#[derive(Debug)]
pub struct Token {
    pub access_token: Secret,
    pub expires_at: DateTime<Utc>,
    pub outcome: Outcome,
}

#[derive(Clone, Copy)]
pub enum Mode<'a> {
    /// Refresh only inside the window. While the token is valid the refresh is optional: it has
    /// a short time budget and is held back for a while after a failure.
    Normal,
    /// Refresh only inside the window, because the user asked (the `refresh` command): the full
    /// time budget, and never held back.
    Requested,
    /// Refresh now if refreshable (the `refresh --force` command).
    Force,
    /// The portal rejected this access token: replace it (another process may already have).
    Rejected(&'a Secret),
}

fn load(target: &SessionTarget, path: &Path) -> Result<CachedToken, Error> {
    let login = |what: String| Error::LoginRequired { what, login_args: target.login_args.clone(), cause: None };
    let doc = match cache::read_object(path) {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            return Err(login(format!("no cached SSO token for {} (looked for {})", target.label, path.display())));
        }
        Err(CacheError::Corrupt { path, detail }) => {
            return Err(login(format!(
                "SSO token cache {} for {} is not usable: {detail}; it was left as it is",
                path.display(),
                target.label
            )));
        }
        Err(e) => return Err(e.into()),
    };
    CachedToken::parse(doc).map_err(|why| {
        login(format!(
            "SSO token cache {} for {} is not usable: {why}; it was left as it is",
            path.display(),
            target.label
        ))
    })
}

fn expired(target: &SessionTarget, token: &CachedToken, why: String) -> Error {
    Error::LoginRequired {
        what: format!("the SSO session {} expired at {} and {why}", target.label, timefmt::format(token.expires_at)),
        login_args: target.login_args.clone(),
        cause: None,
    }
}

/// The token file as it is now, if it holds a usable token (a login checks it before and after
/// waiting for another process's login).
pub fn current(path: &Path) -> Option<CachedToken> {
    cache::read_object(path).ok().flatten().and_then(|doc| CachedToken::parse(doc).ok())
}

/// A new token file after a login, as `aws sso login` writes it (docs/shared-cache.md): the CLI's
/// key order, the configured start URL, `refreshToken` only when the service sent one.
pub fn login_document(
    session: &crate::config::SsoSession,
    resp: &TokenResponse,
    client_id: &str,
    client_secret: &Secret,
    registration_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Value {
    let mut doc = Map::new();
    doc.insert("startUrl".into(), session.start_url.clone().into());
    doc.insert("region".into(), session.region.clone().into());
    doc.insert("accessToken".into(), resp.access_token.expose().into());
    doc.insert("expiresAt".into(), timefmt::format(now + TimeDelta::seconds(resp.expires_in)).into());
    doc.insert("clientId".into(), client_id.into());
    doc.insert("clientSecret".into(), client_secret.expose().into());
    doc.insert("registrationExpiresAt".into(), timefmt::format(registration_expires_at).into());
    if let Some(rt) = &resp.refresh_token {
        doc.insert("refreshToken".into(), rt.expose().into());
    }
    Value::Object(doc)
}

/// A portal call made with the session's access token, under the one rule every caller follows
/// (docs/refresh-and-locking.md): a 401 means the portal no longer takes this token, so it is replaced
/// once (refreshed, or the one another process just wrote) and the call made again; a second 401 means
/// a login. Returns the answer and the token that got it (with the outcome of getting it).
pub fn with_token<T>(
    ctx: &Context,
    target: &SessionTarget,
    mut call: impl FnMut(&Secret) -> Result<T, CallError>,
) -> Result<(T, Token), Error> {
    let first = token(ctx, target, Mode::Normal)?;
    match call(&first.access_token) {
        Ok(answer) => Ok((answer, first)),
        Err(CallError::Service(e)) if e.status == 401 => {
            ctx.debug(|| format!("{e}; replacing the access token once"));
            let fresh = token(ctx, target, Mode::Rejected(&first.access_token))?;
            match call(&fresh.access_token) {
                // The first token's outcome (a failed refresh, say) is what there is to warn about.
                Ok(answer) => Ok((answer, Token { outcome: first.outcome, ..fresh })),
                Err(CallError::Service(e)) if e.status == 401 => Err(Error::LoginRequired {
                    what: format!("the SSO portal rejected the access token of {} even after a refresh", target.label),
                    login_args: target.login_args.clone(),
                    cause: Some(Box::new(e.into())),
                }),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The access token for `target`, refreshed as `mode` asks.
pub fn token(ctx: &Context, target: &SessionTarget, mode: Mode) -> Result<Token, Error> {
    let path = target.token_path.clone();
    let is_session = target.session.name.is_some();
    let done = |t: &CachedToken, outcome| {
        Ok(Token { access_token: t.access_token.clone(), expires_at: t.expires_at, outcome })
    };

    // How long to wait for another process that holds the lock: a refresh takes well under a
    // second, so with a still-valid token in hand there is no point waiting long (a login may
    // hold the lock for minutes while the user signs in).
    let mut wait = LOCK_WAIT;
    if let Mode::Normal | Mode::Requested = mode {
        let cached = load(target, &path)?;
        let now = ctx.now();
        match decide(cached.expires_at, cached.refreshable(is_session, now), now, false) {
            Decision::UseCached => return done(&cached, Outcome::Cached),
            Decision::UseUnrefreshable => {
                return done(&cached, Outcome::NotRefreshable(cached.why_not_refreshable(is_session, now)));
            }
            Decision::Expired => return Err(expired(target, &cached, cached.why_not_refreshable(is_session, now))),
            Decision::Refresh if cached.expires_at > now => {
                if matches!(mode, Mode::Normal)
                    && let Some(why) = held_back(&path, now)
                {
                    ctx.debug(|| format!("no refresh of the SSO token of {}: {why}", target.label));
                    return done(&cached, Outcome::RefreshFailed(why));
                }
                wait = LOCK_WAIT_WITH_VALID_TOKEN;
            }
            Decision::Refresh => {}
        }
    }

    let _guard = match LockGuard::acquire(&path, wait) {
        Ok(guard) => guard,
        Err(e @ (LockError::Open { .. } | LockError::Timeout { .. })) => {
            // The folder cannot be written (read-only ~/.aws): refreshing would rotate the
            // refresh token and lose the new one, so use the cached token while it lasts. Likewise
            // when another process holds the lock for long (a login waiting for the user).
            let cached = load(target, &path)?;
            if cached.expires_at > ctx.now() && !matches!(mode, Mode::Rejected(_)) {
                return done(&cached, Outcome::RefreshFailed(crate::error::chain(&e)));
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };

    // Another process may have refreshed while we waited: decide again on what is there now.
    let cached = load(target, &path)?;
    let now = ctx.now();
    let refreshable = cached.refreshable(is_session, now);
    match mode {
        Mode::Normal | Mode::Requested | Mode::Force => {
            match decide(cached.expires_at, refreshable, now, matches!(mode, Mode::Force)) {
                Decision::UseCached => return done(&cached, Outcome::Cached),
                Decision::UseUnrefreshable => {
                    return done(&cached, Outcome::NotRefreshable(cached.why_not_refreshable(is_session, now)));
                }
                Decision::Expired => return Err(expired(target, &cached, cached.why_not_refreshable(is_session, now))),
                Decision::Refresh => {}
            }
        }
        Mode::Rejected(old) => {
            if cached.access_token != *old && cached.expires_at > now {
                return done(&cached, Outcome::Cached);
            }
            if !refreshable {
                return Err(Error::LoginRequired {
                    what: format!(
                        "the SSO portal rejected the access token of {} and {}",
                        target.label,
                        cached.why_not_refreshable(is_session, now)
                    ),
                    login_args: target.login_args.clone(),
                    cause: None,
                });
            }
        }
    }

    let Some(material) = cached.refresh.as_ref() else {
        return Err(expired(target, &cached, cached.why_not_refreshable(is_session, now)));
    };
    // Optional: the run can do without it. Another process may have failed while we waited.
    let optional = matches!(mode, Mode::Normal) && cached.expires_at > now;
    if optional && let Some(why) = held_back(&path, now) {
        ctx.debug(|| format!("no refresh of the SSO token of {}: {why}", target.label));
        return done(&cached, Outcome::RefreshFailed(why));
    }
    if sent_unanswered(&material.refresh_token) {
        return unanswered(ctx, target, &cached, mode);
    }
    let oidc = Oidc { http: ctx.http(), endpoint: ctx.endpoint_used(Service::Oidc, target.endpoint(Service::Oidc)?) };
    // The service may rotate the refresh token: once it answers, the new one must be saved or the
    // session is lost. So the write is prepared first (temp file, space reserved); a folder that
    // cannot be written or a full disk stops the refresh before it starts (docs/how-it-works.md, "Space first").
    let pending = match cache::prepare_write(&path, reserve_for(&cached)) {
        Ok(pending) => pending,
        Err(e) => return unsaveable(ctx, target, &cached, mode, e),
    };
    ctx.debug(|| {
        let budget =
            if optional { format!(", at most {} s", OPTIONAL_REFRESH_BUDGET.as_secs()) } else { String::new() };
        format!("refreshing the SSO token of {} (expires {}{budget})", target.label, timefmt::format(cached.expires_at))
    });
    let deadline = optional.then(|| Instant::now() + OPTIONAL_REFRESH_BUDGET);
    match oidc.refresh(&material.client_id, &material.client_secret, &material.refresh_token, deadline) {
        Ok(resp) => {
            let now = ctx.now();
            let doc = cached.refreshed(&resp, now);
            if let Err(e) = pending.commit(&doc) {
                ctx.warn(format!(
                    "the refreshed SSO token of {} could not be saved ({}); other tools keep the old one",
                    target.label,
                    crate::error::chain(&e)
                ));
            }
            forget_failure(&path);
            Ok(Token {
                access_token: resp.access_token,
                expires_at: now + TimeDelta::seconds(resp.expires_in),
                outcome: Outcome::Refreshed,
            })
        }
        Err(err) => {
            // A tool that does not lock may have rotated the refresh token under us: look once more.
            if err.service().is_some_and(|e| e.is("InvalidGrantException"))
                && let Ok(again) = load(target, &path)
                && again.access_token != cached.access_token
                && again.expires_at - ctx.now() >= REFRESH_WINDOW
            {
                return done(&again, Outcome::Cached);
            }
            if err.answer_may_be_lost() {
                SENT_UNANSWERED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((material.refresh_token.clone(), Instant::now()));
            }
            // The service's "no" to this refresh token (or its client) is final: remembered for
            // `status`, bound to this refresh token so that a new login makes it moot.
            let refused =
                err.service().is_some_and(|e| e.is("InvalidGrantException") || e.is("InvalidClientException"));
            note_failure(ctx, &path, ctx.now(), refused.then_some(&material.refresh_token));
            refresh_failed(ctx, target, &cached, mode, err)
        }
    }
}

/// Whether this run sent `refresh_token` and its answer may have been lost.
fn sent_unanswered(refresh_token: &Secret) -> bool {
    let mut sent = SENT_UNANSWERED.lock().unwrap_or_else(|e| e.into_inner());
    sent.retain(|(_, at)| at.elapsed() < UNANSWERED_FOR);
    sent.iter().any(|(token, _)| token == refresh_token)
}

/// The refresh token went out earlier in this run and its answer was lost: it is not sent again.
/// A still-valid token is used (not when the portal rejected it); else the next run may try.
fn unanswered(ctx: &Context, target: &SessionTarget, cached: &CachedToken, mode: Mode) -> Result<Token, Error> {
    let why = "its refresh token was sent earlier in this run and the answer was lost; it is not sent twice";
    if cached.expires_at > ctx.now() && !matches!(mode, Mode::Rejected(_)) {
        return Ok(Token {
            access_token: cached.access_token.clone(),
            expires_at: cached.expires_at,
            outcome: Outcome::RefreshFailed(why.to_owned()),
        });
    }
    let what = match mode {
        Mode::Rejected(_) => format!("the SSO portal rejected the access token of {} and {why}", target.label),
        _ => format!("cannot refresh the SSO token of {}: {why}", target.label),
    };
    Err(Error::Other {
        what,
        hint: Some(format!(
            "run the command again in a moment; if it still fails, {}",
            crate::error::login_hint(&target.login_args)
        )),
    })
}

/// `<token file>.refresh-failed`: the time the last refresh of that token failed, so that other
/// processes hold back. Not a `.json` (other tools read those as tokens), and not the token file.
fn failure_path(token_path: &Path) -> PathBuf {
    let mut name = token_path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".refresh-failed");
    token_path.with_file_name(name)
}

/// Why an optional refresh is held back at `now`, if it is: a refresh failed less than
/// `RETRY_OPTIONAL_AFTER` ago.
fn held_back(token_path: &Path, now: DateTime<Utc>) -> Option<String> {
    let failed_at = last_failure(&failure_path(token_path))?;
    let next = retry_from(failed_at, now)?;
    Some(format!(
        "not tried: a refresh failed {} s ago, the next one is due at {}",
        (now - failed_at).num_seconds(),
        timefmt::format(next)
    ))
}

/// When an optional refresh may be tried again after a failure at `failed_at`; `None`: now. A
/// failure "in the future" (the clock was set back, or the file is not ours) holds nothing back.
fn retry_from(failed_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let since = now - failed_at;
    (since >= TimeDelta::zero() && since < RETRY_OPTIONAL_AFTER).then(|| failed_at + RETRY_OPTIONAL_AFTER)
}

/// A failure file's text; `None` for a missing or unreadable one. The file is hostile like any
/// other: no link is followed, only a regular file is read, and at most 128 bytes.
fn failure_text(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking, so that a FIFO planted here does not hang the open.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(128).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The time in a failure file's first line; `None` for a missing, foreign or unreadable one.
fn last_failure(path: &Path) -> Option<DateTime<Utc>> {
    timefmt::parse(failure_text(path)?.lines().next()?.trim())
}

/// When the service refused `refresh_token` itself (invalid_grant, or its client: invalid_client),
/// as the failure file records it (docs/refresh-and-locking.md); `None` when it did not, or the
/// record is about another refresh token (a login since then replaced it).
pub fn refresh_refused(token_path: &Path, refresh_token: &Secret) -> Option<DateTime<Utc>> {
    let text = failure_text(&failure_path(token_path))?;
    let mut lines = text.lines();
    let at = timefmt::parse(lines.next()?.trim())?;
    (lines.next()?.trim() == format!("refused {}", fingerprint(refresh_token))).then_some(at)
}

/// A short SHA-256 fingerprint of a refresh token: enough to tell tokens apart, nothing to use.
fn fingerprint(token: &Secret) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.expose().as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Remembers a failed refresh (best effort: without it, the next process just tries again), and
/// whether the service refused the refresh token itself.
fn note_failure(ctx: &Context, token_path: &Path, now: DateTime<Utc>, refused: Option<&Secret>) {
    let path = failure_path(token_path);
    let mut text = format!("{}\n", timefmt::format(now));
    if let Some(token) = refused {
        text.push_str(&format!("refused {}\n", fingerprint(token)));
    }
    if let Err(e) = cache::write_bytes_atomic(&path, text.as_bytes()) {
        ctx.debug(|| format!("could not note the failed refresh: {}", crate::error::chain(&e)));
    }
}

/// After a refresh that worked, nothing holds the next one back.
fn forget_failure(token_path: &Path) {
    let _ = cache::remove(&failure_path(token_path));
}

/// Bytes to reserve for the refreshed file: the old one twice over, plus room for longer tokens.
fn reserve_for(cached: &CachedToken) -> usize {
    serde_json::to_vec(&cached.doc).map(|v| v.len()).unwrap_or(0) * 2 + 4096
}

/// The refreshed token could not be saved, so no refresh was tried: keep a still-valid token with
/// a warning, else fail, leaving the file as it is (a login would not be saved either).
fn unsaveable(
    ctx: &Context,
    target: &SessionTarget,
    cached: &CachedToken,
    mode: Mode,
    err: CacheError,
) -> Result<Token, Error> {
    let why = format!("its cache file cannot be written: {}", crate::error::chain(&err));
    if cached.expires_at > ctx.now() && !matches!(mode, Mode::Rejected(_)) {
        return Ok(Token {
            access_token: cached.access_token.clone(),
            expires_at: cached.expires_at,
            outcome: Outcome::RefreshFailed(why),
        });
    }
    Err(Error::Other {
        what: format!("cannot refresh the SSO token of {}: {why}; the file was left as it is", target.label),
        hint: Some("free some disk space, or fix the permissions of ~/.aws and its folders".to_owned()),
    })
}

/// A refresh that did not work: keep a still-valid token (docs/refresh-and-locking.md), else say what to do.
fn refresh_failed(
    ctx: &Context,
    target: &SessionTarget,
    cached: &CachedToken,
    mode: Mode,
    err: CallError,
) -> Result<Token, Error> {
    let still_valid = cached.expires_at > ctx.now();
    if still_valid && !matches!(mode, Mode::Rejected(_)) {
        let why = crate::error::chain(&Error::from(err));
        return Ok(Token {
            access_token: cached.access_token.clone(),
            expires_at: cached.expires_at,
            outcome: Outcome::RefreshFailed(why),
        });
    }
    let rejected = err.service().is_some_and(|e| (400..500).contains(&e.status) && e.status != 429);
    if rejected {
        return Err(Error::LoginRequired {
            what: format!("the SSO session {} could not be refreshed", target.label),
            login_args: target.login_args.clone(),
            cause: Some(Box::new(err.into())),
        });
    }
    Err(err.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        timefmt::parse(s).unwrap()
    }

    #[test]
    fn decisions_as_a_function_of_now() {
        let exp = t("2026-11-21T08:00:00Z");
        use Decision::*;
        let cases = [
            // (now, refreshable, force, want)
            ("2026-11-21T07:00:00Z", true, false, UseCached),
            ("2026-11-21T07:45:00Z", true, false, UseCached), // exactly 15 min left
            ("2026-11-21T07:45:01Z", true, false, Refresh),
            ("2026-11-21T07:59:00Z", true, false, Refresh),
            ("2026-11-21T09:00:00Z", true, false, Refresh), // expired but refreshable
            ("2026-11-21T07:59:00Z", false, false, UseUnrefreshable),
            ("2026-11-21T08:00:00Z", false, false, Expired),
            ("2026-11-21T07:00:00Z", true, true, Refresh),
            ("2026-11-21T07:00:00Z", false, true, UseUnrefreshable),
        ];
        for (now, refreshable, force, want) in cases {
            assert_eq!(decide(exp, refreshable, t(now), force), want, "{now} {refreshable} {force}");
        }
    }

    #[test]
    fn optional_refreshes_pause_after_a_failure() {
        let failed = t("2026-11-21T07:50:00Z");
        let at = |s: &str| retry_from(failed, t(s));
        assert_eq!(at("2026-11-21T07:50:00Z"), Some(t("2026-11-21T07:50:30Z")));
        assert_eq!(at("2026-11-21T07:50:29Z"), Some(t("2026-11-21T07:50:30Z")));
        assert_eq!(at("2026-11-21T07:50:30Z"), None, "30 s later, try again");
        assert_eq!(at("2026-11-21T07:49:00Z"), None, "a failure in the future holds nothing back");
    }

    #[test]
    fn the_failure_file_is_a_sidecar_read_with_care() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("ee0b.json");
        let marker = failure_path(&token);
        assert_eq!(marker.file_name().unwrap(), "ee0b.json.refresh-failed");
        assert!(!marker.to_string_lossy().ends_with(".json"));
        assert_eq!(last_failure(&marker), None, "missing");
        std::fs::write(&marker, "2026-11-21T07:50:00Z\n").unwrap();
        assert_eq!(last_failure(&marker), Some(t("2026-11-21T07:50:00Z")));
        assert_eq!(
            held_back(&token, t("2026-11-21T07:50:05Z")).unwrap(),
            "not tried: a refresh failed 5 s ago, the next one is due at 2026-11-21T07:50:30Z"
        );
        for junk in ["", "soon", &"9".repeat(100_000)] {
            std::fs::write(&marker, junk).unwrap();
            assert_eq!(last_failure(&marker), None);
        }
        #[cfg(unix)]
        {
            std::fs::remove_file(&marker).unwrap();
            let elsewhere = dir.path().join("elsewhere");
            std::fs::write(&elsewhere, "2026-11-21T07:50:00Z").unwrap();
            std::os::unix::fs::symlink(&elsewhere, &marker).unwrap();
            assert_eq!(last_failure(&marker), None, "a link is not followed");
            std::fs::remove_file(&marker).unwrap();
            let fifo = std::ffi::CString::new(marker.to_string_lossy().as_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
            assert_eq!(last_failure(&marker), None, "a FIFO neither hangs nor counts");
        }
    }

    fn doc(s: &str) -> Map<String, Value> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn refreshable_needs_session_material_and_registration() {
        let now = t("2026-11-21T07:55:00Z");
        let full = r#"{"accessToken":"a","expiresAt":"2026-11-21T08:00:00Z","refreshToken":"r","clientId":"c","clientSecret":"s","registrationExpiresAt":"2027-01-01T00:00:00Z"}"#;
        let tok = CachedToken::parse(doc(full)).unwrap();
        assert!(tok.refreshable(true, now));
        assert!(!tok.refreshable(false, now), "legacy never refreshes");
        let no_reg =
            CachedToken::parse(doc(&full.replace(r#","registrationExpiresAt":"2027-01-01T00:00:00Z""#, ""))).unwrap();
        assert!(!no_reg.refreshable(true, now));
        assert!(no_reg.why_not_refreshable(true, now).contains("registrationExpiresAt"));
        let old_reg = CachedToken::parse(doc(&full.replace("2027-01-01", "2026-01-01"))).unwrap();
        assert!(!old_reg.refreshable(true, now));
        assert!(old_reg.why_not_refreshable(true, now).contains("registration expired"));
        let no_rt = CachedToken::parse(doc(&full.replace(r#""refreshToken":"r","#, ""))).unwrap();
        assert!(!no_rt.refreshable(true, now));
    }

    #[test]
    fn parse_rejects_bad_fields_without_quoting_them() {
        for (input, want) in [
            (r#"{"expiresAt":"2026-11-21T08:00:00Z"}"#, "no accessToken"),
            (r#"{"accessToken":"SECRET"}"#, "no expiresAt"),
            (r#"{"accessToken":"SECRET","expiresAt":"2026-11-21T08:00:00"}"#, "time zone"),
            (r#"{"accessToken":7,"expiresAt":"2026-11-21T08:00:00Z"}"#, "accessToken is a number"),
            (
                r#"{"accessToken":"SECRET","expiresAt":"2026-11-21T08:00:00Z","refreshToken":["SECRET"]}"#,
                "refreshToken is a list",
            ),
        ] {
            let err = CachedToken::parse(doc(input)).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
            assert!(!err.contains("SECRET"));
        }
    }

    #[test]
    fn refreshed_doc_keeps_fields_and_old_refresh_token() {
        let tok = CachedToken::parse(doc(
            r#"{"startUrl":"u","region":"r","accessToken":"old","expiresAt":"2026-11-21T08:00:00UTC","clientId":"c","clientSecret":"s","registrationExpiresAt":"2027-01-01T05:30:00.25+05:30","refreshToken":"rt1","futureField":{"x":1}}"#,
        ))
        .unwrap();
        let now = t("2026-11-21T07:59:00.5Z");
        let resp = |rt: Option<&str>| TokenResponse {
            access_token: Secret::new("new"),
            expires_in: 3600,
            refresh_token: rt.map(Secret::new),
        };
        let kept = tok.refreshed(&resp(None), now);
        assert_eq!(kept["accessToken"], "new");
        assert_eq!(kept["expiresAt"], "2026-11-21T08:59:00Z");
        assert_eq!(kept["registrationExpiresAt"], "2027-01-01T00:00:00Z", "rewritten in the CLI's form");
        assert_eq!(kept["refreshToken"], "rt1");
        assert_eq!(kept["futureField"]["x"], 1);
        let keys: Vec<&String> = kept.as_object().unwrap().keys().collect();
        assert_eq!(keys[..3], ["startUrl", "region", "accessToken"], "field order is kept");
        let rotated = tok.refreshed(&resp(Some("rt2")), now);
        assert_eq!(rotated["refreshToken"], "rt2");
        assert!(!format!("{tok:?}").contains("old") && !format!("{tok:?}").contains("rt1"));
    }
}
