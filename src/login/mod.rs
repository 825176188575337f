//! Logging in to an SSO session the way `aws sso login` does (docs/shared-cache.md, docs/login-flows.md), writing the same
//! files so the AWS CLI and every SDK share the session.
//!
//! - The start URL is resolved first (`start_url`): a vanity URL's one redirect gives the URL for
//!   RegisterClient's `issuerUrl` and StartDeviceAuthorization, and may give the region.
//! - The client registration is the CLI's (docs/login.md): same fields, under a CLI cache key
//!   that describes what is stored there (the scopes registered with, for the flow), so the two tools
//!   reuse each other's registration when it fits and never put a different one under the other's key.
//!   Reused while at least 15 minutes remain and its grant types suit the flow.
//! - Authorization code + PKCE (docs/login-flows.md) for sso-sessions: a one-shot listener on 127.0.0.1, the
//!   `/authorize` URL on the resolved OIDC endpoint, `state` checked, 10 minutes at most.
//! - Device code (docs/login-flows.md) for legacy profiles, on request, and when there is no display or
//!   the session is remote (docs/login-flows.md): one CreateToken before the prompt, `slow_down` adds 5 s
//!   for good, `expired_token` and our own `expiresIn` deadline end it.
//! - Single-flight (docs/refresh-and-locking.md): the login runs under the session's token lock, so a second login
//!   (or auto-login) waits, then finds the fresh token and uses it instead of opening a browser.
//!
//! The token file (docs/shared-cache.md) is written atomically, under that lock, in the CLI's field order.

mod device;
mod pkce;
mod registration;
pub mod start_url;

use device::device_flow;
use pkce::{bind_listener, pkce_flow};
pub use registration::wanted_scopes;
use registration::{Registration, registration, save_registration};

use crate::cache;
use crate::context::{Context, RUN_DEADLINE};
use crate::endpoints::Service;
use crate::error::Error;
use crate::http::CallError;
use crate::lock::{LockError, LockGuard};
use crate::oidc::{Oidc, TokenResponse};
use crate::prompt::Prompt;
use crate::sanitize::sanitize;
use crate::secret::Secret;
use crate::target::SessionTarget;
use crate::timefmt;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a login waits for another process's login of the same session.
pub const LOGIN_LOCK_WAIT: Duration = Duration::from_secs(600);
/// How long the PKCE flow waits for the browser to come back (the CLI's 600 s).
pub const PKCE_TIMEOUT: Duration = Duration::from_secs(600);
/// A cached registration is reused while at least this much of it remains (the CLI's rule).
pub const REGISTRATION_MIN_LEFT: TimeDelta = TimeDelta::minutes(15);
/// A token another process just obtained is used when more than this remains.
pub const FRESH_ENOUGH: TimeDelta = TimeDelta::minutes(15);
/// `interval` when StartDeviceAuthorization sends none (CLI v2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: `slow_down` adds this to the polling interval, for the rest of the login.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
pub const DEFAULT_SCOPES: [&str; 1] = ["sso:account:access"];
/// The registered redirect URI has no port; /authorize and CreateToken add the listener's (docs/login-flows.md).
pub const REGISTERED_REDIRECT_URI: &str = "http://127.0.0.1/oauth/callback";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const PKCE_GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];
/// Per-connection limits on the redirect listener: the whole request head must arrive within this
/// time and size (a browser sends it at once).
const CALLBACK_READ_TIMEOUT: Duration = Duration::from_secs(5);
const CALLBACK_MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Pkce,
    Device,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub flow: Flow,
    /// Open the browser (else only print the URL).
    pub open_browser: bool,
    pub redirect_port: Option<u16>,
}

/// Why a login runs, which decides when another process's fresh token makes it unnecessary.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The `login` command: always a new token, unless another login finished while we waited.
    Explicit,
    /// credential_process found the session gone: any token with more than 15 min left will do,
    /// except `distrusted`, one the portal already rejected.
    Auto { distrusted: Option<Secret> },
}

#[derive(Debug)]
pub enum Outcome {
    LoggedIn {
        expires_at: DateTime<Utc>,
    },
    /// Another process logged in (or refreshed) while this one waited for the lock.
    Reused {
        access_token: Secret,
        expires_at: DateTime<Utc>,
    },
}

/// The flow `login` uses: device code for legacy sessions, when asked, or on a remote or
/// display-less machine unless `--redirect-port` says a port is forwarded. The note says why the
/// device code flow was picked automatically.
pub fn choose_flow(
    ctx: &Context,
    target: &SessionTarget,
    use_device_code: bool,
    redirect_port: Option<u16>,
) -> Result<(Flow, Option<&'static str>), Error> {
    if target.session.name.is_none() {
        if redirect_port.is_some() {
            return Err(Error::Usage(
                "--redirect-port needs an sso-session: legacy profiles (sso_start_url in the profile) log in with a device code"
                    .into(),
            ));
        }
        return Ok((Flow::Device, None));
    }
    if use_device_code {
        return Ok((Flow::Device, None));
    }
    if redirect_port.is_some() {
        return Ok((Flow::Pkce, None));
    }
    if ctx.is_remote() {
        return Ok((Flow::Device, Some("this is an SSH session")));
    }
    if !ctx.has_display() {
        return Ok((Flow::Device, Some("there is no display (DISPLAY, WAYLAND_DISPLAY)")));
    }
    Ok((Flow::Pkce, None))
}

/// The login a person asks for (`login`, and `setup` when the session needs one): the flow chosen
/// from the flags (with a line on the terminal when the device code flow was picked for them), and
/// the line that reports the result, for the command to print.
pub fn explicit(
    ctx: &Context,
    target: &SessionTarget,
    use_device_code: bool,
    no_browser: bool,
    redirect_port: Option<u16>,
) -> Result<String, Error> {
    let (flow, why) = choose_flow(ctx, target, use_device_code, redirect_port)?;
    if let Some(why) = why {
        Prompt::open(ctx).line(&format!(
            "aws-sso-process: using the device code flow because {why}; --redirect-port N uses a forwarded port instead"
        ));
    }
    let opts = Options { flow, open_browser: !no_browser, redirect_port };
    let now = ctx.now();
    Ok(match login(ctx, target, &opts, &Mode::Explicit)? {
        Outcome::LoggedIn { expires_at } => format!(
            "{}: logged in, valid until {} ({})",
            target.label,
            timefmt::format(expires_at),
            timefmt::relative(expires_at, now)
        ),
        Outcome::Reused { expires_at, .. } => format!(
            "{}: already logged in by another process, valid until {} ({})",
            target.label,
            timefmt::format(expires_at),
            timefmt::relative(expires_at, now)
        ),
    })
}

/// Logs in to `target` once, whatever the number of processes trying at the same time.
pub fn login(ctx: &Context, target: &SessionTarget, opts: &Options, mode: &Mode) -> Result<Outcome, Error> {
    let path = target.token_path.clone();
    let prompt = Prompt::open(ctx);
    // Waiting for another login and the login itself may take minutes: lift the run's deadline,
    // and give whatever follows (GetRoleCredentials) a fresh one.
    ctx.reset_deadline(None);
    let result = login_locked(ctx, target, opts, mode, &path, &prompt);
    ctx.reset_deadline(Some(RUN_DEADLINE));
    result
}

fn login_locked(
    ctx: &Context,
    target: &SessionTarget,
    opts: &Options,
    mode: &Mode,
    path: &Path,
    prompt: &Prompt,
) -> Result<Outcome, Error> {
    let before = crate::session::current(path).map(|t| t.access_token);
    let (_guard, waited) = match LockGuard::acquire(path, Duration::ZERO) {
        Ok(guard) => (guard, false),
        Err(LockError::Timeout { .. }) => {
            prompt.line(&format!(
                "aws-sso-process: another process is logging in to {} (or refreshing it); waiting up to {} min",
                target.label,
                LOGIN_LOCK_WAIT.as_secs() / 60
            ));
            (LockGuard::acquire(path, LOGIN_LOCK_WAIT)?, true)
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(now_token) = crate::session::current(path) {
        let fresh = now_token.expires_at - ctx.now() > FRESH_ENOUGH;
        let usable = match mode {
            Mode::Explicit => waited && before.as_ref() != Some(&now_token.access_token),
            Mode::Auto { distrusted } => distrusted.as_ref() != Some(&now_token.access_token),
        };
        if fresh && usable {
            ctx.debug(|| format!("{} has a fresh token now; no login needed", target.label));
            return Ok(Outcome::Reused { access_token: now_token.access_token, expires_at: now_token.expires_at });
        }
    }
    if let Mode::Auto { .. } = mode
        && !prompt.has_tty()
        && !ctx.can_open_browser()
    {
        return Err(Error::LoginRequired {
            what: format!(
                "the SSO session {} needs a login, and there is no terminal to prompt on and no browser to open",
                target.label
            ),
            login_args: target.login_args.clone(),
            cause: None,
        });
    }

    // PKCE binds its port before anything is sent, so a busy --redirect-port fails first.
    let listener = match opts.flow {
        Flow::Pkce => Some(bind_listener(opts.redirect_port)?),
        Flow::Device => None,
    };
    let resolved = start_url::resolve(ctx, target)?;
    let configured = target;
    let target = &configured.in_region(&resolved.region);
    let oidc = Oidc { http: ctx.http(), endpoint: ctx.endpoint_used(Service::Oidc, target.endpoint(Service::Oidc)?) };
    let flow = |reg: &Registration| match &listener {
        Some(listener) => pkce_flow(ctx, &oidc, target, reg, opts, prompt, listener),
        None => device_flow(ctx, &oidc, target, reg, opts, prompt, &resolved.url),
    };
    let mut reg = registration(ctx, &oidc, target, opts.flow, &resolved.url, None)?;
    let resp = match flow(&reg) {
        // A cached registration the service no longer accepts (docs/login.md): register once
        // more and go on. A new registration refused as well ends the login; the token file was
        // not touched.
        Err(e) if rejects_client(&e) => {
            let Some(cached_in) = reg.cached_in.take() else { return Err(refused_again(target, &e)) };
            prompt.line(&format!(
                "aws-sso-process: the service no longer accepts the client registration cached in {}; registering a new one",
                cached_in.display()
            ));
            reg = registration(ctx, &oidc, target, opts.flow, &resolved.url, Some(&reg.client_id))?;
            flow(&reg).map_err(|e| if rejects_client(&e) { refused_again(target, &e) } else { e })?
        }
        result => result?,
    };
    let now = ctx.now();
    let expires_at = now + TimeDelta::seconds(resp.expires_in);
    cache::write_atomic(
        path,
        &crate::session::login_document(
            &target.session,
            &resp,
            &reg.client_id,
            &reg.client_secret,
            reg.expires_at,
            now,
        ),
    )?;
    ctx.debug(|| format!("wrote the SSO token of {} to {}", target.label, path.display()));
    save_registration(ctx, &reg);
    if resolved.region != configured.session.region {
        // As the AWS CLI does after such a login: the region goes into the config.
        match start_url::save_region(configured, &resolved.region) {
            Ok(done) => prompt.line(&format!("aws-sso-process: {done}")),
            Err(why) => ctx.warn(format!(
                "the start URL of {} is in {}, but sso_region was not updated: {why}",
                target.label, resolved.region
            )),
        }
    }
    Ok(Outcome::LoggedIn { expires_at })
}

/// Whether the service refused the client registration itself (`InvalidClientException`, the OAuth
/// `invalid_client`) rather than the user's sign-in.
fn rejects_client(e: &Error) -> bool {
    match e {
        Error::Service(s) => s.is("InvalidClientException"),
        Error::Failed { cause, .. } => rejects_client(cause),
        _ => false,
    }
}

/// A registration made in this very login was refused too: something other than an old
/// registration is wrong, and trying again at once would not help.
fn refused_again(target: &SessionTarget, e: &Error) -> Error {
    Error::Other {
        what: format!(
            "the service refused a client registration made just now for {}: {}",
            target.label,
            crate::error::chain(e)
        ),
        hint: Some(format!(
            "check the start URL and sso_region of {}, then run 'aws-sso-process login {}' again; the cached token \
             (if any) was left as it is",
            target.label, target.login_args
        )),
    }
}

/// An OIDC call that failed, with what we were doing; the call's error stays the cause (and gives
/// the hint: TLS, proxy, throttling), as for a refresh.
fn failed(what: String, e: CallError) -> Error {
    Error::Failed { what, cause: Box::new(Error::from(e)) }
}
