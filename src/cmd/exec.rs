//! `exec`: run a command with the role credentials in its environment, the way `aws-vault exec`
//! does, for tools that read only environment variables.
//!
//! The child gets the four variables `export` prints, `AWS_REGION` and `AWS_DEFAULT_REGION` from
//! the profile's `region` (only when the environment sets neither: an explicit region wins), and
//! `AWS_SSO_PROCESS_EXEC` naming the target, which makes a nested `exec` an error unless `--force`
//! (two sets of credentials in one shell tree is how people end up in the wrong account).
//! `AWS_PROFILE` and `AWS_DEFAULT_PROFILE` are removed so SDKs do not resolve a profile of their
//! own first, and `AWS_SECURITY_TOKEN` (the legacy name) so no stale token rides along.
//!
//! On Unix the command replaces this process (execvp): stdin, stdout and stderr are simply the
//! same, the exit status is the command's own, including death by a signal (the parent shell sees
//! 128+N and prints "Killed" as usual), and no signal needs forwarding. Nothing of ours is left
//! to clean up by then: the locks were released when the credentials were served. Elsewhere the
//! command runs as a child and its exit code is passed on. A command that cannot be found exits
//! 127 and one that cannot be run 126, as in a shell.

use crate::cli::ExecArgs;
use crate::cmd::{credentials, export};
use crate::context::{Context, RoleTarget, TargetSpec};
use crate::error::Error;
use std::ffi::OsStr;
use std::process::Command;

/// Set in the child's environment to the target's name; its presence makes `exec` refuse to nest.
pub const NEST_VAR: &str = "AWS_SSO_PROCESS_EXEC";
/// Removed from the child's environment.
const REMOVED: [&str; 3] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN"];
pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_CANNOT_RUN: u8 = 126;

pub fn run(ctx: &Context, spec: &TargetSpec, login_if_needed: bool, args: &ExecArgs) -> Result<u8, Error> {
    if let Some(outer) = ctx.env.get(NEST_VAR)
        && !args.force
    {
        return Err(Error::Other {
            what: format!(
                "already inside 'aws-sso-process exec' for {outer}: a nested exec would mix two sets of credentials"
            ),
            hint: Some("leave that shell first, or pass --force to nest anyway".to_owned()),
        });
    }
    let Some((program, rest)) = args.command.split_first() else {
        return Err(Error::Usage("exec needs a command to run".to_owned()));
    };
    let (target, served) = credentials::fetch(ctx, spec, login_if_needed)?;
    let mut cmd = Command::new(program);
    cmd.args(rest);
    for name in REMOVED {
        cmd.env_remove(name);
    }
    for (name, value) in export::variables(&served.creds) {
        cmd.env(name, value);
    }
    if let Some(region) = region(ctx, &target)? {
        cmd.env("AWS_REGION", &region).env("AWS_DEFAULT_REGION", &region);
    }
    cmd.env(NEST_VAR, label(ctx, spec, &target));
    ctx.debug(|| format!("exec {:?} with {} set", program, NEST_VAR));
    ctx.print_warnings();
    hand_over(cmd, program)
}

/// The profile's `region`, unless the environment already names a region.
fn region(ctx: &Context, target: &RoleTarget) -> Result<Option<String>, Error> {
    if ctx.env.get("AWS_REGION").is_some() || ctx.env.get("AWS_DEFAULT_REGION").is_some() {
        return Ok(None);
    }
    let name = target.session.settings_profile.as_deref();
    let config = ctx.config_for(name.as_slice())?;
    Ok(name
        .and_then(|name| config.profile(name))
        .and_then(|profile| profile.get("region"))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned))
}

/// What `AWS_SSO_PROCESS_EXEC` says: the profile, or session/account/role without one.
fn label(ctx: &Context, spec: &TargetSpec, target: &RoleTarget) -> String {
    if spec.sso_session.is_none() && spec.start_url.is_none() {
        ctx.profile_name(spec)
    } else {
        format!("{}/{}/{}", target.session.label, target.account_id, target.role_name)
    }
}

#[cfg(unix)]
fn hand_over(mut cmd: Command, program: &OsStr) -> Result<u8, Error> {
    use std::os::unix::process::CommandExt;
    // Returns only when the command could not be started.
    let e = cmd.exec();
    Err(spawn_error(program, &e))
}

#[cfg(not(unix))]
fn hand_over(mut cmd: Command, program: &OsStr) -> Result<u8, Error> {
    let status = cmd.status().map_err(|e| spawn_error(program, &e))?;
    Ok(status.code().map(|c| c.clamp(0, 255) as u8).unwrap_or(crate::error::EXIT_FAILURE))
}

fn spawn_error(program: &OsStr, e: &std::io::Error) -> Error {
    let name = program.to_string_lossy();
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Spawn {
            what: format!("cannot run '{name}': command not found"),
            code: EXIT_NOT_FOUND,
            hint: Some("check the command's name and PATH".to_owned()),
        }
    } else {
        Error::Spawn { what: format!("cannot run '{name}': {e}"), code: EXIT_CANNOT_RUN, hint: None }
    }
}
