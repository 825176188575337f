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
//! 128+N and prints "Killed" as usual), and no signal needs forwarding: every signal sent to
//! our pid (SIGUSR1, SIGQUIT, SIGWINCH and the rest) is the command's. Nothing of ours is left
//! to clean up by then: the locks were released when the credentials were served. Elsewhere the
//! command runs as a child and its exit code is passed on. A command that cannot be found exits
//! 127 and one that cannot be run 126, as in a shell.
//!
//! With `--server` the child gets no keys at all: it gets the address and token of a container-
//! credentials endpoint (`crate::serve`) that this process runs on a free loopback port for as long
//! as the child lives, so its SDK fetches fresh credentials whenever its own run out (docs/export-and-exec.md).
//! That needs us alive, so the command runs as a child: the endpoint is served on this thread, a
//! second thread waits for the child and then wakes the endpoint to stop. Its exit status is passed
//! on (death by signal N as 128+N). SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
//! SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGXCPU, SIGXFSZ, SIGPWR and SIGSTKFLT (every catchable
//! signal that would end us but a fault of our own code) that another process sends to us are passed on to the child, and we go on serving until it ends
//! (none of them ends us, so the child is never left without its endpoint); the ones the terminal sends to the whole foreground group (Ctrl-C,
//! hang-up), and the ones sent by a process of our own group (`timeout`, which signals the group),
//! reach the child directly and are not sent twice (the rule sudo follows).

use crate::cli::ExecArgs;
use crate::cli::TargetArgs;
use crate::context::Context;
use crate::credentials;
use crate::error::Error;
use crate::serve::Server;
use crate::target::RoleTarget;
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set in the child's environment to the target's name; its presence makes `exec` refuse to nest.
pub const NEST_VAR: &str = "AWS_SSO_PROCESS_EXEC";
/// Removed from the child's environment.
const REMOVED: [&str; 3] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN"];
/// Also removed with `--server`: keys, web identity and container settings that SDKs would prefer
/// to the endpoint (every SDK's chain tries the environment's keys and web identity first).
const REMOVED_FOR_SERVER: [&str; 9] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];
/// Keys of a `[default]` profile that SDKs use before the container endpoint.
const DEFAULT_PROFILE_CREDENTIALS: [&str; 7] = [
    "aws_access_key_id",
    "credential_process",
    "role_arn",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
];
pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_CANNOT_RUN: u8 = 126;

pub fn run(ctx: &Context, spec: &TargetArgs, login_if_needed: bool, args: &ExecArgs) -> Result<u8, Error> {
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
    if let Some(region) = region(ctx, spec, &target)? {
        cmd.env("AWS_REGION", &region).env("AWS_DEFAULT_REGION", &region);
    }
    cmd.env(NEST_VAR, crate::target::label(ctx, spec, &target));
    if args.server {
        return with_server(ctx, spec, login_if_needed, cmd, program);
    }
    for (name, value) in crate::output::variables(&served.creds) {
        cmd.env(name, value);
    }
    ctx.debug(|| format!("exec {:?} with {} set", program, NEST_VAR));
    ctx.print_warnings();
    hand_over(cmd, program)
}

/// `exec --server`: the child gets the endpoint's address and token; we serve until it ends.
fn with_server(
    ctx: &Context,
    spec: &TargetArgs,
    login_if_needed: bool,
    mut cmd: Command,
    program: &OsStr,
) -> Result<u8, Error> {
    warn_default_profile(ctx)?;
    let server = Server::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    for name in REMOVED_FOR_SERVER {
        cmd.env_remove(name);
    }
    cmd.env(crate::serve::URI_VAR, server.uri()).env(crate::serve::TOKEN_VAR, server.token().expose());
    ctx.debug(|| format!("exec {:?} with the credentials endpoint on {}", program, server.addr()));
    ctx.print_warnings();
    signals::catch();
    let child = cmd.spawn().map_err(|e| spawn_error(program, &e))?;
    signals::forward_to(child.id());
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let waiter = std::thread::spawn(move || {
        let status = signals::wait(child);
        stopped.store(true, Ordering::SeqCst); // the serving loop looks at it every tenth of a second
        status
    });
    let mut fetch = || {
        ctx.reset_deadline(Some(crate::context::RUN_DEADLINE));
        let result = credentials::fetch(ctx, spec, login_if_needed).map(|(t, served)| (served, t.account_id));
        ctx.print_warnings();
        result
    };
    server.run(&stop, true, &mut fetch);
    let status =
        waiter.join().map_err(|_| Error::Other { what: "lost track of the command".to_owned(), hint: None })?;
    status.map(exit_code).map_err(|e| Error::Other { what: format!("cannot wait for the command: {e}"), hint: None })
}

/// A `[default]` profile with credentials of its own wins over the endpoint in SDKs that look at
/// the config first (botocore, the AWS CLI): say so before the command runs with the wrong ones.
fn warn_default_profile(ctx: &Context) -> Result<(), Error> {
    let config = ctx.config_for(&["default"])?;
    if let Some(key) =
        config.profile("default").and_then(|p| DEFAULT_PROFILE_CREDENTIALS.iter().find(|k| p.get(k).is_some()))
    {
        ctx.warn(format!(
            "the [default] profile sets {key}: SDKs that read the config before the container endpoint (botocore, \
             the AWS CLI) will use it instead of the credentials served to the command"
        ));
    }
    Ok(())
}

/// The shell's convention: the exit code, or 128+N for death by signal N.
fn exit_code(status: ExitStatus) -> u8 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return (128 + signal).clamp(0, 255) as u8;
        }
    }
    status.code().map(|c| c.clamp(0, 255) as u8).unwrap_or(crate::error::EXIT_FAILURE)
}

/// Passing signals on to the child of `exec --server`: the ones that would end us (leaving the
/// child without its endpoint) and the ones meant for the program the user thinks they signal.
#[cfg(unix)]
mod signals {
    use std::process::{Child, ExitStatus};
    use std::sync::atomic::{AtomicI32, Ordering};

    /// Every catchable signal whose default action ends the process (or that the user means for
    /// the program, SIGWINCH), except the faults the kernel raises for our own code (SIGSEGV,
    /// SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT): sent by `kill`, each would end us and
    /// leave the child without its endpoint. SIGPIPE is ignored already (Rust's runtime).
    const FORWARDED: &[libc::c_int] = &[
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGALRM,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGIO,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        libc::SIGPWR,
        #[cfg(all(
            any(target_os = "linux", target_os = "android"),
            not(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc64"))
        ))]
        libc::SIGSTKFLT,
    ];
    /// The child's pid while it can be signalled (0: none yet, or reaped).
    static CHILD: AtomicI32 = AtomicI32::new(0);
    /// A signal that came before the child existed.
    static PENDING: AtomicI32 = AtomicI32::new(0);

    /// Who sent the signal: 0 for the kernel (the terminal's Ctrl-C, hang-up).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    unsafe fn sender(info: *const libc::siginfo_t) -> libc::pid_t {
        // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
        unsafe { (*info).si_pid() }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    unsafe fn sender(info: *const libc::siginfo_t) -> libc::pid_t {
        // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
        unsafe { (*info).si_pid }
    }

    extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: only async-signal-safe calls (kill) on plain integers.
        unsafe {
            let from = if info.is_null() { 0 } else { sender(info) };
            // The terminal's signals (Ctrl-C, hang-up: sent by the kernel to the whole foreground
            // group) reached the child already: a second SIGINT would make programs like terraform
            // stop at once instead of cleanly. A process's signal is passed on, whatever its group:
            // `kill $pid` from a script, Python's terminate() or `timeout` share ours and aim at us
            // alone (a group-wide kill from a process reaches the child twice; it cannot be told
            // apart).
            if from == 0 {
                return;
            }
            match CHILD.load(Ordering::SeqCst) {
                0 => PENDING.store(sig, Ordering::SeqCst),
                pid => {
                    libc::kill(pid, sig);
                }
            }
        }
    }

    /// Catches the forwarded signals (before the child starts, so none is lost in between).
    pub fn catch() {
        for &sig in FORWARDED {
            // SAFETY: installs a handler that only does async-signal-safe work.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction =
                    handler as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    }

    pub fn forward_to(pid: u32) {
        CHILD.store(pid as i32, Ordering::SeqCst);
        let pending = PENDING.swap(0, Ordering::SeqCst);
        if pending != 0 {
            // SAFETY: a plain kill(2) of our own child.
            unsafe { libc::kill(pid as i32, pending) };
        }
    }

    /// Waits for the child; stops forwarding before it is reaped, so a signal can never reach
    /// another process that got its pid.
    pub fn wait(mut child: Child) -> std::io::Result<ExitStatus> {
        loop {
            // SAFETY: waitid with WNOWAIT only looks; `info` is a zeroed out-parameter.
            let rc = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(libc::P_PID, child.id() as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT)
            };
            if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        CHILD.store(0, Ordering::SeqCst);
        child.wait()
    }
}

#[cfg(not(unix))]
mod signals {
    use std::process::{Child, ExitStatus};

    pub fn catch() {}

    pub fn forward_to(_pid: u32) {}

    pub fn wait(mut child: Child) -> std::io::Result<ExitStatus> {
        child.wait()
    }
}

/// The profile's `region`, unless the environment already names a region.
fn region(ctx: &Context, spec: &TargetArgs, target: &RoleTarget) -> Result<Option<String>, Error> {
    if ctx.env.get("AWS_REGION").is_some() || ctx.env.get("AWS_DEFAULT_REGION").is_some() {
        return Ok(None);
    }
    crate::target::profile_region(ctx, spec, target)
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
