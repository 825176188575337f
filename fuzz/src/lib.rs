//! The fuzzing harness: the modules of aws-sso-process that parse untrusted input, compiled here
//! from `../src` by path, and one entry point per fuzz target.
//!
//! Why `#[path]` and not a library target in the main crate: aws-sso-process is a binary whose
//! `main.rs` owns the module tree, and several branches add modules to it. A `src/lib.rs` would
//! either compile every module twice or move the tree, touching every branch, for the sake of a
//! tool that only fuzzing uses. Here the harness's crate root stands in for `main.rs` for the
//! modules the parsers need (they name each other as `crate::...`), which costs the main crate a
//! few `pub(crate)` on the parse functions and nothing else.
//!
//! Each entry point feeds bytes to the real parser and then to what the program does with an
//! accepted value (timestamps added to `now`, deadlines computed), so a value a parser lets
//! through but the caller cannot handle is found too. Every panic is a bug.

#![allow(dead_code, unused_imports, unused_macros, clippy::all)]

// `main.rs`'s printing macros, which the modules below use (they never panic on a closed pipe).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::stdout_line(format_args!($($arg)*)) };
}
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout_text(format_args!($($arg)*)) };
}
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::stderr_line(format_args!($($arg)*)) };
}

#[path = "../../src/cache.rs"]
mod cache;
#[path = "../../src/cli/mod.rs"]
mod cli;
#[path = "../../src/config/mod.rs"]
mod config;
#[path = "../../src/context.rs"]
mod context;
#[path = "../../src/endpoints.rs"]
mod endpoints;
#[path = "../../src/error.rs"]
mod error;
#[path = "../../src/http.rs"]
mod http;
#[path = "../../src/lock.rs"]
mod lock;
#[path = "../../src/network.rs"]
mod network;
#[path = "../../src/oidc.rs"]
mod oidc;
#[path = "../../src/output.rs"]
mod output;
#[path = "../../src/portal.rs"]
mod portal;
#[path = "../../src/role_cache.rs"]
mod role_cache;
#[path = "../../src/sanitize.rs"]
mod sanitize;
#[path = "../../src/secret.rs"]
mod secret;
#[path = "../../src/session.rs"]
mod session;
#[path = "../../src/sigv4.rs"]
mod sigv4;
#[path = "../../src/sts.rs"]
mod sts;
#[path = "../../src/target.rs"]
mod target;
#[path = "../../src/timefmt.rs"]
mod timefmt;
#[path = "../../src/url.rs"]
mod url;

use chrono::{DateTime, TimeDelta, Utc};
use std::path::Path;
use std::time::{Duration, Instant};

/// A fixed "now" (2026-11-21T08:00:00Z), so runs are reproducible.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_248_000, 0).unwrap()
}

/// `~/.aws/config` and `~/.aws/credentials` (split at the first NUL byte), then every lookup the
/// program makes on a profile or session, and endpoint resolution for both services.
pub fn config(data: &[u8]) {
    let (a, b) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(config_text), Ok(credentials_text)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return;
    };
    let whole = config::Config::parse(Path::new("config"), config_text, Path::new("credentials"), credentials_text);
    // The cache hit's scoped parse must give the whole parse's answers (docs/config-file.md).
    let first = whole.as_ref().ok().and_then(|c| c.profiles.keys().next()).map(String::as_str);
    let names: Vec<&str> = first.into_iter().chain(["default", "dev"]).collect();
    let scope = config::Scope::Profiles(&names);
    let scoped = config::Config::parse_scoped(
        Path::new("config"),
        config_text,
        Path::new("credentials"),
        credentials_text,
        scope,
    );
    match (&whole, &scoped) {
        (Err(w), Err(s)) => assert_eq!(w.to_string(), s.to_string()),
        (Ok(w), Ok(s)) => {
            for name in &names {
                assert_eq!(w.profiles.get(*name), s.profiles.get(*name), "profile {name}");
            }
            assert_eq!(w.sso_sessions, s.sso_sessions);
            assert_eq!(w.services, s.services);
        }
        _ => panic!("the scoped and the whole parse disagree on whether the files parse"),
    }
    let Ok(cfg) = whole else {
        return;
    };
    let no_env = |_: &str| None;
    for (name, section) in &cfg.profiles {
        let _ = section.nested("services");
        let _ = cfg.profile_target(name);
        if let Ok(session) = cfg.profile_session(name) {
            for service in [endpoints::Service::Oidc, endpoints::Service::Portal] {
                let inputs = target::EndpointInputs { env: &no_env, profile: Some(section), config: &cfg };
                if let Ok(custom) = target::configured_endpoint(service, &inputs) {
                    let fips = endpoints::flag(None, section.get("use_fips_endpoint"));
                    let dual = endpoints::flag(None, section.get("use_dualstack_endpoint"));
                    let _ = endpoints::resolve(service, &session.region, fips, dual, custom.as_deref());
                }
            }
            let _ = cache::token_key(session.name.as_deref(), &session.start_url);
            let _ = cache::registration_key(&session.start_url, &session.region, Some(&session.scopes), None);
        }
    }
    for name in cfg.sso_sessions.keys() {
        let _ = cfg.sso_session(name);
    }
    for warning in &cfg.warnings {
        let _ = sanitize::sanitize(warning);
    }
}

/// A token cache file, as `session` reads it, decides on it, and writes it back after a refresh.
pub fn token_cache(data: &[u8]) {
    let Ok(doc) = cache::parse_object(data) else { return };
    let Ok(token) = session::CachedToken::parse(doc) else { return };
    let now = now();
    for is_session in [true, false] {
        let refreshable = token.refreshable(is_session, now);
        let _ = token.why_not_refreshable(is_session, now);
        let _ = session::decide(token.expires_at, refreshable, now, false);
        let _ = session::decide(token.expires_at, refreshable, now, true);
    }
    let _ = timefmt::format(token.expires_at);
    let _ = timefmt::relative(token.expires_at, now);
    // Built through the parser, so the harness follows changes to the struct.
    let answer = serde_json::json!({"accessToken": "new", "expiresIn": 3600});
    let resp = oidc::parse_token_response(answer.as_object().unwrap().clone()).unwrap();
    let written = token.refreshed(&resp, now);
    // What we write must read back.
    let again = cache::parse_object(&serde_json::to_vec(&written).unwrap()).unwrap();
    session::CachedToken::parse(again).expect("a refreshed token file parses");
}

/// A role credential cache file (`~/.aws/cli/cache`).
pub fn role_cache(data: &[u8]) {
    let Ok(doc) = cache::parse_object(data) else { return };
    let Ok(creds) = role_cache::parse_cache_doc(&doc) else { return };
    let _ = creds.expiration - now();
    let _ = timefmt::format(creds.expiration);
}

/// An error answer: status (2 bytes), `x-amzn-ErrorType` (length byte, then bytes), then the body.
/// The message shown to the user must be one line without control characters.
pub fn service_error(data: &[u8]) {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]) % 600;
    let len = (data[2] as usize).min(data.len() - 3);
    let error_type = (len > 0).then(|| String::from_utf8_lossy(&data[3..3 + len]).into_owned());
    let resp = http::Response {
        op: "CreateToken",
        host: "127.0.0.1:1".to_owned(),
        status,
        error_type,
        retry_after: None,
        location: None,
        body: data[3 + len..].to_vec(),
    };
    let err = http::ServiceError::from_response(&resp);
    let shown = err.to_string();
    assert!(!shown.chars().any(char::is_control), "control characters reach the terminal: {shown:?}");
    let _ = err.is("InvalidGrantException");
}

/// A 2xx answer to each API call, through its parser and what its caller does with the values.
pub fn api_responses(data: &[u8]) {
    let resp = http::Response {
        op: "CreateToken",
        host: "h".into(),
        status: 200,
        error_type: None,
        retry_after: None,
        location: None,
        body: data.to_vec(),
    };
    let Ok(map) = http::json_object(&resp) else { return };
    let now = now();
    if let Ok(token) = oidc::parse_token_response(map.clone()) {
        // session.rs and login.rs: the expiry of the new token.
        let lifetime = TimeDelta::try_seconds(token.expires_in).expect("expiresIn fits a TimeDelta");
        let expires = now.checked_add_signed(lifetime).expect("now + expiresIn is a time");
        let _ = timefmt::format(expires);
    }
    if let Ok(reg) = oidc::parse_registration(&map) {
        let _ = timefmt::from_epoch_secs(reg.client_secret_expires_at);
    }
    if let Ok(auth) = oidc::parse_device_authorization(&map) {
        // login.rs: the device flow's deadline and polling interval.
        let deadline = Instant::now().checked_add(Duration::from_secs(auth.expires_in as u64));
        assert!(deadline.is_some(), "expiresIn {} overflows the deadline", auth.expires_in);
        let interval = auth.interval.map(|s| Duration::from_secs(s as u64));
        if let Some(i) = interval {
            assert!(Instant::now().checked_add(i).is_some(), "interval {i:?} overflows");
        }
        let lifetime = TimeDelta::try_seconds(auth.expires_in).expect("expiresIn fits a TimeDelta");
        assert!(now.checked_add_signed(lifetime).is_some());
    }
    if let Ok(creds) = portal::parse_role_credentials(&map) {
        let _ = timefmt::format(creds.expiration);
    }
}

/// An STS answer (docs/chained-roles.md): as a success (`AssumeRoleResponse`), as an error answer,
/// and through what a fetch does with an accepted one (the cache entry, read back, its expiry).
pub fn sts_answer(data: &[u8]) {
    let resp = http::Response {
        op: "AssumeRole",
        host: "h".into(),
        status: 403,
        error_type: None,
        retry_after: None,
        location: None,
        body: data.to_vec(),
    };
    let e = sts::error_of(&resp);
    let _ = sts::hint_for(&e.code, e.status);
    if let Ok(assumed) = sts::parse_assume_role(data) {
        let left = assumed.expiration - now();
        let _ = left.num_minutes();
        let _ = assumed.expiration.format("%Y-%m-%dT%H:%M:%SUTC").to_string();
        let _ = timefmt::format(assumed.expiration);
    }
}
