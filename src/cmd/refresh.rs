//! `refresh`: renew SSO access tokens now, one status line per session on stdout.

use crate::cli::TargetArgs;
use crate::context::Context;
use crate::error::{self, EXIT_FAILURE, EXIT_LOGIN_REQUIRED, Error};
use crate::session::{self, Mode, Outcome, REFRESH_WINDOW};
use crate::target::SessionTarget;
use crate::timefmt;

pub fn run(ctx: &Context, spec: &TargetArgs, all: bool, force: bool) -> Result<u8, Error> {
    let targets = if all { every_cached_session(ctx)? } else { vec![crate::target::session_target(ctx, spec)?] };
    if targets.is_empty() {
        errln!(
            "aws-sso-process: no sso-session in {} has a cached token; nothing to refresh",
            ctx.config_path().display()
        );
        return Ok(0);
    }
    let mode = if force { Mode::Force } else { Mode::Requested };
    let mut exit = 0;
    for target in &targets {
        let now = ctx.now();
        match session::token(ctx, target, mode) {
            Ok(token) => {
                let until =
                    format!("{} ({})", timefmt::format(token.expires_at), timefmt::relative(token.expires_at, now));
                match token.outcome {
                    Outcome::Refreshed => outln!("{}: refreshed, valid until {until}", target.label),
                    Outcome::Cached => outln!(
                        "{}: still valid until {until}; refreshes from {}",
                        target.label,
                        timefmt::format(token.expires_at - REFRESH_WINDOW)
                    ),
                    Outcome::RefreshFailed(why) => {
                        outln!("{}: refresh failed ({why}); the cached token is valid until {until}", target.label);
                        exit = exit.max(EXIT_FAILURE);
                    }
                    Outcome::NotRefreshable(why) => {
                        outln!(
                            "{}: valid until {until}, not refreshable ({why}): {}",
                            target.label,
                            error::login_hint(&target.login_args)
                        );
                        exit = exit.max(EXIT_LOGIN_REQUIRED);
                    }
                }
            }
            Err(e) => {
                outln!("{}: failed: {}", target.label, error::chain(&e));
                if let Some(hint) = e.hint() {
                    outln!("{}: hint: {hint}", target.label);
                }
                exit = exit.max(e.exit_code());
            }
        }
    }
    Ok(exit)
}

/// `--all`: the config's sso-sessions whose token file exists.
fn every_cached_session(ctx: &Context) -> Result<Vec<SessionTarget>, Error> {
    let config = ctx.config()?;
    let mut out = Vec::new();
    for name in config.sso_sessions.keys() {
        let spec = TargetArgs { sso_session: Some(name.clone()), ..TargetArgs::default() };
        match crate::target::session_target(ctx, &spec) {
            Ok(target) if target.token_path.exists() => out.push(target),
            Ok(_) => {}
            Err(e) => outln!("{name}: skipped: {}", error::chain(&e)),
        }
    }
    Ok(out)
}
