//! credential_process mode: exactly one JSON object on stdout, nothing else (docs/credential-process.md).
//! The credentials themselves, and the login `--login-if-needed` starts, come from
//! `crate::credentials` (shared with export, exec, console and serve).

use crate::cli::TargetArgs;
use crate::context::Context;
use crate::error::Error;
use crate::output;
use std::io::Write;

pub fn run(ctx: &Context, spec: &TargetArgs, login_if_needed: bool) -> Result<u8, Error> {
    let (target, served) =
        crate::credentials::fetch(ctx, spec, login_if_needed).map_err(|e| first_steps(ctx, spec, e))?;
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
/// credential_process), finds no target: what this program is and what to run (README.md).
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
