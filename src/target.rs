//! Resolution: what the user typed (flags, `AWS_PROFILE`) and the config → the SSO session, account
//! and role a command works on. Every command resolves through here, so every command accepts the
//! same names (docs/config-file.md):
//!
//! - the profile tools use: a profile whose `credential_process` runs `aws-sso-process` resolves to the
//!   target that line names (the line is split into shell words as botocore splits it, then parsed by
//!   our own command-line parser, so any path, flag order and quoting works);
//! - one default for every command: `AWS_PROFILE` / `AWS_DEFAULT_PROFILE`, then `[default]`, then the
//!   config's only sso-session;
//! - loops (`dev -> dev-sso -> dev`) and unknown names (with the closest known ones) explain themselves.
//!
//! The config rules themselves (which keys make an SSO profile, botocore's validation) are `config`'s;
//! see docs/config-file.md and docs/credential-process.md.

use crate::cli::TargetArgs;
use crate::config::{Config, ConfigError, Section, SsoSession};
use crate::context::{Context, shell_word};
use crate::endpoints::{self, Endpoint, EndpointError, Service};
use crate::error::Error;
use crate::network::CaBundle;
use clap::Parser;
use std::path::PathBuf;

/// The SSO session a command works on, with everything the layers below need: the token file, the
/// folder of client registrations, and where its calls go. Built here, handed down, never resolved
/// again below.
#[derive(Debug, Clone)]
pub struct SessionTarget {
    pub session: SsoSession,
    /// The profile whose endpoint and network settings apply (if it exists in the config).
    pub settings_profile: Option<String>,
    /// How to select this session on a login command line: `--sso-session corp` / `--profile dev`.
    pub login_args: String,
    /// A short name for status lines: the session name, or the profile for a legacy target.
    pub label: String,
    /// The token file the AWS CLI shares (docs/shared-cache.md).
    pub token_path: PathBuf,
    /// `~/.aws/sso/cache`, where client registrations live beside the token files.
    pub registration_dir: PathBuf,
    /// The config file, for the one edit a login may make (the `sso_region` a vanity URL names).
    pub config_path: PathBuf,
    /// Endpoint overrides, FIPS/dual-stack and the CA bundle (everything but the region).
    pub endpoints: endpoints::Settings,
}

impl SessionTarget {
    /// The endpoint of `service` for this session: in its `sso_region`, or (a vanity start URL
    /// configured without one) in the region its last login found.
    pub fn endpoint(&self, service: Service) -> Result<Endpoint, Error> {
        Ok(self.endpoints.endpoint(service, &self.sso_region()?)?)
    }

    /// The session's `sso_region`, or (a vanity start URL configured without one) the region its
    /// last login found; an error naming the login to run when neither is known. Never empty.
    pub fn sso_region(&self) -> Result<String, Error> {
        if self.session.region.is_empty() { self.region_found_by_login() } else { Ok(self.session.region.clone()) }
    }

    /// The same session in another region (a login that found the region from the start URL).
    pub fn in_region(&self, region: &str) -> SessionTarget {
        SessionTarget { session: SsoSession { region: region.to_owned(), ..self.session.clone() }, ..self.clone() }
    }

    /// A session without `sso_region` (allowed when its start URL is not on an AWS domain): the
    /// region the last login found, from the token file it wrote (docs/login.md).
    fn region_found_by_login(&self) -> Result<String, Error> {
        let doc = crate::cache::read_object(&self.token_path).ok().flatten();
        if doc.is_none() && !self.token_path.exists() {
            // The usual case first: nobody has logged in yet.
            return Err(Error::LoginRequired {
                what: format!("no cached SSO token for {} (looked for {})", self.label, self.token_path.display()),
                login_args: self.login_args.clone(),
                cause: None,
            });
        }
        let region = doc.as_ref().and_then(|d| d.get("region")).and_then(|r| r.as_str());
        match region.filter(|r| endpoints::is_host_label(r)) {
            Some(region) => Ok(region.to_owned()),
            None => Err(Error::LoginRequired {
                what: format!(
                    "{} has no sso_region, and no login has found it yet (its start URL is not on an AWS domain)",
                    self.label
                ),
                login_args: self.login_args.clone(),
                cause: None,
            }),
        }
    }
}

/// An account and role of a session, with the role-credential cache file the AWS CLI shares.
#[derive(Debug, Clone)]
pub struct RoleTarget {
    pub session: SessionTarget,
    pub account_id: String,
    pub role_name: String,
    pub role_path: PathBuf,
    /// `aws_sso_process_auto_login = true` on the profile tools use or the SSO profile it names.
    pub auto_login: bool,
}

impl RoleTarget {
    pub fn new(
        session: SessionTarget,
        account_id: String,
        role_name: String,
        cli_cache_dir: &std::path::Path,
    ) -> RoleTarget {
        let s = &session.session;
        let key = crate::cache::role_key(&account_id, &role_name, s.name.as_deref(), &s.start_url);
        let role_path = cli_cache_dir.join(format!("{key}.json"));
        RoleTarget { session, account_id, role_name, role_path, auto_login: false }
    }
}

/// A session target for `session`, with the endpoint and network settings of `settings_profile`
/// (for commands that find sessions in the config or in the cache folder themselves).
pub fn session(
    ctx: &Context,
    session: SsoSession,
    settings_profile: Option<String>,
    login_args: String,
    label: String,
) -> SessionTarget {
    let token_path = token_path(ctx, &session);
    let endpoints = endpoint_settings(ctx, settings_profile.as_deref());
    SessionTarget {
        session,
        settings_profile,
        login_args,
        label,
        token_path,
        registration_dir: ctx.sso_cache_dir(),
        config_path: ctx.config_path(),
        endpoints,
    }
}

/// The token file of `session` (docs/shared-cache.md).
pub fn token_path(ctx: &Context, session: &SsoSession) -> PathBuf {
    ctx.sso_cache_dir().join(format!("{}.json", crate::cache::token_key(session.name.as_deref(), &session.start_url)))
}

/// Endpoint overrides, FIPS and dual-stack flags and the CA bundle from the environment and the
/// settings profile (docs/endpoints.md, docs/networks.md). Nothing is read from the network or disk.
pub fn endpoint_settings(ctx: &Context, settings_profile: Option<&str>) -> endpoints::Settings {
    // Without a settings profile the config has nothing to say (only a profile names a services
    // section), so it is not read: `setup` asks for these settings before it writes the config.
    let none = Config::default();
    let loaded = match settings_profile {
        Some(name) => ctx.config_for(&[name]),
        None => Ok(&none),
    };
    let config = loaded.as_ref().ok().copied();
    let profile = settings_profile.and_then(|p| config?.profile(p));
    let env = |name: &str| ctx.env.get(name).map(str::to_owned);
    let custom = |service| match (config, &loaded) {
        (Some(config), _) => configured_endpoint(service, &EndpointInputs { env: &env, profile, config }),
        (None, Err(e)) => Err(EndpointError::ConfigUnreadable { what: crate::error::chain(e) }),
        (None, Ok(_)) => Ok(None),
    };
    endpoints::Settings {
        oidc: custom(Service::Oidc),
        portal: custom(Service::Portal),
        sts: custom(Service::Sts),
        fips: endpoints::flag(env("AWS_USE_FIPS_ENDPOINT"), profile.and_then(|p| p.get("use_fips_endpoint"))),
        dualstack: endpoints::flag(
            env("AWS_USE_DUALSTACK_ENDPOINT"),
            profile.and_then(|p| p.get("use_dualstack_endpoint")),
        ),
        ca_bundle: ca_bundle(ctx, profile),
    }
}

/// Where the settings for endpoint resolution come from: environment values and the active profile.
pub struct EndpointInputs<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub profile: Option<&'a Section>,
    pub config: &'a Config,
}

/// An `endpoint_url` override, in SDK precedence order, or `None` for the partition default.
pub fn configured_endpoint(service: Service, inputs: &EndpointInputs) -> Result<Option<String>, EndpointError> {
    let env = inputs.env;
    let ignore_env = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    let ignore_profile = inputs.profile.and_then(|p| p.get("ignore_configured_endpoint_urls"));
    if endpoints::is_true(ignore_env.as_deref().or(ignore_profile)) {
        return Ok(None);
    }
    let checked = |url: String, source_name: String| -> Result<Option<String>, EndpointError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            Ok(Some(url.trim_end_matches('/').to_owned()))
        } else {
            Err(EndpointError::InvalidUrl { url, source_name })
        }
    };
    if let Some(url) = env(service.env_var()).filter(|v| !v.is_empty()) {
        return checked(url, service.env_var().to_owned());
    }
    if let Some(url) = env("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()) {
        return checked(url, "AWS_ENDPOINT_URL".to_owned());
    }
    let Some(profile) = inputs.profile else { return Ok(None) };
    if let Some(section_name) = profile.get("services") {
        let section = inputs.config.services.get(section_name).ok_or_else(|| {
            EndpointError::ServicesSectionMissing { profile: profile.name.clone(), section: section_name.to_owned() }
        })?;
        for key in service.services_keys() {
            if let Some(url) = section.nested(key).and_then(|block| block.get("endpoint_url")) {
                return checked(url.clone(), format!("[services {section_name}] {key}"));
            }
        }
    }
    if let Some(url) = profile.get("endpoint_url").filter(|v| !v.is_empty()) {
        return checked(url.to_owned(), format!("profile {} endpoint_url", profile.name));
    }
    Ok(None)
}

/// The CA bundle that applies: `AWS_CA_BUNDLE`, else the profile's `ca_bundle` (botocore's order).
/// Either one set to an empty value is a configuration error, as in the AWS CLI since 2.36.6
/// (docs/networks.md), not the same as unset: the variable wins even then. The bundle is only named
/// here; it is read when a TLS request is about to be sent.
pub fn ca_bundle(ctx: &Context, profile: Option<&Section>) -> Result<Option<CaBundle>, EndpointError> {
    const PEM: &str = "a PEM file of CA certificates";
    if ctx.env.is_blank("AWS_CA_BUNDLE") {
        return Err(EndpointError::EmptyCaBundle {
            what: "AWS_CA_BUNDLE is set to an empty value".to_owned(),
            hint: format!("set AWS_CA_BUNDLE to {PEM}, or unset it to trust the usual roots"),
        });
    }
    if let Some(path) = ctx.env.get("AWS_CA_BUNDLE") {
        return Ok(Some(CaBundle { path: ctx.expand(path), source_name: "AWS_CA_BUNDLE".to_owned() }));
    }
    let Some(profile) = profile else { return Ok(None) };
    match profile.get("ca_bundle") {
        None => Ok(None),
        Some(path) if path.trim().is_empty() => Err(EndpointError::EmptyCaBundle {
            what: format!("ca_bundle in {} is empty", section_label(&profile.name)),
            hint: format!("set ca_bundle to {PEM}, or remove the line to trust the usual roots"),
        }),
        Some(path) => Ok(Some(CaBundle {
            path: ctx.expand(path.trim()),
            source_name: format!("ca_bundle of profile {}", profile.name),
        })),
    }
}

/// The profile key that turns auto-login on (on the profile tools use, or the SSO profile it names).
pub const AUTO_LOGIN_KEY: &str = "aws_sso_process_auto_login";

/// How deep `credential_process` lines may point at each other before we call it a loop anyway.
const MAX_HOPS: usize = 8;

/// Why this profile was chosen, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Flag,
    Env(&'static str),
    Default,
    /// Named by the `credential_process` line of the previous profile in the chain.
    Line,
}

/// The SSO session selected by `spec` (no account or role needed).
pub fn session_target(ctx: &Context, spec: &TargetArgs) -> Result<SessionTarget, Error> {
    // A profile that assumes a role: the SSO session at the root of its chain.
    if let Some(chain) = chain_target(ctx, spec)? {
        return Ok(chain.root.session);
    }
    Ok(resolve(ctx, spec, false)?.session)
}

/// Session, account and role selected by `spec`; `--account-id`/`--role-name` override what the
/// profile says.
pub fn role_target(ctx: &Context, spec: &TargetArgs) -> Result<RoleTarget, Error> {
    let found = resolve(ctx, spec, true)?;
    let (Some(account_id), Some(role_name)) = (found.account_id, found.role_name) else {
        return Err(found.no_role);
    };
    let mut target = RoleTarget::new(found.session, account_id, role_name, &ctx.cli_cache_dir());
    target.auto_login = found.auto_login;
    Ok(target)
}

/// What a role target is called where a person reads it (`AWS_SSO_PROCESS_EXEC`, the console and
/// serve banners): the profile, or session/account/role without one.
pub fn label(ctx: &Context, spec: &TargetArgs, target: &RoleTarget) -> String {
    if let Some(profile) = named_profile(ctx, spec) {
        profile
    } else {
        format!("{}/{}/{}", target.session.label, target.account_id, target.role_name)
    }
}

/// The name of the profile the user (or the environment) named, as tools would use it; `None` when
/// nothing names one. `--sso-session`/`--start-url` targets have none.
pub fn named_profile(ctx: &Context, spec: &TargetArgs) -> Option<String> {
    if spec.sso_session.is_some() || spec.start_url.is_some() {
        return None;
    }
    chosen_profile(ctx, spec).map(|(name, _)| name)
}

/// The `region` a tool using this target would get from the config: that of the profile the user
/// named (the one tools use, `dev`), else that of the profile with the sso_* keys it leads to. An
/// empty value counts as none. The environment's `AWS_REGION` is the caller's to check first.
pub fn profile_region(ctx: &Context, spec: &TargetArgs, target: &RoleTarget) -> Result<Option<String>, Error> {
    let names: Vec<String> =
        [named_profile(ctx, spec), target.session.settings_profile.clone()].into_iter().flatten().collect();
    let lookup: Vec<&str> = names.iter().map(String::as_str).collect();
    let config = ctx.config_for(&lookup)?;
    Ok(lookup.iter().find_map(|name| {
        let region = config.profile(name)?.get("region")?.trim();
        (!region.is_empty()).then(|| region.to_owned())
    }))
}

struct Found {
    session: SessionTarget,
    account_id: Option<String>,
    role_name: Option<String>,
    /// The profile with the sso_* keys, when the target came from one.
    profile: Option<String>,
    /// What to say when a role is needed and none was named.
    no_role: Error,
    /// Auto-login is configured on a profile of the chain.
    auto_login: bool,
}

fn chosen_profile(ctx: &Context, spec: &TargetArgs) -> Option<(String, Origin)> {
    if let Some(p) = &spec.profile {
        return Some((p.clone(), Origin::Flag));
    }
    for var in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"] {
        if let Some(p) = ctx.env.get(var) {
            return Some((p.to_owned(), Origin::Env(var)));
        }
    }
    None
}

/// The config holding the profiles `names` and every sso-session and services section: on the
/// credential path a config parsed for these profiles only, so the cost of a cache hit does not grow
/// with the thousands of profiles an organisation's generated config holds (docs/config-file.md).
fn config_with<'c>(ctx: &'c Context, names: &[&str]) -> Result<&'c Config, Error> {
    let settings = settings_profile_name(ctx);
    let mut all: Vec<&str> = names.to_vec();
    all.extend([settings.as_str(), "default"]);
    ctx.config_for(&all)
}

/// The profile whose endpoint and network settings apply to `--sso-session` and `--start-url`
/// targets: the one the environment names, else `default`.
fn settings_profile_name(ctx: &Context) -> String {
    chosen_profile(ctx, &TargetArgs::default()).map(|(p, _)| p).unwrap_or_else(|| "default".to_owned())
}

fn resolve(ctx: &Context, spec: &TargetArgs, want_role: bool) -> Result<Found, Error> {
    let mut chain: Vec<String> = Vec::new();
    let mut next = spec.clone();
    loop {
        let named = next.profile.clone().or_else(|| chosen_profile(ctx, &next).map(|(p, _)| p));
        let config = config_with(ctx, named.as_slice().iter().map(String::as_str).collect::<Vec<_>>().as_slice())?;
        match resolve_one(ctx, config, &next, &chain, want_role)? {
            Step::Done(found) => {
                let mut found = *found;
                // Flags the user typed win over whatever a credential_process line or profile says.
                found.account_id = spec.account_id.clone().or(found.account_id);
                found.role_name = spec.role_name.clone().or(found.role_name);
                // `aws_sso_process_auto_login = true` on any profile of the chain (the one tools use,
                // or the SSO profile its line names) turns auto-login on.
                let names: Vec<&str> = chain.iter().chain(found.profile.as_ref()).map(String::as_str).collect();
                let config = config_with(ctx, &names)?;
                found.auto_login = chain
                    .iter()
                    .chain(found.profile.as_ref())
                    .filter_map(|p| config.profile(p)?.get(AUTO_LOGIN_KEY))
                    .any(|v| v.trim().eq_ignore_ascii_case("true"));
                return Ok(found);
            }
            Step::Follow { from, target } => {
                chain.push(from);
                if chain.len() > MAX_HOPS {
                    return Err(loop_error(&chain, None));
                }
                next = target;
            }
        }
    }
}

enum Step {
    Done(Box<Found>),
    /// `from` has no sso_* keys but its credential_process names `next`.
    Follow {
        from: String,
        target: TargetArgs,
    },
}

fn resolve_one(
    ctx: &Context,
    config: &Config,
    spec: &TargetArgs,
    chain: &[String],
    want_role: bool,
) -> Result<Step, Error> {
    let settings_profile = || Some(settings_profile_name(ctx)).filter(|p| config.profile(p).is_some());
    let role_flags_needed = |flag: &str| {
        Error::Usage(format!(
            "{flag} needs --account-id and --role-name to name a role (it only names the SSO session)"
        ))
    };
    if let Some(name) = &spec.sso_session {
        let session = config.sso_session(name).map_err(|e| unknown_session(ctx, config, e))?;
        return Ok(Step::Done(Box::new(Found {
            session: self::session(
                ctx,
                session,
                settings_profile(),
                format!("--sso-session {}", shell_word(name)),
                name.clone(),
            ),
            account_id: spec.account_id.clone(),
            role_name: spec.role_name.clone(),
            profile: None,
            no_role: role_flags_needed("--sso-session"),
            auto_login: false,
        })));
    }
    if let Some(start_url) = &spec.start_url {
        let region = spec
            .region
            .clone()
            .ok_or_else(|| Error::Usage("--start-url needs --region (the sso_region of the start URL)".into()))?;
        return Ok(Step::Done(Box::new(Found {
            session: self::session(
                ctx,
                SsoSession { name: None, start_url: start_url.clone(), region: region.clone(), scopes: Vec::new() },
                settings_profile(),
                format!("--start-url {} --region {}", shell_word(start_url), shell_word(&region)),
                start_url.clone(),
            ),
            account_id: spec.account_id.clone(),
            role_name: spec.role_name.clone(),
            profile: None,
            no_role: role_flags_needed("--start-url"),
            auto_login: false,
        })));
    }
    let (profile, origin) = match chosen_profile(ctx, spec) {
        Some(chosen) if chain.is_empty() => chosen,
        // A line without a target flag: its process would see the same environment we do.
        _ if !chain.is_empty() => match spec.profile.clone() {
            Some(p) => (p, Origin::Line),
            None => match chosen_profile(ctx, &TargetArgs::default()) {
                Some((p, _)) => (p, Origin::Line),
                None => ("default".to_owned(), Origin::Line),
            },
        },
        // A [default] that only sets a region (common) names no target: fall through to the session.
        _ if config.profile("default").is_some_and(|d| has_sso_keys(d) || runs_us(d)) => {
            ("default".to_owned(), Origin::Default)
        }
        _ => return only_session(ctx, config, spec, want_role),
    };
    if let Some(pos) = chain.iter().position(|p| *p == profile) {
        let mut looped = chain[pos..].to_vec();
        looped.push(profile.clone());
        return Err(loop_error(chain, Some(&looped)));
    }
    let Some(section) = config.profile(&profile) else {
        return Err(unknown_profile(ctx, &profile, origin, chain));
    };
    let runs_us = section.get("credential_process").and_then(process_line);
    if has_sso_keys(section) {
        if runs_us.is_some() {
            ctx.warn(format!(
                "profile {profile} has both credential_process and sso_* keys: the AWS SDKs use their own SSO \
                 provider for it and never run the credential_process; keep the sso_* keys in a profile of their own"
            ));
        }
        let session = config.profile_session(&profile).map_err(Error::from)?;
        let (account_id, role_name, no_role) = match config.profile_target(&profile) {
            Ok(t) => (Some(t.account_id), Some(t.role_name), Error::from(ConfigError::Invalid { what: String::new() })),
            Err(e) => (None, None, e.into()),
        };
        let (login_args, label) = match &session.name {
            Some(name) => (format!("--sso-session {}", shell_word(name)), name.clone()),
            None => (format!("--profile {}", shell_word(&profile)), format!("profile {profile}")),
        };
        return Ok(Step::Done(Box::new(Found {
            session: self::session(ctx, session, Some(profile.clone()), login_args, label),
            account_id: spec.account_id.clone().or(account_id),
            role_name: spec.role_name.clone().or(role_name),
            profile: Some(profile),
            no_role,
            auto_login: false,
        })));
    }
    match runs_us {
        Some(Ok(next)) => {
            ctx.debug(|| format!("profile {profile}: following its credential_process to the target it names"));
            Ok(Step::Follow { from: profile, target: next })
        }
        Some(Err(why)) => Err(Error::Other {
            what: format!("profile {profile} runs aws-sso-process as its credential_process, but {why}"),
            hint: Some(format!(
                "fix the credential_process line of {}; 'aws-sso-process --help' lists the target flags",
                section_label(&profile)
            )),
        }),
        None => match section.get("credential_process").map(crate::config::shlex_words) {
            // botocore refuses such a line too (ValueError), whatever program it names.
            Some(Err(why)) => Err(Error::Other {
                what: format!(
                    "the credential_process line of profile {profile} cannot be split into words: {why} (an unbalanced \
                     quote or a trailing backslash)"
                ),
                hint: Some(format!(
                    "close the quote in the credential_process line of {}, or remove the stray quote or backslash",
                    section_label(&profile)
                )),
            }),
            _ => Err(ConfigError::NotSso { profile }.into()),
        },
    }
}

/// No profile named and no `[default]`: the config's only sso-session, for commands that need no
/// role (or with `--account-id`/`--role-name`).
fn only_session(ctx: &Context, _scoped: &Config, spec: &TargetArgs, want_role: bool) -> Result<Step, Error> {
    // Whether any profile exists matters here (and names them in hints): the whole config.
    let config = ctx.config()?;
    let missing_file = missing_config(ctx);
    let mut sessions = config.sso_sessions.keys();
    match (sessions.next(), sessions.next()) {
        (Some(only), None) if !want_role || (spec.account_id.is_some() && spec.role_name.is_some()) => {
            let spec = TargetArgs { sso_session: Some(only.clone()), ..spec.clone() };
            resolve_one(ctx, config, &spec, &[], want_role)
        }
        _ if missing_file.is_some() => Err(missing_file.unwrap()),
        (first, second) => {
            let no_default = "no profile given and no SSO target in a [default] profile";
            let (what, hint) = match (first, second) {
                (Some(only), None) if config.profiles.is_empty() => (
                    format!("{no_default}, and the only SSO session ({only}) names no account and role"),
                    format!(
                        "no profile names one yet: 'aws-sso-process configure generate --sso-session {} --write' \
                         adds one per account and role, or add --account-id and --role-name",
                        shell_word(only)
                    ),
                ),
                (Some(only), None) => (
                    format!("{no_default}, and the only SSO session ({only}) names no account and role"),
                    format!(
                        "{} (profiles: {}), or add --account-id and --role-name",
                        retry_hint(ctx, "--profile NAME"),
                        known(config)
                    ),
                ),
                (Some(_), Some(_)) => (
                    format!("{no_default}, and {} SSO sessions in the config", config.sso_sessions.len()),
                    format!(
                        "{} (sessions: {}), or name a profile with --profile or AWS_PROFILE",
                        retry_hint(ctx, "--sso-session NAME"),
                        config.sso_sessions.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ),
                _ => (
                    format!("{no_default}, and no SSO session in the config"),
                    "run 'aws-sso-process setup' to add an [sso-session] and a profile per account and role".to_owned(),
                ),
            };
            Err(Error::Other { what, hint: Some(hint) })
        }
    }
}

/// A `credential_process` line that runs `aws-sso-process` (any path: the program's file name is what
/// counts), split into words as botocore splits it and parsed by our own command-line parser; or why it
/// does not parse. `None` when the line runs another program, or its quotes do not balance.
pub fn own_command(line: &str) -> Option<Result<crate::cli::Cli, String>> {
    let words = crate::config::shlex_split(line)?;
    let program = words.first()?;
    let file = program.rsplit(['/', '\\']).next()?;
    if !file.starts_with("aws-sso-process") {
        return None;
    }
    // The usual lines (target flags only) without building clap's whole command: `status` and
    // `configure` read one line per profile, thousands in a generated config.
    if let Some(cli) = crate::cli::Cli::quick_parse(words.iter().map(std::ffi::OsString::from)) {
        return Some(Ok(cli));
    }
    Some(crate::cli::Cli::try_parse_from(&words).map_err(|e| {
        format!(
            "its line does not parse: {}",
            e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ")
        )
    }))
}

/// The target flags of a `credential_process` line that runs `aws-sso-process` for its credential
/// output, or why that line names no target. `None` when the line runs another program.
pub fn process_line(line: &str) -> Option<Result<TargetArgs, String>> {
    Some(match own_command(line)? {
        Ok(cli) if cli.command.is_none() => {
            cli.check().map(|()| cli.target.clone()).map_err(|e| format!("its line does not parse: {e}"))
        }
        Ok(_) => Err("its line runs a subcommand, not the credential output".to_owned()),
        Err(e) => Err(e),
    })
}

fn loop_error(chain: &[String], looped: Option<&[String]>) -> Error {
    let shown = looped.unwrap_or(chain).join(" -> ");
    let first = looped.and_then(|l| l.first()).or(chain.first()).cloned().unwrap_or_default();
    Error::Other {
        what: format!("the credential_process lines of these profiles point at each other: {shown}"),
        hint: Some(format!(
            "point the credential_process of profile {first} at a profile that has sso_session, sso_account_id and \
             sso_role_name, or give it --sso-session S --account-id A --role-name R"
        )),
    }
}

fn unknown_profile(ctx: &Context, profile: &str, origin: Origin, chain: &[String]) -> Error {
    if let Some(e) = missing_config(ctx) {
        return e;
    }
    // The suggestions look at every profile: the whole config (an error path, not a cache hit).
    let config = match ctx.config() {
        Ok(config) => config,
        Err(e) => return e,
    };
    let by = match origin {
        Origin::Flag => String::new(),
        Origin::Env(var) => format!(" (named by {var})"),
        Origin::Default => String::new(),
        Origin::Line => {
            format!(" (named by the credential_process of profile {})", chain.last().cloned().unwrap_or_default())
        }
    };
    let looked = looked_in(ctx);
    let suggestions = closest(profile, config.profiles.keys());
    Error::Other {
        what: format!("profile {profile}{by} is not in {looked}"),
        hint: Some(match suggestions.as_slice() {
            [] => format!("{} (profiles: {})", retry_hint(ctx, "--profile NAME"), known(config)),
            names => format!(
                "did you mean {}? {}",
                or_list(names),
                retry_hint(ctx, &format!("--profile {}", shell_word(&names[0])))
            ),
        }),
    }
}

fn unknown_session(ctx: &Context, config: &Config, e: ConfigError) -> Error {
    let ConfigError::SessionNotFound { session, profile: None } = &e else { return e.into() };
    if let Some(e) = missing_config(ctx) {
        return e;
    }
    let suggestions = closest(session, config.sso_sessions.keys());
    let what = format!("sso-session {session} is not in {}", ctx.config_path().display());
    let hint = match suggestions.as_slice() {
        [] if config.sso_sessions.is_empty() => {
            format!("add a [sso-session {session}] section with sso_start_url and sso_region")
        }
        [] => format!(
            "{} (sessions: {})",
            retry_hint(ctx, "--sso-session NAME"),
            config.sso_sessions.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        names => format!(
            "did you mean {}? {}",
            or_list(names),
            retry_hint(ctx, &format!("--sso-session {}", shell_word(&names[0])))
        ),
    };
    Error::Other { what, hint: Some(hint) }
}

/// "the config file X does not exist", when it does not and no credentials file makes up for it.
fn missing_config(ctx: &Context) -> Option<Error> {
    let path = ctx.config_path();
    if path.exists() || ctx.credentials_path().exists() {
        return None;
    }
    Some(Error::Other {
        what: format!("the AWS config file {} does not exist", path.display()),
        hint: Some(if ctx.env.get("AWS_CONFIG_FILE").is_some() {
            "check AWS_CONFIG_FILE, or unset it to use ~/.aws/config".to_owned()
        } else {
            "run 'aws-sso-process setup' to create it with an [sso-session] and a profile per account and role"
                .to_owned()
        }),
    })
}

fn looked_in(ctx: &Context) -> String {
    let config = ctx.config_path();
    let credentials = ctx.credentials_path();
    if credentials.exists() {
        format!("{} or {}", config.display(), credentials.display())
    } else {
        config.display().to_string()
    }
}

/// "run 'aws-sso-process <the subcommand the user ran> <flags>'".
fn retry_hint(ctx: &Context, flags: &str) -> String {
    match ctx.command_label() {
        Some(cmd) if cmd == "aws-sso-process" => format!("run 'aws-sso-process {flags}'"),
        Some(cmd) => format!("run '{cmd} {flags}'"),
        None => format!("pass {flags}"),
    }
}

fn section_label(profile: &str) -> String {
    if profile == "default" { "[default]".to_owned() } else { format!("[profile {profile}]") }
}

fn known(config: &Config) -> String {
    let names: Vec<&str> = config.profiles.keys().map(String::as_str).take(10).collect();
    match names.len() {
        0 => "none".to_owned(),
        n if n < config.profiles.len() => format!("{}, ...", names.join(", ")),
        _ => names.join(", "),
    }
}

fn or_list(names: &[String]) -> String {
    match names {
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// Up to three known names close to `wanted`, closest first: the same letters in another case, then by
/// Jaro-Winkler similarity (what clap uses to suggest subcommands).
fn closest<'a>(wanted: &str, known: impl Iterator<Item = &'a String>) -> Vec<String> {
    let lower = wanted.to_lowercase();
    let mut scored: Vec<(f64, &String)> = known
        .filter_map(|name| {
            let other = name.to_lowercase();
            // One slip (a letter swapped, missing, extra or wrong: `dve` for `dev`) counts as close
            // even where Jaro-Winkler, which favours long shared prefixes, finds short names apart.
            let slip = lower.chars().count() >= 3 && strsim::osa_distance(&lower, &other) == 1;
            let score = if other == lower {
                1.0
            } else {
                strsim::jaro_winkler(&lower, &other).max(if slip { 0.9 } else { 0.0 })
            };
            (score > 0.8).then_some((score, name))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
}

/// The role a `credential_process = aws-sso-process ...` line names, resolved in `config` alone (no
/// environment): for listing what the config knows (`logout`, `configure`). `None` for lines of other
/// programs and for lines that name nothing usable (see `line_role_or_why`).
pub fn line_role(config: &Config, line: &str) -> Option<(SsoSession, String, String)> {
    line_role_or_why(config, None, line)?.ok()
}

/// As `line_role`, with what is wrong with a line of ours that names nothing usable (`status`
/// warns with it): a session or profile the config lacks, no account or role, or profiles that
/// point at each other, shown as the resolver shows them (`a -> b -> a`). `owner` is the profile
/// the line belongs to, where known, so that a loop back to it is seen at once.
pub fn line_role_or_why(
    config: &Config,
    owner: Option<&str>,
    line: &str,
) -> Option<Result<(SsoSession, String, String), String>> {
    let mut spec = match process_line(line)? {
        Ok(spec) => spec,
        Err(why) => return Some(Err(why)),
    };
    let mut chain: Vec<String> = owner.map(str::to_owned).into_iter().collect();
    let no_role = || "it names no --account-id and --role-name, nor a profile with them".to_owned();
    Some(loop {
        if let Some(name) = &spec.sso_session {
            break match config.sso_session(name) {
                Ok(session) => match (spec.account_id, spec.role_name) {
                    (Some(account), Some(role)) => Ok((session, account, role)),
                    _ => Err(no_role()),
                },
                Err(_) => Err(format!("it names sso-session {name}, which is not in the config")),
            };
        }
        if let Some(start_url) = spec.start_url {
            let Some(region) = spec.region else { break Err("it has --start-url without --region".to_owned()) };
            let session = SsoSession { name: None, start_url, region, scopes: Vec::new() };
            break match (spec.account_id, spec.role_name) {
                (Some(account), Some(role)) => Ok((session, account, role)),
                _ => Err(no_role()),
            };
        }
        // Without --profile (or a session) a line means the [default] profile, as for the resolver.
        let name = spec.profile.clone().unwrap_or_else(|| "default".to_owned());
        if let Some(pos) = chain.iter().position(|p| *p == name) {
            let looped: Vec<&str> = chain[pos..].iter().map(String::as_str).chain([name.as_str()]).collect();
            break Err(format!(
                "the credential_process lines of these profiles point at each other: {}",
                looped.join(" -> ")
            ));
        }
        chain.push(name.clone());
        if chain.len() > MAX_HOPS {
            break Err(format!(
                "its credential_process lines go more than {MAX_HOPS} profiles deep: {}",
                chain.join(" -> ")
            ));
        }
        let Some(section) = config.profile(&name) else {
            break Err(format!("it names profile {name}, which is not in the config"));
        };
        if has_sso_keys(section) {
            break match config.profile_target(&section.name) {
                Ok(t) => {
                    Ok((t.session, spec.account_id.unwrap_or(t.account_id), spec.role_name.unwrap_or(t.role_name)))
                }
                Err(e) => Err(format!("its profile {name} cannot be used: {}", crate::error::chain(&e))),
            };
        }
        let next = match section.get("credential_process").map(process_line) {
            Some(Some(Ok(next))) => next,
            Some(Some(Err(why))) => break Err(why),
            _ => {
                break Err(format!(
                    "its profile {name} has neither sso_* keys nor an aws-sso-process credential_process"
                ));
            }
        };
        spec = TargetArgs {
            account_id: spec.account_id.or(next.account_id.clone()),
            role_name: spec.role_name.or(next.role_name.clone()),
            ..next
        };
    })
}

/// Whether a profile's credential_process runs aws-sso-process.
fn runs_us(section: &Section) -> bool {
    section.get("credential_process").and_then(process_line).is_some()
}

/// Whether a profile section holds any sso_* key (then the SDKs use their own SSO provider for it).
pub fn has_sso_keys(section: &Section) -> bool {
    crate::config::SSO_PROFILE_KEYS.iter().any(|k| section.values.contains_key(*k))
}

// ---------------------------------------------------------------------------------------------------
// Roles assumed from an SSO role (docs/chained-roles.md): `role_arn` + `source_profile`.

/// How many `source_profile` hops a chain may have (the profile named is the first).
pub const MAX_ROLE_HOPS: usize = 5;
/// The longest session a chained role can have: every role assumed here is assumed with role
/// credentials (the SSO role's), which AWS calls role chaining, and caps at one hour.
pub const ROLE_CHAINING_MAX_SECONDS: i64 = 3600;
/// The shortest session STS grants.
pub const MIN_DURATION_SECONDS: i64 = 900;

/// One role to assume: a profile with `role_arn`, and the assumed-role cache file the AWS CLI shares.
#[derive(Debug, Clone)]
pub struct RoleHop {
    pub profile: String,
    pub role_arn: String,
    /// `None`: botocore's default, `botocore-session-<epoch>` (left out of the cache key).
    pub role_session_name: Option<String>,
    pub external_id: Option<String>,
    pub mfa_serial: Option<String>,
    pub duration_seconds: Option<i64>,
    pub cache_path: PathBuf,
}

/// A profile that assumes a role from an SSO role, perhaps through other such profiles.
#[derive(Debug, Clone)]
pub struct ChainTarget {
    /// The SSO role at the root of the chain.
    pub root: RoleTarget,
    /// The roles to assume, from the one the SSO role assumes to the one named.
    pub hops: Vec<RoleHop>,
    pub sts_endpoint: Result<Endpoint, EndpointError>,
    pub sts_signing_region: String,
    pub auto_login: bool,
}

impl ChainTarget {
    /// The target as the commands show it: the root's session, the assumed role's account and
    /// name (from its ARN), its cache file.
    pub fn as_role_target(&self) -> RoleTarget {
        let last = self.hops.last().unwrap_or_else(|| unreachable!("a chain has at least one hop"));
        let arn = &last.role_arn;
        let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
        let role = arn.rsplit('/').next().unwrap_or(arn).to_owned();
        RoleTarget {
            session: self.root.session.clone(),
            account_id: account,
            role_name: role,
            role_path: last.cache_path.clone(),
            auto_login: self.auto_login,
        }
    }
}

/// The chain `spec` names, when the profile it names has `role_arn` (botocore's rule: that wins over
/// sso_* keys and credential_process); `None` for every other target, which `role_target` resolves.
pub fn chain_target(ctx: &Context, spec: &TargetArgs) -> Result<Option<ChainTarget>, Error> {
    if spec.sso_session.is_some() || spec.start_url.is_some() {
        return Ok(None);
    }
    let mut top = match chosen_profile(ctx, spec) {
        Some((name, _)) => name,
        None => "default".to_owned(),
    };
    // The profile tools use may name the role profile in its credential_process line
    // (`aws-sso-process --profile deploy`): followed, as `resolve` follows lines; loops and
    // anything else are left to `resolve`, which explains them.
    let mut followed: Vec<String> = Vec::new();
    let section = loop {
        let config = config_with(ctx, &[top.as_str()])?;
        let Some(section) = config.profile(&top) else { return Ok(None) };
        // With web_identity_token_file too, the walk below says who handles it.
        if section.values.contains_key("role_arn") {
            break section;
        }
        let next = match section.get("credential_process").and_then(process_line) {
            Some(Ok(next)) if !has_sso_keys(section) => next,
            _ => return Ok(None),
        };
        let only_a_profile = next.sso_session.is_none()
            && next.start_url.is_none()
            && next.account_id.is_none()
            && next.role_name.is_none();
        match next.profile {
            Some(p) if only_a_profile && !followed.contains(&p) && followed.len() < MAX_HOPS => {
                followed.push(std::mem::replace(&mut top, p));
            }
            _ => return Ok(None),
        }
    };
    if spec.account_id.is_some() || spec.role_name.is_some() {
        return Err(Error::Usage(format!(
            "profile {top} assumes the role {} (role_arn); --account-id and --role-name cannot change it",
            crate::sanitize::sanitize(section.get("role_arn").unwrap_or_default())
        )));
    }
    let mut hops: Vec<RoleHop> = Vec::new();
    let mut visited: Vec<String> = Vec::new();
    let mut name = top.clone();
    let root = loop {
        if visited.contains(&name) {
            let looped: Vec<&str> = visited.iter().map(String::as_str).chain([name.as_str()]).collect();
            return Err(Error::Other {
                what: format!(
                    "the source_profile settings of these profiles point at each other: {}",
                    looped.join(" -> ")
                ),
                hint: Some(
                    "one of them must name an SSO profile (or one that runs aws-sso-process) as source_profile".into(),
                ),
            });
        }
        let config = config_with(ctx, &[name.as_str()])?;
        let Some(section) = config.profile(&name) else {
            let parent = visited.last().cloned().unwrap_or_default();
            return Err(Error::Other {
                what: format!("the source_profile {name} of profile {parent} is not in the config"),
                hint: Some(format!("add [profile {name}] or fix source_profile in {}", section_label(&parent))),
            });
        };
        visited.push(name.clone());
        let handled_elsewhere = |what: &str| Error::Other {
            what: format!("profile {name} gets its credentials from {what}, which aws-sso-process does not handle"),
            hint: Some(
                "the AWS CLI and SDKs resolve this profile themselves; aws-sso-process assumes roles only from an \
                 SSO profile (or one whose credential_process runs aws-sso-process)"
                    .to_owned(),
            ),
        };
        let has = |k: &str| section.values.contains_key(k);
        if !hops.is_empty() && (has("aws_access_key_id") || has("aws_secret_access_key")) {
            return Err(handled_elsewhere("static keys (aws_access_key_id)"));
        }
        if has("web_identity_token_file") {
            return Err(handled_elsewhere("a web identity token (web_identity_token_file)"));
        }
        if is_role_profile(section) {
            if has("credential_source") {
                return Err(handled_elsewhere(&format!(
                    "credential_source = {}",
                    crate::sanitize::sanitize(section.get("credential_source").unwrap_or_default())
                )));
            }
            let Some(source) = section.get("source_profile").map(str::trim).filter(|s| !s.is_empty()) else {
                return Err(Error::Other {
                    what: format!("profile {name} has role_arn but no source_profile"),
                    hint: Some(format!("add source_profile = <an SSO profile> to {}", section_label(&name))),
                });
            };
            hops.push(role_hop(ctx, section)?);
            if hops.len() > MAX_ROLE_HOPS {
                return Err(Error::Other {
                    what: format!("profile {top} chains more than {MAX_ROLE_HOPS} roles: {}", visited.join(" -> ")),
                    hint: Some("name an SSO profile as source_profile nearer the top".to_owned()),
                });
            }
            name = source.to_owned();
            continue;
        }
        if has("aws_access_key_id") || has("aws_secret_access_key") {
            return Err(handled_elsewhere("static keys (aws_access_key_id)"));
        }
        if !has_sso_keys(section) && !runs_us(section) {
            return Err(handled_elsewhere("neither sso_* keys nor an aws-sso-process credential_process"));
        }
        break role_target(ctx, &TargetArgs { profile: Some(name.clone()), ..TargetArgs::default() })?;
    };
    hops.reverse();
    // Every hop is role chaining (its source credentials are a role's): one hour at most, checked
    // before any call (docs/chained-roles.md).
    for hop in &hops {
        if let Some(d) = hop.duration_seconds
            && d > ROLE_CHAINING_MAX_SECONDS
        {
            return Err(Error::Other {
                what: format!(
                    "profile {} asks for duration_seconds = {d}, but a role assumed with another role's \
                     credentials (role chaining, which includes an SSO role's) lasts at most 1 hour (3600)",
                    hop.profile
                ),
                hint: Some(format!("set duration_seconds to 3600 or less in {}", section_label(&hop.profile))),
            });
        }
    }
    let config = config_with(ctx, &[top.as_str()])?;
    let top_section = config.profile(&top);
    let auto_login = root.auto_login
        || visited.iter().chain(&followed).any(|p| {
            config_with(ctx, &[p.as_str()])
                .ok()
                .and_then(|c| c.profile(p))
                .and_then(|s| s.get(AUTO_LOGIN_KEY))
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        });
    // The region of the profile named (botocore creates the STS client with the session's region):
    // the environment's first; without any, us-east-1.
    let region = ctx
        .env
        .get("AWS_REGION")
        .or_else(|| ctx.env.get("AWS_DEFAULT_REGION"))
        .map(str::to_owned)
        .or_else(|| top_section.and_then(|s| s.get("region")).map(str::to_owned))
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned());
    let settings = endpoint_settings(ctx, Some(&top));
    let sts_endpoint = settings.endpoint(Service::Sts, &region);
    Ok(Some(ChainTarget { root, hops, sts_endpoint, sts_signing_region: region, auto_login }))
}

/// A profile botocore's AssumeRoleProvider takes: `role_arn` without `web_identity_token_file`.
pub fn is_role_profile(section: &Section) -> bool {
    section.values.contains_key("role_arn") && !section.values.contains_key("web_identity_token_file")
}

fn role_hop(ctx: &Context, section: &Section) -> Result<RoleHop, Error> {
    let name = &section.name;
    let text = |k: &str| section.get(k).map(str::to_owned);
    let role_arn = text("role_arn").map(|s| s.trim().to_owned()).unwrap_or_default();
    if !role_arn.starts_with("arn:") || role_arn.split(':').count() < 6 {
        return Err(Error::Other {
            what: format!("profile {name}: role_arn {:?} is not a role ARN", crate::sanitize::sanitize(&role_arn)),
            hint: Some("role_arn looks like arn:aws:iam::444455556666:role/Deployer".to_owned()),
        });
    }
    let duration_seconds = match text("duration_seconds").map(|s| s.trim().to_owned()) {
        None => None,
        Some(d) => match d.parse::<i64>() {
            Ok(n) if n >= MIN_DURATION_SECONDS => Some(n),
            _ => {
                return Err(Error::Other {
                    what: format!(
                        "profile {name}: duration_seconds {:?} is not a number of seconds from 900 to 3600",
                        crate::sanitize::sanitize(&d)
                    ),
                    hint: Some(format!("fix duration_seconds in {}, or remove it (one hour)", section_label(name))),
                });
            }
        },
    };
    let mfa_serial = text("mfa_serial");
    if mfa_serial.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(Error::Other {
            what: format!("profile {name}: mfa_serial is empty"),
            hint: Some("set it to the ARN (or serial number) of your MFA device, or remove it".to_owned()),
        });
    }
    let role_session_name = text("role_session_name").filter(|s| !s.is_empty());
    let external_id = text("external_id");
    let key = crate::sts::cache_key(
        &role_arn,
        role_session_name.as_deref(),
        external_id.as_deref(),
        mfa_serial.as_deref(),
        duration_seconds,
    );
    Ok(RoleHop {
        profile: name.clone(),
        cache_path: ctx.cli_cache_dir().join(format!("{key}.json")),
        role_arn,
        role_session_name,
        external_id,
        mfa_serial,
        duration_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    #[test]
    fn process_lines_are_split_like_a_shell_and_parsed_like_our_command_line() {
        let spec = |line: &str| process_line(line).unwrap().unwrap();
        assert_eq!(spec("aws-sso-process --profile dev-sso").profile.as_deref(), Some("dev-sso"));
        assert_eq!(spec("/usr/local/bin/aws-sso-process --profile=dev-sso").profile.as_deref(), Some("dev-sso"));
        assert_eq!(spec("'/opt/my tools/aws-sso-process' --profile 'dev sso'").profile.as_deref(), Some("dev sso"));
        let s = spec("aws-sso-process --role-name Admin --sso-session corp --account-id 111122223333 --debug");
        assert_eq!(
            (s.sso_session.as_deref(), s.account_id.as_deref(), s.role_name.as_deref()),
            (Some("corp"), Some("111122223333"), Some("Admin"))
        );
        assert!(process_line("aws --profile x").is_none());
        assert!(process_line("/bin/my-aws-sso-process --profile x").is_none());
        assert!(process_line("aws-sso-process export --profile x").unwrap().is_err());
        assert!(process_line("aws-sso-process --no-such-flag").unwrap().is_err());
        assert!(process_line("aws-sso-process 'unbalanced").is_none());
        assert_eq!(spec(r#""C:\\Tools\\aws-sso-process.exe" --profile dev-sso"#).profile.as_deref(), Some("dev-sso"));
    }

    #[test]
    fn credential_process_lines_name_roles_in_the_config_alone() {
        let config = Config::parse(
            Path::new("config"),
            "[profile dev-sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\
             [sso-session corp]\nsso_start_url = https://x/start\nsso_region = us-east-1\n",
            Path::new("credentials"),
            "",
        )
        .unwrap();
        let t = |c: &str| line_role(&config, c).map(|(s, a, r)| (s.name, s.start_url, a, r));
        assert_eq!(
            t("aws-sso-process --sso-session corp --account-id 2 --role-name Dev"),
            Some((Some("corp".into()), "https://x/start".into(), "2".into(), "Dev".into()))
        );
        assert_eq!(
            t("/usr/local/bin/aws-sso-process --profile=dev-sso --role-name Admin"),
            Some((Some("corp".into()), "https://x/start".into(), "1".into(), "Admin".into()))
        );
        assert_eq!(
            t("aws-sso-process --start-url https://y/start --region eu-west-1 --account-id 3 --role-name R"),
            Some((None, "https://y/start".into(), "3".into(), "R".into()))
        );
        assert_eq!(t("other-tool --sso-session corp --account-id 2 --role-name Dev"), None);
        assert_eq!(t("aws-sso-process --sso-session nope --account-id 2 --role-name Dev"), None);
        assert_eq!(t("aws-sso-process --sso-session corp"), None);
        // A line naming a profile whose own line names the SSO profile: followed.
        let chained = Config::parse(
            Path::new("config"),
            "[profile dev]\ncredential_process = aws-sso-process --profile dev-sso\n\
             [profile dev-sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\
             [profile loop]\ncredential_process = aws-sso-process --profile loop\n\
             [sso-session corp]\nsso_start_url = https://x/start\nsso_region = us-east-1\n",
            Path::new("credentials"),
            "",
        )
        .unwrap();
        assert_eq!(
            line_role(&chained, "aws-sso-process --profile dev").map(|(s, a, r)| (s.name, a, r)),
            Some((Some("corp".into()), "1".into(), "R".into()))
        );
        assert_eq!(line_role(&chained, "aws-sso-process --profile loop"), None);
    }

    #[test]
    fn close_names_include_one_slip_away() {
        let known: Vec<String> = ["dev", "dev-sso", "prod", "Staging"].iter().map(|s| s.to_string()).collect();
        assert_eq!(closest("dve", known.iter()).first().map(String::as_str), Some("dev"));
        assert_eq!(closest("staging", known.iter()), ["Staging"]);
        assert_eq!(closest("prd", known.iter()).first().map(String::as_str), Some("prod"));
        assert!(closest("xy", known.iter()).is_empty());
    }

    fn section(name: &str, pairs: &[(&str, &str)]) -> Section {
        let mut s = Section { name: name.to_owned(), ..Section::default() };
        for (k, v) in pairs {
            s.values.insert(k.to_string(), crate::config::Value::Text(v.to_string()));
        }
        s
    }

    #[test]
    fn override_order() {
        let mut config = Config::default();
        let mut block = BTreeMap::new();
        block.insert("endpoint_url".to_owned(), "http://services-oidc".to_owned());
        let mut services = section("local", &[]);
        services.values.insert("sso-oidc".to_owned(), crate::config::Value::Nested(block));
        config.services.insert("local".to_owned(), services);
        let profile = section("dev", &[("services", "local"), ("endpoint_url", "http://profile")]);

        let run = |vars: &[(&str, &str)], profile: Option<&Section>, service: Service| {
            let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let env = move |k: &str| vars.get(k).cloned();
            configured_endpoint(service, &EndpointInputs { env: &env, profile, config: &config })
        };
        let all = [
            ("AWS_ENDPOINT_URL_SSO_OIDC", "http://oidc-var"),
            ("AWS_ENDPOINT_URL_SSO", "http://portal-var/"),
            ("AWS_ENDPOINT_URL", "http://global"),
        ];
        assert_eq!(run(&all, Some(&profile), Service::Oidc).unwrap().as_deref(), Some("http://oidc-var"));
        assert_eq!(run(&all, Some(&profile), Service::Portal).unwrap().as_deref(), Some("http://portal-var"));
        assert_eq!(run(&all[2..], Some(&profile), Service::Oidc).unwrap().as_deref(), Some("http://global"));
        assert_eq!(run(&[], Some(&profile), Service::Oidc).unwrap().as_deref(), Some("http://services-oidc"));
        // No `sso` block in the services section: the profile's endpoint_url applies to the portal.
        assert_eq!(run(&[], Some(&profile), Service::Portal).unwrap().as_deref(), Some("http://profile"));
        assert_eq!(run(&[], None, Service::Portal).unwrap(), None);
        let ignore = [("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"), all[0]];
        assert_eq!(run(&ignore, Some(&profile), Service::Oidc).unwrap(), None);
        let ignoring_profile =
            section("dev", &[("endpoint_url", "http://p"), ("ignore_configured_endpoint_urls", "true")]);
        assert_eq!(run(&[], Some(&ignoring_profile), Service::Oidc).unwrap(), None);

        let dangling = section("dev", &[("services", "nope")]);
        let err = run(&[], Some(&dangling), Service::Oidc).unwrap_err();
        assert!(err.to_string().contains("\"nope\" services configuration does not exist"), "{err}");
        let err = run(&[("AWS_ENDPOINT_URL", "ftp://x")], None, Service::Oidc).unwrap_err();
        assert!(err.to_string().contains("AWS_ENDPOINT_URL"), "{err}");
    }

    #[test]
    fn closest_names() {
        let names: Vec<String> = ["dev", "dev-sso", "prod", "sandbox.Admin"].iter().map(|s| s.to_string()).collect();
        assert_eq!(closest("Dev", names.iter()), vec!["dev", "dev-sso"]);
        assert_eq!(closest("prd", names.iter()), vec!["prod"]);
        assert!(closest("zzz", names.iter()).is_empty());
        assert_eq!(closest("sandbox.admin", names.iter()), vec!["sandbox.Admin"]);
    }
}
