//! `login`: a new SSO token for one session, written where `aws sso login` writes it. The prompts
//! go to the terminal (see `prompt`); the result line goes to stdout.

use crate::cli::LoginArgs;
use crate::cli::TargetArgs;
use crate::context::Context;
use crate::error::Error;

pub fn run(ctx: &Context, spec: &TargetArgs, args: &LoginArgs) -> Result<u8, Error> {
    let target = crate::target::session_target(ctx, spec)?;
    let line = crate::login::explicit(ctx, &target, args.use_device_code, args.no_browser, args.redirect_port)?;
    outln!("{line}");
    Ok(0)
}
