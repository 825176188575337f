//! What can be wrong with the config, in botocore's words where it has them, each with a hint.

use super::*;

/// Every variant's Display is one lowercase clause (no trailing period) naming the file/line or profile.
#[derive(Debug)]
pub enum ConfigError {
    Io { path: PathBuf, source: std::io::Error },
    Parse { path: PathBuf, line: usize, message: String },
    ProfileNotFound { profile: String },
    SessionNotFound { profile: Option<String>, session: String },
    MissingKeys { profile: Option<String>, session: Option<String>, keys: Vec<&'static str> },
    Inconsistent { profile: String, session: String, key: &'static str, profile_value: String, session_value: String },
    NotSso { profile: String },
    Invalid { what: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, .. } => write!(f, "could not read {}", path.display()),
            ConfigError::Parse { path, line: 0, message } => write!(f, "{}: {message}", path.display()),
            ConfigError::Parse { path, line, message } => write!(f, "{}:{line}: {message}", path.display()),
            ConfigError::ProfileNotFound { profile } => {
                write!(f, "the config profile ({profile}) could not be found")
            }
            ConfigError::SessionNotFound { profile, session } => {
                write!(f, "the specified sso-session does not exist: \"{session}\"")?;
                match profile {
                    Some(profile) => write!(f, " (named by profile {profile})"),
                    None => Ok(()),
                }
            }
            ConfigError::MissingKeys { profile, session, keys } => {
                let keys = keys.join(", ");
                match (profile, session) {
                    (Some(p), None) => {
                        write!(
                            f,
                            "profile \"{p}\" is configured to use SSO but is missing required configuration: {keys}"
                        )
                    }
                    (Some(p), Some(s)) => {
                        write!(
                            f,
                            "sso-session \"{s}\" (named by profile {p}) is missing required configuration: {keys}"
                        )
                    }
                    (None, Some(s)) => write!(f, "sso-session \"{s}\" is missing required configuration: {keys}"),
                    (None, None) => write!(f, "missing required SSO configuration: {keys}"),
                }
            }
            ConfigError::Inconsistent { profile, session, key, profile_value, session_value } => write!(
                f,
                "the value for {key} is inconsistent between profile {profile} ({profile_value}) and sso-session {session} ({session_value})"
            ),
            ConfigError::NotSso { profile } => {
                write!(f, "profile {profile} is not configured for SSO (it has no sso_* keys)")
            }
            ConfigError::Invalid { what } => f.write_str(what),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// "a", "a and b", "a, b and c".
pub(super) fn and_list(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl ConfigError {
    /// One hint line for the user, without the leading "hint: ".
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Io { path, .. } => Some(format!("check that {} is a readable file", path.display())),
            ConfigError::Parse { path, line, .. } => Some(format!(
                "fix {}{}; 'aws configure list-profiles' shows whether the AWS CLI can read the file",
                if *line == 0 { String::new() } else { format!("line {line} of ") },
                path.display()
            )),
            ConfigError::ProfileNotFound { .. } => Some(
                "run 'aws configure list-profiles' to see the profiles, and check AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE"
                    .to_string(),
            ),
            ConfigError::SessionNotFound { session, .. } => {
                Some(format!("add a [sso-session {session}] section with sso_start_url and sso_region"))
            }
            ConfigError::MissingKeys { profile, session, keys } => {
                let keys = and_list(keys);
                Some(match (profile, session) {
                    (_, Some(s)) => format!("add {keys} to [sso-session {s}]"),
                    (Some(p), None) => format!("add {keys} to {}", profile_label(p)),
                    (None, None) => format!("set {keys}"),
                })
            }
            ConfigError::Inconsistent { profile, session, key, .. } => Some(format!(
                "remove {key} from {} (the value in [sso-session {session}] is the one that counts)",
                profile_label(profile)
            )),
            ConfigError::NotSso { profile } => Some(format!(
                "add sso_session, sso_account_id and sso_role_name to {}, or point --profile at the profile that has them",
                profile_label(profile)
            )),
            ConfigError::Invalid { .. } => None,
        }
    }
}
