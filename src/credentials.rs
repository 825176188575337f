//! Role credentials for a target, logging in first when asked (shared by the commands that hand out
//! credentials: credential_process, export, exec, console, serve).
//!
//! With `--login-if-needed` (or `aws_sso_process_auto_login = true` on the target profile) a gone
//! session starts a login instead of failing with exit 3. The login runs outside the role lock and
//! under the session lock, so concurrent runs wait for one login and then use its token (docs/refresh-and-locking.md).

use crate::cli::TargetArgs;
use crate::context::Context;
use crate::error::Error;
use crate::login::{self, Mode, Options, Outcome};
use crate::role_cache::{self, Served};
use crate::secret::Secret;
use crate::target::RoleTarget;

/// The target's role credentials, logging in first when asked to and the session is gone.
pub fn fetch(ctx: &Context, spec: &TargetArgs, login_if_needed: bool) -> Result<(RoleTarget, Served), Error> {
    // A profile with role_arn: the role it assumes from its SSO role (docs/chained-roles.md).
    if let Some(chain) = crate::target::chain_target(ctx, spec)? {
        let auto = login_if_needed || chain.auto_login;
        let root = |t: &RoleTarget| if auto { with_auto_login(ctx, t) } else { role_cache::credentials(ctx, t) };
        let served = crate::assume::credentials(ctx, &chain, &root)?;
        return Ok((chain.as_role_target(), served));
    }
    let target = crate::target::role_target(ctx, spec)?;
    let served = if login_if_needed || target.auto_login {
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
