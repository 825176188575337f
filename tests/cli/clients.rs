//! Real clients besides botocore (docs/credential-process.md): the AWS CLI v1 signs `aws sts get-caller-identity` with
//! credentials from our credential_process against `moto_server` on 127.0.0.1, and the AWS SDK for
//! JavaScript v3 loads both our credential_process profile (`fromProcess`) and the token cache we
//! refreshed (`fromSSO`, which then calls the fake portal through `AWS_ENDPOINT_URL_SSO`).
//!
//! `.ci/run` installs them (pip: awscli, moto[server]; npm: @aws-sdk/credential-providers into a
//! throwaway folder named by `AWS_SSO_PROCESS_JS_SDK`). Outside CI a missing client skips its test
//! with a note; in CI (`CI=true`) it fails it.

use crate::util::*;
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn missing(what: &str) {
    skip_or_fail(what, "README.md, Running the tests");
}

fn works(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The config with `credential_process` naming the built binary.
fn config_with_binary(env: &TestEnv) {
    env.write_config(
        &DEFAULT_CONFIG.replace("credential_process = aws-sso-process", &format!("credential_process = {BIN}")),
    );
}

/// A moto_server on 127.0.0.1, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let up = wait_for(Duration::from_secs(60), || TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "moto_server did not listen on 127.0.0.1:{port}");
        Moto { child, port }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn aws_cli_v1_signs_sts_calls_with_our_credentials_against_moto() {
    if !works("aws", &["--version"]) {
        return missing("the AWS CLI v1 (pip install awscli)");
    }
    if !works("moto_server", &["--help"]) {
        return missing("moto_server (pip install 'moto[server]')");
    }
    let env = TestEnv::new();
    config_with_binary(&env);
    env.seed_corp_token(60);
    let moto = Moto::start();
    let out = env
        .client_command("aws")
        .args(["sts", "get-caller-identity", "--profile", "dev", "--region", "us-east-1", "--output", "json"])
        .args(["--endpoint-url", &format!("http://127.0.0.1:{}", moto.port)])
        .output()
        .unwrap();
    let run = to_run(out);
    assert_eq!(run.code, 0, "aws sts get-caller-identity failed: {run:?}");
    let identity: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert!(identity["Account"].is_string() && identity["Arn"].is_string(), "{identity}");
    // Our binary did the work: it refreshed the token and fetched and cached the role credentials.
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    let cached = env.read_json(&env.role_path(CORP_ROLE_KEY));
    assert!(cached["Credentials"]["AccessKeyId"].as_str().unwrap().starts_with("ASIAFAKE"));
    // A second call is served from our cache.
    let again = env
        .client_command("aws")
        .args(["sts", "get-caller-identity", "--profile", "dev", "--region", "us-east-1"])
        .args(["--endpoint-url", &format!("http://127.0.0.1:{}", moto.port)])
        .output()
        .unwrap();
    assert!(again.status.success(), "{:?}", to_run(again));
    assert_eq!(env.fake.count("GetRoleCredentials"), 1, "the second call used our role cache");
}

/// `node_modules` holding @aws-sdk/credential-providers, if installed.
fn js_sdk() -> Option<PathBuf> {
    let dir = std::env::var("AWS_SSO_PROCESS_JS_SDK").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/aws-sso-process-ci/js/node_modules")
    });
    let found = dir.join("@aws-sdk/credential-providers/package.json").exists() && works("node", &["--version"]);
    found.then_some(dir)
}

/// Loads credentials both ways. Any HTTPS request, or HTTP to anything but 127.0.0.1, throws:
/// the SDK must reach the fake through AWS_ENDPOINT_URL_SSO, never the real service.
const JS_SCRIPT: &str = r#"
const http = require('http'), https = require('https');
https.request = () => { throw new Error('test guard: an HTTPS request (the real service?)'); };
const httpRequest = http.request;
http.request = (opts, ...rest) => {
  const host = (typeof opts === 'string' || opts instanceof URL) ? new URL(opts).hostname : opts.hostname || opts.host;
  if (host !== '127.0.0.1') throw new Error('test guard: a request to ' + host);
  return httpRequest(opts, ...rest);
};
const { fromProcess, fromSSO } = require('@aws-sdk/credential-providers');
const pick = (c) => ({ key: c.accessKeyId, secret: c.secretAccessKey, token: c.sessionToken,
                       expiration: c.expiration && c.expiration.toISOString() });
(async () => {
  const p = await fromProcess({ profile: 'dev' })();
  const s = await fromSSO({ profile: 'dev-sso' })();
  console.log(JSON.stringify({ process: pick(p), sso: pick(s) }));
})().catch((e) => { console.error(`${e.name}: ${e.message}`); process.exit(1); });
"#;

#[test]
fn js_sdk_v3_loads_our_credential_process_and_our_refreshed_token() {
    let Some(modules) = js_sdk() else {
        return missing("node with @aws-sdk/credential-providers (set AWS_SSO_PROCESS_JS_SDK to its node_modules)");
    };
    let env = TestEnv::new();
    config_with_binary(&env);
    env.seed_corp_token(60);
    env.run(&["refresh", "--profile", "dev-sso"]).assert_ok();
    let ours = env.corp_token();
    let out = env.client_command("node").args(["-e", JS_SCRIPT]).env("NODE_PATH", &modules).output().unwrap();
    let run = to_run(out);
    assert_eq!(run.code, 0, "node failed: {run:?}");
    let got: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {run:?}"));

    // fromProcess: exactly what our binary cached for the role.
    let cached = &env.read_json(&env.role_path(CORP_ROLE_KEY))["Credentials"];
    assert_eq!(got["process"]["key"], cached["AccessKeyId"]);
    assert_eq!(got["process"]["secret"], cached["SecretAccessKey"]);
    assert_eq!(got["process"]["token"], cached["SessionToken"]);
    assert_eq!(got["process"]["expiration"].as_str().unwrap().replace(".000Z", "Z"), cached["Expiration"]);

    // fromSSO: read our refreshed token file as it is (no refresh of its own) and used it.
    assert_eq!(env.fake.count("CreateToken"), 1, "the SDK found our token fresh");
    let calls = env.fake.calls("GetRoleCredentials");
    assert_eq!(calls.len(), 2, "one from our binary, one from fromSSO");
    assert_eq!(calls[1].headers["x-amz-sso_bearer_token"], ours["accessToken"].as_str().unwrap());
    assert_eq!(calls[1].query["account_id"], ACCOUNT);
    assert_eq!(calls[1].query["role_name"], ROLE);
    assert!(got["sso"]["token"].as_str().unwrap().starts_with("session-token-Developer-"));
    assert_ne!(got["sso"]["key"], got["process"]["key"]);
    assert_eq!(env.corp_token(), ours, "the SDK left our token file as it was");
}
