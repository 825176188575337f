//! `login`: a new SSO token for one session, written where `aws sso login` writes it. The prompts
//! go to the terminal (see `prompt`); the result line goes to stdout.

use crate::cli::LoginArgs;
use crate::cli::TargetArgs;
use crate::context::Context;
use crate::error::Error;
use crate::login::{self, Mode, Options, Outcome};
use crate::timefmt;

pub fn run(ctx: &Context, spec: &TargetArgs, args: &LoginArgs) -> Result<u8, Error> {
    let target = crate::target::session_target(ctx, spec)?;
    let (flow, why) = login::choose_flow(ctx, &target, args.use_device_code, args.redirect_port)?;
    if let Some(why) = why {
        crate::prompt::Prompt::open(ctx).line(&format!(
            "aws-sso-process: using the device code flow because {why}; --redirect-port N uses a forwarded port instead"
        ));
    }
    let opts = Options { flow, open_browser: !args.no_browser, redirect_port: args.redirect_port };
    let now = ctx.now();
    match login::login(ctx, &target, &opts, &Mode::Explicit)? {
        Outcome::LoggedIn { expires_at } => outln!(
            "{}: logged in, valid until {} ({})",
            target.label,
            timefmt::format(expires_at),
            timefmt::relative(expires_at, now)
        ),
        Outcome::Reused { expires_at, .. } => outln!(
            "{}: already logged in by another process, valid until {} ({})",
            target.label,
            timefmt::format(expires_at),
            timefmt::relative(expires_at, now)
        ),
    }
    Ok(0)
}
