//! `configure generate`: prints or writes one profile per account and role the SSO session can
//! reach. What the profiles are, how they are named and how the config is edited is `generate`'s
//! (and docs/configure-generate.md); this command reads the flags and prints.

use crate::accounts;
use crate::cli::{GenerateArgs, TargetArgs};
use crate::context::Context;
use crate::error::Error;
use crate::generate::{Generator, Naming, Report, WriteOptions, plan, program, unmatched};
use crate::target::SessionTarget;

/// Prints what `Generator::write_with` reports (`setup` prints it the same way).
fn print(report: Report) {
    match report {
        Report::Out(line) => outln!("{line}"),
        Report::Note(line) => errln!("aws-sso-process: {line}"),
    }
}

pub fn generate(ctx: &Context, spec: &TargetArgs, args: &GenerateArgs) -> Result<u8, Error> {
    let (program, why) = program(ctx, args.command.as_deref())?;
    let target = crate::target::session_target(ctx, spec)?;
    let naming = Naming::new(&args.names, target.session.name.as_deref())?;
    // --region is the profiles' region (with --start-url it names that start URL's SSO region as
    // well); given, it also updates the region of the profiles generated before.
    let region = match &spec.region {
        Some(region) => region.clone(),
        None => target.sso_region()?,
    };
    let accounts = accounts::fetch(ctx, &target)?;
    if let Some(none) = unmatched(&accounts, &naming) {
        return Err(none.into());
    }
    let generator = Generator { target: &target, region: &region, program: &program, backup: true };
    let (planned, skipped) = plan(&accounts, &naming);
    for warning in skipped {
        ctx.warn(warning);
    }
    errln!("aws-sso-process: {why}");
    let options = WriteOptions {
        prune: args.prune.then_some(accounts.as_slice()),
        force: args.force,
        update_region: spec.region.is_some(),
        preview: !args.write,
    };
    if !args.write {
        if args.prune {
            generator.write_with(ctx, &planned, options, &mut print)?;
        }
        if planned.is_empty() {
            errln!("aws-sso-process: {}", nothing_listed(&target, &naming));
            return Ok(0);
        }
        let text = generator
            .text(&planned)
            .map_err(|why| Error::Other { what: format!("refusing to print the profiles: {why}"), hint: None })?;
        crate::output::stdout_bytes(text.as_bytes());
        return Ok(0);
    }
    let summary = generator.write_with(ctx, &planned, options, &mut print)?;
    if planned.is_empty() && summary.removed == 0 {
        errln!("aws-sso-process: {}", nothing_listed(&target, &naming));
    }
    Ok(0)
}

fn nothing_listed(target: &SessionTarget, naming: &Naming) -> String {
    let filtered = if naming.filtered() { " that --accounts and --roles match" } else { "" };
    format!("the SSO session {} reaches no account and role{filtered}; nothing to generate", target.label)
}
