//! The top-level error: what main prints, the exit code (docs/credential-process.md) and the hint line.
//!
//! Modules return their own typed errors; they meet here. Display is the "what failed" clause;
//! the cause comes through `source()` and main joins the chain with ": ". No variant carries a
//! secret: tokens never enter an error, and service messages are sanitised before they do.

use crate::cache::CacheError;
use crate::config::ConfigError;
use crate::endpoints::EndpointError;
use crate::http::{CallError, HttpError, HttpErrorKind, ServiceError};
use crate::lock::LockError;
use crate::network::NetworkError;
use std::fmt;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_LOGIN_REQUIRED: u8 = 3;

#[derive(Debug)]
pub enum Error {
    /// Flags that parse but do not fit together.
    Usage(String),
    Config(ConfigError),
    Endpoint(EndpointError),
    Cache(CacheError),
    Lock(LockError),
    Http(HttpError),
    Service(ServiceError),
    /// The SSO session must be renewed by a login: no token, expired and not refreshable,
    /// refresh token rejected, portal 401 after a refresh. `login_args` selects the session.
    LoginRequired {
        what: String,
        login_args: String,
        cause: Option<Box<Error>>,
    },
    /// The home folder cannot be found.
    NoHome,
    /// `exec` could not start its command: exit 127 (not found) or 126, like a shell.
    Spawn {
        what: String,
        code: u8,
        hint: Option<String>,
    },
    /// A step that failed because of `cause` (a login's RegisterClient, say): the cause stays the
    /// `source()`, and its hint (TLS, proxy, throttling) is the hint.
    Failed {
        what: String,
        cause: Box<Error>,
    },
    /// Anything else that fails, with an optional hint.
    Other {
        what: String,
        hint: Option<String>,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::LoginRequired { .. } => EXIT_LOGIN_REQUIRED,
            Error::Spawn { code, .. } => *code,
            Error::Failed { cause, .. } => cause.exit_code(),
            _ => EXIT_FAILURE,
        }
    }

    /// The line after "hint: ", when there is a useful one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage(_) => Some("run 'aws-sso-process --help' for the flags".to_owned()),
            Error::Config(e) => e.hint(),
            Error::Endpoint(EndpointError::EmptyCaBundle { hint, .. }) => Some(hint.clone()),
            Error::Endpoint(_) => Some(
                "check AWS_ENDPOINT_URL_SSO_OIDC, AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL and the profile's endpoint settings"
                    .to_owned(),
            ),
            Error::Cache(CacheError::Corrupt { .. }) => {
                Some("the file was left as it is; move it aside or log in again to replace it".to_owned())
            }
            Error::Cache(CacheError::Io { .. }) => Some("check the permissions of ~/.aws and its folders".to_owned()),
            Error::Lock(LockError::Timeout { .. }) => Some(
                "another aws-sso-process is refreshing this session; if none is running, check the file system".to_owned(),
            ),
            Error::Lock(_) => Some("check the permissions of ~/.aws and its folders".to_owned()),
            Error::Http(HttpError { kind: HttpErrorKind::Tls(_), .. }) => Some(
                "if a proxy or firewall inspects TLS, set AWS_CA_BUNDLE (or ca_bundle in the profile) to its root certificate (PEM)"
                    .to_owned(),
            ),
            Error::Http(HttpError { kind: HttpErrorKind::Setup(NetworkError::CaBundle { .. }), .. }) => Some(
                "AWS_CA_BUNDLE or the profile's ca_bundle must name a readable PEM file of CA certificates".to_owned(),
            ),
            Error::Http(HttpError { kind: HttpErrorKind::Setup(NetworkError::Proxy { .. }), .. }) => {
                Some("a proxy URL looks like http://[user:password@]proxy.example.com:3128".to_owned())
            }
            Error::Http(HttpError { kind: HttpErrorKind::Proxy(_), .. }) => Some(
                "check the proxy settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and the proxy's credentials".to_owned(),
            ),
            Error::Http(_) => Some(
                "check the network, proxy settings (HTTPS_PROXY, NO_PROXY) and endpoint overrides (AWS_ENDPOINT_URL_*)"
                    .to_owned(),
            ),
            Error::Service(e) if e.status == 429 => Some("the service is throttling requests; try again shortly".to_owned()),
            Error::Service(e) if e.status == 403 && e.op == "CreateTokenWithIAM" => Some(
                "check the IAM credentials it was signed with (environment, --source-profile or SSO role) and that \
                 they may call sso-oauth:CreateTokenWithIAM"
                    .to_owned(),
            ),
            Error::Service(e) if e.status == 403 => {
                Some("check that your SSO user is still assigned this account and role".to_owned())
            }
            Error::Service(_) => None,
            Error::LoginRequired { login_args, .. } => Some(login_hint(login_args)),
            Error::Failed { cause, .. } => cause.hint(),
            Error::NoHome => Some("set HOME to your home folder".to_owned()),
            Error::Other { hint, .. } | Error::Spawn { hint, .. } => hint.clone(),
        }
    }
}

/// The command that renews a session, for hints and status lines.
pub fn login_hint(login_args: &str) -> String {
    // `aws sso login` takes --sso-session, or --profile of a profile with sso_* keys (the legacy
    // ones login_args names); it has no --start-url.
    if login_args.starts_with("--start-url") {
        format!("run 'aws-sso-process login {login_args}'")
    } else {
        format!("run 'aws-sso-process login {login_args}' (or 'aws sso login {login_args}')")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => f.write_str(msg),
            Error::Config(e) => e.fmt(f),
            Error::Endpoint(e) => e.fmt(f),
            Error::Cache(e) => e.fmt(f),
            Error::Lock(e) => e.fmt(f),
            Error::Http(e) => e.fmt(f),
            Error::Service(e) => e.fmt(f),
            Error::LoginRequired { what, .. } | Error::Failed { what, .. } => f.write_str(what),
            Error::NoHome => f.write_str("cannot find the home folder"),
            Error::Other { what, .. } | Error::Spawn { what, .. } => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => e.source(),
            Error::Cache(e) => e.source(),
            Error::Lock(e) => e.source(),
            Error::Http(e) => e.source(),
            Error::LoginRequired { cause: Some(cause), .. } => Some(cause.as_ref()),
            Error::Failed { cause, .. } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

macro_rules! from_error {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(e)
            }
        })*
    };
}

from_error!(
    ConfigError => Config,
    EndpointError => Endpoint,
    CacheError => Cache,
    LockError => Lock,
    HttpError => Http,
    ServiceError => Service,
);

pub use crate::sanitize::chain;

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Http(e) => e.into(),
            CallError::Service(e) => e.into(),
        }
    }
}
