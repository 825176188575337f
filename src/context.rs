//! What a run knows about its surroundings: the environment (read once, here), the home folder and
//! the files under it, the clock, the config (loaded on first use), the HTTP client (built on first
//! use: a cache hit never sets up TLS), and the output sinks (warnings collected for main to print,
//! `--debug` lines). Resolving what the user typed into a target is `target`'s job; the layers below
//! it receive resolved values and never come back here for paths or endpoints.

use crate::cli::TargetArgs;
use crate::config::Config;
use crate::error::Error;
use crate::http::{Http, HttpSettings};
use crate::network::ProxyConfig;
use chrono::{DateTime, Utc};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a credential_process run may take at most, whatever the network does (docs/refresh-and-locking.md).
pub const RUN_DEADLINE: Duration = Duration::from_secs(30);
/// Scoped config loads before `config_for` parses the whole config (see there).
const SCOPED_LOADS: usize = 4;

/// The process environment, captured once in main.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

/// Names only: values include AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and proxy passwords.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

/// One entry of `ENV_VARS`: variables read together, and what they do (for the man page).
pub struct EnvVar {
    pub names: &'static [&'static str],
    /// What they do, in a sentence (backticks for code); empty for a variable of the tests or of
    /// the program's own bookkeeping, which the man page leaves out.
    pub meaning: &'static str,
}

/// Every environment variable the program reads. The man page's ENVIRONMENT section is generated
/// from this list, and `Env` refuses (in debug builds, so in every test run) to read a variable that
/// is not on it: the two cannot drift apart.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        names: &["AWS_PROFILE", "AWS_DEFAULT_PROFILE"],
        meaning: "The profile when `--profile` is not given (then `default`).",
    },
    EnvVar {
        names: &["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"],
        meaning: "Where the config and credentials files are (~/.aws/config, ~/.aws/credentials).",
    },
    EnvVar {
        names: &["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"],
        meaning: "Endpoint overrides for SSO OIDC, the SSO portal and STS (roles assumed from SSO), as in the AWS CLI.",
    },
    EnvVar {
        names: &["AWS_ENDPOINT_URL_SIGNIN"],
        meaning: "Endpoint override for the console federation endpoint (`console`).",
    },
    EnvVar {
        names: &["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"],
        meaning: "`true`: ignore every endpoint override, from the environment and the config.",
    },
    EnvVar {
        names: &["AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"],
        meaning: "`true`: FIPS or dual-stack endpoints, as `use_fips_endpoint` and `use_dualstack_endpoint` in a profile.",
    },
    EnvVar {
        names: &[
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ],
        meaning: "Proxies, and the hosts reached without one.",
    },
    EnvVar { names: &["AWS_CA_BUNDLE"], meaning: "Extra trusted certificates (PEM), as `ca_bundle` in a profile." },
    EnvVar {
        names: &["AWS_REGION", "AWS_DEFAULT_REGION"],
        meaning: "The region of `console` and the SSO OIDC commands when set; `exec` sets both to the profile's region unless one is set.",
    },
    EnvVar {
        names: &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"],
        meaning: "The IAM credentials `create-token-with-iam` signs with when no `--source-profile` is given.",
    },
    EnvVar { names: &["BROWSER"], meaning: "The command that opens the sign-in page." },
    EnvVar {
        names: &["DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY"],
        meaning: "Whether `login` can use a browser here: without a display, or over SSH, it uses the device code flow.",
    },
    EnvVar {
        names: &["AWS_SSO_PROCESS_TTY"],
        meaning: "Where prompts go: `none` (stderr) or a file; by default /dev/tty.",
    },
    EnvVar {
        names: &["AWS_SSO_PROCESS_PROGRESS"],
        meaning: "Set (and not `0`): progress lines on stderr even when it is not a terminal.",
    },
    EnvVar { names: &["NO_COLOR", "TERM"], meaning: "`NO_COLOR` set, or `TERM=dumb`: no colour or bold text." },
    EnvVar {
        names: &["AWS_SSO_PROCESS_EXEC"],
        meaning: "Set by `exec` in the command's environment; a nested `exec` refuses to run unless `--force`.",
    },
    EnvVar {
        names: &["HOME", "XDG_CACHE_HOME", "PATH"],
        meaning: "The home folder (else the password database), where the config index is kept \
                  ($XDG_CACHE_HOME/aws-sso-process), and where `status` looks for a credential_process program.",
    },
    // Bookkeeping between our own processes, and the tests' clock and host.
    EnvVar { names: &["AWS_SSO_PROCESS_DEPTH", "AWS_SSO_PROCESS_CHAIN"], meaning: "" },
    EnvVar { names: &["AWS_SSO_PROCESS_NOW", "AWS_SSO_PROCESS_TEST_AWS_HOST"], meaning: "" },
];

/// Whether `name` is on `ENV_VARS`.
fn listed(name: &str) -> bool {
    ENV_VARS.iter().any(|v| v.names.contains(&name))
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment of these variables only (tests).
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env { vars: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    /// A variable's value; unset and empty are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(listed(name), "{name} is read but not on context::ENV_VARS");
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Whether a variable is set to nothing but spaces (or nothing at all): for the settings where
    /// that is an error rather than the same as unset.
    pub fn is_blank(&self, name: &str) -> bool {
        debug_assert!(listed(name), "{name} is read but not on context::ENV_VARS");
        self.vars.get(name).is_some_and(|v| v.trim().is_empty())
    }
}

pub struct Context {
    pub env: Env,
    pub home: PathBuf,
    pub debug: bool,
    started: Instant,
    /// `AWS_SSO_PROCESS_NOW`: a fixed clock for tests (golden outputs); `None` is the real clock.
    fixed_now: Option<DateTime<Utc>>,
    config: OnceCell<Config>,
    /// The config parsed for a few profiles only (`Scope::Profiles`): what resolving a target needs.
    /// Configs parsed for some profiles only, each covering what one lookup asked for: a
    /// credential_process chain (`dev` -> `dev-sso`) asks once per hop (see `config_for`).
    scoped_config: [OnceCell<Config>; SCOPED_LOADS],
    http: OnceCell<Http>,
    warnings: RefCell<Vec<String>>,
    command: RefCell<Option<String>>,
}

impl Context {
    pub fn new(env: Env, debug: bool) -> Result<Context, Error> {
        let home = env.get("HOME").map(PathBuf::from).or_else(dirs::home_dir).ok_or(Error::NoHome)?;
        let fixed_now = match env.get("AWS_SSO_PROCESS_NOW") {
            Some(text) => Some(crate::timefmt::parse(text).ok_or_else(|| Error::Other {
                what: "AWS_SSO_PROCESS_NOW is not a timestamp with a time zone".into(),
                hint: Some("it is a test knob: unset it, or use the form 2026-11-21T08:00:00Z".into()),
            })?),
            None => None,
        };
        Ok(Context {
            env,
            home,
            debug,
            started: Instant::now(),
            fixed_now,
            config: OnceCell::new(),
            scoped_config: Default::default(),
            http: OnceCell::new(),
            warnings: RefCell::new(Vec::new()),
            command: RefCell::new(None),
        })
    }

    /// The current time; `AWS_SSO_PROCESS_NOW` (a test knob, e.g. `2026-11-21T08:00:00Z`) fixes it so
    /// that outputs such as `status` can be compared with golden files.
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }

    /// A path with a leading `~/` taken as the home folder.
    pub fn expand(&self, path: &str) -> PathBuf {
        match path.strip_prefix("~/") {
            Some(rest) => self.home.join(rest),
            None if path == "~" => self.home.clone(),
            None => PathBuf::from(path),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.env.get("AWS_CONFIG_FILE").map(|p| self.expand(p)).unwrap_or_else(|| self.home.join(".aws/config"))
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.env
            .get("AWS_SHARED_CREDENTIALS_FILE")
            .map(|p| self.expand(p))
            .unwrap_or_else(|| self.home.join(".aws/credentials"))
    }

    pub fn sso_cache_dir(&self) -> PathBuf {
        self.home.join(".aws/sso/cache")
    }

    pub fn cli_cache_dir(&self) -> PathBuf {
        self.home.join(".aws/cli/cache")
    }

    /// Our own cache folder (never the AWS CLI's): `$XDG_CACHE_HOME/aws-sso-process` when that is an
    /// absolute path, else `~/.cache/aws-sso-process`. It holds the config index (src/config/index.rs).
    pub fn state_cache_dir(&self) -> PathBuf {
        let base = self.env.get("XDG_CACHE_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
        base.unwrap_or_else(|| self.home.join(".cache")).join("aws-sso-process")
    }

    /// The whole config: every profile, session and services section, and the warnings.
    pub fn config(&self) -> Result<&Config, Error> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let loaded = Config::load(&self.config_path(), &self.credentials_path())?;
        Ok(self.config.get_or_init(|| loaded))
    }

    /// A config that holds `profiles` (if the files have them) and every sso-session and services
    /// section: the whole config once it is loaded, else one parsed for these profiles only, which
    /// gives the same answers for them without building the thousands of others an organisation's
    /// generated config holds (docs/config-file.md, "The cache hit's index"). Asked later for a profile none covers, it parses for that one too
    /// (a credential_process chain asks once per hop), up to `SCOPED_LOADS` times, then the whole config.
    pub fn config_for(&self, profiles: &[&str]) -> Result<&Config, Error> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        for slot in &self.scoped_config {
            match slot.get() {
                Some(c) if profiles.iter().all(|p| c.covers(p)) => return Ok(c),
                Some(_) => continue,
                None => {
                    // Through the index when there is one, so each hop costs a few section reads.
                    let (config_path, credentials_path) = (self.config_path(), self.credentials_path());
                    let index =
                        crate::config::index::index_path(&self.state_cache_dir(), &config_path, &credentials_path);
                    let margin = crate::config::index::RACY_MARGIN;
                    let min_size = crate::config::index::MIN_INDEXED_SIZE;
                    let loaded = crate::config::index::load(
                        &config_path,
                        &credentials_path,
                        profiles,
                        &index,
                        margin,
                        min_size,
                    )?;
                    return Ok(slot.get_or_init(|| loaded));
                }
            }
        }
        // Longer chains than any real config has: the whole config answers everything.
        self.config()
    }

    pub fn http(&self) -> &Http {
        self.http.get_or_init(|| Http::new(self.http_settings()))
    }

    /// The settings `http()` is built with; commands that send from several threads build one
    /// `Http` per thread from them (`Http` is not `Sync`).
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            user_agent: format!(
                "aws-sso-process/{} os/{} md/arch#{}",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
            deadline: Some(self.started + RUN_DEADLINE),
            proxies: ProxyConfig::from_env(|k| self.env.get(k).map(str::to_owned)),
            debug: self.debug,
            ..HttpSettings::default()
        }
    }

    /// Whether stdout may carry colour: a terminal, and `NO_COLOR` unset (no-color.org).
    pub fn color_stdout(&self) -> bool {
        use std::io::IsTerminal;
        self.env.get("NO_COLOR").is_none() && std::io::stdout().is_terminal()
    }

    /// Whether long-running commands show a progress line on stderr: when stderr is a terminal,
    /// or with `AWS_SSO_PROCESS_PROGRESS=1` (a test knob).
    pub fn show_progress(&self) -> bool {
        use std::io::IsTerminal;
        self.env.get("AWS_SSO_PROCESS_PROGRESS").is_some_and(|v| v != "0") || std::io::stderr().is_terminal()
    }

    /// Gives the HTTP client a fresh `RUN_DEADLINE` (after a login, which may take minutes), or lifts it (`None`).
    pub fn reset_deadline(&self, from_now: Option<Duration>) {
        self.http().set_deadline(from_now.map(|d| Instant::now() + d));
    }

    /// Where interactive prompts go. `/dev/tty` by default; `AWS_SSO_PROCESS_TTY=none` means "no terminal"
    /// (prompts go to stderr) and any other value is a file to write them to: knobs for tests and automation.
    pub fn tty_path(&self) -> Option<PathBuf> {
        match self.env.get("AWS_SSO_PROCESS_TTY") {
            Some("none") => None,
            Some(path) => Some(self.expand(path)),
            None if cfg!(unix) => Some(PathBuf::from("/dev/tty")),
            None => None,
        }
    }

    /// The `BROWSER` command, when set.
    pub fn browser_command(&self) -> Option<&str> {
        self.env.get("BROWSER")
    }

    /// An SSH session: a browser here would open on the wrong machine (docs/login-flows.md).
    pub fn is_remote(&self) -> bool {
        self.env.get("SSH_CONNECTION").is_some() || self.env.get("SSH_TTY").is_some()
    }

    /// Whether a graphical session is there to open a browser in (macOS and Windows always have one;
    /// elsewhere it takes `DISPLAY` or `WAYLAND_DISPLAY`).
    pub fn has_display(&self) -> bool {
        if cfg!(any(target_os = "macos", windows)) {
            return true;
        }
        self.env.get("DISPLAY").is_some() || self.env.get("WAYLAND_DISPLAY").is_some()
    }

    /// Whether a browser can be opened at all: `BROWSER` is set, or a local graphical session.
    pub fn can_open_browser(&self) -> bool {
        self.browser_command().is_some() || (!self.is_remote() && self.has_display())
    }

    pub fn warn(&self, message: impl Into<String>) {
        let message = message.into();
        let mut warnings = self.warnings.borrow_mut();
        if !warnings.contains(&message) {
            warnings.push(message);
        }
    }

    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.warnings.borrow_mut())
    }

    /// Prints the collected warnings on stderr, once each (main does at the end; `exec` before it hands over).
    pub fn print_warnings(&self) {
        for warning in self.take_warnings() {
            errln!("aws-sso-process: warning: {}", crate::sanitize::sanitize(&warning));
        }
    }

    /// `--debug` output on stderr. Callers never pass secrets; the text is sanitised anyway.
    pub fn debug(&self, message: impl FnOnce() -> String) {
        if self.debug {
            errln!("aws-sso-process: debug: {}", crate::sanitize::sanitize(&message()));
        }
    }

    /// The profile named on the command line or in the environment (CLI v2 order).
    pub fn profile_name(&self, spec: &TargetArgs) -> String {
        spec.profile
            .clone()
            .or_else(|| self.env.get("AWS_PROFILE").map(str::to_owned))
            .or_else(|| self.env.get("AWS_DEFAULT_PROFILE").map(str::to_owned))
            .unwrap_or_else(|| "default".to_owned())
    }

    /// `--debug`: which endpoint a call goes to (URL without credentials); hands the endpoint back.
    pub fn endpoint_used(
        &self,
        service: crate::endpoints::Service,
        endpoint: crate::endpoints::Endpoint,
    ) -> crate::endpoints::Endpoint {
        self.debug(|| format!("{} endpoint: {}", service.name(), crate::sanitize::display_url(&endpoint.url)));
        endpoint
    }

    /// What the user ran, for hints that repeat it: `aws-sso-process login`, or `aws-sso-process` for
    /// the credential output. `None` when not known (tests).
    pub fn command_label(&self) -> Option<String> {
        self.command.borrow().clone()
    }

    pub fn set_command(&self, subcommand: Option<&str>) {
        *self.command.borrow_mut() = Some(match subcommand {
            Some(sub) => format!("aws-sso-process {sub}"),
            None => "aws-sso-process".to_owned(),
        });
    }
}

/// Quotes a value for a shell command line when it needs it.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_debug_shows_names_only() {
        let env = Env { vars: HashMap::from([("AWS_SECRET_ACCESS_KEY".to_owned(), "SECRET-VALUE".to_owned())]) };
        let shown = format!("{env:?}");
        assert!(shown.contains("AWS_SECRET_ACCESS_KEY") && !shown.contains("SECRET-VALUE"), "{shown}");
    }
}
