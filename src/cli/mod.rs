//! The command line as typed: clap definitions only. Resolving these into settings (files, env,
//! config) is `context`'s job, so nothing here does I/O.

mod oidc_api;

pub use oidc_api::ApiArgs;
use oidc_api::{
    self as args, CreateTokenArgs, CreateTokenWithIamArgs, RegisterClientArgs, StartDeviceAuthorizationArgs,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;

/// AWS credentials from IAM Identity Center (SSO) for `credential_process`, sharing the AWS CLI v2 cache.
///
/// Without a subcommand, prints the credential_process JSON for the target profile on stdout.
/// Subcommands are declared in the order `--help` and the man page list them: the everyday ones
/// first, the low-level SSO OIDC calls last.
#[derive(Debug, Parser)]
#[command(
    name = "aws-sso-process",
    version,
    about,
    long_about = None,
    after_help = "Without a command: print the credential_process JSON for the target profile on stdout.\n\
                  New here? Run 'aws-sso-process setup'. Everything else: 'man aws-sso-process'."
)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Print what happens (endpoints, cache decisions, HTTP status) on stderr; never secrets.
    #[arg(long, global = true, help_heading = "Global options")]
    pub debug: bool,

    /// credential_process mode: when the SSO session is gone, log in (prompting on the terminal) instead of
    /// failing; concurrent runs wait for that one login. Also set by `aws_sso_process_auto_login = true`.
    #[arg(long)]
    pub login_if_needed: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which SSO session, account and role. Valid before or after the subcommand.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct TargetArgs {
    /// Profile whose sso_* settings or aws-sso-process credential_process name the target [default: AWS_PROFILE, AWS_DEFAULT_PROFILE, default, then the config's only sso-session].
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// An [sso-session NAME] section of the config, instead of a profile.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "profile")]
    pub sso_session: Option<String>,

    /// Legacy target: the start URL (no sso-session); needs --region. For setup: the start URL of the new session; for start-device-authorization: its startUrl.
    // Not a clap conflict with --sso-session: `setup` takes both (see `Cli::check`).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "profile")]
    pub start_url: Option<String>,

    /// For configure generate: the profiles' region; the sso_region of --start-url; for the SSO OIDC commands, the region to call.
    ///
    /// For configure generate: the `region` key of the generated profiles [default: the session's
    /// sso_region]; given, it also sets the region of the profiles generated earlier for the
    /// session (the SSO region itself comes from the session). With --start-url (and for setup):
    /// the SSO region of that start URL (configure generate with --start-url uses it for both;
    /// setup's profiles get theirs from --profile-region). For create-token,
    /// create-token-with-iam, register-client and start-device-authorization: the SSO OIDC region
    /// to call (and to sign for), as the AWS CLI's --region [default: AWS_REGION,
    /// AWS_DEFAULT_REGION, the profile's region].
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS account ID (overrides the profile's sso_account_id).
    #[arg(long, global = true, value_name = "ID")]
    pub account_id: Option<String>,

    /// Permission set / role name (overrides the profile's sso_role_name).
    #[arg(long, global = true, value_name = "NAME")]
    pub role_name: Option<String>,
}

impl Cli {
    /// The command line of a credential_process run, read without clap: only the target flags,
    /// `--debug` and `--login-if-needed`, each at most once, values as the next word (not starting
    /// with `-`) or after `=`. Building clap's whole command (every subcommand and its help) was
    /// nearly half of a cache hit's instructions. Anything else, a conflict included, is
    /// `None`, and clap parses it (and reports what is wrong). `quick_parse_agrees_with_clap`
    /// checks that whatever this accepts, clap reads the same way.
    pub fn quick_parse(args: impl IntoIterator<Item = OsString>) -> Option<Cli> {
        let mut args = args.into_iter().skip(1);
        let mut cli = Cli { target: TargetArgs::default(), debug: false, login_if_needed: false, command: None };
        while let Some(arg) = args.next() {
            let arg = arg.into_string().ok()?;
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            let t = &mut cli.target;
            let slot = match flag {
                "--debug" | "--login-if-needed" => {
                    let set = if flag == "--debug" { &mut cli.debug } else { &mut cli.login_if_needed };
                    if *set || inline.is_some() {
                        return None;
                    }
                    *set = true;
                    continue;
                }
                "--profile" => &mut t.profile,
                "--sso-session" => &mut t.sso_session,
                "--start-url" => &mut t.start_url,
                "--region" => &mut t.region,
                "--account-id" => &mut t.account_id,
                "--role-name" => &mut t.role_name,
                _ => return None,
            };
            let value = match inline {
                Some(value) => value,
                None => args.next()?.into_string().ok()?,
            };
            if slot.is_some() || value.is_empty() || value.starts_with('-') {
                return None;
            }
            *slot = Some(value);
        }
        let t = &cli.target;
        let conflict = (t.profile.is_some() && t.sso_session.is_some())
            || (t.start_url.is_some() && (t.profile.is_some() || t.sso_session.is_some()));
        (!conflict).then_some(cli)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// First-time set-up: write an [sso-session], log in, and generate a profile per account and role.
    ///
    /// Offers the sessions the config already has (adopting one: its settings are used as they
    /// are), or asks on the terminal for what no flag gives: the start URL, the SSO region, the
    /// session name (default: the start URL's first name, e.g. `corp` for
    /// https://corp.awsapps.com/start), the scopes, which profiles to generate and their region.
    /// With every answer given as a flag it runs without a terminal. Writes only what is missing,
    /// keeps a copy of the old config as config.bak, and says "nothing to change" when run again
    /// with the same answers. A failure or Ctrl-C before the profiles are written puts the config
    /// back as it was.
    #[command(after_help = "Example: aws-sso-process setup --start-url https://corp.awsapps.com/start \\\n  \
                            --region eu-west-1 --sso-session corp --scopes sso:account:access --generate all")]
    Setup(SetupArgs),

    /// Log in to an SSO session (authorization code + PKCE, or device code) and cache the token like `aws sso login`.
    Login(LoginArgs),

    /// Sign out at the SSO portal and delete the session's cached token and the role credentials derived from it.
    Logout(LogoutArgs),

    /// Every SSO session in the config: token expiry, refreshability, cached role credentials, warnings.
    ///
    /// Reads local files only (the config and the caches); --check also asks the SSO portal whether
    /// each session's token works (one ListAccounts page), refreshing it when due.
    Status(StatusArgs),

    /// Every account and role the SSO session can reach (ListAccounts and ListAccountRoles, all pages).
    ///
    /// Uses the cached token of the session that --profile, --sso-session or --start-url select
    /// (refreshing it when due); without one of them, AWS_PROFILE / AWS_DEFAULT_PROFILE / default,
    /// else the config's only sso-session. At most 10 requests run at once, at most 20 start per
    /// second, and throttled requests are retried with backoff.
    List(ListArgs),

    /// Print the role credentials for a shell or a tool, like `aws configure export-credentials`.
    ///
    /// `eval "$(aws-sso-process export --profile dev-sso --format env)"` sets AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION in the current shell.
    /// Values are quoted for the chosen shell; a value windows-cmd cannot carry safely is an error.
    Export(ExportArgs),

    /// Run a command with the role credentials in its environment.
    ///
    /// Sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION,
    /// and AWS_REGION and AWS_DEFAULT_REGION from the profile's region (unless either is already
    /// set); removes AWS_PROFILE and AWS_DEFAULT_PROFILE so SDKs use these credentials. On Unix the
    /// command replaces this process, so its exit status (a signal too) is the command's own. A
    /// command that cannot be found exits 127, one that cannot be run 126, like a shell.
    ///
    /// With --server the command gets no keys but AWS_CONTAINER_CREDENTIALS_FULL_URI and
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN of an endpoint on 127.0.0.1 that lives as long as it does,
    /// so its SDK fetches fresh credentials when its own run out. It then runs as a child: its exit
    /// status is passed on (128+N for signal N), and SIGINT, SIGTERM and SIGHUP sent to this
    /// process are passed on to it.
    #[command(after_help = "Example: aws-sso-process exec --profile dev-sso -- aws s3 ls")]
    Exec(ExecArgs),

    /// Serve the role credentials to SDKs over the container-credentials protocol, until stopped.
    ///
    /// Prints AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN (NAME=value
    /// lines, for `export` or `docker run -e`), then answers each SDK request with credentials from
    /// the role cache, refreshed when fewer than 15 minutes remain. Listens on 127.0.0.1 unless
    /// --bind says otherwise; every request needs the per-run token and a Host header naming the
    /// address served.
    #[command(after_help = "Example: aws-sso-process serve --profile dev-sso")]
    Serve(ServeArgs),

    /// Open the AWS console signed in as the role (or print the sign-in link).
    ///
    /// Trades the role credentials for a sign-in token at the federation endpoint of the session's
    /// partition (AWS_ENDPOINT_URL_SIGNIN replaces its base), then opens the console page given by
    /// --destination, by default the console home of the profile's region. The link works for 15
    /// minutes and signs in whoever opens it: keep it to yourself.
    #[command(after_help = "Example: aws-sso-process console --profile dev-sso --no-browser")]
    Console(ConsoleArgs),

    /// Set up profiles: `configure generate` makes one profile per account and role.
    Configure(ConfigureArgs),

    /// Refresh the cached SSO access token now if it is inside the 15-minute window (or always with --force).
    Refresh(RefreshArgs),

    /// SSO OIDC CreateToken: trade a device code, authorization code or refresh token for tokens.
    ///
    /// Creates and returns access and refresh tokens for clients that are authenticated using
    /// client secrets. The access token can be used to fetch short-lived credentials for the
    /// assigned AWS accounts or to access application APIs using bearer authentication.
    ///
    /// Mirrors `aws sso-oidc create-token`: the request goes unsigned to POST /token of the SSO OIDC
    /// endpoint in --region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region), and the
    /// response JSON is printed as the service returned it. The token cache is not touched.
    #[command(after_long_help = args::CREATE_TOKEN_AFTER)]
    CreateToken(CreateTokenArgs),

    /// SSO OIDC CreateTokenWithIAM: tokens for an application, signed with IAM credentials.
    ///
    /// Creates and returns access and refresh tokens for authorized client applications that are
    /// authenticated using any IAM entity, such as a service role or user. These tokens might
    /// contain defined scopes that specify permissions such as read:profile or write:data.
    ///
    /// Mirrors `aws sso-oidc create-token-with-iam`: the request goes to POST /token?aws_iam=t of
    /// the SSO OIDC endpoint in --region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's
    /// region), SigV4-signed for the service sso-oauth, and the response JSON is printed as the
    /// service returned it.
    #[command(after_long_help = args::CREATE_TOKEN_WITH_IAM_AFTER)]
    CreateTokenWithIam(CreateTokenWithIamArgs),

    /// SSO OIDC RegisterClient: register a public client (for device or authorization code grants).
    ///
    /// Registers a public client with IAM Identity Center. This allows clients to perform
    /// authorization using the authorization code grant with PKCE or the device code grant.
    ///
    /// Mirrors `aws sso-oidc register-client`: unsigned POST /client/register; the response JSON
    /// is printed as the service returned it. The registration cache is not touched.
    #[command(after_long_help = args::REGISTER_CLIENT_AFTER)]
    RegisterClient(RegisterClientArgs),

    /// SSO OIDC StartDeviceAuthorization: get a device code and user code (with --start-url).
    ///
    /// Initiates device authorization by requesting a pair of verification codes from the
    /// authorization service.
    ///
    /// Mirrors `aws sso-oidc start-device-authorization`: unsigned POST /device_authorization; the
    /// response JSON is printed as the service returned it. The start URL is the global
    /// --start-url flag (the startUrl member).
    #[command(after_long_help = args::START_DEVICE_AUTHORIZATION_AFTER)]
    StartDeviceAuthorization(StartDeviceAuthorizationArgs),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(hide = true)]
    Completions(CompletionsArgs),

    /// Print the manual page (roff) on stdout.
    #[command(hide = true)]
    Man,

    /// Print the config's profile or sso-session names, one a line: what the completion scripts
    /// offer after --profile and --sso-session.
    #[command(hide = true)]
    CompleteNames(CompleteNamesArgs),
}

impl Cli {
    /// What clap cannot say: `--start-url` and `--sso-session` together name two targets, except
    /// for `setup`, where the second is the name of the session the first gets.
    pub fn check(&self) -> Result<(), String> {
        let setup = matches!(self.command, Some(Command::Setup(_)));
        if !setup && self.target.start_url.is_some() && self.target.sso_session.is_some() {
            return Err("--start-url cannot be used with --sso-session (each names an SSO session)".to_owned());
        }
        Ok(())
    }
}

impl Command {
    /// The subcommand as typed, for hints that repeat it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Setup(_) => "setup",
            Command::Login(_) => "login",
            Command::Logout(_) => "logout",
            Command::Status(_) => "status",
            Command::List(_) => "list",
            Command::Export(_) => "export",
            Command::Exec(_) => "exec",
            Command::Serve(_) => "serve",
            Command::Console(_) => "console",
            Command::Configure(_) => "configure generate",
            Command::Refresh(_) => "refresh",
            Command::CreateToken(_) => "create-token",
            Command::CreateTokenWithIam(_) => "create-token-with-iam",
            Command::RegisterClient(_) => "register-client",
            Command::StartDeviceAuthorization(_) => "start-device-authorization",
            Command::Completions(_) => "completions",
            Command::Man => "man",
            Command::CompleteNames(_) => "complete-names",
        }
    }
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    #[command(subcommand)]
    pub command: ConfigureCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigureCommand {
    /// One profile per account and role of an SSO session, each running aws-sso-process as its credential_process.
    ///
    /// Names are `<prefix><account>.<role>` (or --template), the account name in lower case with
    /// every other run of characters turned into '-' (accounts whose names give the same result get
    /// '-<account id>' appended). Each profile gets `credential_process = aws-sso-process
    /// --sso-session S --account-id A --role-name R`, `region` (--region, else the session's
    /// sso_region) and `aws_sso_process_generated = S`, the mark --prune looks for. Without --write
    /// the blocks are printed; with --write the profiles the config does not have yet are appended
    /// to it, --region (when given) becomes the region of the profiles generated before, a copy of
    /// the previous file is kept as config.bak, and nothing else in the file changes. Account
    /// names longer than AWS allows (50 characters) are shortened, and a listing past its bounds
    /// or a file past the 32 MiB the tool reads is refused.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub names: NameArgs,

    /// Append the new profiles to the config file instead of printing them.
    #[arg(long)]
    pub write: bool,

    /// Also remove the profiles generated earlier for this SSO session whose account or role the
    /// portal no longer lists (only those carrying `aws_sso_process_generated`, and none edited by
    /// hand). Without --write: only say what would be removed.
    #[arg(long)]
    pub prune: bool,

    /// With --prune: remove even when that is all, or more than half, of the session's generated
    /// profiles (without it the command stops and writes nothing). Profiles edited by hand stay.
    #[arg(long, requires = "prune")]
    pub force: bool,

    /// The program the profiles' credential_process runs [default: `aws-sso-process` when that
    /// name on PATH is this binary, else this binary's absolute path].
    #[arg(long, value_name = "PATH")]
    pub command: Option<String>,
}

/// Which profiles `configure generate` and `setup` make, and their names.
#[derive(Debug, Args, Clone, Default)]
pub struct NameArgs {
    /// Put this in front of every profile name (e.g. "corp-").
    #[arg(long, value_name = "PREFIX", default_value = "", hide_default_value = true)]
    pub prefix: String,

    /// Profile names from a template: {account_name}, {account_id}, {role_name}, {sso_session},
    /// each slugged [default: `{account_name}.ROLE`, the role name as it is].
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,

    /// Only accounts whose name or ID this regular expression matches (unanchored, ignoring case;
    /// `(?-i)` makes case count). One that matches nothing is an error that lists the accounts.
    #[arg(long, value_name = "REGEX")]
    pub accounts: Option<String>,

    /// Only roles whose name this regular expression matches (unanchored, ignoring case). One that
    /// matches none of the chosen accounts' roles is an error that lists them.
    #[arg(long, value_name = "REGEX")]
    pub roles: Option<String>,
}

/// `setup --generate`: which profiles to make without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateWhich {
    /// One per account and role (those --accounts and --roles match, when given).
    All,
    /// None: only the sso-session and the login.
    None,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The session's sso_registration_scopes, comma-separated [default: sso:account:access].
    #[arg(long, value_name = "SCOPES")]
    pub scopes: Option<String>,

    /// Which profiles to generate, without asking.
    #[arg(long, value_enum, value_name = "WHICH")]
    pub generate: Option<GenerateWhich>,

    /// The region the generated profiles get (their `region` key, for the AWS calls they make)
    /// [default: [default]'s region, else the SSO region]. --region is the SSO region.
    #[arg(long, value_name = "REGION")]
    pub profile_region: Option<String>,

    #[command(flatten)]
    pub names: NameArgs,

    /// The program the profiles' credential_process runs (as for `configure generate`).
    #[arg(long, value_name = "PATH")]
    pub command: Option<String>,

    #[command(flatten)]
    pub login: LoginArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON (schema version 1; the fields are described in the project's docs/status.md).
    #[arg(long)]
    pub json: bool,

    /// Also prove each token works at the SSO portal (one ListAccounts call per session); exit 1 if a
    /// check fails, 3 if a login is needed.
    #[arg(long)]
    pub check: bool,

    /// One short line for a shell prompt: the time each sso-session's token has left (`corp 7h58m`;
    /// `refresh` when the next use refreshes it, `login` when it needs a login), or only that of the
    /// session --profile/--sso-session/--start-url names. Reads the config and token files only.
    #[arg(long, conflicts_with_all = ["json", "check"])]
    pub prompt: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (one document: ssoSession, startUrl, region, accounts[{accountId, accountName, emailAddress, roles}]).
    #[arg(long)]
    pub json: bool,
}

/// The output formats of `export`: those of `aws configure export-credentials --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The credential_process JSON object, pretty-printed.
    Process,
    /// POSIX shells: `export AWS_ACCESS_KEY_ID=...`, for `eval "$(...)"`.
    Env,
    /// POSIX shells without export: `AWS_ACCESS_KEY_ID=...`.
    EnvNoExport,
    /// PowerShell: `$Env:AWS_ACCESS_KEY_ID="..."`, for `... | Invoke-Expression`.
    Powershell,
    /// Windows cmd.exe: `set AWS_ACCESS_KEY_ID=...`.
    WindowsCmd,
    /// fish: `set -gx AWS_ACCESS_KEY_ID "..."`, for `... | source`.
    Fish,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Process)]
    pub format: ExportFormat,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run even inside another `aws-sso-process exec` (AWS_SSO_PROCESS_EXEC is set).
    #[arg(long)]
    pub force: bool,

    /// Give the command a credentials endpoint on 127.0.0.1 for its life instead of keys, so its SDK
    /// refreshes them (AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN).
    #[arg(long)]
    pub server: bool,

    /// The command and its arguments (put `--` before them when they start with `-`).
    #[arg(value_name = "COMMAND", required = true, num_args = 1.., trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The port to listen on [default: a free one].
    #[arg(long, value_name = "PORT", default_value_t = 0, hide_default_value = true)]
    pub port: u16,

    /// The address to listen on [default: 127.0.0.1]; any other one is reachable from elsewhere.
    #[arg(long, value_name = "ADDRESS")]
    pub bind: Option<std::net::IpAddr>,
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The console page to open [default: the console home of the profile's region].
    #[arg(long, value_name = "URL")]
    pub destination: Option<String>,

    /// Print the sign-in link instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Args)]
pub struct CompleteNamesArgs {
    /// Which names.
    #[arg(value_enum)]
    pub kind: NameKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NameKind {
    Profiles,
    SsoSessions,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Use the device code flow (enter a code on any device) instead of the browser redirect to this machine.
    #[arg(long)]
    pub use_device_code: bool,

    /// Do not open a browser; print the URL to open instead.
    #[arg(long)]
    pub no_browser: bool,

    /// Listen for the browser redirect on this local port (e.g. one forwarded over SSH) instead of a random one;
    /// implies the authorization code flow.
    #[arg(long, value_name = "PORT", conflicts_with = "use_device_code", value_parser = clap::value_parser!(u16).range(1..))]
    pub redirect_port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Every cached SSO token (like `aws sso logout`) and every SSO role credential in ~/.aws/cli/cache.
    #[arg(long, conflicts_with_all = ["profile", "sso_session", "start_url"])]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Every sso-session in the config that has a cached token.
    #[arg(long, conflicts_with_all = ["profile", "sso_session", "start_url"])]
    pub all: bool,

    /// Refresh even when the token has more than 15 minutes left.
    #[arg(long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from(["x", "--profile", "p", "refresh", "--force"]).unwrap();
        let b = Cli::try_parse_from(["x", "refresh", "--force", "--profile", "p"]).unwrap();
        assert_eq!(a.target.profile, b.target.profile);
        assert!(Cli::try_parse_from(["x", "--profile", "p", "--sso-session", "s"]).is_err());
        assert!(Cli::try_parse_from(["x", "refresh", "--all", "--profile", "p"]).is_err());
        assert!(Cli::try_parse_from(["x", "--no-such-flag"]).is_err());
        assert!(Cli::try_parse_from(["x", "login", "--use-device-code", "--redirect-port", "8400"]).is_err());
        assert!(Cli::try_parse_from(["x", "login", "--redirect-port", "0"]).is_err());
        assert!(Cli::try_parse_from(["x", "logout", "--all", "--sso-session", "s"]).is_err());
        let login = Cli::try_parse_from(["x", "login", "--no-browser", "--sso-session", "s"]).unwrap();
        assert!(matches!(login.command, Some(Command::Login(LoginArgs { no_browser: true, .. }))));
        assert!(Cli::try_parse_from(["x", "--profile", "p", "--login-if-needed"]).unwrap().login_if_needed);
        let generate =
            Cli::try_parse_from(["x", "configure", "generate", "--sso-session", "s", "--region", "r", "--write"])
                .unwrap();
        assert_eq!(generate.target.region.as_deref(), Some("r"));
        assert!(matches!(
            generate.command,
            Some(Command::Configure(ConfigureArgs {
                command: ConfigureCommand::Generate(GenerateArgs { write: true, .. })
            }))
        ));
        assert!(Cli::try_parse_from(["x", "configure"]).is_err());
        assert!(Cli::try_parse_from(["x", "configure", "generate", "--prune"]).is_ok(), "--prune alone previews");
        assert!(Cli::try_parse_from(["x", "configure", "generate", "--force"]).is_err(), "--force needs --prune");
        let both = Cli::try_parse_from(["x", "login", "--start-url", "u", "--sso-session", "s"]).unwrap();
        assert!(both.check().is_err());
        let setup =
            Cli::try_parse_from(["x", "setup", "--start-url", "u", "--sso-session", "s", "--generate", "all"]).unwrap();
        assert!(setup.check().is_ok());
        assert!(matches!(setup.command, Some(Command::Setup(SetupArgs { generate: Some(GenerateWhich::All), .. }))));
        assert!(Cli::try_parse_from(["x", "setup", "--profile", "p", "--start-url", "u"]).is_err());
        assert!(Cli::try_parse_from(["x", "status", "--check", "--json"]).is_ok());
    }

    #[test]
    fn help_lists_everyday_commands_first_and_the_oidc_calls_last() {
        let help = Cli::command().render_help().to_string();
        let listed: Vec<&str> = help
            .split("Commands:\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|line| line.starts_with("  "))
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        let everyday = ["setup", "login", "logout", "status", "list", "export", "exec", "serve", "console"];
        let rest = ["configure", "refresh", "create-token", "create-token-with-iam", "register-client"];
        let expected: Vec<&str> =
            everyday.iter().chain(&rest).chain(&["start-device-authorization", "help"]).copied().collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn quick_parse_agrees_with_clap() {
        let words = [
            "--profile",
            "--sso-session",
            "--start-url",
            "--region",
            "--account-id",
            "--role-name",
            "--debug",
            "--login-if-needed",
            "--profile=p",
            "--role-name=R=x",
            "--debug=true",
            "--profile=",
            "--region=-1",
            "dev",
            "corp",
            "-x",
            "",
            "--",
            "--help",
            "-V",
            "refresh",
            "--prof",
            "=",
            "https://x/start#/",
        ];
        let (mut state, mut accepted) = (0x2545_f491_4f6c_dd1d_u64, 0);
        for _ in 0..60_000 {
            let mut argv = vec!["aws-sso-process".to_owned()];
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut pick = state;
            for _ in 0..pick % 8 {
                pick /= 8;
                argv.push(words[(pick % words.len() as u64) as usize].to_owned());
                pick /= words.len() as u64;
            }
            let Some(quick) = Cli::quick_parse(argv.iter().map(OsString::from)) else { continue };
            accepted += 1;
            let clap = Cli::try_parse_from(&argv).map_err(|e| e.to_string());
            assert_eq!(clap.map(|c| format!("{c:?}")), Ok(format!("{quick:?}")), "{argv:?}");
        }
        assert!(accepted > 1000, "{accepted} accepted");
        // The forms credential_process lines use.
        for line in [
            "x --profile dev-sso",
            "x --sso-session corp --account-id 111122223333 --role-name Developer",
            "x --start-url https://x/start --region eu-west-1 --account-id 1 --role-name R --login-if-needed",
            "x",
        ] {
            let argv: Vec<OsString> = line.split(' ').map(OsString::from).collect();
            assert!(Cli::quick_parse(argv).is_some(), "{line}");
        }
    }

    #[test]
    fn exec_takes_the_rest_of_the_line() {
        let exec = |args: &[&str]| match Cli::try_parse_from(args).map(|c| (c.target.profile, c.command)) {
            Ok((profile, Some(Command::Exec(e)))) => (profile, e.force, e.command),
            other => panic!("{args:?}: {other:?}"),
        };
        let (profile, force, command) = exec(&["x", "exec", "--profile", "p", "--", "sh", "-c", "exit 1", "--force"]);
        assert_eq!((profile.as_deref(), force), (Some("p"), false));
        assert_eq!(command, ["sh", "-c", "exit 1", "--force"]);
        let (_, force, command) = exec(&["x", "exec", "--force", "aws", "s3", "ls", "--profile", "q"]);
        assert!(force);
        assert_eq!(command, ["aws", "s3", "ls", "--profile", "q"]);
        assert!(Cli::try_parse_from(["x", "exec"]).is_err());
        assert!(Cli::try_parse_from(["x", "exec", "--"]).is_err());
    }

    #[test]
    fn serve_console_and_exec_server() {
        let cli = Cli::try_parse_from(["x", "serve", "--profile", "p", "--port", "8080", "--bind", "::1"]).unwrap();
        let Some(Command::Serve(serve)) = cli.command else { panic!() };
        assert_eq!((serve.port, serve.bind), (8080, Some("::1".parse().unwrap())));
        let cli = Cli::try_parse_from(["x", "serve"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(ServeArgs { port: 0, bind: None }))));
        assert!(Cli::try_parse_from(["x", "serve", "--bind", "localhost"]).is_err());
        assert!(Cli::try_parse_from(["x", "serve", "--port", "65536"]).is_err());
        let cli = Cli::try_parse_from(["x", "console", "--no-browser", "--destination", "https://d"]).unwrap();
        let Some(Command::Console(console)) = cli.command else { panic!() };
        assert!(console.no_browser && console.destination.as_deref() == Some("https://d"));
        let cli = Cli::try_parse_from(["x", "exec", "--server", "--", "sh", "--server"]).unwrap();
        let Some(Command::Exec(exec)) = cli.command else { panic!() };
        assert!(exec.server && exec.command == ["sh", "--server"]);
    }

    #[test]
    fn export_formats_are_the_aws_cli_names() {
        for name in ["process", "env", "env-no-export", "powershell", "windows-cmd", "fish"] {
            assert!(Cli::try_parse_from(["x", "export", "--format", name]).is_ok(), "{name}");
        }
        assert!(Cli::try_parse_from(["x", "export", "--format", "csh"]).is_err());
        let cli = Cli::try_parse_from(["x", "export"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Export(ExportArgs { format: ExportFormat::Process }))));
    }
}
