//! credential_process mode: exactly one JSON object on stdout, nothing else (docs/credential-process.md).
//!
//! With `--login-if-needed` (or `aws_sso_process_auto_login = true` on the target profile) a gone
//! session starts a login instead of failing with exit 3. The login runs outside the role lock and
//! under the session lock, so concurrent runs wait for one login and then use its token (docs/refresh-and-locking.md).

use crate::cli::TargetArgs;
use crate::context::Context;
use crate::error::Error;
use crate::login::{self, Mode, Options, Outcome};
use crate::role_cache::{self, Served};
use crate::target::RoleTarget;
use crate::{output, secret::Secret};
use std::io::Write;

pub fn run(ctx: &Context, spec: &TargetArgs, login_if_needed: bool) -> Result<u8, Error> {
    let (target, served) = fetch(ctx, spec, login_if_needed).map_err(|e| first_steps(ctx, spec, e))?;
    let json = output::process_json(&served.creds, &target.account_id);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{json}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Other { what: format!("cannot write to stdout: {e}"), hint: None })?;
    // A person ran it by hand: the JSON stays (scripts read it), and one line says what it is.
    if std::io::IsTerminal::is_terminal(&stdout) {
        errln!(
            "aws-sso-process: this is credential_process output (account {}, role {}, SSO session {}) for the AWS \
             CLI and SDKs; 'aws-sso-process --help' shows the commands for people",
            target.account_id,
            target.role_name,
            crate::sanitize::sanitize(&target.session.label)
        );
    }
    Ok(0)
}

/// What to say when `aws-sso-process` alone, with nothing naming a target (no flag, no
/// AWS_PROFILE) and nothing set up (no sso-session, no profile with SSO keys or a
/// credential_process), finds no target: what this program is and what to run (issue 13).
const FIRST_STEPS: &str = "aws-sso-process gets AWS credentials from IAM Identity Center (SSO) for the AWS CLI \
and SDKs, which run it as a profile's credential_process
  to start, run 'aws-sso-process setup': it signs you in and writes one profile per account and role
  then: 'aws sts get-caller-identity --profile NAME', or 'aws-sso-process exec --profile NAME -- COMMAND'; \
'aws-sso-process --help' lists the rest";

fn first_steps(ctx: &Context, spec: &TargetArgs, e: Error) -> Error {
    let named = spec.profile.is_some()
        || spec.sso_session.is_some()
        || spec.start_url.is_some()
        || spec.account_id.is_some()
        || spec.role_name.is_some()
        || ctx.env.get("AWS_PROFILE").is_some()
        || ctx.env.get("AWS_DEFAULT_PROFILE").is_some();
    let set_up = |config: &crate::config::Config| {
        !config.sso_sessions.is_empty()
            || config.profiles.values().any(|p| {
                crate::config::SSO_PROFILE_KEYS
                    .iter()
                    .chain(["credential_process"].iter())
                    .any(|k| p.values.contains_key(*k))
            })
    };
    match e {
        Error::Other { what, .. } if !named && ctx.config().is_ok_and(|c| !set_up(c)) => {
            Error::Other { what, hint: Some(FIRST_STEPS.to_owned()) }
        }
        e => e,
    }
}

/// The target's role credentials, logging in first when asked to and the session is gone (also
/// used by `export` and `exec`).
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
