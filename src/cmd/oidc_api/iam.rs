//! IAM credentials to sign CreateTokenWithIAM with (docs/oidc-api.md), taken in this order: the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then
//! `--source-profile P` (its static keys, else its `credential_process`), then the SSO role
//! that the target flags select, through our own role cache. Values stay in `Secret`s; messages
//! name where credentials came from, never what they are.
//!
//! A credential_process may run aws-sso-process again, and so on: a profile whose
//! process comes back to `--source-profile` of itself would start processes without end. So before
//! one runs, the chain of profiles it leads to through `aws-sso-process create-token-with-iam
//! --source-profile` lines is followed in the config, and a chain that comes back to a profile is
//! refused. Chains the config does not show (a wrapper script, another tool in between) are caught
//! by a depth count that each process passes to the one it starts (`AWS_SSO_PROCESS_DEPTH`, with the
//! profile names in `AWS_SSO_PROCESS_CHAIN` for the message): past `MAX_PROCESS_DEPTH`, none runs.

use crate::cli::TargetArgs;
use crate::config::{self, ConfigError};
use crate::context::Context;
use crate::error::Error;
use crate::role_cache;
use crate::secret::Secret;
use crate::sigv4::AwsCredentials;
use crate::timefmt;
use serde_json::{Map, Value};
use std::io::{IsTerminal, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many credential_process commands may run one inside another.
pub const MAX_PROCESS_DEPTH: usize = 3;
/// How deep the current process is: 0 (or unset) when no credential_process of ours started it.
pub const DEPTH_VAR: &str = "AWS_SSO_PROCESS_DEPTH";
/// The profiles whose credential_process led to the current process, for messages only.
pub const CHAIN_VAR: &str = "AWS_SSO_PROCESS_CHAIN";
/// Joins profile names in `CHAIN_VAR` and in messages.
const ARROW: &str = " -> ";

/// Credentials and where they came from ("the environment", "profile ci", ...).
pub struct Resolved {
    pub credentials: AwsCredentials,
    pub source: String,
}

const HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --source-profile PROFILE, or name an SSO role \
                    (--profile P, or --sso-session S --account-id A --role-name R)";

pub fn resolve(ctx: &Context, spec: &TargetArgs, source_profile: Option<&str>) -> Result<Resolved, Error> {
    if let Some(credentials) = from_env(ctx)? {
        return Ok(Resolved { credentials, source: "the environment (AWS_ACCESS_KEY_ID)".to_owned() });
    }
    if let Some(profile) = source_profile {
        return from_profile(ctx, profile);
    }
    let explicit = spec.profile.is_some() || spec.sso_session.is_some() || spec.start_url.is_some();
    let target = match crate::target::role_target(ctx, spec) {
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
        Some(command) => {
            refuse_loops(ctx, name)?;
            Ok(Resolved {
                credentials: run_process(ctx, name, command)?,
                source: format!("the credential_process of profile {name}"),
            })
        }
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
    let (depth, chain) = process_depth(ctx);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env(DEPTH_VAR, (depth + 1).to_string())
        .env(CHAIN_VAR, chain.into_iter().chain([profile.to_owned()]).collect::<Vec<_>>().join(ARROW))
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("could not run the credential_process of profile {profile} ({}): {e}", argv[0])))?;
    // A process that asks on the terminal (an MFA code) gets the time a person needs.
    let limit = if std::io::stdin().is_terminal() { PROCESS_DEADLINE_ON_A_TERMINAL } else { PROCESS_DEADLINE };
    let output = bounded_output(&mut child, limit);
    // Whatever happened, the child does not outlive this call.
    let _ = child.kill();
    let status = child.wait();
    let stdout = match output {
        Output::Done(bytes) => bytes,
        Output::TooLarge => {
            return Err(fail(format!(
                "the credential_process of profile {profile} printed more than {} KiB (credentials are a few hundred bytes)",
                PROCESS_OUTPUT_LIMIT / 1024
            )));
        }
        Output::TimedOut => {
            return Err(fail(format!(
                "the credential_process of profile {profile} did not finish within {} s; it was stopped",
                limit.as_secs()
            )));
        }
        Output::Failed(e) => {
            return Err(fail(format!("cannot read the output of the credential_process of profile {profile}: {e}")));
        }
    };
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(fail(format!("the credential_process of profile {profile} failed ({status})")));
        }
        Err(e) => return Err(fail(format!("cannot wait for the credential_process of profile {profile}: {e}"))),
    }
    parse_process_output(&stdout, ctx.now())
        .map_err(|why| fail(format!("the credential_process of profile {profile} printed {why}")))
}

/// What a credential_process may print: its JSON is a few hundred bytes.
const PROCESS_OUTPUT_LIMIT: u64 = 1 << 20;
/// How long it may run: the run's own deadline (a process that takes longer is stuck, or waits for
/// input nobody will give).
const PROCESS_DEADLINE: Duration = crate::context::RUN_DEADLINE;
/// The same when stdin is a terminal, where the process may ask the user something.
const PROCESS_DEADLINE_ON_A_TERMINAL: Duration = Duration::from_secs(10 * 60);

enum Output {
    Done(Vec<u8>),
    TooLarge,
    TimedOut,
    Failed(std::io::Error),
}

/// The child's whole stdout, once it has closed it and exited, read on a thread of its own so that
/// a child that prints without end, never exits, or leaves a grandchild holding the pipe cannot
/// hold this process past `limit` or make it buffer more than `PROCESS_OUTPUT_LIMIT`.
fn bounded_output(child: &mut Child, limit: Duration) -> Output {
    let Some(stdout) = child.stdout.take() else {
        return Output::Failed(std::io::Error::other("no pipe to the child's stdout"));
    };
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.take(PROCESS_OUTPUT_LIMIT + 1).read_to_end(&mut bytes).map(|_| bytes)
    });
    let end = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    let mut nap = || {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // Until its stdout closes (or the limit is read), then until it exits.
    while !reader.is_finished() {
        if Instant::now() >= end {
            return Output::TimedOut;
        }
        nap();
    }
    let bytes = match reader.join() {
        Ok(Ok(bytes)) if bytes.len() as u64 > PROCESS_OUTPUT_LIMIT => return Output::TooLarge,
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => return Output::Failed(e),
        Err(_) => return Output::Failed(std::io::Error::other("the reader thread failed")),
    };
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() >= end {
            return Output::TimedOut;
        }
        nap();
    }
    Output::Done(bytes)
}

/// The depth and profile chain this process was started with (see the module comment).
fn process_depth(ctx: &Context) -> (usize, Vec<String>) {
    let depth = ctx.env.get(DEPTH_VAR).and_then(|d| d.trim().parse::<usize>().ok()).unwrap_or(0);
    let chain = ctx.env.get(CHAIN_VAR).map(|c| c.split(ARROW).map(str::to_owned).collect()).unwrap_or_default();
    (depth, chain)
}

/// Refuses to run the credential_process of `profile` when the config shows that it leads back to
/// a profile already on the way, or when processes are already nested `MAX_PROCESS_DEPTH` deep.
fn refuse_loops(ctx: &Context, profile: &str) -> Result<(), Error> {
    if let Some(looped) = config_loop(ctx.config()?, profile) {
        return Err(Error::Other {
            what: format!("credential_process loop: profile {}; nothing was run", looped.join(ARROW)),
            hint: Some(format!(
                "the credential_process of profile {} runs aws-sso-process create-token-with-iam --source-profile {}; \
                 give one profile of the loop static keys or a credential_process that does not lead back",
                looped[looped.len() - 2],
                looped[looped.len() - 1]
            )),
        });
    }
    let (depth, mut chain) = process_depth(ctx);
    if depth >= MAX_PROCESS_DEPTH {
        chain.truncate(MAX_PROCESS_DEPTH + 1);
        chain.push(profile.to_owned());
        return Err(Error::Other {
            what: format!(
                "credential_process commands nested {depth} deep (profile {}); not running another, this looks like a loop",
                chain.join(ARROW)
            ),
            hint: Some(format!(
                "check the credential_process of profile {profile} and what it runs: it should not come back to aws-sso-process"
            )),
        });
    }
    Ok(())
}

/// The chain of profiles from `start` that comes back to one of them, when the config shows one:
/// each profile without static keys whose credential_process is `aws-sso-process
/// create-token-with-iam --source-profile NEXT` leads to NEXT.
fn config_loop(config: &config::Config, start: &str) -> Option<Vec<String>> {
    let mut chain = vec![start.to_owned()];
    loop {
        let section = config.profile(chain.last()?)?;
        // Static keys are used before a credential_process (one key alone is an error): it ends here.
        let has = |k: &str| section.get(k).is_some_and(|v| !v.is_empty());
        if has("aws_access_key_id") || has("aws_secret_access_key") {
            return None;
        }
        let next = source_profile_of(section.get("credential_process")?)?;
        let seen = chain.contains(&next);
        chain.push(next);
        if seen {
            return Some(chain);
        }
        if chain.len() > config.profiles.len() + 1 {
            return None;
        }
    }
}

/// `--source-profile` of an `aws-sso-process create-token-with-iam` line (read by the one parser of
/// credential_process lines, `target::own_command`).
fn source_profile_of(command: &str) -> Option<String> {
    match crate::target::own_command(command)?.ok()?.command? {
        crate::cli::Command::CreateTokenWithIam(args) => args.source_profile,
        _ => None,
    }
}

/// The credential_process JSON (docs/credential-process.md): `Version` 1, the two keys, optional token and expiry.
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
    fn loops_through_source_profiles_are_found_in_the_config() {
        let config = config::Config::parse(
            std::path::Path::new("config"),
            "[profile self]\ncredential_process = '/opt/my tools/aws-sso-process' create-token-with-iam --source-profile self\n\
             [profile a]\ncredential_process = aws-sso-process --debug create-token-with-iam --source-profile=b\n\
             [profile b]\ncredential_process = \"C:\\\\bin\\\\aws-sso-process.exe\" create-token-with-iam --source-profile c\n\
             [profile c]\ncredential_process = aws-sso-process create-token-with-iam --source-profile a\n\
             [profile keys]\naws_access_key_id = AK\naws_secret_access_key = SK\n\
             credential_process = aws-sso-process create-token-with-iam --source-profile keys\n\
             [profile to-keys]\ncredential_process = aws-sso-process create-token-with-iam --source-profile keys\n\
             [profile other]\ncredential_process = other-tool create-token-with-iam --source-profile other\n\
             [profile sso]\ncredential_process = aws-sso-process --profile sso\n",
            std::path::Path::new("credentials"),
            "",
        )
        .unwrap();
        let chain = |p: &str| config_loop(&config, p).map(|c| c.join(ARROW));
        assert_eq!(chain("self").as_deref(), Some("self -> self"));
        assert_eq!(chain("a").as_deref(), Some("a -> b -> c -> a"));
        assert_eq!(chain("c").as_deref(), Some("c -> a -> b -> c"));
        for ends in ["keys", "to-keys", "other", "sso", "ghost"] {
            assert_eq!(chain(ends), None, "{ends}");
        }
        assert_eq!(
            source_profile_of("aws-sso-process create-token-with-iam --source-profile 'x y'").as_deref(),
            Some("x y")
        );
        assert_eq!(source_profile_of("aws-sso-process create-token --source-profile x"), None);
        assert_eq!(source_profile_of("aws-sso-process create-token-with-iam --source-profile-x y"), None);
        assert_eq!(source_profile_of("aws-sso-process create-token-with-iam 'unbalanced"), None);
    }

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
