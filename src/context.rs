//! What a run knows about its surroundings: the environment (read once, here), the home folder,
//! the config (loaded on first use), the HTTP client (built on first use: a cache hit never sets
//! up TLS), and the warnings collected for main to print.
//!
//! It also resolves the command-line target into typed settings: which SSO session, which
//! account and role, which profile supplies endpoint settings, and how a login is spelled.

use crate::config::{Config, ConfigError, Scope, SsoSession};
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
    /// The config parsed for a few profiles only (`Scope::Profiles`): what resolving a target needs.
    scoped_config: OnceCell<Config>,
    http: OnceCell<Http>,
    warnings: RefCell<Vec<String>>,
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
            scoped_config: OnceCell::new(),
            http: OnceCell::new(),
            warnings: RefCell::new(Vec::new()),
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
    /// generated config holds (issue 16). Asked later for a profile it lacks, it loads the whole config.
    pub fn config_for(&self, profiles: &[&str]) -> Result<&Config, Error> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        match self.scoped_config.get() {
            Some(c) if profiles.iter().all(|p| c.covers(p)) => Ok(c),
            Some(_) => self.config(),
            None => {
                let loaded =
                    Config::load_scoped(&self.config_path(), &self.credentials_path(), Scope::Profiles(profiles))?;
                Ok(self.scoped_config.get_or_init(|| loaded))
            }
        }
    }

    /// The config for resolving `spec`: with its profile, and the one the environment names (the
    /// settings profile of `--sso-session` and `--start-url`).
    fn target_config(&self, spec: &TargetSpec) -> Result<&Config, Error> {
        let (named, from_env) = (self.profile_name(spec), self.profile_name(&TargetSpec::default()));
        self.config_for(&[&named, &from_env])
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
            eprintln!("aws-sso-process: warning: {}", crate::http::sanitize(&warning));
        }
    }

    /// `--debug` output on stderr. Callers never pass secrets; the text is sanitised anyway.
    pub fn debug(&self, message: impl FnOnce() -> String) {
        if self.debug {
            eprintln!("aws-sso-process: debug: {}", crate::http::sanitize(&message()));
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

    /// The SSO session selected by `spec` (no account or role needed).
    pub fn session_target(&self, spec: &TargetSpec) -> Result<SessionTarget, Error> {
        let config = self.target_config(spec)?;
        if let Some(name) = &spec.sso_session {
            let session = config.sso_session(name)?;
            let settings_profile =
                Some(self.profile_name(&TargetSpec::default())).filter(|p| config.profile(p).is_some());
            return Ok(SessionTarget {
                session,
                settings_profile,
                login_args: format!("--sso-session {}", shell_word(name)),
                label: name.clone(),
            });
        }
        if let Some(start_url) = &spec.start_url {
            let region = spec
                .region
                .clone()
                .ok_or_else(|| Error::Usage("--start-url needs --region (the sso_region of the start URL)".into()))?;
            let settings_profile =
                Some(self.profile_name(&TargetSpec::default())).filter(|p| config.profile(p).is_some());
            return Ok(SessionTarget {
                login_args: format!("--start-url {} --region {}", shell_word(start_url), shell_word(&region)),
                label: start_url.clone(),
                session: SsoSession { name: None, start_url: start_url.clone(), region, scopes: Vec::new() },
                settings_profile,
            });
        }
        let profile = self.profile_name(spec);
        let session = config.profile_session(&profile).map_err(|e| self.explain_not_sso(e))?;
        let (login_args, label) = match &session.name {
            Some(name) => (format!("--sso-session {}", shell_word(name)), name.clone()),
            None => (format!("--profile {}", shell_word(&profile)), format!("profile {profile}")),
        };
        Ok(SessionTarget { session, settings_profile: Some(profile), login_args, label })
    }

    /// Session, account and role selected by `spec`; flags override the profile's values.
    pub fn role_target(&self, spec: &TargetSpec) -> Result<RoleTarget, Error> {
        if spec.sso_session.is_some() || spec.start_url.is_some() {
            let session = self.session_target(spec)?;
            let (Some(account_id), Some(role_name)) = (&spec.account_id, &spec.role_name) else {
                let flag = if spec.sso_session.is_some() { "--sso-session" } else { "--start-url" };
                return Err(Error::Usage(format!("{flag} needs --account-id and --role-name")));
            };
            return Ok(RoleTarget { session, account_id: account_id.clone(), role_name: role_name.clone() });
        }
        let profile = self.profile_name(spec);
        let config = self.target_config(spec)?;
        let (account_id, role_name) = match (&spec.account_id, &spec.role_name) {
            (Some(a), Some(r)) => (a.clone(), r.clone()),
            _ => {
                let t = config.profile_target(&profile).map_err(|e| self.explain_not_sso(e))?;
                (spec.account_id.clone().unwrap_or(t.account_id), spec.role_name.clone().unwrap_or(t.role_name))
            }
        };
        Ok(RoleTarget { session: self.session_target(spec)?, account_id, role_name })
    }

    /// A profile without sso_* keys whose `credential_process` runs us is the profile tools use, not
    /// the SSO target: say which target its line names (a common slip, also via AWS_PROFILE).
    fn explain_not_sso(&self, e: ConfigError) -> Error {
        let ConfigError::NotSso { profile } = &e else { return e.into() };
        let config = self.config.get().or(self.scoped_config.get()).filter(|c| c.covers(profile));
        let process = config.and_then(|c| c.profile(profile)).and_then(|p| p.get("credential_process"));
        let Some(args) = process.and_then(|line| {
            let mut words = line.split_whitespace();
            let program = words.next()?;
            program.rsplit('/').next()?.starts_with("aws-sso-process").then(|| words.collect::<Vec<_>>().join(" "))
        }) else {
            return e.into();
        };
        Error::Other {
            what: format!(
                "profile {profile} has no sso_* keys: it is the profile tools use, and its credential_process runs 'aws-sso-process {args}'"
            ),
            hint: Some(format!("run 'aws-sso-process {args}' (the target that line names)")),
        }
    }

    /// The base URL of a service for this session (SPEC B.3), with the CA bundle that applies.
    pub fn endpoint(&self, service: Service, target: &SessionTarget) -> Result<Endpoint, Error> {
        self.endpoint_in(service, &target.session.region, target.settings_profile.as_deref())
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
        let config = self.config_for(settings_profile.as_slice())?;
        let profile = settings_profile.and_then(|p| config.profile(p));
        let env = |name: &str| self.env.get(name).map(str::to_owned);
        let custom = endpoints::configured_endpoint(service, &EndpointInputs { env: &env, profile, config })?;
        let fips = endpoints::flag(env("AWS_USE_FIPS_ENDPOINT"), profile.and_then(|p| p.get("use_fips_endpoint")));
        let dualstack =
            endpoints::flag(env("AWS_USE_DUALSTACK_ENDPOINT"), profile.and_then(|p| p.get("use_dualstack_endpoint")));
        let url = endpoints::resolve(service, region, fips, dualstack, custom.as_deref())?;
        self.debug(|| format!("{} endpoint: {}", service.name(), crate::http::display_url(&url)));
        let ca_bundle = self.ca_bundle(profile);
        Ok(Endpoint { url, ca_bundle })
    }

    /// The CA bundle that applies: `AWS_CA_BUNDLE`, else the profile's `ca_bundle` (botocore's order).
    pub fn ca_bundle(&self, profile: Option<&crate::config::Section>) -> Option<CaBundle> {
        match (self.env.get("AWS_CA_BUNDLE"), profile.and_then(|p| p.get("ca_bundle"))) {
            (Some(path), _) => Some(CaBundle { path: self.expand(path), source_name: "AWS_CA_BUNDLE".to_owned() }),
            (None, Some(path)) if !path.trim().is_empty() => Some(CaBundle {
                path: self.expand(path.trim()),
                source_name: format!("ca_bundle of profile {}", profile.map(|p| p.name.as_str()).unwrap_or_default()),
            }),
            _ => None,
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
