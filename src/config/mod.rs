//! `~/.aws/config` and `~/.aws/credentials`, read the way botocore (the AWS CLI) reads them.
//!
//! This module owns the INI dialect of the shared AWS files (docs/config-file.md) and the SSO keys in them. It works
//! in two passes. The literal pass turns text into sections and properties that remember their file and
//! 1-based line, so every parse error points at `path:line`; it applies configparser's strict rules
//! (duplicate sections and keys are errors) and botocore's sub-property blocks. The build pass maps the
//! headers onto profiles, sso-sessions and services as botocore's `build_profile_map` does (shlex-split
//! headers, the later of `[default]` / `[profile default]` wins) and lays the credentials file over the
//! profiles key by key. On top sit the SSO resolution rules with botocore's validation messages.
//! Where we knowingly differ from botocore (we cut whitespace-preceded inline comments, which botocore
//! keeps in the value) we say so in `Config::warnings`. Callers pass the paths: no environment access here.

pub mod edit;
mod error;
mod ini;

pub use error::ConfigError;
use ini::*;
pub use ini::{shlex_split, shlex_words};

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// A property value: plain text, or a sub-property block (`key =` followed by indented `k = v` lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Nested(BTreeMap<String, String>),
}

/// A section's keys (lower-cased) and values.
pub type Values = BTreeMap<String, Value>;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// Profile, sso-session or services name (after shlex unquoting).
    pub name: String,
    /// Keys are lower-cased.
    pub values: BTreeMap<String, Value>,
    /// File the section came from (the credentials file when it supplied keys for this profile).
    pub path: PathBuf,
    /// 1-based line of its header.
    pub line: usize,
}

/// Keys only: a credentials-file profile holds `aws_secret_access_key` and `aws_session_token`.
impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Section")
            .field("name", &self.name)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .field("path", &self.path)
            .field("line", &self.line)
            .finish()
    }
}

impl Section {
    /// A text value; `key` is given lower-case.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self.values.get(key) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }

    /// A sub-property block; `key` is given lower-case.
    pub fn nested(&self, key: &str) -> Option<&BTreeMap<String, String>> {
        match self.values.get(key) {
            Some(Value::Nested(map)) => Some(map),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub profiles: BTreeMap<String, Section>,
    pub sso_sessions: BTreeMap<String, Section>,
    pub services: BTreeMap<String, Section>,
    /// Non-fatal findings (a stripped inline comment, an ignored header), one line each, naming path:line.
    /// Empty when parsed for a `Scope::Profiles`.
    pub warnings: Vec<String>,
    /// `Some(names)`: parsed for `Scope::Profiles(names)`, so `profiles` holds only those.
    only: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSession {
    /// `Some(name)` for an `[sso-session name]`; `None` for a legacy profile (start URL in the profile).
    pub name: Option<String>,
    pub start_url: String,
    /// Empty when `sso_region` is not set and the start URL is not on an AWS domain: a login
    /// then takes the region from where the start URL redirects (docs/login.md).
    pub region: String,
    /// Parsed `sso_registration_scopes` (split on ',', trimmed, empties dropped); empty when not set.
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoTarget {
    pub session: SsoSession,
    pub account_id: String,
    pub role_name: String,
}

// ---------------------------------------------------------------------------------------------------
// Build pass: raw sections -> profiles, sso-sessions, services.

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Profile,
    SsoSession,
    Services,
}

const KINDS: [(&str, Kind); 3] =
    [("profile", Kind::Profile), ("sso-session", Kind::SsoSession), ("services", Kind::Services)];

enum Classified {
    Known(Kind, String),
    /// Ignored, with the reason for the warning.
    Ignored(String),
    /// A section we do not use (botocore keeps it top-level).
    Other,
}

/// botocore `build_profile_map`: `default` exactly, or a header that starts with a keyword and
/// shlex-splits into exactly two tokens (botocore does not check the first token, nor do we).
fn classify(header: &str) -> Classified {
    if let Some((kind, name)) = classify_name(header) {
        return Classified::Known(kind, name.into_owned());
    }
    for (prefix, _) in KINDS {
        if header.starts_with(prefix) {
            return match shlex_split(header) {
                Some(_) => Classified::Ignored(format!("expected [{prefix} NAME]")),
                None => Classified::Ignored("its quotes do not balance".to_string()),
            };
        }
    }
    let lower = header.trim().to_lowercase();
    if lower == "default" || KINDS.iter().any(|(prefix, _)| lower.starts_with(prefix)) {
        return Classified::Ignored("section names are case-sensitive and take no space after '['".into());
    }
    Classified::Other
}

/// What `classify` calls `Known`, without allocating for a header without quotes or backslashes
/// (then shlex splits on its whitespace only).
fn classify_name(header: &str) -> Option<(Kind, Cow<'_, str>)> {
    if header == "default" {
        return Some((Kind::Profile, Cow::Borrowed(header)));
    }
    let (_, kind) = KINDS.into_iter().find(|(prefix, _)| header.starts_with(prefix))?;
    // One pass over the words between shlex's whitespace, until a quote or backslash asks for shlex.
    let mut words = 0;
    let mut word_start: Option<usize> = None;
    let mut name = (0, 0);
    for (i, b) in header.bytes().chain([b' ']).enumerate() {
        match b {
            b'\'' | b'"' | b'\\' => {
                return match shlex_split(header)?.as_mut_slice() {
                    [_, name] => Some((kind, Cow::Owned(std::mem::take(name)))),
                    _ => None,
                };
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                if let Some(start) = word_start.take() {
                    words += 1;
                    name = (start, i);
                }
            }
            _ if word_start.is_none() => {
                if words == 2 {
                    return None; // a third word, whatever follows
                }
                word_start = Some(i);
            }
            _ => {}
        }
    }
    match words {
        2 => Some((kind, Cow::Borrowed(header.get(name.0..name.1)?))),
        _ => None,
    }
}

fn into_values(props: Vec<RawProp>) -> BTreeMap<String, Value> {
    props.into_iter().map(|p| (p.key, p.value)).collect()
}

/// The keys of a file's `[DEFAULT]` parts (configparser's defaults), and its other sections.
fn split_defaults(raws: Vec<RawSection<'_>>) -> (Values, Vec<RawSection<'_>>) {
    let (defaults, sections): (Vec<_>, Vec<_>) = raws.into_iter().partition(|raw| raw.header == DEFAULT_SECTION);
    (defaults.into_iter().flat_map(|raw| raw.props).map(|p| (p.key, p.value)).collect(), sections)
}

/// A section's keys over the file's defaults (configparser's `options` and `get`: its own win).
fn with_defaults(defaults: &Values, props: Vec<RawProp>) -> Values {
    let mut values = defaults.clone();
    values.extend(props.into_iter().map(|p| (p.key, p.value)));
    values
}

/// Every section of one file as the literal pass reads it, in file order: the header as written
/// between the brackets, and its keys and values. Sections the build pass ignores are included,
/// so a caller can compare two versions of a file section by section.
pub fn sections(path: &Path, text: &str) -> Result<Vec<(String, Values)>, ConfigError> {
    let raw = literal_pass(path, text, None, &|_| true, 1, None)?;
    Ok(raw.into_iter().map(|s| (s.header.to_owned(), into_values(s.props))).collect())
}

/// One section read on its own through the index: its text, the line of its header, and the name
/// it must have (a profile's; for the credentials file, its header; `None`: an sso-session or
/// services section of the config).
struct SectionText<'a> {
    text: &'a str,
    line: usize,
    name: Option<&'a str>,
}

pub mod index;

/// Which profiles a parse builds.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every section, with the warnings (`status`, `list`, `configure`, `logout --all`, ...).
    All,
    /// Only these profiles, but every sso-session and services section, and no warnings: what
    /// resolving a target needs (the cache hit). The files are checked as strictly as for `All`.
    Profiles(&'a [&'a str]),
}

impl Config {
    /// Reads the config file and the credentials file. A missing file is empty; any other I/O error,
    /// or a parse error, is a `ConfigError` naming the path (and line).
    pub fn load(config_path: &Path, credentials_path: &Path) -> Result<Config, ConfigError> {
        Config::load_scoped(config_path, credentials_path, Scope::All)
    }

    /// `load`, building only what `scope` names.
    pub fn load_scoped(config_path: &Path, credentials_path: &Path, scope: Scope) -> Result<Config, ConfigError> {
        let config = read_optional(config_path)?;
        let credentials = read_optional(credentials_path)?;
        let config_text = decode(config_path, &config)?;
        let credentials_text = decode(credentials_path, &credentials)?;
        Config::parse_scoped(config_path, config_text, credentials_path, credentials_text, scope)
    }

    /// Same from strings (for tests and fuzzing); the paths are only used in messages.
    pub fn parse(
        config_path: &Path,
        config_text: &str,
        credentials_path: &Path,
        credentials_text: &str,
    ) -> Result<Config, ConfigError> {
        Config::parse_scoped(config_path, config_text, credentials_path, credentials_text, Scope::All)
    }

    /// `parse`, building only what `scope` names. For the profiles it names, the answer (each
    /// section, or the error) is the one `parse` gives; the property test in this module checks it.
    pub fn parse_scoped(
        config_path: &Path,
        config_text: &str,
        credentials_path: &Path,
        credentials_text: &str,
        scope: Scope,
    ) -> Result<Config, ConfigError> {
        Config::parse_laid_out(config_path, config_text, credentials_path, credentials_text, scope, None)
    }

    /// `load_scoped` for bytes already read, recording every header of each file in `layouts`.
    fn parse_bytes_laid_out<'t>(
        config_path: &Path,
        config: &'t [u8],
        credentials_path: &Path,
        credentials: &'t [u8],
        scope: Scope,
        layouts: &mut [Vec<HeaderAt<'t>>; 2],
    ) -> Result<Config, ConfigError> {
        let config_text = decode(config_path, config)?;
        let credentials_text = decode(credentials_path, credentials)?;
        Config::parse_laid_out(config_path, config_text, credentials_path, credentials_text, scope, Some(layouts))
    }

    /// The config for `Scope::Profiles(names)` from the sections the index names, each read on its
    /// own (in file order); `None` when one is not exactly one section of the name and line the
    /// index gave (then the index does not fit the file).
    fn from_sections(paths: [&Path; 2], sections: [&[SectionText<'_>]; 2], names: &[&str]) -> Option<Config> {
        let mut raws = [Vec::new(), Vec::new()];
        for (which, (path, list)) in paths.iter().zip(sections).enumerate() {
            for s in list {
                let mut one = literal_pass(path, s.text, None, &|_| true, s.line, None).ok()?;
                let raw = one.pop().filter(|raw| one.is_empty() && raw.line == s.line)?;
                let fits = match (which, s.name) {
                    (0, Some(name)) => matches!(classify_name(raw.header), Some((Kind::Profile, n)) if n == name),
                    (0, None) => matches!(classify_name(raw.header), Some((Kind::SsoSession | Kind::Services, _))),
                    (_, Some(name)) => raw.header == name,
                    (_, None) => false,
                };
                if !fits {
                    return None;
                }
                raws.get_mut(which)?.push(raw);
            }
        }
        let mut out = Config { only: Some(names.iter().map(|n| n.to_string()).collect()), ..Config::default() };
        let [config, credentials] = raws;
        out.build(paths[0], config, paths[1], credentials, &mut Vec::new());
        Some(out)
    }

    /// `parse_scoped`, recording in `layouts` (when given) every header of each file (for the index).
    fn parse_laid_out<'t>(
        config_path: &Path,
        config_text: &'t str,
        credentials_path: &Path,
        credentials_text: &'t str,
        scope: Scope,
        layouts: Option<&mut [Vec<HeaderAt<'t>>; 2]>,
    ) -> Result<Config, ConfigError> {
        let wanted = |name: &str| match scope {
            Scope::All => true,
            Scope::Profiles(names) => names.contains(&name),
        };
        let all = matches!(scope, Scope::All);
        let keep_config = |header: &str| {
            all || match classify_name(header) {
                Some((Kind::Profile, name)) => wanted(&name),
                Some(_) => true,
                None => false,
            }
        };
        let mut out = Config {
            only: match scope {
                Scope::All => None,
                Scope::Profiles(names) => Some(names.iter().map(|n| n.to_string()).collect()),
            },
            ..Config::default()
        };
        let mut warnings = Vec::new();
        let [config_headers, credentials_headers] = match layouts {
            Some([a, b]) => [Some(a), Some(b)],
            None => [None, None],
        };
        let config =
            literal_pass(config_path, config_text, all.then_some(&mut warnings), &keep_config, 1, config_headers)?;
        let credentials = literal_pass(
            credentials_path,
            credentials_text,
            all.then_some(&mut warnings),
            &wanted,
            1,
            credentials_headers,
        )?;
        out.build(config_path, config, credentials_path, credentials, &mut warnings);
        if all {
            out.warnings = warnings;
        }
        Ok(out)
    }

    /// The build pass: the kept sections of both files (in file order) onto profiles, sso-sessions
    /// and services. Warnings of ignored and replaced sections go to `warnings`.
    fn build(
        &mut self,
        config_path: &Path,
        config: Vec<RawSection<'_>>,
        credentials_path: &Path,
        credentials: Vec<RawSection<'_>>,
        warnings: &mut Vec<String>,
    ) {
        let out = self;
        let mut seen: HashMap<(Kind, String), (usize, &str)> = HashMap::new();
        let (config_defaults, config) = split_defaults(config);
        for raw in config {
            let (kind, name) = match classify(raw.header) {
                Classified::Known(kind, name) => (kind, name),
                Classified::Ignored(why) => {
                    warnings.push(format!(
                        "{}:{}: section [{}] is ignored: {why}",
                        config_path.display(),
                        raw.line,
                        raw.header
                    ));
                    continue;
                }
                Classified::Other => continue,
            };
            if let Some((first, header)) = seen.insert((kind, name.clone()), (raw.line, raw.header)) {
                warnings.push(format!(
                    "{}:{}: [{}] replaces [{header}] from line {first} (the later section wins, as in the AWS CLI)",
                    config_path.display(),
                    raw.line,
                    raw.header
                ));
            }
            let map = match kind {
                Kind::Profile => &mut out.profiles,
                Kind::SsoSession => &mut out.sso_sessions,
                Kind::Services => &mut out.services,
            };
            let section = Section {
                name: name.clone(),
                values: with_defaults(&config_defaults, raw.props),
                path: config_path.into(),
                line: raw.line,
            };
            map.insert(name, section);
        }

        // The credentials file: headers are profile names as written; its keys win over the config's.
        let (credentials_defaults, credentials) = split_defaults(credentials);
        for raw in credentials {
            let section = out
                .profiles
                .entry(raw.header.to_string())
                .or_insert_with(|| Section { name: raw.header.to_string(), ..Section::default() });
            section.values.extend(with_defaults(&credentials_defaults, raw.props));
            section.path = credentials_path.to_path_buf();
            section.line = raw.line;
        }
    }

    /// Whether this config holds `profile` if the files have it (always, unless parsed for a `Scope`).
    pub fn covers(&self, profile: &str) -> bool {
        self.only.as_ref().is_none_or(|names| names.iter().any(|n| n == profile))
    }

    pub fn profile(&self, name: &str) -> Option<&Section> {
        debug_assert!(self.covers(name), "profile {name} looked up in a config parsed without it");
        self.profiles.get(name)
    }

    /// The `[sso-session name]` section as an `SsoSession` (for `--sso-session name`).
    pub fn sso_session(&self, name: &str) -> Result<SsoSession, ConfigError> {
        self.session_for(name, None)
    }

    /// The SSO session a profile uses: via `sso_session`, or legacy `sso_start_url` + `sso_region`.
    pub fn profile_session(&self, profile: &str) -> Result<SsoSession, ConfigError> {
        self.resolve(profile, false).map(|(session, _)| session)
    }

    /// The session plus `sso_account_id` and `sso_role_name` of a profile.
    pub fn profile_target(&self, profile: &str) -> Result<SsoTarget, ConfigError> {
        match self.resolve(profile, true)? {
            (session, Some((account_id, role_name))) => Ok(SsoTarget { session, account_id, role_name }),
            (_, None) => Err(ConfigError::Invalid { what: format!("profile {profile} has no SSO account and role") }),
        }
    }

    // -----------------------------------------------------------------------------------------------
    // Resolution (botocore SSOProvider / SSOTokenProvider rules).

    fn session_for(&self, name: &str, profile: Option<&str>) -> Result<SsoSession, ConfigError> {
        let section = self.sso_sessions.get(name).ok_or_else(|| ConfigError::SessionNotFound {
            profile: profile.map(str::to_string),
            session: name.to_string(),
        })?;
        let label = format!("[sso-session {name}]");
        let start_url = setting(section, "sso_start_url", &label)?;
        let region = region_or_derived(start_url, setting(section, "sso_region", &label)?);
        let scopes = setting(section, "sso_registration_scopes", &label)?.map(parse_scopes).unwrap_or_default();
        match (start_url, region) {
            (Some(start_url), Some(region)) => Ok(SsoSession {
                name: Some(name.to_string()),
                start_url: start_url.to_string(),
                region: region.to_string(),
                scopes,
            }),
            _ => Err(ConfigError::MissingKeys {
                profile: profile.map(str::to_string),
                session: Some(name.to_string()),
                keys: missing([("sso_start_url", start_url), ("sso_region", region)]),
            }),
        }
    }

    fn resolve(&self, profile: &str, want_target: bool) -> Result<(SsoSession, Option<(String, String)>), ConfigError> {
        let section =
            self.profile(profile).ok_or_else(|| ConfigError::ProfileNotFound { profile: profile.to_string() })?;
        if !SSO_PROFILE_KEYS.iter().any(|key| section.values.contains_key(*key)) {
            return Err(ConfigError::NotSso { profile: profile.to_string() });
        }
        let label = profile_label(profile);
        let start_url = setting(section, "sso_start_url", &label)?;
        let region = region_or_derived(start_url, setting(section, "sso_region", &label)?);
        let account_id = setting(section, "sso_account_id", &label)?;
        let role_name = setting(section, "sso_role_name", &label)?;

        // botocore reports every missing key of the profile in one error.
        let (session, mut keys) = match setting(section, "sso_session", &label)? {
            Some(name) => {
                let session = self.session_for(name, Some(profile))?;
                for (key, mine, theirs) in
                    [("sso_start_url", start_url, &session.start_url), ("sso_region", region, &session.region)]
                {
                    if let Some(mine) = mine
                        && mine != theirs
                    {
                        return Err(ConfigError::Inconsistent {
                            profile: profile.to_string(),
                            session: name.to_string(),
                            key,
                            profile_value: mine.to_string(),
                            session_value: theirs.clone(),
                        });
                    }
                }
                (Some(session), Vec::new())
            }
            None => match (start_url, region) {
                (Some(start_url), Some(region)) => {
                    let legacy = SsoSession {
                        name: None,
                        start_url: start_url.to_string(),
                        region: region.to_string(),
                        scopes: Vec::new(),
                    };
                    (Some(legacy), Vec::new())
                }
                _ => (None, missing([("sso_start_url", start_url), ("sso_region", region)])),
            },
        };
        if want_target {
            keys.extend(missing([("sso_account_id", account_id), ("sso_role_name", role_name)]));
        }
        let target = account_id.zip(role_name).filter(|_| want_target);
        match session {
            Some(session) if keys.is_empty() => Ok((session, target.map(|(a, r)| (a.to_string(), r.to_string())))),
            _ => Err(ConfigError::MissingKeys { profile: Some(profile.to_string()), session: None, keys }),
        }
    }
}

/// `sso_region`, or `Some("")` (to be derived by the next login) when it is missing and the start
/// URL is not on an AWS domain: such a "vanity" URL redirects to a host that may name the region,
/// as the AWS CLI does since 2.35.13 (docs/login.md).
fn region_or_derived<'a>(start_url: Option<&str>, region: Option<&'a str>) -> Option<&'a str> {
    match (start_url, region) {
        (Some(url), None)
            if crate::endpoints::url_host(url).is_some_and(|h| !crate::endpoints::is_aws_start_url_host(&h)) =>
        {
            Some("")
        }
        _ => region,
    }
}

/// The leading whitespace of a line.
fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Whether `line` (a config line, with or without its line ending) is a section header by the
/// reader's own rule: what the editors use to find where a section ends.
pub fn is_header_line(line: &str) -> bool {
    split_header(line.trim_start_matches('\u{feff}').trim()).is_some()
}

/// Whether `line` heads the section of profile `name` (`profile == true`) or of sso-session
/// `name`, exactly as the reader maps headers to sections (`classify_name`: `[default]`, shlex
/// words, no trimming inside the brackets). Every edit finds its section with this.
pub fn heads_section(line: &str, profile: bool, name: &str) -> bool {
    let Some((header, _)) = split_header(line.trim_start_matches('\u{feff}').trim()) else {
        return false;
    };
    match classify_name(header) {
        Some((Kind::Profile, found)) => profile && found == name,
        Some((Kind::SsoSession, found)) => !profile && found == name,
        _ => false,
    }
}

/// `text` (a config file) with `key = value` set in the section whose header is on 1-based line
/// `header_line`: the line of the key rewritten if the section has it, else a new line right after
/// the header, indented like the section's first property. Every other byte stays as it was. `None`
/// when `header_line` is not a header. The caller checks the result by parsing it.
pub fn set_key(text: &str, header_line: usize, key: &str, value: &str) -> Option<String> {
    // Lines as the parser counts them (`\n`, `\r\n`, a lone `\r`), each with its terminator.
    let mut lines: Vec<(&str, &str)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        let term_len = if rest[end..].starts_with("\r\n") { 2 } else { usize::from(end < rest.len()) };
        lines.push((&rest[..end], &rest[end..end + term_len]));
        rest = &rest[end + term_len..];
    }
    let (header, header_eol) = *lines.get(header_line.checked_sub(1)?)?;
    let is_header = |line: &str| split_header(line.trim_start_matches('\u{feff}').trim()).is_some();
    if !is_header(header) {
        return None;
    }
    let eol = if header_eol.is_empty() {
        lines.iter().map(|l| l.1).find(|t| !t.is_empty()).unwrap_or("\n")
    } else {
        header_eol
    };
    // The section's lines up to the next header, without blanks and comments.
    let body: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .skip(header_line)
        .map(|(i, (l, _))| (i, *l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim().starts_with(['#', ';']))
        .take_while(|(_, l)| !is_header(l))
        .collect();
    let first_indent = body.first().map(|(_, l)| indent_of(l)).unwrap_or("");
    let existing = body
        .iter()
        .find(|(_, l)| l.trim().split_once(['=', ':']).is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(key)))
        .map(|(i, _)| *i);
    let mut out = String::with_capacity(text.len() + key.len() + value.len() + 8);
    for (i, (line, term)) in lines.iter().enumerate() {
        if Some(i) == existing {
            out.push_str(&format!("{}{key} = {value}", indent_of(line)));
            out.push_str(term);
            continue;
        }
        out.push_str(line);
        out.push_str(term);
        if i + 1 == header_line && existing.is_none() {
            if term.is_empty() {
                out.push_str(eol);
            }
            out.push_str(&format!("{first_indent}{key} = {value}{eol}"));
        }
    }
    Some(out)
}

/// Any of these marks a profile as meant for SSO.
pub const SSO_PROFILE_KEYS: [&str; 5] =
    ["sso_session", "sso_start_url", "sso_region", "sso_account_id", "sso_role_name"];

/// A non-empty text setting; an indented block where a single value belongs is an error.
fn setting<'a>(section: &'a Section, key: &str, label: &str) -> Result<Option<&'a str>, ConfigError> {
    match section.values.get(key) {
        None => Ok(None),
        Some(Value::Text(v)) => Ok(Some(v.as_str()).filter(|v| !v.is_empty())),
        Some(Value::Nested(_)) => Err(ConfigError::Invalid {
            what: format!("{key} in {label} is an indented block where a single value belongs"),
        }),
    }
}

fn missing<const N: usize>(pairs: [(&'static str, Option<&str>); N]) -> Vec<&'static str> {
    pairs.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect()
}

fn parse_scopes(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn profile_label(profile: &str) -> String {
    if profile == "default" { "[default]".to_string() } else { format!("[profile {profile}]") }
}

/// The file's bytes, empty when it does not exist. The read is bounded (docs/how-it-works.md, "Bounded reads"): a FIFO, a
/// device, a folder or a file over `SETTINGS_FILE_LIMIT` is an error naming the file, never a hang.
fn read_optional(path: &Path) -> Result<Vec<u8>, ConfigError> {
    match crate::cache::read_bounded(path, crate::cache::SETTINGS_FILE_LIMIT) {
        Ok(bytes) => Ok(bytes.unwrap_or_default()),
        Err(e) => Err(ConfigError::Io { path: path.to_path_buf(), source: e.into_io() }),
    }
}

/// UTF-8 text, or a parse error naming the line of the first bad byte.
fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, ConfigError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("");
        let line = lines(&format!("{valid}x")).count();
        parse_error(path, line, "not valid UTF-8")
    })
}

#[cfg(test)]
mod vectors;

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "/h/.aws/config";
    const CREDS: &str = "/h/.aws/credentials";

    fn parse_both(config: &str, creds: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new(CONFIG), config, Path::new(CREDS), creds)
    }

    fn parse(config: &str) -> Config {
        parse_both(config, "").unwrap_or_else(|e| panic!("parse failed: {e}"))
    }

    fn parse_err(config: &str) -> String {
        match parse_both(config, "") {
            Ok(_) => panic!("expected an error for {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn text(config: &Config, profile: &str, key: &str) -> Option<String> {
        config.profile(profile)?.get(key).map(str::to_string)
    }

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        let c = parse("# top\n; also\n\n[default]\n  # indented comment\n\tregion = eu-west-1\n   ; x\n");
        assert_eq!(text(&c, "default", "region").as_deref(), Some("eu-west-1"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn headers_map_to_profiles_sessions_and_services() {
        let c = parse(concat!(
            "[default]\na = 1\n",
            "[profile dev]\na = 2\n",
            "[profile \"a b\"]\na = 3\n",
            "[profile 'c d']\na = 4\n",
            "[sso-session corp]\nsso_region = us-east-1\n",
            "[services local]\nsso_oidc =\n  endpoint_url = http://127.0.0.1:1\n",
            "[preview]\ncloudfront = true\n",
            "[Dev]\na = 5\n",
        ));
        let names: Vec<&str> = c.profiles.keys().map(String::as_str).collect();
        assert_eq!(names, ["a b", "c d", "default", "dev"]);
        assert_eq!(text(&c, "a b", "a").as_deref(), Some("3"));
        assert_eq!(c.sso_sessions["corp"].get("sso_region"), Some("us-east-1"));
        assert_eq!(c.sso_sessions["corp"].line, 9);
        assert!(c.services.contains_key("local"));
        assert!(c.warnings.is_empty(), "unknown sections are ignored silently: {:?}", c.warnings);
    }

    #[test]
    fn header_inline_comments_are_stripped() {
        for header in ["[profile a] # c", "[profile a];c", "[profile a]#c", "[profile a]\t; c"] {
            let c = parse(&format!("{header}\nk = v\n"));
            assert_eq!(text(&c, "a", "k").as_deref(), Some("v"), "{header}");
            assert!(c.warnings.is_empty(), "{header}: {:?}", c.warnings);
        }
        // configparser's header runs to the last `]` of the line: a comment holding one is part of it.
        let c = parse("[profile a] ; see [docs]\nk = v\n[profile b]]\nk = w\n");
        assert_eq!(c.profiles.keys().collect::<Vec<_>>(), ["b]"], "{:?}", c.warnings);
        assert!(c.warnings[0].contains(":1: section [profile a] ; see [docs] is ignored"), "{:?}", c.warnings);
        let c = parse("[profile a] junk\nk = v\n");
        assert_eq!(text(&c, "a", "k").as_deref(), Some("v"));
        assert!(c.warnings[0].contains("/h/.aws/config:1: text after the section header"), "{:?}", c.warnings);
    }

    #[test]
    fn malformed_headers_are_ignored_with_a_warning() {
        let cases = [
            ("[profilefoo]", "expected [profile NAME]"),
            ("[profile a b]", "expected [profile NAME]"),
            ("[profile]", "expected [profile NAME]"),
            ("[sso-session]", "expected [sso-session NAME]"),
            ("[profile \"a]", "quotes do not balance"),
            ("[Profile x]", "case-sensitive"),
            ("[ default ]", "case-sensitive"),
        ];
        for (header, why) in cases {
            let c = parse(&format!("[default]\n\n{header}\nregion = x\n"));
            assert_eq!(c.profiles.len(), 1, "{header}: keys of an ignored section go nowhere");
            assert_eq!(text(&c, "default", "region"), None, "{header}");
            assert_eq!(c.warnings.len(), 1, "{header}: {:?}", c.warnings);
            assert!(c.warnings[0].starts_with("/h/.aws/config:3: section ["), "{:?}", c.warnings);
            assert!(c.warnings[0].contains(why), "{header}: {:?}", c.warnings);
        }
    }

    #[test]
    fn header_names_split_on_shlex_whitespace_only() {
        let c =
            parse("[profile\ta]\nk = 1\n[profile \t b]\nk = 2\n[profile\u{a0}c]\nk = 3\n[profile\u{a0}d e]\nk = 4\n");
        assert_eq!(text(&c, "a", "k").as_deref(), Some("1"));
        assert_eq!(text(&c, "b", "k").as_deref(), Some("2"));
        // A no-break space does not split: `profile\u{a0}d` is the first word of two, and botocore
        // does not check the first word.
        assert_eq!(text(&c, "e", "k").as_deref(), Some("4"));
        assert_eq!(c.profiles.len(), 3, "{:?}", c.profiles.keys());
        assert!(
            c.warnings[0].contains(":5: section [profile\u{a0}c] is ignored: expected [profile NAME]"),
            "{:?}",
            c.warnings
        );
        let c = parse("[profile \u{a0}d e]\nk = 1\n");
        assert_eq!(c.profiles.len(), 0, "three words: {:?}", c.profiles.keys());
    }

    #[test]
    fn keys_are_lower_cased_as_python_does() {
        // KELVIN SIGN lower-cases to an ASCII 'k'; capital I with dot above to two characters.
        let e = parse_err("[default]\nkey = 1\n\u{212a}EY = 2\n");
        assert_eq!(e, "/h/.aws/config:3: duplicate key 'key' in [default] (first at line 2)");
        let c = parse("[default]\n\u{130}X = 1\nMiXeD = 2\n");
        assert_eq!(text(&c, "default", "i\u{307}x").as_deref(), Some("1"));
        assert_eq!(text(&c, "default", "mixed").as_deref(), Some("2"));
    }

    #[test]
    fn header_quoting_follows_shlex() {
        assert_eq!(shlex_split(r#"profile "a \"b\" c""#), Some(vec!["profile".into(), r#"a "b" c"#.into()]));
        assert_eq!(shlex_split(r"profile a\ b"), Some(vec!["profile".into(), "a b".into()]));
        assert_eq!(shlex_split("profile x'y z'"), Some(vec!["profile".into(), "xy z".into()]));
        assert_eq!(shlex_split("profile \"\""), Some(vec!["profile".into(), String::new()]));
        assert_eq!(shlex_split("profile 'a"), None);
        assert_eq!(shlex_split("profile a\\"), None);
        assert_eq!(shlex_words("x --profile dev 'a"), Err("No closing quotation"));
        assert_eq!(shlex_words("x \"a \\\"b"), Err("No closing quotation"));
        assert_eq!(shlex_words("x a\\"), Err("No escaped character"));
        let c = parse("[profile \"a]b\"]\nk = v\n");
        assert_eq!(text(&c, "a]b", "k").as_deref(), Some("v"));
    }

    #[test]
    fn later_of_default_and_profile_default_wins() {
        for (config, winner) in [
            ("[default]\nregion = a\nx = 1\n[profile default]\nregion = b\n", "b"),
            ("[profile default]\nregion = b\nx = 1\n[default]\nregion = a\n", "a"),
        ] {
            let c = parse(config);
            assert_eq!(text(&c, "default", "region").as_deref(), Some(winner));
            assert_eq!(text(&c, "default", "x"), None, "the later section replaces the earlier one whole");
            assert_eq!(c.profile("default").map(|s| s.line), Some(4));
            assert!(c.warnings[0].starts_with("/h/.aws/config:4: ["), "{:?}", c.warnings);
        }
    }

    #[test]
    fn credentials_override_config_key_by_key() {
        let c = parse_both(
            "[profile dev]\nregion = us-east-1\noutput = json\n",
            "[dev]\nregion = eu-west-1\n[only-creds]\naws_access_key_id = AKIA\n[profile x]\nk = v\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let dev = c.profile("dev").unwrap_or_else(|| panic!("no dev"));
        assert_eq!(dev.get("region"), Some("eu-west-1"));
        assert_eq!(dev.get("output"), Some("json"));
        assert_eq!((dev.path.as_path(), dev.line), (Path::new(CREDS), 1));
        assert_eq!(text(&c, "only-creds", "aws_access_key_id").as_deref(), Some("AKIA"));
        assert_eq!(text(&c, "profile x", "k").as_deref(), Some("v"), "credentials headers are literal");
        assert_eq!(c.profile("x").map(|s| s.name.as_str()), None);
    }

    #[test]
    fn properties_split_on_the_first_delimiter() {
        let c = parse(concat!(
            "[default]\n",
            "  url   =   https://Corp.awsapps.com/start  \n",
            "a: b=c\n",
            "B = c:d\n",
            "empty =\n",
        ));
        assert_eq!(text(&c, "default", "a").as_deref(), Some("b=c"));
        assert_eq!(text(&c, "default", "b").as_deref(), Some("c:d"), "keys are lower-cased");
        assert_eq!(
            text(&c, "default", "url").as_deref(),
            Some("https://Corp.awsapps.com/start"),
            "an indented line right after a header is a property"
        );
        assert_eq!(text(&c, "default", "empty").as_deref(), Some(""));
    }

    #[test]
    fn bad_lines_are_parse_errors_with_path_and_line() {
        let cases = [
            ("region = x\n", ":1: property before the first [section] header"),
            ("[default]\njust words\n", ":2: expected 'key = value'"),
            ("[default]\n= x\n", ":2: missing key"),
            ("[default]\n:\n", ":2: missing key"),
            ("[default]\n[profile a\n", ":2: section header is missing its closing ']'"),
            ("[default]\n\n[]\n", ":3: empty section header"),
        ];
        for (config, expected) in cases {
            let e = parse_err(config);
            assert!(e.starts_with(CONFIG) && e.contains(expected), "{config:?}: {e}");
        }
    }

    #[test]
    fn inline_comments_are_cut_only_after_whitespace() {
        let c = parse(concat!(
            "[default]\n",
            "region = us-east-1 # old: AKIASECRET\n",
            "a = value;x\n",
            "url = https://x/start#/\n",
            "b = v\t; note\n",
            "c = text\n",
            "  more # kept\n",
        ));
        assert_eq!(text(&c, "default", "region").as_deref(), Some("us-east-1"));
        assert_eq!(text(&c, "default", "a").as_deref(), Some("value;x"));
        assert_eq!(text(&c, "default", "url").as_deref(), Some("https://x/start#/"));
        assert_eq!(text(&c, "default", "b").as_deref(), Some("v"));
        assert_eq!(text(&c, "default", "c").as_deref(), Some("text\nmore # kept"));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(!c.warnings[0].contains("AKIASECRET"), "comments are not echoed");
        assert!(c.warnings[0].starts_with("/h/.aws/config:2: value of 'region' cut"), "{:?}", c.warnings);
        assert!(c.warnings[1].starts_with("/h/.aws/config:5: value of 'b' cut"), "{:?}", c.warnings);
    }

    #[test]
    fn continuation_lines_join_with_newlines() {
        let c = parse("[default]\nk = one\n  two\n\n\tthree\n\nnext = x\n");
        assert_eq!(text(&c, "default", "k").as_deref(), Some("one\ntwo\n\nthree"));
        assert_eq!(text(&c, "default", "next").as_deref(), Some("x"));
    }

    #[test]
    fn empty_value_with_indented_lines_is_a_block() {
        let c = parse(concat!(
            "[profile dev]\n",
            "s3 =\n",
            "  Addressing_Style = path\n",
            "\n",
            "  # comment\n",
            "  signature_version = s3v4\n",
            "region = x\n",
            "[services local]\n",
            "sso-oidc =\n",
            "  endpoint_url = http://127.0.0.1:8080\n",
            "sso = # the portal\n",
            "  endpoint_url = http://127.0.0.1:8081\n",
        ));
        let dev = c.profile("dev").unwrap_or_else(|| panic!("no dev"));
        let s3 = dev.nested("s3").unwrap_or_else(|| panic!("s3 is not a block"));
        assert_eq!(s3.get("Addressing_Style").map(String::as_str), Some("path"), "block keys keep their case");
        assert_eq!(s3.get("signature_version").map(String::as_str), Some("s3v4"));
        assert_eq!(dev.get("s3"), None);
        assert_eq!(dev.get("region"), Some("x"));
        let local = &c.services["local"];
        assert_eq!(
            local.nested("sso-oidc").and_then(|m| m.get("endpoint_url")).map(String::as_str),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(local.nested("sso").map(|m| m.len()), Some(1));

        let e = parse_err("[default]\ns3 =\n  a = b\n  no equals here\n");
        assert!(e.contains("/h/.aws/config:4: expected 'key = value' in the indented block under 's3'"), "{e}");
        // botocore splits a block line on its first `=` and checks nothing more.
        let c = parse("[profile foo]\nregion = us-east-1\ns3 =\n  = value\n  a = b = c\n  A = x\n");
        let s3 = c.profile("foo").and_then(|p| p.nested("s3")).unwrap_or_else(|| panic!("s3 is not a block"));
        let read: Vec<(&str, &str)> = s3.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(read, [("", "value"), ("A", "x"), ("a", "b = c")]);
        assert_eq!(text(&c, "foo", "region").as_deref(), Some("us-east-1"));
        let e = parse_err("[default]\ns3 =\n  a: b\n");
        assert!(e.contains(":3: expected 'key = value' in the indented block"), "{e}");
    }

    #[test]
    fn default_in_capitals_is_the_defaults_of_every_section_of_its_file() {
        // configparser's defaults section, as botocore 1.44 reads it (each case checked there).
        let c = parse_both(
            "[DEFAULT]\nregion = x\n[profile a]\nk = 1\n[sso-session s]\nsso_region = y\n\
             [services v]\ns3 =\n  a = b\n[DEFAULT]\nk2 = 2\n[profile b]\nregion = own\n",
            "[DEFAULT]\nsecret = c\n[a]\ny = 2\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text(&c, "a", "region").as_deref(), Some("x"));
        assert_eq!(text(&c, "a", "k2").as_deref(), Some("2"), "a later [DEFAULT] part counts too");
        assert_eq!(text(&c, "a", "secret").as_deref(), Some("c"), "the credentials file's own defaults");
        assert_eq!(text(&c, "a", "y").as_deref(), Some("2"));
        assert_eq!(text(&c, "b", "region").as_deref(), Some("own"), "a section's own key wins");
        assert_eq!(c.sso_sessions["s"].get("region"), Some("x"));
        assert_eq!(c.services["v"].get("region"), Some("x"));
        assert!(!c.profiles.contains_key("DEFAULT") && c.profiles.len() == 2, "{:?}", c.profiles.keys());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = parse("[DEFAULT]\ns3 =\n  a = b\n[profile a]\n");
        assert_eq!(c.profile("a").and_then(|p| p.nested("s3")).map(|m| m.len()), Some(1));
        // Its keys are checked for duplicates across its parts; the section itself may come again.
        let e = parse_err("[DEFAULT]\nregion = x\n[profile a]\n[DEFAULT]\nREGION = 2\n");
        assert_eq!(e, "/h/.aws/config:5: duplicate key 'region' in [DEFAULT] (first at line 2)");
        assert!(parse_both("[profile a]\nk = 1\n[DEFAULT]\nk = 2\n", "").is_ok(), "a section and the defaults");
        // The scoped parse (the cache hit's) sees the defaults too.
        let config = "[profile a]\nk = 1\n[profile b]\n[DEFAULT]\nregion = late\n";
        let scoped =
            Config::parse_scoped(Path::new(CONFIG), config, Path::new(CREDS), "", Scope::Profiles(&["a"])).unwrap();
        assert_eq!(text(&scoped, "a", "region").as_deref(), Some("late"));
    }

    #[test]
    fn a_line_starting_with_a_bracket_but_no_header_is_a_property() {
        // configparser's header needs a `]` after at least one character; anything else is a line
        // like any other: `[x = y` is the key `[x`.
        let c = parse("[profile a]\n[x = y\n[]=z\n");
        assert_eq!(text(&c, "a", "[x").as_deref(), Some("y"));
        assert_eq!(text(&c, "a", "[]").as_deref(), Some("z"));
        assert!(parse_err("[default]\n[profile a\n").contains(":2: section header is missing its closing ']'"));
        assert!(parse_err("[default]\n[]\n").contains(":2: empty section header '[]'"));
    }

    #[test]
    fn duplicates_in_one_file_are_errors_naming_both_lines() {
        let e = parse_err("[profile dev]\na = 1\n[profile dev]\nb = 2\n");
        assert_eq!(e, "/h/.aws/config:3: duplicate section [profile dev] (first at line 1)");
        let e = parse_err("[profile dev]\nregion = a\nx = 1\nREGION = b\n");
        assert_eq!(e, "/h/.aws/config:4: duplicate key 'region' in [profile dev] (first at line 2)");
        let e = parse_both("", "[dev]\n[dev]\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "/h/.aws/credentials:2: duplicate section [dev] (first at line 1)");
        // The same key in two sections, or in the config and the credentials file, is fine.
        assert!(parse_both("[default]\na = 1\n[profile b]\na = 2\n", "[default]\na = 3\n").is_ok());
    }

    #[test]
    fn lines_split_as_universal_newlines() {
        // The plain splitter the word-at-a-time one replaces.
        fn reference(text: &str) -> Vec<&str> {
            let mut lines = Vec::new();
            let mut rest = text;
            while let Some(i) = rest.find(['\r', '\n']) {
                let (line, tail) = rest.split_at(i);
                lines.push(line);
                rest = tail.strip_prefix("\r\n").or_else(|| tail.get(1..)).unwrap_or("");
            }
            if !rest.is_empty() {
                lines.push(rest);
            }
            lines
        }
        let pieces = ["\n", "\n", "\r\n", "\r", "a", "bcdefgh", "\u{e9}", "\u{2028}", "\n\n", "ij", " "];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let text: String = (0..rng.below(24)).map(|_| rng.pick(&pieces)).collect();
            assert_eq!(lines(&text).collect::<Vec<_>>(), reference(&text), "{text:?}");
        }
        for n in 0..40 {
            let text = "x\n".repeat(n) + &"y".repeat(n % 9);
            assert_eq!(lines(&text).collect::<Vec<_>>(), reference(&text), "{text:?}");
        }
    }

    #[test]
    fn long_sections_still_find_duplicate_keys() {
        let mut config = String::from("[profile big]\n");
        for i in 0..40 {
            config.push_str(&format!("key{i} = {i}\n"));
        }
        let e = parse_err(&format!("{config}KEY3 = again\n"));
        assert_eq!(e, "/h/.aws/config:42: duplicate key 'key3' in [profile big] (first at line 5)");
        // The same where the scoped parse keeps nothing of the section.
        let scoped = Config::parse_scoped(
            Path::new(CONFIG),
            &format!("{config}KEY3 = again\n"),
            Path::new(CREDS),
            "",
            Scope::Profiles(&["other"]),
        );
        assert_eq!(scoped.err().map(|e| e.to_string()), Some(e));
        // The next section starts afresh.
        let c = parse(&format!("{config}[profile next]\nkey3 = x\n"));
        assert_eq!(c.profile("big").map(|s| s.values.len()), Some(40));
        assert_eq!(text(&c, "next", "key3").as_deref(), Some("x"));
    }

    #[test]
    fn bom_crlf_and_cr_line_endings() {
        for config in
            ["\u{feff}[default]\r\nregion = a\r\n  b\r\n", "[default]\rregion = a\r  b\r", "[default]\nregion = a\n  b"]
        {
            let c = parse(config);
            assert_eq!(text(&c, "default", "region").as_deref(), Some("a\nb"), "{config:?}");
        }
        let e = parse_err("[default]\r\na = 1\r\na = 2\r\n");
        assert!(e.contains(":3:"), "CRLF counts as one line break: {e}");
    }

    #[test]
    fn invalid_utf8_is_a_parse_error_with_its_line() {
        let e = decode(Path::new(CONFIG), b"[default]\nregion = \xff\n").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("/h/.aws/config:2: not valid UTF-8"));
        let e = decode(Path::new(CONFIG), b"\xc3").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("/h/.aws/config:1: not valid UTF-8"));
    }

    #[test]
    fn load_treats_missing_files_as_empty_and_names_unreadable_ones() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = Config::load(&dir.path().join("config"), &dir.path().join("credentials"));
        assert!(missing.is_ok_and(|c| c.profiles.is_empty()));

        let config = dir.path().join("config");
        std::fs::write(&config, "[profile dev]\nsso_session = corp\n").unwrap_or_else(|e| panic!("{e}"));
        let c = Config::load(&config, &dir.path().join("credentials")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.profile("dev").map(|s| s.path.clone()), Some(config.clone()));

        // A directory where the file should be: an I/O error naming the path, the cause via source().
        let e = Config::load(&config, dir.path()).err().unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(e.to_string(), format!("could not read {}", dir.path().display()));
        assert!(std::error::Error::source(&e).is_some());

        std::fs::write(&config, b"[default]\nregion = \xfe\n").unwrap_or_else(|e| panic!("{e}"));
        let e = Config::load(&config, &dir.path().join("credentials")).err().map(|e| e.to_string());
        assert_eq!(e, Some(format!("{}:2: not valid UTF-8", config.display())));
    }

    // ---- resolution ----

    const SSO: &str = "\
[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start#/
sso_region = eu-west-1
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile plain]
region = us-east-1

[profile session-only]
sso_session = corp

[profile dup-equal]
sso_session = corp
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 1
sso_role_name = R

[profile dup-differs]
sso_session = corp
sso_start_url = https://other.awsapps.com/start

[profile no-such-session]
sso_session = nope

[profile half-session]
sso_session = half

[profile legacy-partial]
sso_account_id = 1

[profile legacy-no-role]
sso_start_url = https://legacy.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 1

[profile blocky]
sso_session =
  a = b

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access, ,other ,

[sso-session half]
sso_region = us-east-1
";

    fn corp() -> SsoSession {
        SsoSession {
            name: Some("corp".into()),
            start_url: "https://corp.awsapps.com/start".into(),
            region: "us-east-1".into(),
            scopes: vec!["sso:account:access".into(), "other".into()],
        }
    }

    #[test]
    fn sessions_and_targets_resolve() {
        let c = parse(SSO);
        assert_eq!(c.sso_session("corp").ok(), Some(corp()));
        assert_eq!(c.profile_session("dev").ok(), Some(corp()));
        assert_eq!(c.profile_session("session-only").ok(), Some(corp()));
        assert_eq!(c.profile_session("dup-equal").ok(), Some(corp()), "equal duplicates are allowed");
        assert_eq!(
            c.profile_target("dev").ok(),
            Some(SsoTarget { session: corp(), account_id: "111122223333".into(), role_name: "Developer".into() })
        );
        let legacy = SsoSession {
            name: None,
            start_url: "https://legacy.awsapps.com/start#/".into(),
            region: "eu-west-1".into(),
            scopes: Vec::new(),
        };
        assert_eq!(c.profile_session("legacy").ok(), Some(legacy.clone()));
        assert_eq!(
            c.profile_target("legacy").map(|t| (t.session, t.account_id)).ok(),
            Some((legacy, "444455556666".into()))
        );
        assert_eq!(c.profile_session("legacy-no-role").map(|s| s.name).ok(), Some(None), "a session needs no role");
        assert_eq!(parse_scopes(" a, ,b ,"), ["a", "b"]);
    }

    #[test]
    fn resolution_errors_have_their_own_messages_and_hints() {
        let c = parse(SSO);
        let cases: [(Result<SsoSession, ConfigError>, &str, &str); 11] = [
            (
                c.profile_session("ghost"),
                "the config profile (ghost) could not be found",
                "aws configure list-profiles",
            ),
            (
                c.profile_session("no-such-session"),
                "the specified sso-session does not exist: \"nope\" (named by profile no-such-session)",
                "add a [sso-session nope] section with sso_start_url and sso_region",
            ),
            (c.sso_session("nope"), "the specified sso-session does not exist: \"nope\"", "[sso-session nope]"),
            (
                c.profile_session("half-session"),
                "sso-session \"half\" (named by profile half-session) is missing required configuration: sso_start_url",
                "add sso_start_url to [sso-session half]",
            ),
            (
                c.sso_session("half"),
                "sso-session \"half\" is missing required configuration: sso_start_url",
                "add sso_start_url to [sso-session half]",
            ),
            (
                c.profile_session("dup-differs"),
                "the value for sso_start_url is inconsistent between profile dup-differs (https://other.awsapps.com/start) and sso-session corp (https://corp.awsapps.com/start)",
                "remove sso_start_url from [profile dup-differs]",
            ),
            (
                c.profile_session("legacy-partial"),
                "profile \"legacy-partial\" is configured to use SSO but is missing required configuration: sso_start_url, sso_region",
                "add sso_start_url and sso_region to [profile legacy-partial]",
            ),
            (
                c.profile_session("plain"),
                "profile plain is not configured for SSO",
                "add sso_session, sso_account_id and sso_role_name to [profile plain], or point --profile at the profile that has them",
            ),
            (
                c.profile_target("session-only").map(|t| t.session),
                "profile \"session-only\" is configured to use SSO but is missing required configuration: sso_account_id, sso_role_name",
                "add sso_account_id and sso_role_name to [profile session-only]",
            ),
            (
                c.profile_target("legacy-partial").map(|t| t.session),
                "missing required configuration: sso_start_url, sso_region, sso_role_name",
                "add sso_start_url, sso_region and sso_role_name to [profile legacy-partial]",
            ),
            (c.profile_session("blocky"), "sso_session in [profile blocky] is an indented block", ""),
        ];
        for (result, message, hint) in cases {
            let e = result.err().unwrap_or_else(|| panic!("expected an error: {message}"));
            let shown = e.to_string();
            assert!(shown.contains(message), "{shown}\n  wanted: {message}");
            assert_eq!(shown, shown.trim_end_matches('.'), "no trailing period");
            assert!(shown.starts_with(|c: char| !c.is_uppercase()), "lowercase: {shown}");
            assert!(e.hint().unwrap_or_default().contains(hint), "{:?}\n  wanted: {hint}", e.hint());
        }
    }

    #[test]
    fn parse_and_io_errors_have_hints() {
        let e = parse_both("x = 1\n", "").err().unwrap_or_else(|| panic!("expected an error"));
        assert!(e.hint().is_some_and(|h| h.contains(CONFIG) && h.contains("aws configure list-profiles")));
    }

    // ---- garbage never panics ----

    fn exercise(bytes: &[u8]) {
        let path = Path::new(CONFIG);
        let Ok(text) = decode(path, bytes) else {
            return;
        };
        for (config, creds) in [(text, ""), ("", text)] {
            if let Ok(c) = parse_both(config, creds) {
                for name in c.profiles.keys() {
                    let _ = c.profile_target(name).map_err(|e| (e.to_string(), e.hint()));
                }
                for name in c.sso_sessions.keys() {
                    let _ = c.sso_session(name).map_err(|e| (e.to_string(), e.hint()));
                }
            }
        }
    }

    #[test]
    fn garbage_input_never_panics() {
        let all: Vec<u8> = (0..=255).collect();
        exercise(&all);
        let templates: [&[u8]; 8] = [
            b"[profile \"a]\n",
            b"[\n",
            b"]\n",
            b"=\n",
            b"[default]\n=",
            b"[default]\nk =\n \x00",
            b"[profile '",
            b"[",
        ];
        for t in templates {
            exercise(t);
        }
        for b in 0..=255u8 {
            for t in templates {
                let mut v = t.to_vec();
                v.push(b);
                exercise(&v);
                v.insert(0, b);
                exercise(&v);
            }
            exercise(&[b'[', b, b']', b'\n', b, b'=', b]);
            exercise(&[b'[', b'd', b'e', b'f', b'a', b'u', b'l', b't', b']', b'\n', b'k', b'=', b'\n', b' ', b]);
        }
        // Random lines from a small alphabet that is heavy on the characters with meaning.
        let alphabet = b"[]\"'\\=:#; \t\n\r\n\n\xc3\xa9\xffprofile sso-session services default ab";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut input = Vec::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for _ in 0..state % 80 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.extend(alphabet.get(state as usize % alphabet.len()));
            }
            exercise(&input);
        }
    }

    #[test]
    fn section_debug_shows_keys_not_values() {
        let cfg = Config::parse(
            Path::new("/h/.aws/config"),
            "",
            Path::new("/h/.aws/credentials"),
            "[ci]\naws_secret_access_key = SECRET-VALUE\n",
        )
        .unwrap();
        let shown = format!("{cfg:?}");
        assert!(shown.contains("aws_secret_access_key") && !shown.contains("SECRET-VALUE"), "{shown}");
    }

    #[test]
    fn a_vanity_start_url_may_leave_sso_region_to_the_login() {
        let c = parse(
            "[sso-session vanity]\nsso_start_url = https://sso.example.com/start\n\
             [sso-session aws]\nsso_start_url = https://d-1.awsapps.com/start\n\
             [profile legacy-vanity]\nsso_start_url = https://SSO.example.com\nsso_account_id = 1\nsso_role_name = R\n",
        );
        assert_eq!(c.sso_session("vanity").unwrap().region, "", "derived at login");
        assert_eq!(c.profile_target("legacy-vanity").unwrap().session.region, "");
        let err = c.sso_session("aws").unwrap_err().to_string();
        assert!(err.contains("missing required configuration: sso_region"), "{err}");
    }

    #[test]
    fn set_key_touches_one_line() {
        let text =
            "# top\n[profile a]\nregion = x\n\n[sso-session corp]\n  sso_start_url = https://s\n[sso-session b]\n";
        assert_eq!(
            set_key(text, 5, "sso_region", "eu-west-1").unwrap(),
            "# top\n[profile a]\nregion = x\n\n[sso-session corp]\n  sso_region = eu-west-1\n  sso_start_url = https://s\n[sso-session b]\n"
        );
        assert_eq!(
            set_key(text, 7, "sso_region", "r").unwrap(),
            "# top\n[profile a]\nregion = x\n\n[sso-session corp]\n  sso_start_url = https://s\n[sso-session b]\nsso_region = r\n"
        );
        let crlf = "[sso-session c]\r\nsso_start_url = u\r\nSSO_Region : us-east-1 # old\r\n[x y]\r\n";
        assert_eq!(
            set_key(crlf, 1, "sso_region", "eu-west-1").unwrap(),
            "[sso-session c]\r\nsso_start_url = u\r\nsso_region = eu-west-1\r\n[x y]\r\n"
        );
        assert_eq!(set_key("\u{feff}[sso-session c]", 1, "k", "v").unwrap(), "\u{feff}[sso-session c]\nk = v\n");
        assert_eq!(set_key(text, 3, "k", "v"), None, "line 3 is no header");
        // A line starting with `[` that is no header is a property of the section.
        let odd = "[sso-session c]\n[x = y\nsso_region = old\n";
        assert_eq!(set_key(odd, 1, "sso_region", "new").unwrap(), "[sso-session c]\n[x = y\nsso_region = new\n");
        assert_eq!(set_key(text, 99, "k", "v"), None);
        let edited = set_key(text, 5, "sso_region", "eu-west-1").unwrap();
        assert_eq!(parse(&edited).sso_session("corp").unwrap().region, "eu-west-1");
    }

    // ---- the scoped parse gives the whole parse's answers, so an index hit reads what a whole read reads ----

    /// xorshift64: the same configs on every run, no crate needed.
    pub(super) struct Rng(pub(super) u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        pub(super) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        pub(super) fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    /// Names that collide on purpose: case variants, `default`, a name that needs quoting.
    pub(super) const NAMES: [&str; 8] = ["dev", "Dev", "default", "prod", "a b", "x]y", "corp", "K"];
    const KEYS: [&str; 14] = [
        "region",
        "REGION",
        "Region",
        "sso_session",
        "sso_start_url",
        "sso_region",
        "sso_account_id",
        "sso_role_name",
        "s3",
        "credential_process",
        "key",
        "\u{212a}ey", // KELVIN SIGN: lower-cases to "key"
        "\u{130}x",
        "aws_secret_access_key",
    ];

    fn header(rng: &mut Rng) -> String {
        let name = rng.pick(&NAMES);
        let quoted = if name.contains([' ', ']']) || rng.chance(20) {
            match rng.below(3) {
                0 => format!("\"{name}\""),
                1 => format!("'{name}'"),
                _ => name.replace(' ', "\\ ").replace(']', "\\]"),
            }
        } else {
            name.to_string()
        };
        let body = match rng.below(21) {
            0..=8 => format!("profile {quoted}"),
            9 => format!("profile  {quoted}"),
            10 => format!("profile{}{quoted}", rng.pick(&["\t", "\u{a0}", " \t "])),
            11 => "default".to_string(),
            12 => format!("sso-session {quoted}"),
            13 => format!("services {quoted}"),
            14 => format!("Profile {quoted}"),
            15 => " default ".to_string(),
            16 => format!("profile {quoted} extra"),
            17 => "preview".to_string(),
            18 => format!("profile{quoted}"),
            19 if rng.chance(30) => "DEFAULT".to_string(),
            _ => format!("profile \"{name}"),
        };
        let tail = match rng.below(8) {
            0 => " # comment",
            1 => ";c",
            2 => " junk",
            _ => "",
        };
        format!("[{body}]{tail}")
    }

    fn value(rng: &mut Rng) -> String {
        let words = ["us-east-1", "corp", "111122223333", "Dev", "https://x/start#/", "a=b", "v;x", ""];
        let mut v = rng.pick(&words).to_string();
        match rng.below(10) {
            0 => v.push_str(" # note"),
            1 => v.push_str("\t; note"),
            2 => v = format!(" # only a comment{v}"),
            3 => v = format!("#{v}"),
            _ => {}
        }
        v
    }

    /// One file of the dialect's every feature, and now and then a mistake.
    pub(super) fn random_file(rng: &mut Rng, credentials: bool) -> String {
        let eol = match rng.below(10) {
            0 => "\r\n",
            1 => "\r",
            _ => "\n",
        };
        let mut out = String::new();
        if rng.chance(5) {
            out.push('\u{feff}');
        }
        let mut lines: Vec<String> = Vec::new();
        if rng.chance(20) {
            lines.push("# top comment".into());
        }
        let mut headers = Vec::new();
        for _ in 0..rng.below(9) {
            // Credentials headers are profile names as written, spaces and all.
            let header = match credentials {
                true if rng.chance(15) => {
                    format!("[{}]", rng.pick(&[" dev", "dev ", "profile dev", "'dev'", "DEFAULT"]))
                }
                true => format!("[{}]", rng.pick(&NAMES)),
                false => header(rng),
            };
            // The same header twice is an error: now and then only.
            if headers.contains(&header) && !rng.chance(5) {
                continue;
            }
            headers.push(header.clone());
            lines.push(header);
            let mut used = Vec::new();
            for _ in 0..rng.below(6) {
                let key = rng.pick(&KEYS);
                // Mostly distinct keys (a duplicate is an error), sometimes on purpose.
                if used.contains(&key.to_lowercase()) && !rng.chance(3) {
                    continue;
                }
                used.push(key.to_lowercase());
                let indent = match rng.below(12) {
                    0 => "  ",
                    1 => "\t",
                    _ => "",
                };
                // An indented property continues an earlier one: a block line if that one is empty.
                let sep = match rng.below(6) {
                    0 if indent.is_empty() => ":",
                    1 => "=",
                    _ => " = ",
                };
                match rng.below(12) {
                    // A sub-property block, sometimes with a line that is not `k = v`.
                    0 | 1 => {
                        lines.push(format!("{indent}{key}{sep}{}", if rng.chance(30) { " # c" } else { "" }));
                        for _ in 0..1 + rng.below(3) {
                            let inner = match rng.below(200) {
                                0 => "no equals here".to_string(),
                                1 => "= x".to_string(),
                                2 => String::new(),
                                3 => "# inner comment".to_string(),
                                _ => format!("{} = {}", rng.pick(&KEYS), value(rng)),
                            };
                            lines.push(format!("{indent}    {inner}"));
                        }
                    }
                    // Continuation lines, with blank lines and comments between them.
                    2 => {
                        lines.push(format!("{indent}{key}{sep}{}", rng.pick(&["x", "a=b", "v # c"])));
                        for _ in 0..1 + rng.below(3) {
                            match rng.below(4) {
                                0 => lines.push(String::new()),
                                1 => lines.push("  # a comment".into()),
                                _ => lines.push(format!("{indent}\u{a0} {}", value(rng))),
                            }
                        }
                    }
                    _ => lines.push(format!("{indent}{key}{sep}{}", value(rng))),
                }
                if rng.chance(10) {
                    lines.push(String::new());
                }
            }
        }
        // Now and then one mistake, anywhere.
        if rng.chance(20) {
            let mistake =
                rng.pick(&["just words", "= x", " : x", "early = property", "[]", "[profile dev", "region = again"]);
            let at = rng.below(lines.len() + 1);
            lines.insert(at, mistake.to_string());
        }
        out.push_str(&lines.join(eol));
        if rng.chance(80) {
            out.push_str(eol);
        }
        out
    }

    pub(super) fn answer(c: &Config, profile: &str) -> String {
        let shown = |r: Result<SsoTarget, ConfigError>| format!("{:?}", r.map_err(|e| (e.to_string(), e.hint())));
        let session = c.profile_session(profile).map_err(|e| (e.to_string(), e.hint()));
        format!("{:?} {:?} {}", c.profiles.get(profile), session, shown(c.profile_target(profile)))
    }

    #[test]
    fn header_names_are_what_shlex_splits() {
        // botocore's rule, written plainly: the quick one-pass classify_name must agree with it.
        fn reference(header: &str) -> Option<(Kind, String)> {
            if header == "default" {
                return Some((Kind::Profile, header.to_string()));
            }
            let (_, kind) = KINDS.into_iter().find(|(prefix, _)| header.starts_with(prefix))?;
            match shlex_split(header).as_deref() {
                Some([_, name]) => Some((kind, name.clone())),
                _ => None,
            }
        }
        let pieces =
            ["profile", "sso-session", "services", " ", "\t", "  ", "a", "b c", "'", "\"", "\\", "\u{a0}", "]", "x"];
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..50_000 {
            let mut header = if rng.chance(70) { rng.pick(&KINDS.map(|(p, _)| p)).to_string() } else { String::new() };
            for _ in 0..rng.below(7) {
                header.push_str(rng.pick(&pieces));
            }
            let quick = classify_name(&header).map(|(k, n)| (k, n.into_owned()));
            assert_eq!(quick, reference(&header), "{header:?}");
        }
    }

    #[test]
    fn scoped_parse_answers_as_the_whole_parse() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (mut errors, mut found) = (0, 0);
        for case in 0..4000 {
            let config = random_file(&mut rng, false);
            let credentials = if rng.chance(40) { random_file(&mut rng, true) } else { String::new() };
            let whole = parse_both(&config, &credentials).map_err(|e| e.to_string());
            for _ in 0..3 {
                let wanted: Vec<&str> = (0..1 + rng.below(2)).map(|_| rng.pick(&NAMES)).collect();
                let scoped = Config::parse_scoped(
                    Path::new(CONFIG),
                    &config,
                    Path::new(CREDS),
                    &credentials,
                    Scope::Profiles(&wanted),
                )
                .map_err(|e| e.to_string());
                let context =
                    format!("case {case}, profiles {wanted:?}\nconfig: {config:?}\ncredentials: {credentials:?}");
                match (&whole, &scoped) {
                    (Err(w), Err(s)) => {
                        assert_eq!(w, s, "{context}");
                        errors += 1;
                    }
                    (Ok(w), Ok(s)) => {
                        assert_eq!(w.sso_sessions, s.sso_sessions, "{context}");
                        assert_eq!(w.services, s.services, "{context}");
                        assert!(s.profiles.keys().all(|k| wanted.contains(&k.as_str())), "{context}");
                        for name in &wanted {
                            assert_eq!(answer(w, name), answer(s, name), "{context}");
                            found += usize::from(w.profiles.contains_key(*name));
                        }
                    }
                    _ => panic!("whole {:?}, scoped {:?}\n{context}", whole.as_ref().err(), scoped.as_ref().err()),
                }
            }
        }
        // The generator must exercise both outcomes, or this test proves little.
        assert!(errors > 2000 && found > 2500, "{errors} errors, {found} profiles found");
    }
}
