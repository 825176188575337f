//! credential_process mode: exactly one JSON object on stdout, nothing else (SPEC A.4).
//!
//! With `--login-if-needed` (or `aws_sso_process_auto_login = true` on the target profile) a gone
//! session starts a login instead of failing with exit 3. The login runs outside the role lock and
//! under the session lock, so concurrent runs wait for one login and then use its token (Part C 3).

use crate::context::{Context, RoleTarget, TargetSpec};
use crate::error::Error;
use crate::login::{self, Mode, Options, Outcome};
use crate::role_cache::{self, Served};
use crate::{output, secret::Secret};
use std::io::Write;

/// The profile key that turns auto-login on for a target profile.
pub const AUTO_LOGIN_KEY: &str = "aws_sso_process_auto_login";

pub fn run(ctx: &Context, spec: &TargetSpec, login_if_needed: bool) -> Result<u8, Error> {
    let (target, served) = fetch(ctx, spec, login_if_needed)?;
    let json = output::process_json(&served.creds, &target.account_id);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{json}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Other { what: format!("cannot write to stdout: {e}"), hint: None })?;
    Ok(0)
}

/// The target's role credentials, logging in first when asked to and the session is gone (also
/// used by `export` and `exec`).
pub fn fetch(ctx: &Context, spec: &TargetSpec, login_if_needed: bool) -> Result<(RoleTarget, Served), Error> {
    let target = ctx.role_target(spec)?;
    let served = if login_if_needed || auto_login_configured(ctx, spec)? {
        with_auto_login(ctx, &target)?
    } else {
        role_cache::credentials(ctx, &target)?
    };
    ctx.debug(|| {
        format!(
            "credentials for {}/{} {} (expire {})",
            target.account_id,
            target.role_name,
            if served.from_cache { "from the cache" } else { "from GetRoleCredentials" },
            crate::timefmt::format(served.creds.expiration)
        )
    });
    Ok((target, served))
}

/// `aws_sso_process_auto_login = true` on the profile that names the target (not with --sso-session/--start-url).
fn auto_login_configured(ctx: &Context, spec: &TargetSpec) -> Result<bool, Error> {
    if spec.sso_session.is_some() || spec.start_url.is_some() {
        return Ok(false);
    }
    let profile = ctx.profile_name(spec);
    let config = ctx.config_for(&[&profile])?;
    let value = config.profile(&profile).and_then(|p| p.get(AUTO_LOGIN_KEY));
    Ok(value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")))
}

/// Credentials, logging in at most once when the session is gone. A token another process
/// obtained is tried first; if the portal rejects that one too, this process logs in itself.
fn with_auto_login(ctx: &Context, target: &RoleTarget) -> Result<Served, Error> {
    let (flow, _) = login::choose_flow(ctx, &target.session, false, None)?;
    let opts = Options { flow, open_browser: true, redirect_port: None };
    let mut distrusted: Option<Secret> = None;
    // Each round either ends, logs in (and ends), or moves on to a newer token: three is plenty.
    for _ in 0..3 {
        let err = match role_cache::credentials(ctx, target) {
            Err(e @ Error::LoginRequired { .. }) => e,
            other => return other,
        };
        ctx.debug(|| format!("auto-login: {}", crate::error::chain(&err)));
        match login::login(ctx, &target.session, &opts, &Mode::Auto { distrusted: distrusted.take() })? {
            Outcome::LoggedIn { .. } => return role_cache::credentials(ctx, target),
            Outcome::Reused { access_token, .. } => distrusted = Some(access_token),
        }
    }
    role_cache::credentials(ctx, target)
}
