//! credential_process mode: exactly one JSON object on stdout, nothing else (SPEC A.4).

use crate::context::{Context, TargetSpec};
use crate::error::Error;
use crate::{output, role_cache};
use std::io::Write;

pub fn run(ctx: &Context, spec: &TargetSpec) -> Result<u8, Error> {
    let target = ctx.role_target(spec)?;
    let served = role_cache::credentials(ctx, &target)?;
    ctx.debug(|| {
        format!(
            "credentials for {}/{} {} (expire {})",
            target.account_id,
            target.role_name,
            if served.from_cache { "from the cache" } else { "from GetRoleCredentials" },
            crate::timefmt::format(served.creds.expiration)
        )
    });
    let json = output::process_json(&served.creds, &target.account_id);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{json}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Other { what: format!("cannot write to stdout: {e}"), hint: None })?;
    Ok(0)
}
