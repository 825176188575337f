//! aws-sso-process: AWS credentials from IAM Identity Center for `credential_process`, sharing
//! the AWS CLI v2 SSO cache. See README.md for use and docs/ for the facts the code relies on.
//!
//! `main` parses the command line, builds the context, runs the command, prints the warnings and
//! the error once, and maps the result to an exit code. Nothing below it calls `process::exit`,
//! so locks and temp files are always cleaned up by Drop; the one exception is an interrupted
//! `setup`, which exits from its signal thread after putting the config back.
//!
//! Nothing prints with `println!`/`eprintln!`, which panic when the reader of stdout or stderr is
//! gone (`| head`, a closed terminal): `outln!`, `out!` and `errln!` write through `output`,
//! which drops what cannot be written to a closed pipe and keeps any other stdout error for
//! `main` to report with exit 1 (docs/reliability.md). Clippy enforces it.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

/// `println!` that never panics: a line on stdout, dropped when nobody reads it (any other write
/// error ends the run with 1 once the command is done: `output::note_stdout`).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::stdout_line(format_args!($($arg)*)) };
}
/// `print!` that never panics.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout_text(format_args!($($arg)*)) };
}
/// `eprintln!` that never panics: a line on stderr, dropped when nobody reads it.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::stderr_line(format_args!($($arg)*)) };
}

mod accounts;
mod assume;
mod browser;
mod cache;
mod cli;
mod cmd;
mod config;
mod context;
mod credentials;
mod endpoints;
mod error;
mod federation;
mod generate;
mod http;
mod lock;
mod login;
mod loopback;
mod network;
mod oidc;
mod output;
mod portal;
mod prompt;
mod role_cache;
mod sanitize;
mod secret;
mod serve;
mod session;
mod sigv4;
mod sts;
mod target;
mod timefmt;
mod url;

use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command};
use cmd::oidc_api;
use context::{Context, Env};
use error::Error;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The usual credential_process line without building clap's command (a cache hit); the rest
    // through clap, keeping its matches (the OIDC API commands read their request flags from them).
    let parsed = match Cli::quick_parse(std::env::args_os()) {
        Some(cli) => Ok((cli, None)),
        None => Cli::command().try_get_matches().and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, Some(m)))),
    };
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let ctx = match Context::new(Env::from_process(), cli.debug) {
        Ok(ctx) => ctx,
        Err(e) => return report(&e, None),
    };
    ctx.set_command(cli.command.as_ref().map(cli::Command::name));
    let result = run(&cli, matches.as_ref(), &ctx);
    ctx.print_warnings();
    // A write to stdout that failed other than by a closed pipe (a full disk): the command has
    // finished what it was doing, and now says what it could not print (docs/reliability.md).
    let unprinted = output::stdout_failure();
    match (result, unprinted) {
        (Ok(code), None) => ExitCode::from(code),
        (Ok(code), Some(why)) => {
            errln!("aws-sso-process: cannot write to stdout: {why}");
            ExitCode::from(code.max(1))
        }
        // An error already said (the commands that fail at once when their output is lost, too).
        (Err(e), _) => report(&e, ctx.command_label().as_deref()),
    }
}

fn run(cli: &Cli, matches: Option<&clap::ArgMatches>, ctx: &Context) -> Result<u8, Error> {
    cli.check().map_err(Error::Usage)?;
    let spec = cli.target.clone();
    let none = clap::ArgMatches::default();
    let sub = |name: &str| matches.and_then(|m| m.subcommand_matches(name)).unwrap_or(&none);
    let api = |op: &oidc_api::Operation, api, source| oidc_api::run(ctx, &spec, op, api, sub(op.command), source);
    match &cli.command {
        None => cmd::credentials::run(ctx, &spec, cli.login_if_needed),
        Some(Command::Refresh(args)) => cmd::refresh::run(ctx, &spec, args.all, args.force),
        Some(Command::CreateToken(args)) => api(&oidc_api::CREATE_TOKEN, &args.api, None),
        Some(Command::CreateTokenWithIam(args)) => {
            api(&oidc_api::CREATE_TOKEN_WITH_IAM, &args.api, args.source_profile.as_deref())
        }
        Some(Command::RegisterClient(args)) => api(&oidc_api::REGISTER_CLIENT, &args.api, None),
        Some(Command::StartDeviceAuthorization(args)) => api(&oidc_api::START_DEVICE_AUTHORIZATION, &args.api, None),
        Some(Command::Login(args)) => cmd::login::run(ctx, &spec, args),
        Some(Command::Logout(args)) => cmd::logout::run(ctx, &spec, args.all),
        Some(Command::List(args)) => cmd::list::run(ctx, &spec, args.json),
        Some(Command::Status(args)) if args.prompt => cmd::status::prompt_line(ctx, &spec),
        Some(Command::Status(args)) => cmd::status::run(ctx, &spec, args.json, args.check),
        Some(Command::Configure(args)) => match &args.command {
            cli::ConfigureCommand::Generate(g) => cmd::configure::generate(ctx, &spec, g),
        },
        Some(Command::Setup(args)) => cmd::setup::run(ctx, &spec, args),
        Some(Command::Export(args)) => cmd::export::run(ctx, &spec, cli.login_if_needed, args.format),
        Some(Command::Exec(args)) => cmd::exec::run(ctx, &spec, cli.login_if_needed, args),
        Some(Command::Serve(args)) => cmd::serve::run(ctx, &spec, cli.login_if_needed, args),
        Some(Command::Console(args)) => cmd::console::run(ctx, &spec, cli.login_if_needed, args),
        Some(Command::Completions(args)) => cmd::docs::completions(args.shell),
        Some(Command::Man) => cmd::docs::man(),
        Some(Command::CompleteNames(args)) => cmd::docs::complete_names(ctx, args.kind),
    }
}

fn report(e: &Error, command: Option<&str>) -> ExitCode {
    errln!("aws-sso-process: {}", error::chain(e));
    // A usage hint keeps the subcommand the user ran (`aws-sso-process login --help`).
    let hint = match (e, command) {
        (Error::Usage(_), Some(command)) => Some(format!("run '{command} --help' for the flags")),
        _ => e.hint(),
    };
    if let Some(hint) = hint {
        // Hints can quote names from the config ("did you mean ..."): inert on a terminal too, line
        // by line (a hint of our own may have several). Every further line is indented, so none
        // can pass for a line of its own, whatever a name held.
        let lines: Vec<String> = hint
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let line = sanitize::sanitize(line);
                if i == 0 || line.starts_with("  ") { line } else { format!("  {line}") }
            })
            .collect();
        errln!("hint: {}", lines.join("\n"));
    }
    ExitCode::from(e.exit_code())
}
