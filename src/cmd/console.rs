//! `console`: a sign-in link to the AWS console for the role (docs/serve-and-console.md). The
//! role credentials become a sign-in token at the partition's federation endpoint (or the one
//! `AWS_ENDPOINT_URL_SIGNIN` names), and the `login` URL with that token and the destination is
//! opened in the browser, or printed with `--no-browser` or when no browser can be opened here.
//!
//! The link holds a secret that works for 15 minutes: it goes to stdout (when asked for) or to the
//! browser, never to a log line or an error. The default destination is the console home of the
//! profile's region: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the `region` of the profile named and
//! of the profile holding the SSO settings.

use crate::cli::ConsoleArgs;
use crate::cli::TargetArgs;
use crate::context::Context;
use crate::credentials;
use crate::error::Error;
use crate::federation;
use crate::target::RoleTarget;
use std::io::Write;

pub fn run(ctx: &Context, spec: &TargetArgs, login_if_needed: bool, args: &ConsoleArgs) -> Result<u8, Error> {
    if let Some(d) = &args.destination
        && (!d.starts_with("https://") || d.chars().any(char::is_whitespace))
    {
        return Err(Error::Usage("--destination must be an https:// URL (a console page)".to_owned()));
    }
    // The federation host and the destination, before any network call when the session's region
    // is known; a vanity session without sso_region knows it only once it has logged in.
    let plan = |target: &RoleTarget, region: &str| -> Result<(String, String), Error> {
        let partition = crate::endpoints::partition_id(region);
        let ignore =
            ctx.env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let base = ctx.env.get(federation::ENDPOINT_VAR).filter(|_| !ignore);
        let url = federation::endpoint(partition, base)?;
        let destination =
            match &args.destination {
                Some(d) => d.clone(),
                None => federation::console_home(partition, self::region(ctx, spec, target)?.as_deref()).ok_or_else(
                    || Error::Other {
                        what: format!("no console address is known for the {partition} partition"),
                        hint: Some("pass --destination with the console URL to open".to_owned()),
                    },
                )?,
            };
        Ok((url, destination))
    };
    let before = match crate::target::chain_target(ctx, spec)? {
        Some(chain) => chain.as_role_target(),
        None => crate::target::role_target(ctx, spec)?,
    };
    let early = match before.session.sso_region() {
        Ok(region) => Some(plan(&before, &region)?),
        Err(_) => None,
    };
    let (target, served) = credentials::fetch(ctx, spec, login_if_needed)?;
    let (url, destination) = match early {
        Some(planned) => planned,
        None => plan(&target, &target.session.sso_region()?)?,
    };
    let bundle = target.session.endpoints.ca_bundle.clone()?;
    let token = federation::signin_token(ctx.http(), &url, &served.creds, bundle.as_ref())?;
    let link = federation::login_url(&url, &target.session.session.start_url, &destination, &token);
    let label = crate::target::label(ctx, spec, &target);
    let open = !args.no_browser && ctx.can_open_browser();
    if open {
        match crate::browser::open(ctx, &link) {
            Ok(()) => {
                errln!("aws-sso-process: opened the AWS console for {label} in the browser");
                return Ok(0);
            }
            Err(why) => errln!("aws-sso-process: {why}; open this link by hand (it works for 15 minutes):"),
        }
    } else if !args.no_browser {
        errln!("aws-sso-process: no browser can be opened here; open this link (it works for 15 minutes):");
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{link}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Other { what: format!("cannot write to stdout: {e}"), hint: None })?;
    Ok(0)
}

/// The region whose console home opens: the environment's, else the profile's.
fn region(ctx: &Context, spec: &TargetArgs, target: &RoleTarget) -> Result<Option<String>, Error> {
    let from_env = ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|v| ctx.env.get(v).map(|r| (r.to_owned(), *v)));
    let from_env_or_profile = match from_env {
        Some(found) => Some(found),
        None => crate::target::profile_region(ctx, spec, target)?.map(|r| (r, "the region of the profile")),
    };
    match from_env_or_profile {
        Some((region, _)) if federation::plausible_region(&region) => Ok(Some(region)),
        Some((region, source)) => Err(Error::Other {
            what: format!("{source} ({}) is not a region name", crate::sanitize::sanitize(&region)),
            hint: Some("a region looks like eu-west-1; or pass --destination".to_owned()),
        }),
        None => Ok(None),
    }
}
