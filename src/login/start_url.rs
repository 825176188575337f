//! The start URL a login works with (docs/login.md).
//!
//! A start URL on an AWS domain is used as it is. One on any other domain (a "vanity" URL, which the
//! AWS CLI accepts since 2.35.13) is resolved by exactly one request: HEAD, or GET when the server
//! answers HEAD with 405 or 501. Its redirect must point to an AWS start URL host (the allow-list in
//! `endpoints`) over https, and is never followed further; anything else is an error. The resolved
//! URL is what RegisterClient's `issuerUrl` and StartDeviceAuthorization's `startUrl` get; the
//! configured URL stays in the cache keys and the token file, as the CLI keeps it there. When the
//! resolved host names its region (`<id>.portal.<region>.app.aws`), that region is the session's for
//! this login, and `save_region` writes it to the config afterwards, as the CLI does.

use crate::cache;
use crate::config::{self, Config, Section};
use crate::context::Context;
use crate::endpoints;
use crate::error::Error;
use crate::http::{Method, Request};
use crate::target::SessionTarget;
use std::collections::BTreeMap;
use std::path::Path;

/// Longest URL (configured or redirect target) we look at.
const MAX_URL: usize = 2048;
/// Redirect statuses whose `Location` is taken (and not followed).
const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Where a login goes: the URL for the OIDC calls and the region of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub url: String,
    pub region: String,
}

/// The start URL of `target` resolved for a login (see the module comment). Sends nothing when the
/// start URL is on an AWS domain.
pub fn resolve(ctx: &Context, target: &SessionTarget) -> Result<Resolved, Error> {
    let configured = &target.session.start_url;
    let label = &target.label;
    let bad = |why: &str| Error::Other {
        what: format!("the start URL {} of {label} {why}", shown(configured)),
        hint: Some(format!("fix sso_start_url in {}", section_label(target))),
    };
    let url = Url::parse(configured).map_err(bad)?;
    if url.scheme != "https" {
        return Err(bad("does not use https"));
    }
    let configured_region = &target.session.region;
    if is_aws(ctx, &url) {
        if configured_region.is_empty() {
            return Err(no_region(target, "it is on an AWS domain"));
        }
        return Ok(Resolved { url: configured.clone(), region: configured_region.clone() });
    }

    ctx.debug(|| format!("the start URL {} is not on an AWS domain: asking where it redirects", shown(configured)));
    let Some(location) = ask_redirect(ctx, target, configured)? else {
        return Err(Error::Other {
            what: format!(
                "the start URL {} of {label} is not on an AWS domain and does not redirect to one",
                shown(configured)
            ),
            hint: Some(format!(
                "sso_start_url in {} must be your AWS access portal URL, or a URL that redirects to it",
                section_label(target)
            )),
        });
    };
    let refused = |why: &str| {
        Error::Other {
        what: format!("the start URL {} of {label} redirects to {}, {why}", shown(configured), shown(&location)),
        hint: Some(
            "a start URL may redirect only to an AWS access portal (*.awsapps.com, *.app.aws, ...; see docs/login.md); \
             check sso_start_url"
                .to_owned(),
        ),
    }
    };
    let next = url.join(&location).map_err(|why| refused(&format!("which {why}")))?;
    if !is_aws(ctx, &next) {
        return Err(refused("which is not an AWS IAM Identity Center host; refusing to sign in there"));
    }
    if next.scheme != "https" {
        return Err(refused("which does not use https"));
    }
    let resolved = next.normalized();
    // Only a name of a known partition's shape is used, and so ever written (docs/reliability.md).
    let region = match endpoints::region_of_start_url_host(&next.host) {
        Some(region) if endpoints::is_partition_region(&region) => region,
        Some(region) if configured_region.is_empty() => {
            let why = format!(
                "it redirects to {}, whose {:?} is not a region of any AWS partition",
                shown(&resolved),
                crate::sanitize::sanitize(&region)
            );
            return Err(no_region(target, &why));
        }
        Some(region) => {
            ctx.warn(format!(
                "the start URL of {label} redirects to {}, whose {:?} is not a region of any AWS partition; using \
                 sso_region {configured_region}",
                shown(&resolved),
                crate::sanitize::sanitize(&region)
            ));
            configured_region.clone()
        }
        None if !configured_region.is_empty() => configured_region.clone(),
        None => return Err(no_region(target, &format!("it redirects to {}, which names none", shown(&resolved)))),
    };
    ctx.debug(|| format!("the start URL of {label} resolves to {} in {region}", shown(&resolved)));
    Ok(Resolved { url: resolved, region })
}

fn no_region(target: &SessionTarget, why: &str) -> Error {
    Error::Other {
        what: format!("{} has no sso_region, and its start URL does not tell it: {why}", target.label),
        hint: Some(format!("add sso_region = <the region of your IAM Identity Center> to {}", section_label(target))),
    }
}

/// The one request: HEAD, or GET when HEAD is not allowed. The `Location` of a redirect, `None` when
/// the answer is not a redirect.
fn ask_redirect(ctx: &Context, target: &SessionTarget, url: &str) -> Result<Option<String>, Error> {
    let bundle = target.endpoints.ca_bundle.clone()?;
    let failed = |why: String, hint: Option<String>| Error::Other {
        what: format!("cannot resolve the start URL {} of {}: {why}", shown(url), target.label),
        hint,
    };
    for method in [Method::Head, Method::Get] {
        let req = Request {
            op: "start URL redirect",
            method,
            url: url.to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            ca_bundle: bundle.as_ref(),
            idempotent: true,
            deadline: None,
            secret_query: false,
        };
        let resp = ctx.http().send(&req).map_err(|e| {
            let e = Error::from(e);
            failed(crate::error::chain(&e), e.hint())
        })?;
        match resp.status {
            s if REDIRECTS.contains(&s) => {
                return match resp.location {
                    Some(location) if !location.is_empty() => Ok(Some(location)),
                    _ => Err(failed(format!("it answered HTTP {s} without a Location header"), None)),
                };
            }
            405 | 501 if method == Method::Head => {
                ctx.debug(|| format!("HEAD answered HTTP {}: asking again with GET", resp.status));
            }
            200..=299 => return Ok(None),
            s => {
                return Err(failed(
                    format!("it answered HTTP {s}"),
                    Some(format!("check sso_start_url in {}", section_label(target))),
                ));
            }
        }
    }
    Ok(None)
}

fn is_aws(ctx: &Context, url: &Url) -> bool {
    endpoints::is_aws_start_url_host(&url.host) || test_aws_authority(ctx).is_some_and(|a| a == url.authority())
}

/// Tests only: in a debug build (what `cargo test` runs), `AWS_SSO_PROCESS_TEST_AWS_HOST=127.0.0.1:PORT`
/// counts that one loopback host and port as an AWS start URL host, so a test can show that a
/// redirect chain is not followed. A release build has no such variable: the code is not there.
#[cfg(debug_assertions)]
fn test_aws_authority(ctx: &Context) -> Option<&str> {
    ctx.env.get("AWS_SSO_PROCESS_TEST_AWS_HOST").filter(|v| v.starts_with("127.0.0.1:"))
}

#[cfg(not(debug_assertions))]
fn test_aws_authority(_ctx: &Context) -> Option<&str> {
    None
}

/// A URL for a message: sanitised and cut short (redirect targets come from the network).
fn shown(url: &str) -> String {
    crate::sanitize::shortened(url, 200)
}

/// Where the session's settings are: `[sso-session corp]`, `[profile dev]`, or the command line.
fn section_label(target: &SessionTarget) -> String {
    match (&target.session.name, &target.settings_profile) {
        (Some(name), _) => format!("[sso-session {name}]"),
        (None, Some(p)) if target.login_args.starts_with("--profile") => profile_header(p),
        _ => "the command line (--start-url)".to_owned(),
    }
}

fn profile_header(profile: &str) -> String {
    if profile == "default" { "[default]".to_owned() } else { format!("[profile {profile}]") }
}

// ---------------------------------------------------------------------------------------------------
// After the login: the derived region into the config.

/// Writes `region` as the `sso_region` of the section `target` comes from, as the AWS CLI does
/// after a login whose region came from the start URL. Returns what was done, or why nothing was:
/// the file must parse, the edit must change that one key and nothing else, and the file must not
/// change while we work; it is replaced atomically, keeping its mode (through a symbolic link).
pub fn save_region(target: &SessionTarget, region: &str) -> Result<String, String> {
    let (section, name) = match (&target.session.name, &target.settings_profile) {
        (Some(name), _) => (format!("[sso-session {name}]"), (true, name.clone())),
        (None, Some(p)) if target.login_args.starts_with("--profile") => (profile_header(p), (false, p.clone())),
        _ => return Err(format!("the start URL came from the command line: use --region {region} from now on")),
    };
    let shown_path = target.config_path.clone();
    let path = std::fs::canonicalize(&shown_path).unwrap_or_else(|_| shown_path.clone());
    let old = match crate::cache::read_bounded(&path, crate::cache::SETTINGS_FILE_LIMIT) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(format!("{} does not exist", path.display())),
        Err(crate::cache::ReadError::Unusable(why)) => return Err(format!("cannot read {}: {why}", path.display())),
        Err(crate::cache::ReadError::Io(e)) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let text = std::str::from_utf8(&old).map_err(|_| format!("{} is not UTF-8", path.display()))?;
    let parsed = Config::parse(&path, text, Path::new(""), "").map_err(|e| e.to_string())?;
    let find = |c: &Config| -> Option<Section> {
        let (is_session, n) = &name;
        if *is_session { c.sso_sessions.get(n).cloned() } else { c.profiles.get(n).cloned() }
    };
    let before = find(&parsed).ok_or_else(|| format!("{section} is no longer in {}", shown_path.display()))?;
    if before.get("sso_region") == Some(region) {
        return Ok(format!("{section} in {} already has sso_region = {region}", shown_path.display()));
    }
    let new = config::set_key(text, before.line, "sso_region", region)
        .ok_or_else(|| format!("cannot find {section} in {}", shown_path.display()))?;
    let reparsed =
        Config::parse(&path, &new, Path::new(""), "").map_err(|e| format!("the edit would break it: {e}"))?;
    let mut want = before.values.clone();
    want.insert("sso_region".to_owned(), config::Value::Text(region.to_owned()));
    let only_that_key = find(&reparsed).is_some_and(|s| s.values == want)
        && same_except(&parsed.sso_sessions, &reparsed.sso_sessions, name.0.then_some(&name.1))
        && same_except(&parsed.profiles, &reparsed.profiles, (!name.0).then_some(&name.1))
        && same_except(&parsed.services, &reparsed.services, None);
    if !only_that_key {
        return Err(format!("adding the line would change more than sso_region in {}", shown_path.display()));
    }
    if crate::cache::read_bounded(&path, crate::cache::SETTINGS_FILE_LIMIT).ok().flatten().as_deref() != Some(&old[..])
    {
        return Err(format!("{} changed while we were logging in", shown_path.display()));
    }
    let mode = crate::cache::file_mode(&path);
    cache::write_bytes_atomic_mode(&path, new.as_bytes(), mode.or(Some(0o600))).map_err(|e| crate::error::chain(&e))?;
    let was = match before.get("sso_region") {
        Some(old) => format!(" (was {old})"),
        None => String::new(),
    };
    Ok(format!(
        "set sso_region = {region}{was} in {section} of {}: the region its start URL redirects to",
        shown_path.display()
    ))
}

/// Equal sections (by name and values) in both maps, leaving out `skip`.
fn same_except(a: &BTreeMap<String, Section>, b: &BTreeMap<String, Section>, skip: Option<&String>) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, s)| Some(k) == skip || b.get(k).is_some_and(|t| t.values == s.values && t.name == s.name))
}

// ---------------------------------------------------------------------------------------------------
// URLs: only what a start URL and a redirect need, and strict about the rest.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    /// Lower case.
    scheme: String,
    /// Lower case; an IPv6 literal keeps its brackets.
    host: String,
    port: Option<u16>,
    /// From the first `/` up to `?` or `#`; may be empty.
    path: String,
}

impl Url {
    fn parse(s: &str) -> Result<Url, &'static str> {
        if s.len() > MAX_URL {
            return Err("is too long");
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
            return Err("holds spaces, control characters or backslashes");
        }
        let (scheme, rest) = s.split_once("://").ok_or("is not an absolute URL")?;
        if !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err("has no valid scheme");
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("carries a user name or password");
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (inside, after) = v6.split_once(']').ok_or("has an unclosed [")?;
                if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
                    return Err("has an invalid IPv6 address");
                }
                (format!("[{}]", inside.to_ascii_lowercase()), after)
            }
            None => {
                let (host, after) = authority.split_at(authority.find(':').unwrap_or(authority.len()));
                if !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_') {
                    return Err("has a host name that is not plain ASCII");
                }
                (host.to_ascii_lowercase(), after)
            }
        };
        if host.is_empty() || host.trim_end_matches('.').is_empty() {
            return Err("has no host");
        }
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => None,
            None => return Err("has text after its host"),
            Some("") => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.chars().all(|c| c.is_ascii_digit()) => Some(n),
                _ => return Err("has an invalid port"),
            },
        };
        let path = tail.split(['?', '#']).next().unwrap_or("").to_owned();
        Ok(Url { scheme: scheme.to_ascii_lowercase(), host, port, path })
    }

    fn default_port(&self) -> Option<u16> {
        match self.scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        }
    }

    /// `host[:port]`, the port only when it is not the scheme's default.
    fn authority(&self) -> String {
        match self.port {
            Some(p) if Some(p) != self.default_port() => format!("{}:{p}", self.host),
            _ => self.host.clone(),
        }
    }

    /// The form the AWS CLI passes on: scheme, host, port unless default, the path without trailing
    /// slashes; no query and no fragment.
    fn normalized(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority(), self.path.trim_end_matches('/'))
    }

    /// The URL a `Location` value names, relative to this one.
    fn join(&self, location: &str) -> Result<Url, &'static str> {
        if location.len() > MAX_URL {
            return Err("is too long");
        }
        let origin = format!("{}://{}", self.scheme, self.authority());
        let scheme_end = location.find(':').filter(|&i| {
            location[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && location[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        if let Some(i) = scheme_end {
            return if location[i + 1..].starts_with("//") { Url::parse(location) } else { Err("is not a web URL") };
        }
        if location.starts_with("//") {
            Url::parse(&format!("{}:{location}", self.scheme))
        } else if location.starts_with('/') {
            Url::parse(&format!("{origin}{location}"))
        } else if location.starts_with(['?', '#']) {
            Url::parse(&format!("{origin}{}{location}", self.path))
        } else {
            let dir = self.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            Url::parse(&format!("{origin}{dir}/{location}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_normalize() {
        let u = Url::parse("HTTPS://SSO.Example.COM:443/start/?x=1#frag").unwrap();
        assert_eq!(u.host, "sso.example.com");
        assert_eq!(u.normalized(), "https://sso.example.com/start");
        assert_eq!(Url::parse("https://h:8443").unwrap().normalized(), "https://h:8443");
        assert_eq!(Url::parse("https://[::1]:9/a").unwrap().authority(), "[::1]:9");
        assert_eq!(Url::parse("https://h:/p").unwrap().normalized(), "https://h/p");
        for bad in [
            "https://",
            "https://u:p@evil.example@d-1.awsapps.com/",
            "https://evil.example\\@d-1.awsapps.com/",
            "https://d-1.awsapps.com /start",
            "https://d-1.awsapps.com:99999/",
            "https://d-1.awsapps.com:x/",
            "https://bücher.example/",
            "https://[zz]/",
            "d-1.awsapps.com/start",
            "https://h\u{7}/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        assert!(Url::parse(&format!("https://h/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn join_like_a_browser() {
        let base = Url::parse("https://sso.example.com:8443/a/b?q").unwrap();
        let join = |l: &str| base.join(l).map(|u| u.normalized());
        assert_eq!(join("https://D-1.awsapps.com/start/").unwrap(), "https://d-1.awsapps.com/start");
        assert_eq!(join("//ssoins-1.portal.eu-west-1.app.aws").unwrap(), "https://ssoins-1.portal.eu-west-1.app.aws");
        assert_eq!(join("/start").unwrap(), "https://sso.example.com:8443/start");
        assert_eq!(join("c").unwrap(), "https://sso.example.com:8443/a/c");
        assert_eq!(join("?x").unwrap(), "https://sso.example.com:8443/a/b");
        assert!(join("javascript:alert(1)").is_err());
        assert!(join("https://user@d-1.awsapps.com/").is_err());
    }
}
