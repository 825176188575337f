//! Roles assumed from an SSO role (docs/chained-roles.md): the assumed-role cache the AWS CLI shares
//! in `~/.aws/cli/cache`, under botocore's key and in its file shape, a lock per entry, and STS
//! AssumeRole when the cache cannot serve.
//!
//! A hit costs what an SSO hit costs: one small file read, no signing, no network. A miss takes the
//! entry's lock, looks again, gets the source credentials (the hop below, down to the SSO role,
//! each through its own cache and lock), asks for an MFA code when the profile names a device, and
//! calls AssumeRole once. Locks are taken from the profile named down to the SSO role, never the
//! other way, so two processes cannot deadlock.

use crate::cache::{self, CacheError};
use crate::context::Context;
use crate::error::Error;
use crate::lock::{LOCK_WAIT, LockError, LockGuard};
use crate::portal::RoleCredentials;
use crate::role_cache::{self, MIN_REMAINING, Served};
use crate::secret::Secret;
use crate::sigv4::AwsCredentials;
use crate::sts::{self, AssumeRoleArgs, Assumed, Sts};
use crate::target::{ChainTarget, RoleHop, RoleTarget};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Credentials of the role `chain` ends in: from the cache while `MIN_REMAINING` is left, else from
/// STS. `root` fetches the SSO role's credentials (the caller decides about logging in).
pub fn credentials(
    ctx: &Context,
    chain: &ChainTarget,
    root: &dyn Fn(&RoleTarget) -> Result<Served, Error>,
) -> Result<Served, Error> {
    hop_credentials(ctx, chain, chain.hops.len() - 1, root)
}

fn hop_credentials(
    ctx: &Context,
    chain: &ChainTarget,
    i: usize,
    root: &dyn Fn(&RoleTarget) -> Result<Served, Error>,
) -> Result<Served, Error> {
    let hop = &chain.hops[i];
    if let Some(creds) = read_fresh(ctx, &hop.cache_path) {
        return Ok(Served { creds, from_cache: true });
    }
    let mut cache_warning = None;
    let guard = match LockGuard::acquire(&hop.cache_path, LOCK_WAIT) {
        Ok(guard) => Some(guard),
        Err(e @ LockError::Open { .. }) => {
            cache_warning = Some(format!("assumed-role credentials will not be cached: {}", crate::error::chain(&e)));
            None
        }
        Err(e) => return Err(e.into()),
    };
    if guard.is_some()
        && let Some(creds) = read_fresh(ctx, &hop.cache_path)
    {
        return Ok(Served { creds, from_cache: true });
    }
    let source_path = if i == 0 { &chain.root.role_path } else { &chain.hops[i - 1].cache_path };
    let mut source = if i == 0 { root(&chain.root)? } else { hop_credentials(ctx, chain, i - 1, root)? };
    let token_code = match &hop.mfa_serial {
        Some(serial) => {
            let code = mfa_code(ctx, &hop.profile, serial)?;
            // The person took their time: the call gets the run's full time from now on.
            ctx.reset_deadline(Some(crate::context::RUN_DEADLINE));
            Some(code)
        }
        None => None,
    };
    let endpoint = chain.sts_endpoint.clone().map_err(Error::from)?;
    let sts = Sts {
        http: ctx.http(),
        endpoint: ctx.endpoint_used(crate::endpoints::Service::Sts, endpoint),
        signing_region: chain.sts_signing_region.clone(),
    };
    let args = AssumeRoleArgs {
        role_arn: hop.role_arn.clone(),
        role_session_name: hop
            .role_session_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("botocore-session-{}", ctx.now().timestamp())),
        external_id: hop.external_id.clone(),
        serial_number: hop.mfa_serial.clone(),
        duration_seconds: hop.duration_seconds,
    };
    let signing = |source: &Served| AwsCredentials {
        access_key_id: source.creds.access_key_id.clone(),
        secret_access_key: source.creds.secret_access_key.clone(),
        session_token: Some(source.creds.session_token.clone()),
    };
    ctx.debug(|| format!("profile {}: AssumeRole {}", hop.profile, hop.role_arn));
    let code = token_code.as_ref().map(Secret::expose);
    let assumed = match sts.assume_role(&args, code, &signing(&source), ctx.now()) {
        // Cached source credentials STS no longer takes (revoked, or a clock far off): they are of
        // no use to anyone, so the entry goes and the source is fetched again, once. Not with an
        // MFA code, which may be good only once.
        Err(e) if source.from_cache && code.is_none() && source_refused(&e) => {
            ctx.debug(|| {
                format!("the source credentials of profile {} were refused; fetching them again", hop.profile)
            });
            let _ = cache::remove(source_path);
            source = if i == 0 { root(&chain.root)? } else { hop_credentials(ctx, chain, i - 1, root)? };
            sts.assume_role(&args, None, &signing(&source), ctx.now())
        }
        other => other,
    }
    .map_err(|e| sts_error(e, hop))?;
    // Cached only while the root session is still logged in, checked under the logout fence as the
    // SSO role's credentials are (role_cache): a logout meanwhile leaves nothing behind.
    let token_path = &chain.root.session.token_path;
    let _fence = match LockGuard::acquire_shared(&role_cache::logout_fence(token_path), LOCK_WAIT) {
        Ok(fence) => Some(fence),
        Err(LockError::Open { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let logged_in = matches!(cache::read_object(token_path), Ok(Some(_)));
    if !logged_in {
        ctx.debug(|| format!("{} has no token file (logged out?): not caching", chain.root.session.label));
    }
    if guard.is_some()
        && logged_in
        && let Err(e) = cache::write_atomic(&hop.cache_path, &cache_doc(&assumed))
    {
        cache_warning = Some(format!("assumed-role credentials could not be cached: {}", crate::error::chain(&e)));
    }
    if let Some(warning) = cache_warning {
        ctx.warn(warning);
    }
    let creds = RoleCredentials {
        access_key_id: assumed.access_key_id,
        secret_access_key: assumed.secret_access_key,
        session_token: assumed.session_token,
        expiration: assumed.expiration,
    };
    Ok(Served { creds, from_cache: false })
}

/// STS refused the credentials the call was signed with (as opposed to the role or the request).
fn source_refused(e: &crate::http::CallError) -> bool {
    e.service()
        .is_some_and(|s| matches!(s.code.as_str(), "ExpiredToken" | "ExpiredTokenException" | "InvalidClientTokenId"))
}

/// The one-line error of a failed AssumeRole, with a hint by its code. Nothing secret is in it: the
/// service's message names ARNs, and the request is never repeated.
fn sts_error(e: crate::http::CallError, hop: &RoleHop) -> Error {
    let what = format!("profile {}: AssumeRole of {} failed", hop.profile, crate::sanitize::sanitize(&hop.role_arn));
    match e {
        crate::http::CallError::Service(s) => {
            Error::Other { what: format!("{what}: {s}"), hint: Some(sts::hint_for(&s.code, s.status)) }
        }
        crate::http::CallError::Http(h) => Error::Failed { what, cause: Box::new(Error::Http(h)) },
    }
}

/// Cached credentials with at least `MIN_REMAINING` left; anything unreadable is a miss.
pub fn read_fresh(ctx: &Context, path: &Path) -> Option<RoleCredentials> {
    let doc = match cache::read_object(path) {
        Ok(doc) => doc?,
        Err(e @ (CacheError::Corrupt { .. } | CacheError::Io { .. })) => {
            ctx.debug(|| format!("assumed-role cache miss: {}", crate::error::chain(&e)));
            return None;
        }
    };
    let creds = role_cache::parse_cache_doc(&doc)
        .map_err(|why| ctx.debug(|| format!("assumed-role cache {} unusable: {why}", path.display())))
        .ok()?;
    let left = creds.expiration - ctx.now();
    ctx.debug(|| format!("assumed-role cache {}: {} min left", path.display(), left.num_minutes()));
    (left >= MIN_REMAINING).then_some(creds)
}

/// The entry as botocore's JSONFileCache writes the AssumeRole response: the whole answer, the
/// expiry in its `%Y-%m-%dT%H:%M:%S%Z` form (`...UTC`), the account taken from the session's ARN.
pub fn cache_doc(a: &Assumed) -> Value {
    let mut creds = Map::new();
    creds.insert("AccessKeyId".into(), a.access_key_id.expose().into());
    creds.insert("SecretAccessKey".into(), a.secret_access_key.expose().into());
    creds.insert("SessionToken".into(), a.session_token.expose().into());
    creds.insert("Expiration".into(), a.expiration.format("%Y-%m-%dT%H:%M:%SUTC").to_string().into());
    if let Some(account) = account_of_arn(&a.arn) {
        creds.insert("AccountId".into(), account.into());
    }
    let mut doc = Map::new();
    doc.insert("Credentials".into(), Value::Object(creds));
    doc.insert("AssumedRoleUser".into(), json!({"AssumedRoleId": a.assumed_role_id, "Arn": a.arn}));
    if let Some(size) = a.packed_policy_size {
        doc.insert("PackedPolicySize".into(), size.into());
    }
    if let Some(source) = &a.source_identity {
        doc.insert("SourceIdentity".into(), source.as_str().into());
    }
    doc.insert(
        "ResponseMetadata".into(),
        json!({
            "RequestId": a.request_id.clone().unwrap_or_default(),
            "HTTPStatusCode": 200,
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        }),
    );
    Value::Object(doc)
}

/// The account of an ARN (`arn:partition:service:region:account:resource`), when it has one of 12 digits.
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    let account = parts.nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Asks for the MFA code on the terminal, as the AWS CLI does. Without a terminal: a clear error.
fn mfa_code(ctx: &Context, profile: &str, serial: &str) -> Result<Secret, Error> {
    use std::io::{IsTerminal, Read, Write};
    let no_terminal = || Error::Other {
        what: format!(
            "profile {profile} needs an MFA code (mfa_serial {}) and there is no terminal to ask it on",
            crate::sanitize::sanitize(serial)
        ),
        hint: Some(format!(
            "run 'aws-sso-process export --profile {profile}' (or any command) in a terminal once: the credentials \
             are cached, and later runs without a terminal use them"
        )),
    };
    let mut tty = ctx
        .tty_path()
        .and_then(|path| std::fs::OpenOptions::new().read(true).write(true).open(path).ok())
        .filter(|f| f.is_terminal())
        .ok_or_else(no_terminal)?;
    let question = format!("Enter MFA code for {}: ", crate::sanitize::sanitize(serial));
    tty.write_all(question.as_bytes()).and_then(|()| tty.flush()).map_err(|_| no_terminal())?;
    // Not echoed, as getpass (the AWS CLI's prompt) does not echo it; restored on every path.
    let _echo = EchoOff::new(&tty);
    // One line, read a byte at a time so nothing after it is taken; bounded.
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let asked = std::time::Instant::now();
    while line.len() < 64 {
        if !readable_within(&tty, MFA_WAIT.saturating_sub(asked.elapsed())) {
            let _ = tty.write_all(b"\n");
            return Err(Error::Other {
                what: format!("profile {profile}: no MFA code was typed within {} minutes", MFA_WAIT.as_secs() / 60),
                hint: Some("run the command again when your MFA device is at hand".to_owned()),
            });
        }
        match tty.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' || byte[0] == b'\r' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(no_terminal()),
        }
    }
    let _ = tty.write_all(b"\n");
    let code = String::from_utf8_lossy(&line).trim().to_owned();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Other {
            what: format!("profile {profile}: an MFA code is six digits"),
            hint: Some("run the command again and type the code your MFA device shows".to_owned()),
        });
    }
    Ok(Secret::new(code))
}

/// How long the MFA question waits for an answer.
const MFA_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Whether `file` has something to read within `wait` (always true where that cannot be asked).
fn readable_within(file: &std::fs::File, wait: std::time::Duration) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let mut fds = libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd for an open fd.
        let n = unsafe { libc::poll(&mut fds, 1, ms) };
        n != 0
    }
    #[cfg(not(unix))]
    {
        let _ = (file, wait);
        true
    }
}

/// The terminal's echo switched off while it lives (a no-op where that cannot be done).
struct EchoOff {
    #[cfg(unix)]
    saved: Option<(std::os::fd::RawFd, libc::termios)>,
}

impl EchoOff {
    fn new(tty: &std::fs::File) -> EchoOff {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let fd = tty.as_raw_fd();
            // SAFETY: termios is plain data; tcgetattr fills it for an open fd and fails otherwise.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
                return EchoOff { saved: None };
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            // SAFETY: fd is open, t a valid termios from tcgetattr.
            let ok = unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) } == 0;
            EchoOff { saved: ok.then_some((fd, saved)) }
        }
        #[cfg(not(unix))]
        {
            let _ = tty;
            EchoOff {}
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some((fd, saved)) = self.saved {
            // SAFETY: restores what tcgetattr returned, on the same fd, still open (the guard is
            // dropped before the file).
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_have_botocores_shape_and_read_back() {
        let a = Assumed {
            access_key_id: Secret::new("ASIAEXAMPLE"),
            secret_access_key: Secret::new("SK"),
            session_token: Secret::new("ST"),
            expiration: crate::timefmt::parse("2026-11-21T08:00:00Z").unwrap(),
            arn: "arn:aws:sts::444455556666:assumed-role/Deployer/alice".to_owned(),
            assumed_role_id: "AROA:alice".to_owned(),
            source_identity: None,
            packed_policy_size: None,
            request_id: Some("r-1".to_owned()),
        };
        let doc = cache_doc(&a);
        assert_eq!(doc["Credentials"]["Expiration"], "2026-11-21T08:00:00UTC");
        assert_eq!(doc["Credentials"]["AccountId"], "444455556666");
        assert_eq!(doc["AssumedRoleUser"]["Arn"], "arn:aws:sts::444455556666:assumed-role/Deployer/alice");
        let back = role_cache::parse_cache_doc(doc.as_object().unwrap()).unwrap();
        assert_eq!(back.expiration, a.expiration);
        assert_eq!(back.session_token.expose(), "ST");
        assert_eq!(account_of_arn("arn:aws:iam::1:role/x"), None);
        assert_eq!(account_of_arn("not-an-arn"), None);
    }
}
