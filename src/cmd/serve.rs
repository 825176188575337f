//! `serve`: the container-credentials endpoint for a profile, until stopped (Ctrl-C). It prints
//! the two variables a client needs (`NAME=value` lines on stdout: for `export`, `docker run -e`
//! or `--env-file`), then serves each request through the role cache (see `crate::serve`).
//!
//! The credentials are fetched once before listening, so a session that needs a login fails here,
//! not in the first client. The default address is 127.0.0.1 on a free port; any other address
//! takes `--bind` and earns a warning, because every host that can reach it and learns the token
//! gets the credentials, and SDKs accept plain http only on loopback and the container metadata
//! addresses (docs/serve-and-console.md).

use crate::cli::ServeArgs;
use crate::cli::TargetArgs;
use crate::context::{Context, RUN_DEADLINE};
use crate::credentials;
use crate::error::Error;
use crate::serve::{Server, TOKEN_VAR, URI_VAR};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicBool;

pub fn run(ctx: &Context, spec: &TargetArgs, login_if_needed: bool, args: &ServeArgs) -> Result<u8, Error> {
    let ip = args.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (target, _) = credentials::fetch(ctx, spec, login_if_needed)?;
    let server = Server::bind(SocketAddr::new(ip, args.port))?;
    if !ip.is_loopback() {
        ctx.warn(format!(
            "serving on {}, which is not a loopback address: any host that can reach it and learns the token gets \
             the role credentials, and SDKs accept a plain-http {URI_VAR} only on loopback and the container \
             metadata addresses",
            server.addr()
        ));
    }
    let label = crate::target::label(ctx, spec, &target);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{URI_VAR}={}\n{TOKEN_VAR}={}", server.uri(), server.token().expose())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Other { what: format!("cannot write to stdout: {e}"), hint: None })?;
    drop(stdout);
    errln!("aws-sso-process: serving the credentials of {label} on {}; stop with Ctrl-C", server.addr());
    ctx.print_warnings();
    let mut fetch = || {
        ctx.reset_deadline(Some(RUN_DEADLINE));
        let result = credentials::fetch(ctx, spec, login_if_needed).map(|(t, served)| (served, t.account_id));
        ctx.print_warnings();
        result
    };
    server.run(&AtomicBool::new(false), false, &mut fetch);
    Ok(0)
}
