//! What a run knows about its surroundings: the environment (read once, here), the home folder,
//! the config (loaded on first use), the HTTP client (built on first use: a cache hit never sets
//! up TLS), and the warnings collected for main to print.
//!
//! It also resolves the command-line target into typed settings: which SSO session, which
//! account and role, which profile supplies endpoint settings, and how a login is spelled.

use crate::config::{Config, SsoSession};
use crate::endpoints::{self, Endpoint, EndpointInputs, Service};
use crate::error::Error;
use crate::http::{Http, HttpSettings};
use crate::network::{CaBundle, ProxyConfig};
use chrono::{DateTime, Utc};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a credential_process run may take at most, whatever the network does (SPEC A.3).
pub const RUN_DEADLINE: Duration = Duration::from_secs(30);

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

impl Env {
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// A variable's value; unset and empty are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Whether a variable is set to nothing but spaces (or nothing at all): for the settings where
    /// that is an error rather than the same as unset.
    pub fn is_blank(&self, name: &str) -> bool {
        self.vars.get(name).is_some_and(|v| v.trim().is_empty())
    }
}

/// The SSO session a command works on, with what is needed around it.
#[derive(Debug, Clone)]
pub struct SessionTarget {
    pub session: SsoSession,
    /// The profile whose endpoint and network settings apply (if it exists in the config).
    pub settings_profile: Option<String>,
    /// How to select this session on a login command line: `--sso-session corp` / `--profile dev`.
    pub login_args: String,
    /// A short name for status lines: the session name, or the profile for a legacy target.
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct RoleTarget {
    pub session: SessionTarget,
    pub account_id: String,
    pub role_name: String,
}

/// The target as typed on the command line (no I/O done yet).
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    pub profile: Option<String>,
    pub sso_session: Option<String>,
    pub start_url: Option<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub role_name: Option<String>,
}

pub struct Context {
    pub env: Env,
    pub home: PathBuf,
    pub debug: bool,
    started: Instant,
    /// `AWS_SSO_PROCESS_NOW`: a fixed clock for tests (golden outputs); `None` is the real clock.
    fixed_now: Option<DateTime<Utc>>,
    config: OnceCell<Config>,
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

    pub fn config(&self) -> Result<&Config, Error> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let loaded = Config::load(&self.config_path(), &self.credentials_path())?;
        Ok(self.config.get_or_init(|| loaded))
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

    /// An SSH session: a browser here would open on the wrong machine (SPEC Part C 14).
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
            eprintln!("aws-sso-process: warning: {}", crate::sanitize::sanitize(&warning));
        }
    }

    /// `--debug` output on stderr. Callers never pass secrets; the text is sanitised anyway.
    pub fn debug(&self, message: impl FnOnce() -> String) {
        if self.debug {
            eprintln!("aws-sso-process: debug: {}", crate::sanitize::sanitize(&message()));
        }
    }

    /// The profile named on the command line or in the environment (CLI v2 order).
    pub fn profile_name(&self, spec: &TargetSpec) -> String {
        spec.profile
            .clone()
            .or_else(|| self.env.get("AWS_PROFILE").map(str::to_owned))
            .or_else(|| self.env.get("AWS_DEFAULT_PROFILE").map(str::to_owned))
            .unwrap_or_else(|| "default".to_owned())
    }

    /// The SSO session selected by `spec` (see `target`).
    pub fn session_target(&self, spec: &TargetSpec) -> Result<SessionTarget, Error> {
        crate::target::session_target(self, spec)
    }

    /// Session, account and role selected by `spec` (see `target`).
    pub fn role_target(&self, spec: &TargetSpec) -> Result<RoleTarget, Error> {
        crate::target::role_target(self, spec)
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

    /// The base URL of a service for this session (SPEC B.3), with the CA bundle that applies.
    pub fn endpoint(&self, service: Service, target: &SessionTarget) -> Result<Endpoint, Error> {
        if target.session.region.is_empty() {
            let region = self.region_found_by_login(target)?;
            return self.endpoint_in(service, &region, target.settings_profile.as_deref());
        }
        self.endpoint_in(service, &target.session.region, target.settings_profile.as_deref())
    }

    /// A session without `sso_region` (allowed when its start URL is not on an AWS domain): the
    /// region the last login found, from the token file it wrote (docs/login.md).
    fn region_found_by_login(&self, target: &SessionTarget) -> Result<String, Error> {
        let doc = crate::cache::read_object(&self.token_path(&target.session)).ok().flatten();
        let region = doc.as_ref().and_then(|d| d.get("region")).and_then(|r| r.as_str());
        match region
            .filter(|r| (1..=40).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            Some(region) => Ok(region.to_owned()),
            None => Err(Error::LoginRequired {
                what: format!(
                    "{} has no sso_region, and no login has found it yet (its start URL is not on an AWS domain)",
                    target.label
                ),
                login_args: target.login_args.clone(),
                cause: None,
            }),
        }
    }

    /// The base URL of a service in `region`, with the endpoint settings of `settings_profile` (SPEC B.3),
    /// and the CA bundle that applies: `AWS_CA_BUNDLE`, else the settings profile's `ca_bundle`
    /// (botocore's order). The bundle is only named here; it is read when a TLS request is about to be sent.
    pub fn endpoint_in(
        &self,
        service: Service,
        region: &str,
        settings_profile: Option<&str>,
    ) -> Result<Endpoint, Error> {
        let config = self.config()?;
        let profile = settings_profile.and_then(|p| config.profile(p));
        let env = |name: &str| self.env.get(name).map(str::to_owned);
        let custom = endpoints::configured_endpoint(service, &EndpointInputs { env: &env, profile, config })?;
        let fips = endpoints::flag(env("AWS_USE_FIPS_ENDPOINT"), profile.and_then(|p| p.get("use_fips_endpoint")));
        let dualstack =
            endpoints::flag(env("AWS_USE_DUALSTACK_ENDPOINT"), profile.and_then(|p| p.get("use_dualstack_endpoint")));
        let url = endpoints::resolve(service, region, fips, dualstack, custom.as_deref())?;
        self.debug(|| format!("{} endpoint: {}", service.name(), crate::sanitize::display_url(&url)));
        let ca_bundle = self.ca_bundle(profile)?;
        Ok(Endpoint { url, ca_bundle })
    }

    /// The CA bundle that applies: `AWS_CA_BUNDLE`, else the profile's `ca_bundle` (botocore's order).
    /// Either one set to an empty value is a configuration error, as in the AWS CLI since 2.36.6
    /// (docs/networks.md), not the same as unset: the variable wins even then.
    pub fn ca_bundle(&self, profile: Option<&crate::config::Section>) -> Result<Option<CaBundle>, Error> {
        const PEM: &str = "a PEM file of CA certificates";
        if self.env.is_blank("AWS_CA_BUNDLE") {
            return Err(Error::Other {
                what: "AWS_CA_BUNDLE is set to an empty value".to_owned(),
                hint: Some(format!("set AWS_CA_BUNDLE to {PEM}, or unset it to trust the usual roots")),
            });
        }
        if let Some(path) = self.env.get("AWS_CA_BUNDLE") {
            return Ok(Some(CaBundle { path: self.expand(path), source_name: "AWS_CA_BUNDLE".to_owned() }));
        }
        let Some(profile) = profile else { return Ok(None) };
        match profile.get("ca_bundle") {
            None => Ok(None),
            Some(path) if path.trim().is_empty() => {
                let label = if profile.name == "default" {
                    "[default]".to_owned()
                } else {
                    format!("[profile {}]", profile.name)
                };
                Err(Error::Other {
                    what: format!("ca_bundle in {label} is empty"),
                    hint: Some(format!("set ca_bundle to {PEM}, or remove the line to trust the usual roots")),
                })
            }
            Some(path) => Ok(Some(CaBundle {
                path: self.expand(path.trim()),
                source_name: format!("ca_bundle of profile {}", profile.name),
            })),
        }
    }

    pub fn token_path(&self, session: &SsoSession) -> PathBuf {
        self.sso_cache_dir()
            .join(format!("{}.json", crate::cache::token_key(session.name.as_deref(), &session.start_url)))
    }

    pub fn role_path(&self, target: &RoleTarget) -> PathBuf {
        let s = &target.session.session;
        let key = crate::cache::role_key(&target.account_id, &target.role_name, s.name.as_deref(), &s.start_url);
        self.cli_cache_dir().join(format!("{key}.json"))
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
