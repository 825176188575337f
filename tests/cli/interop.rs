//! Interop with the reference client: botocore reads what we write, we read what it writes, and
//! boto3 gets credentials through our binary as its credential_process.
//!
//! Needs python3 with boto3. Outside CI a missing boto3 skips these tests with a note; in CI
//! (`CI=true`) it fails them, so they can never be skipped silently there.

use crate::util::*;
use serde_json::Value;
use std::process::Command;

pub fn python(env: &TestEnv, script: &str) -> Option<Run> {
    let probe = Command::new("python3").args(["-c", "import boto3"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        skip_or_fail("python3 with boto3", "pip install boto3");
        return None;
    }
    let out = env.client_command("python3").args(["-c", script]).output().unwrap();
    let run = to_run(out);
    assert_eq!(run.code, 0, "python failed: {run:?}");
    Some(run)
}

const LOAD_TOKEN: &str = r#"
import json, botocore.session
from botocore.tokens import SSOTokenProvider
s = botocore.session.Session(profile='dev-sso')
token = SSOTokenProvider(s).load_token().get_frozen_token()
print(json.dumps({"token": token.token, "expiration": token.expiration.isoformat()}))
"#;

#[test]
fn botocore_accepts_our_refreshed_token_without_refreshing_again() {
    let env = TestEnv::new();
    env.seed_corp_token(60);
    env.run(&["refresh", "--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
    let ours = env.corp_token();
    let Some(run) = python(&env, LOAD_TOKEN) else { return };
    let seen: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(seen["token"], ours["accessToken"]);
    assert_eq!(env.fake.count("CreateToken"), 1, "botocore saw no need to refresh");
}

#[test]
fn we_accept_the_token_botocore_refreshed() {
    let env = TestEnv::new();
    env.seed_corp_token(120); // inside botocore's mandatory window: it refreshes, blocking
    let Some(run) = python(&env, LOAD_TOKEN) else { return };
    assert_eq!(env.fake.count("CreateToken"), 1, "botocore refreshed: {run:?}");
    let written = env.corp_token();
    let seen: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(seen["token"], written["accessToken"]);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1, "we used botocore's token as it is");
    assert_eq!(
        env.fake.calls("GetRoleCredentials")[0].headers["x-amz-sso_bearer_token"],
        written["accessToken"].as_str().unwrap()
    );
}

#[test]
fn boto3_gets_credentials_through_our_credential_process() {
    let env = TestEnv::new();
    env.write_config(
        &DEFAULT_CONFIG.replace("credential_process = aws-sso-process", &format!("credential_process = {BIN}")),
    );
    env.seed_corp_token(60);
    let script = r#"
import json, boto3
c = boto3.Session(profile_name='dev').get_credentials().get_frozen_credentials()
print(json.dumps({"key": c.access_key, "secret": c.secret_key, "token": c.token}))
"#;
    let Some(run) = python(&env, script) else { return };
    let got: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let cached = env.read_json(&env.role_path(CORP_ROLE_KEY));
    assert_eq!(got["key"], cached["Credentials"]["AccessKeyId"]);
    assert_eq!(got["secret"], cached["Credentials"]["SecretAccessKey"]);
    assert_eq!(got["token"], cached["Credentials"]["SessionToken"]);
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
}

#[test]
fn the_aws_cli_cache_shape_is_what_botocore_reads() {
    // botocore's own JSONFileCache reads our role cache entry and finds our fields.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    let script = format!(
        r#"
import json
from botocore.utils import JSONFileCache
c = JSONFileCache('{}')
print(json.dumps(c['{CORP_ROLE_KEY}']))
"#,
        env.home().join(".aws/cli/cache").display()
    );
    let Some(run) = python(&env, &script) else { return };
    let doc: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(doc["ProviderType"], "sso");
    assert!(doc["Credentials"]["Expiration"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn botocore_reads_the_token_our_login_wrote() {
    let env = TestEnv::new();
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let ours = env.corp_token();
    let Some(run) = python(&env, LOAD_TOKEN) else { return };
    let seen: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(seen["token"], ours["accessToken"]);
    assert_eq!(env.fake.count("CreateToken"), 1, "botocore used it as it is, without a refresh");
}

#[test]
fn botocore_refreshes_a_token_our_login_wrote() {
    // Two minutes left: botocore must refresh, with the client and registration our login stored.
    let env = TestEnv::new();
    env.fake.set_expires_in(120);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let ours = env.corp_token();
    env.fake.set_expires_in(3600);
    let Some(run) = python(&env, LOAD_TOKEN) else { return };
    let grants: Vec<String> =
        env.fake.calls("CreateToken").iter().map(|r| r.json()["grantType"].as_str().unwrap().to_owned()).collect();
    assert_eq!(grants, ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"], "{run:?}");
    let refresh = env.fake.calls("CreateToken")[1].json();
    assert_eq!(refresh["clientId"], ours["clientId"]);
    assert_eq!(refresh["refreshToken"], ours["refreshToken"]);
    let seen: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(seen["token"], env.corp_token()["accessToken"]);
}

#[test]
fn botocore_loads_generated_profiles_and_gets_credentials_through_them() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&[
        "configure",
        "generate",
        "--sso-session",
        "corp",
        "--region",
        "eu-west-1",
        "--command",
        BIN,
        "--write",
    ]);
    run.assert_ok();
    let script = r#"
import json, boto3
s = boto3.Session(profile_name='prod-payments-eu.Admin')
c = s.get_credentials().get_frozen_credentials()
names = sorted(p for p in boto3.Session().available_profiles if '.' in p)
print(json.dumps({"key": c.access_key, "token": c.token, "region": s.region_name, "profiles": names}))
"#;
    let Some(run) = python(&env, script) else { return };
    let got: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(got["region"], "eu-west-1");
    assert!(got["key"].as_str().unwrap().starts_with("ASIAFAKE222233334444"), "{got}");
    // Nine pairs; development.Developer is already served by the DEFAULT_CONFIG's dev profile.
    assert_eq!(got["profiles"].as_array().unwrap().len(), 8, "{got}");
    let calls = env.fake.calls("GetRoleCredentials");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].query["account_id"], "222233334444");
    assert_eq!(calls[0].query["role_name"], "Admin");
}
