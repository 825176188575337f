//! IAM credentials to sign CreateTokenWithIAM with (issue 6), taken in this order: the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then
//! `--source-profile P` (its static keys, else its `credential_process`), then the SSO role
//! that the target flags select, through our own role cache. Values stay in `Secret`s; messages
//! name where credentials came from, never what they are.

use crate::config::{self, ConfigError};
use crate::context::{Context, TargetSpec};
use crate::error::Error;
use crate::role_cache;
use crate::secret::Secret;
use crate::sigv4::AwsCredentials;
use crate::timefmt;
use serde_json::{Map, Value};
use std::process::{Command, Stdio};

/// Credentials and where they came from ("the environment", "profile ci", ...).
pub struct Resolved {
    pub credentials: AwsCredentials,
    pub source: String,
}

const HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --source-profile PROFILE, or name an SSO role \
                    (--profile P, or --sso-session S --account-id A --role-name R)";

pub fn resolve(ctx: &Context, spec: &TargetSpec, source_profile: Option<&str>) -> Result<Resolved, Error> {
    if let Some(credentials) = from_env(ctx)? {
        return Ok(Resolved { credentials, source: "the environment (AWS_ACCESS_KEY_ID)".to_owned() });
    }
    if let Some(profile) = source_profile {
        return from_profile(ctx, profile);
    }
    let explicit = spec.profile.is_some() || spec.sso_session.is_some() || spec.start_url.is_some();
    let target = match ctx.role_target(spec) {
        Ok(target) => target,
        Err(e) if !explicit && !matches!(e, Error::LoginRequired { .. }) => {
            return Err(Error::Other {
                what: format!(
                    "no IAM credentials to sign with: none in the environment, no --source-profile, and no SSO role: {}",
                    crate::error::chain(&e)
                ),
                hint: Some(HINT.to_owned()),
            });
        }
        Err(e) => return Err(e),
    };
    let served = role_cache::credentials(ctx, &target)?;
    Ok(Resolved {
        credentials: AwsCredentials {
            access_key_id: served.creds.access_key_id,
            secret_access_key: served.creds.secret_access_key,
            session_token: Some(served.creds.session_token),
        },
        source: format!("SSO role {} in account {} ({})", target.role_name, target.account_id, target.session.label),
    })
}

fn from_env(ctx: &Context) -> Result<Option<AwsCredentials>, Error> {
    match (ctx.env.get("AWS_ACCESS_KEY_ID"), ctx.env.get("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(Some(AwsCredentials {
            access_key_id: Secret::new(id),
            secret_access_key: Secret::new(secret),
            session_token: ctx.env.get("AWS_SESSION_TOKEN").map(Secret::new),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(partial("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")),
        (None, Some(_)) => Err(partial("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")),
    }
}

fn partial(what: &str) -> Error {
    Error::Other { what: what.to_owned(), hint: Some("set both, or neither".to_owned()) }
}

fn from_profile(ctx: &Context, name: &str) -> Result<Resolved, Error> {
    let section =
        ctx.config()?.profile(name).ok_or_else(|| ConfigError::ProfileNotFound { profile: name.to_owned() })?;
    let key = |k: &str| section.get(k).filter(|v| !v.is_empty());
    match (key("aws_access_key_id"), key("aws_secret_access_key")) {
        (Some(id), Some(secret)) => {
            return Ok(Resolved {
                credentials: AwsCredentials {
                    access_key_id: Secret::new(id),
                    secret_access_key: Secret::new(secret),
                    session_token: key("aws_session_token").map(Secret::new),
                },
                source: format!("profile {name}"),
            });
        }
        (None, None) => {}
        _ => {
            return Err(Error::Other {
                what: format!("profile {name} has only one of aws_access_key_id and aws_secret_access_key"),
                hint: Some(format!("add the other to profile {name} in {}", section.path.display())),
            });
        }
    }
    match key("credential_process") {
        Some(command) => Ok(Resolved {
            credentials: run_process(ctx, name, command)?,
            source: format!("the credential_process of profile {name}"),
        }),
        None => Err(Error::Other {
            what: format!(
                "profile {name} has no aws_access_key_id and aws_secret_access_key, nor a credential_process"
            ),
            hint: Some("--source-profile needs a profile with static keys or a credential_process".to_owned()),
        }),
    }
}

/// Runs a `credential_process` command line the way botocore does: split like a POSIX shell
/// (no shell runs it), stdout read as the credentials JSON; stdin and stderr stay the user's.
fn run_process(ctx: &Context, profile: &str, command: &str) -> Result<AwsCredentials, Error> {
    let fail = |what: String| Error::Other {
        what,
        hint: Some(format!("run the credential_process of profile {profile} by hand to see what it does")),
    };
    let argv = config::shlex_split(command)
        .filter(|argv| !argv.is_empty())
        .ok_or_else(|| fail(format!("the credential_process of profile {profile} cannot be split into words")))?;
    ctx.debug(|| format!("running the credential_process of profile {profile} ({})", argv[0]));
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| fail(format!("could not run the credential_process of profile {profile} ({}): {e}", argv[0])))?;
    if !out.status.success() {
        return Err(fail(format!("the credential_process of profile {profile} failed ({})", out.status)));
    }
    parse_process_output(&out.stdout, ctx.now())
        .map_err(|why| fail(format!("the credential_process of profile {profile} printed {why}")))
}

/// The credential_process JSON (SPEC B.8): `Version` 1, the two keys, optional token and expiry.
fn parse_process_output(stdout: &[u8], now: chrono::DateTime<chrono::Utc>) -> Result<AwsCredentials, String> {
    let doc: Map<String, Value> = serde_json::from_slice(stdout).map_err(|_| "no JSON object".to_owned())?;
    if doc.get("Version").and_then(Value::as_i64) != Some(1) {
        return Err("JSON without \"Version\": 1".to_owned());
    }
    let text = |k: &str| doc.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let (Some(id), Some(secret)) = (text("AccessKeyId"), text("SecretAccessKey")) else {
        return Err("JSON without AccessKeyId and SecretAccessKey".to_owned());
    };
    if let Some(expiration) = doc.get("Expiration").filter(|v| !v.is_null()) {
        let at = expiration.as_str().and_then(timefmt::parse).ok_or("an Expiration that is not a timestamp")?;
        if at <= now {
            return Err(format!("credentials that expired at {}", timefmt::format(at)));
        }
    }
    Ok(AwsCredentials {
        access_key_id: Secret::new(id),
        secret_access_key: Secret::new(secret),
        session_token: text("SessionToken").map(Secret::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_output_shapes() {
        let now = timefmt::parse("2026-01-01T00:00:00Z").unwrap();
        let ok = |s: &str| parse_process_output(s.as_bytes(), now);
        let c = ok(r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","SessionToken":"ST","Expiration":"2026-01-01T01:00:00Z"}"#)
            .unwrap();
        assert_eq!(
            (c.access_key_id.expose(), c.secret_access_key.expose(), c.session_token.unwrap().expose()),
            ("AK", "SK", "ST")
        );
        assert!(ok(r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK"}"#).unwrap().session_token.is_none());
        for (bad, why) in [
            ("not json", "no JSON"),
            (r#"{"AccessKeyId":"AK","SecretAccessKey":"SK"}"#, "Version"),
            (r#"{"Version":2,"AccessKeyId":"AK","SecretAccessKey":"SK"}"#, "Version"),
            (r#"{"Version":1,"AccessKeyId":"AK"}"#, "SecretAccessKey"),
            (
                r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","Expiration":"2025-12-31T00:00:00Z"}"#,
                "expired",
            ),
            (r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","Expiration":5}"#, "not a timestamp"),
        ] {
            let e = ok(bad).err().unwrap();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains("SK"), "{e}");
        }
    }
}
