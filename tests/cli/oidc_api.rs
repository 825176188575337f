//! The low-level SSO OIDC commands (docs/oidc-api.md): create-token, create-token-with-iam, register-client
//! and start-device-authorization against the fake. Request bodies are asserted field by field,
//! CreateTokenWithIAM must pass the fake's own SigV4 check, and the skeletons are compared with
//! the botocore model when python3 with botocore is there (always in CI).

use crate::util::fake::{FakeSso, IAM_ACCESS_KEY, IAM_SECRET_KEY, Recorded, Reply};
use crate::util::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const APP_ARN: &str = "arn:aws:sso::123456789012:application/ssoins-1111/apl-2222";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

fn token_reply() -> Value {
    json!({"accessToken": "scripted-access-DO-NOT-LEAK", "tokenType": "Bearer", "expiresIn": 3600,
           "refreshToken": "scripted-refresh-DO-NOT-LEAK"})
}

/// An environment whose IAM credentials are the fake's test key pair.
fn iam_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.set_env("AWS_ACCESS_KEY_ID", IAM_ACCESS_KEY);
    env.set_env("AWS_SECRET_ACCESS_KEY", IAM_SECRET_KEY);
    env
}

fn only_call(env: &TestEnv, op: &str) -> Recorded {
    let all = env.fake.requests();
    assert_eq!(all.len(), 1, "exactly one request: {all:?}");
    assert_eq!(all[0].op, op, "{all:?}");
    all[0].clone()
}

fn args<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

#[test]
fn create_token_sends_exactly_the_fields_of_each_grant() {
    let base = ["create-token", "--debug", "--client-id", "cid", "--client-secret", "csecret-DO-NOT-LEAK"];
    let cases: Vec<(Vec<&str>, Value)> = vec![
        (
            vec!["--grant-type", "refresh_token", "--refresh-token", "rt-DO-NOT-LEAK"],
            json!({"grantType": "refresh_token", "refreshToken": "rt-DO-NOT-LEAK"}),
        ),
        (
            vec!["--grant-type", DEVICE_GRANT, "--device-code", "dc-DO-NOT-LEAK"],
            json!({"grantType": DEVICE_GRANT, "deviceCode": "dc-DO-NOT-LEAK"}),
        ),
        (
            vec!["--grant-type", "device_code", "--device-code", "dc"],
            json!({"grantType": DEVICE_GRANT, "deviceCode": "dc"}),
        ),
        (
            vec![
                "--grant-type",
                "authorization_code",
                "--code",
                "code-DO-NOT-LEAK",
                "--redirect-uri",
                "http://127.0.0.1:54321/oauth/callback",
                "--code-verifier",
                "verifier-DO-NOT-LEAK",
                "--scope",
                "openid aws",
                "--scope",
                "sso:account:access",
            ],
            json!({"grantType": "authorization_code", "code": "code-DO-NOT-LEAK",
                   "redirectUri": "http://127.0.0.1:54321/oauth/callback", "codeVerifier": "verifier-DO-NOT-LEAK",
                   "scope": ["openid", "aws", "sso:account:access"]}),
        ),
        (
            vec!["--grant-type", "refresh_token", "--refresh-token", "rt", "--scope", "a", "b"],
            json!({"grantType": "refresh_token", "refreshToken": "rt", "scope": ["a", "b"]}),
        ),
    ];
    for (extra, fields) in cases {
        let env = TestEnv::new();
        env.fake.script("CreateToken", [Reply::Json(200, None, token_reply())]);
        let run = env.run(&args(&base, &extra));
        run.assert_ok();
        assert_eq!(run.json(), token_reply(), "{extra:?}");
        let req = only_call(&env, "CreateToken");
        let mut want = json!({"clientId": "cid", "clientSecret": "csecret-DO-NOT-LEAK"});
        want.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        assert_eq!(req.json(), want, "{extra:?}");
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/token"));
        assert!(req.query.is_empty(), "{req:?}");
        assert!(!req.headers.contains_key("authorization"), "CreateToken is unsigned");
        assert_eq!(req.headers.get("content-type").map(String::as_str), Some("application/json"));
        assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
    }
}

#[test]
fn the_response_is_printed_exactly_as_returned() {
    let env = TestEnv::new();
    // Member order, unknown members and nested values all come through unchanged.
    let reply: Value = serde_json::from_str(
        r#"{"tokenType":"Bearer","accessToken":"at-DO-NOT-LEAK","expiresIn":28800,"zExtra":{"list":[1,2.5,"ü"],"b":null},"idToken":"id"}"#,
    )
    .unwrap();
    env.fake.script("CreateToken", [Reply::Json(200, None, reply)]);
    let run = env.run(&["create-token", "--client-id", "c", "--client-secret", "s", "--grant-type", "refresh_token"]);
    run.assert_ok();
    let want = "{\n    \"tokenType\": \"Bearer\",\n    \"accessToken\": \"at-DO-NOT-LEAK\",\n    \"expiresIn\": 28800,\n    \
                \"zExtra\": {\n        \"list\": [\n            1,\n            2.5,\n            \"ü\"\n        ],\n        \
                \"b\": null\n    },\n    \"idToken\": \"id\"\n}\n";
    assert_eq!(run.stdout, want);
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn create_token_with_iam_signs_every_grant_and_sends_its_fields() {
    let base = ["create-token-with-iam", "--region", "us-east-1", "--client-id", APP_ARN];
    let cases: Vec<(Vec<&str>, Value)> = vec![
        (
            vec![
                "--grant-type",
                "authorization_code",
                "--code",
                "code-DO-NOT-LEAK",
                "--redirect-uri",
                "https://app.example.com/callback",
                "--code-verifier",
                "verifier-DO-NOT-LEAK",
            ],
            json!({"grantType": "authorization_code", "code": "code-DO-NOT-LEAK",
                   "redirectUri": "https://app.example.com/callback", "codeVerifier": "verifier-DO-NOT-LEAK"}),
        ),
        (
            vec!["--grant-type", "refresh_token", "--refresh-token", "rt-DO-NOT-LEAK"],
            json!({"grantType": "refresh_token", "refreshToken": "rt-DO-NOT-LEAK"}),
        ),
        (
            vec!["--grant-type", "jwt-bearer", "--assertion", "eyJ.jwt.DO-NOT-LEAK", "--scope", "openid", "aws"],
            json!({"grantType": JWT_GRANT, "assertion": "eyJ.jwt.DO-NOT-LEAK", "scope": ["openid", "aws"]}),
        ),
        (
            vec![
                "--grant-type",
                EXCHANGE_GRANT,
                "--subject-token",
                "subject-DO-NOT-LEAK",
                "--subject-token-type",
                "urn:ietf:params:oauth:token-type:access_token",
                "--requested-token-type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            ],
            json!({"grantType": EXCHANGE_GRANT, "subjectToken": "subject-DO-NOT-LEAK",
                   "subjectTokenType": "urn:ietf:params:oauth:token-type:access_token",
                   "requestedTokenType": "urn:ietf:params:oauth:token-type:refresh_token"}),
        ),
    ];
    for (extra, fields) in cases {
        let env = iam_env();
        let run = env.run(&args(&base, &extra));
        run.assert_ok();
        let req = only_call(&env, "CreateTokenWithIAM");
        let mut want = json!({"clientId": APP_ARN});
        want.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        assert_eq!(req.json(), want, "{extra:?}");
        assert_eq!(req.path, "/token");
        assert_eq!(req.query.get("aws_iam").map(String::as_str), Some("t"));
        let auth = &req.headers["authorization"];
        let scope =
            format!("Credential={IAM_ACCESS_KEY}/{}/us-east-1/sso-oauth/aws4_request", &req.headers["x-amz-date"][..8]);
        assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 {scope}, SignedHeaders=")), "{auth}");
        assert!(!req.headers.contains_key("x-amz-security-token"));
        assert_eq!(env.fake.iam_signers(), vec![IAM_ACCESS_KEY.to_owned()], "the fake's signature check passed");
        let out = run.json();
        assert_eq!(out["issuedTokenType"], "urn:ietf:params:oauth:token-type:refresh_token");
        assert_eq!(out["scope"], json!(["openid", "aws", "sts:identity_context"]));
        assert_eq!(out["awsAdditionalDetails"]["identityContext"], "fake-identity-context-us-east-1");
        assert_eq!(env.fake.count("CreateToken"), 0, "not confused with CreateToken");
        for secret in [IAM_SECRET_KEY, "DO-NOT-LEAK"] {
            assert!(!run.stderr.contains(secret), "{run:?}");
        }
    }
}

#[test]
fn the_fake_rejects_a_wrong_signature_or_token() {
    let call = ["create-token-with-iam", "--region", "us-east-1", "--client-id", APP_ARN, "--grant-type", "jwt-bearer"];
    let mut env = TestEnv::new();
    env.set_env("AWS_ACCESS_KEY_ID", IAM_ACCESS_KEY);
    env.set_env("AWS_SECRET_ACCESS_KEY", "not-the-secret-DO-NOT-LEAK");
    env.run(&call)
        .assert_fails(1, "CreateTokenWithIAM at 127.0.0.1")
        .assert_fails(1, "HTTP 403: InvalidSignatureException")
        .assert_fails(1, "hint: check the IAM credentials it was signed with");
    assert!(env.fake.iam_signers().is_empty());

    // A session token the key does not come with.
    let mut env = iam_env();
    env.set_env("AWS_SESSION_TOKEN", "stray-token-DO-NOT-LEAK");
    let run = env.run(&call);
    run.assert_fails(1, "UnrecognizedClientException");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");

    // A temporary key pair: the token is sent and signed.
    let mut env = TestEnv::new();
    env.fake.trust_iam_key("ASIATEMP", "temp-secret-DO-NOT-LEAK", Some("temp-token-DO-NOT-LEAK"));
    env.set_env("AWS_ACCESS_KEY_ID", "ASIATEMP");
    env.set_env("AWS_SECRET_ACCESS_KEY", "temp-secret-DO-NOT-LEAK");
    env.set_env("AWS_SESSION_TOKEN", "temp-token-DO-NOT-LEAK");
    env.run(&call).assert_ok();
    let req = only_call(&env, "CreateTokenWithIAM");
    assert_eq!(req.headers["x-amz-security-token"], "temp-token-DO-NOT-LEAK");
    assert!(req.headers["authorization"].contains("x-amz-security-token"), "the token is a signed header");
    assert_eq!(env.fake.iam_signers(), vec!["ASIATEMP".to_owned()]);
}

#[test]
fn the_fake_checks_what_botocore_signs() {
    // The reference client signs CreateTokenWithIAM and the fake accepts it: the fake's verifier
    // agrees with botocore, so its verdict on our signature means something.
    let Some(python) = python_with_botocore() else { return };
    let env = TestEnv::new();
    let script = format!(
        r#"
import json, botocore.session
s = botocore.session.get_session()
c = s.create_client('sso-oidc', region_name='us-east-1', endpoint_url='{}',
                    aws_access_key_id='{IAM_ACCESS_KEY}', aws_secret_access_key='{IAM_SECRET_KEY}')
r = c.create_token_with_iam(clientId='{APP_ARN}', grantType='refresh_token', refreshToken='rt')
print(json.dumps({{"ok": r["issuedTokenType"]}}))
"#,
        env.fake.url()
    );
    let out = Command::new(python).args(["-c", &script]).env("HOME", env.home()).output().unwrap();
    let run = to_run(out);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.fake.iam_signers(), vec![IAM_ACCESS_KEY.to_owned()]);
}

/// A source profile's credential_process that prints without end, or never ends (or leaves a
/// child holding its stdout), is stopped: memory stays bounded and the run ends with one error.
#[test]
fn a_source_profiles_credential_process_is_bounded_in_output_and_time() {
    let call = ["create-token-with-iam", "--region", "us-east-1", "--client-id", APP_ARN, "--grant-type", "jwt-bearer"];
    let env = TestEnv::new();
    let config = |line: &str| format!("{DEFAULT_CONFIG}\n[profile proc]\ncredential_process = {line}\n");

    env.write_config(&config("yes"));
    let started = Instant::now();
    let run = env.run(&args(&call, &["--source-profile", "proc"]));
    run.assert_fails(1, "the credential_process of profile proc printed more than 1024 KiB");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

    // A process whose child keeps the pipe open after it printed and exited: both are waited for
    // only up to the run's deadline (30 s), then it is stopped.
    env.write_config(&config("sh -c 'sleep 45 2>/dev/null & echo {}'"));
    let started = Instant::now();
    let run = env.run(&args(&call, &["--source-profile", "proc"]));
    let took = started.elapsed();
    run.assert_fails(1, "the credential_process of profile proc did not finish within 30 s; it was stopped");
    assert!(took >= Duration::from_secs(29) && took < Duration::from_secs(40), "{took:?}");
    assert!(env.fake.requests().is_empty(), "nothing was sent");
}

#[test]
fn iam_credentials_come_from_env_then_source_profile_then_sso() {
    let call = ["create-token-with-iam", "--region", "us-east-1", "--client-id", APP_ARN, "--grant-type", "jwt-bearer"];
    let with = |more: &[&'static str]| args(&call, more);

    // Static keys of a source profile, from the config file and from the credentials file.
    let env = TestEnv::new();
    env.write_config(&format!(
        "{DEFAULT_CONFIG}\n[profile ci]\naws_access_key_id = {IAM_ACCESS_KEY}\naws_secret_access_key = {IAM_SECRET_KEY}\n"
    ));
    env.run(&with(&["--source-profile", "ci"])).assert_ok();
    assert_eq!(env.fake.iam_signers(), vec![IAM_ACCESS_KEY.to_owned()]);

    let env = TestEnv::new();
    env.fake.trust_iam_key("AKIDFILE", "file-secret-DO-NOT-LEAK", Some("file-token-DO-NOT-LEAK"));
    env.write_file(
        &env.home().join(".aws/credentials"),
        "[ci]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret-DO-NOT-LEAK\naws_session_token = file-token-DO-NOT-LEAK\n",
    );
    env.run(&with(&["--source-profile", "ci"])).assert_ok();
    assert_eq!(env.fake.iam_signers(), vec!["AKIDFILE".to_owned()]);

    // The environment comes first.
    let env = iam_env();
    env.write_config(&format!(
        "{DEFAULT_CONFIG}\n[profile ci]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = x\n"
    ));
    env.run(&with(&["--source-profile", "ci"])).assert_ok();
    assert_eq!(env.fake.iam_signers(), vec![IAM_ACCESS_KEY.to_owned()]);

    // A credential_process, split like a shell (a path with a space, a quoted argument).
    let env = TestEnv::new();
    env.fake.trust_iam_key("AKIDPROC", "proc-secret-DO-NOT-LEAK", None);
    let script = env.home().join("bin dir/creds.sh");
    env.write_file(
        &script,
        "#!/bin/sh\n[ \"$1\" = 'a b' ] || exit 3\n\
         echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-secret-DO-NOT-LEAK\"}'\n",
    );
    make_executable(&script);
    env.write_config(&format!(
        "{DEFAULT_CONFIG}\n[profile proc]\ncredential_process = \"{}\" 'a b'\n",
        script.display()
    ));
    let run = env.run(&with(&["--source-profile", "proc", "--debug"]));
    run.assert_ok();
    assert_eq!(env.fake.iam_signers(), vec!["AKIDPROC".to_owned()]);
    assert!(run.stderr.contains("credential_process of profile proc"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");

    // A failing credential_process, and a profile with neither keys nor a process.
    env.write_config(&format!(
        "{DEFAULT_CONFIG}\n[profile proc]\ncredential_process = \"{}\" other\n",
        script.display()
    ));
    env.run(&with(&["--source-profile", "proc"])).assert_fails(1, "the credential_process of profile proc failed");
    env.run(&with(&["--source-profile", "dev-sso"])).assert_fails(1, "nor a credential_process");
    env.run(&with(&["--source-profile", "ghost"])).assert_fails(1, "(ghost) could not be found");

    // No environment and no source profile: the SSO role of --profile, through our role cache.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&with(&["--profile", "dev-sso", "--debug"]));
    run.assert_ok();
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
    let signer = &env.fake.iam_signers()[0];
    assert!(signer.starts_with(&format!("ASIAFAKE{ACCOUNT}")), "{signer}");
    let req = &env.fake.calls("CreateTokenWithIAM")[0];
    assert!(req.headers["x-amz-security-token"].starts_with("session-token-Developer-"));
    assert!(env.role_path(CORP_ROLE_KEY).exists(), "the role credentials were cached as usual");
    assert!(run.stderr.contains("SSO role Developer in account 111122223333"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");

    // Nothing at all.
    let env = TestEnv::new();
    env.run(&call).assert_fails(1, "no IAM credentials to sign with").assert_fails(1, "hint: set AWS_ACCESS_KEY_ID");
    let mut env = TestEnv::new();
    env.set_env("AWS_ACCESS_KEY_ID", IAM_ACCESS_KEY);
    env.run(&call).assert_fails(1, "AWS_SECRET_ACCESS_KEY is not");
    assert!(env.fake.requests().is_empty());
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn region_order_and_endpoint_override() {
    let call = ["create-token-with-iam", "--client-id", APP_ARN, "--grant-type", "jwt-bearer"];
    let region_of = |env: &TestEnv| {
        let req = env.fake.calls("CreateTokenWithIAM").pop().unwrap();
        let auth = crate::util::sigv4::parse_authorization(&req.headers["authorization"]).unwrap();
        auth.region
    };
    // The profile's `region` (not its sso_region), then AWS_DEFAULT_REGION, AWS_REGION, --region.
    let mut env = iam_env();
    env.run(&args(&call, &["--profile", "dev-sso"])).assert_ok();
    assert_eq!(region_of(&env), "eu-west-1");
    env.set_env("AWS_DEFAULT_REGION", "ap-south-1");
    env.run(&args(&call, &["--profile", "dev-sso"])).assert_ok();
    assert_eq!(region_of(&env), "ap-south-1");
    env.set_env("AWS_REGION", "ca-central-1");
    env.run(&args(&call, &["--profile", "dev-sso"])).assert_ok();
    assert_eq!(region_of(&env), "ca-central-1");
    env.run(&args(&call, &["--profile", "dev-sso", "--region", "sa-east-1"])).assert_ok();
    assert_eq!(region_of(&env), "sa-east-1");
    assert_eq!(env.fake.iam_signers().len(), 4);

    // No region anywhere: signing needs one.
    let env = iam_env();
    env.run(&call).assert_fails(1, "create-token-with-iam needs a region");
    env.run(&args(&call, &["--profile", "nope"])).assert_fails(1, "(nope) could not be found");

    // --endpoint-url wins over AWS_ENDPOINT_URL_SSO_OIDC.
    let other = FakeSso::start();
    env.run(&args(&call, &["--region", "us-east-1", "--endpoint-url", &format!("{}/", other.url())])).assert_ok();
    assert_eq!(other.iam_signers(), vec![IAM_ACCESS_KEY.to_owned()]);
    assert!(env.fake.requests().is_empty());
    env.run(&args(&call, &["--endpoint-url", "ftp://x"])).assert_fails(2, "not an http(s) URL");
}

#[test]
fn register_client_and_start_device_authorization() {
    let env = TestEnv::new();
    let reply = json!({"clientId": "new-id", "clientSecret": "new-secret-DO-NOT-LEAK", "clientIdIssuedAt": 1700000000,
                       "clientSecretExpiresAt": 1707776000});
    env.fake.script("RegisterClient", [Reply::Json(200, None, reply.clone())]);
    let run = env.run(&[
        "register-client",
        "--client-name",
        "my-tool",
        "--client-type",
        "public",
        "--scopes",
        "sso:account:access",
        "openid",
        "--grant-types",
        "authorization_code",
        "refresh_token",
        "--redirect-uris",
        "http://127.0.0.1/oauth/callback",
        "--issuer-url",
        START_URL,
        "--entitled-application-arn",
        APP_ARN,
    ]);
    run.assert_ok();
    assert_eq!(run.json(), reply);
    let req = only_call(&env, "RegisterClient");
    assert_eq!(
        req.json(),
        json!({"clientName": "my-tool", "clientType": "public", "scopes": ["sso:account:access", "openid"],
               "redirectUris": ["http://127.0.0.1/oauth/callback"], "grantTypes": ["authorization_code", "refresh_token"],
               "issuerUrl": START_URL, "entitledApplicationArn": APP_ARN})
    );
    assert!(!req.headers.contains_key("authorization"));

    let env = TestEnv::new();
    let reply = json!({"deviceCode": "dc-DO-NOT-LEAK", "userCode": "ABCD-EFGH", "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
                       "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
                       "expiresIn": 600, "interval": 1});
    env.fake.script("StartDeviceAuthorization", [Reply::Json(200, None, reply.clone())]);
    let run = env.run(&[
        "start-device-authorization",
        "--client-id",
        "cid",
        "--client-secret",
        "cs-DO-NOT-LEAK",
        "--start-url",
        START_URL,
    ]);
    run.assert_ok();
    assert_eq!(run.json(), reply);
    let req = only_call(&env, "StartDeviceAuthorization");
    assert_eq!(req.path, "/device_authorization");
    assert_eq!(req.json(), json!({"clientId": "cid", "clientSecret": "cs-DO-NOT-LEAK", "startUrl": START_URL}));
    env.run(&["start-device-authorization", "--client-id", "cid", "--client-secret", "s"])
        .assert_fails(2, "needs --start-url");
}

#[test]
fn every_oidc_error_code_maps_to_its_name() {
    // (shape, OAuth error, status), as docs/sso-services.md "Errors" lists them.
    let codes = [
        ("AuthorizationPendingException", "authorization_pending", 400),
        ("SlowDownException", "slow_down", 400),
        ("ExpiredTokenException", "expired_token", 400),
        ("AccessDeniedException", "access_denied", 400),
        ("InvalidClientException", "invalid_client", 401),
        ("InvalidGrantException", "invalid_grant", 400),
        ("InvalidRequestException", "invalid_request", 400),
        ("InvalidScopeException", "invalid_scope", 400),
        ("UnauthorizedClientException", "unauthorized_client", 400),
        ("UnsupportedGrantTypeException", "unsupported_grant_type", 400),
        ("InvalidClientMetadataException", "invalid_client_metadata", 400),
        ("InvalidRedirectUriException", "invalid_redirect_uri", 400),
        ("InternalServerException", "server_error", 500),
    ];
    let call =
        ["create-token", "--client-id", "c", "--client-secret", "s-DO-NOT-LEAK", "--grant-type", "refresh_token"];
    for (shape, error, status) in codes {
        // With the x-amzn-ErrorType header, and from the body's `error` alone.
        for with_header in [true, false] {
            let env = TestEnv::new();
            let reply = if with_header {
                Reply::oidc_error(status, shape, error)
            } else {
                Reply::Json(status, None, json!({"error": error, "error_description": format!("fake {error}")}))
            };
            // A 500 is retried: every try gets the same answer.
            env.fake.script("CreateToken", vec![reply; 3]);
            let run = env.run(&call);
            run.assert_fails(1, &format!("failed with HTTP {status}: {shape} (fake {error})"));
            assert!(run.stderr.starts_with("aws-sso-process: CreateToken at 127.0.0.1:"), "{run:?}");
            assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
        }
    }
    // CreateTokenWithIAM's own error, with the extra members it carries.
    let env = iam_env();
    env.fake.script(
        "CreateTokenWithIAM",
        [Reply::Json(
            400,
            Some("InvalidRequestRegionException:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/".into()),
            json!({"error": "invalid_request", "error_description": "wrong region", "endpoint": "https://oidc.eu-west-1.amazonaws.com", "region": "eu-west-1"}),
        )],
    );
    env.run(&["create-token-with-iam", "--region", "us-east-1", "--client-id", APP_ARN, "--grant-type", "jwt-bearer"])
        .assert_fails(1, "CreateTokenWithIAM at 127.0.0.1")
        .assert_fails(1, "HTTP 400: InvalidRequestRegionException (wrong region)");
}

/// Each command with the request members it needs besides the input, and its environment.
fn commands() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        ("create-token", "CreateToken", vec![]),
        ("create-token-with-iam", "CreateTokenWithIAM", vec!["--region", "us-east-1"]),
        ("register-client", "RegisterClient", vec![]),
        ("start-device-authorization", "StartDeviceAuthorization", vec![]),
    ]
}

#[test]
fn skeletons_round_trip_through_cli_input() {
    for (command, op, extra) in commands() {
        for (kind, input_flag) in [("input", "--cli-input-json"), ("yaml-input", "--cli-input-yaml")] {
            let env = iam_env();
            let skeleton = env.run(&[command, "--generate-cli-skeleton", kind]);
            skeleton.assert_ok();
            assert!(env.fake.requests().is_empty(), "a skeleton calls nothing");
            for via_file in [false, true] {
                let env = iam_env();
                env.fake.script(op, [Reply::Json(200, None, json!({"scripted": command}))]);
                let value = if via_file {
                    let path = env.home().join(format!("input.{kind}"));
                    env.write_file(&path, &skeleton.stdout);
                    format!("file://{}", path.display())
                } else {
                    skeleton.stdout.clone()
                };
                let run = env.run(&args(&[command, input_flag, &value], &extra));
                run.assert_ok();
                assert_eq!(run.json(), json!({"scripted": command}), "{command} {kind}");
                let sent = only_call(&env, op).json();
                let want: Value = serde_json::from_str(&env.run(&[command, "--generate-cli-skeleton"]).stdout).unwrap();
                assert_eq!(sent, want, "{command} {kind}: the placeholders are sent as they are");
            }
        }
    }
    // The bare flag means `input`; `output` is a sample response.
    let env = TestEnv::new();
    let bare = env.run(&["create-token", "--generate-cli-skeleton"]);
    assert_eq!(bare.stdout, env.run(&["create-token", "--generate-cli-skeleton", "input"]).stdout);
    let out = env.run(&["create-token", "--generate-cli-skeleton", "output"]);
    assert_eq!(out.json()["expiresIn"], 0);
}

#[test]
fn flags_win_over_cli_input() {
    let env = TestEnv::new();
    env.fake.script("CreateToken", vec![Reply::Json(200, None, token_reply()); 2]);
    let input = json!({"clientId": "input-id", "clientSecret": "input-secret", "grantType": "refresh_token",
                       "refreshToken": "input-rt", "scope": ["input-scope"]});
    env.run(&["create-token", "--cli-input-json", &input.to_string(), "--client-id", "flag-id", "--scope", "s1", "s2"])
        .assert_ok();
    let yaml = "clientId: input-id\nclientSecret: 'input-secret'\ngrantType: refresh_token\nrefreshToken: \"input-rt\"\n\
                scope: [input-scope]\n";
    env.run(&["create-token", "--cli-input-yaml", yaml, "--refresh-token", "flag-rt"]).assert_ok();
    let calls = env.fake.calls("CreateToken");
    assert_eq!(
        calls[0].json(),
        json!({"clientId": "flag-id", "clientSecret": "input-secret", "grantType": "refresh_token",
               "refreshToken": "input-rt", "scope": ["s1", "s2"]})
    );
    assert_eq!(
        calls[1].json(),
        json!({"clientId": "input-id", "clientSecret": "input-secret", "grantType": "refresh_token",
               "refreshToken": "flag-rt", "scope": ["input-scope"]})
    );
}

#[test]
fn bad_input_is_a_usage_error_and_calls_nothing() {
    let env = TestEnv::new();
    let ok = ["create-token", "--client-id", "c", "--client-secret", "s", "--grant-type", "refresh_token"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["create-token", "--cli-input-json", r#"{"clientSecret": "leak-DO-NOT-LEAK""#],
            "--cli-input-json is not valid JSON",
        ),
        (vec!["create-token", "--cli-input-json", "[1]"], "must be a JSON object"),
        (vec!["create-token", "--cli-input-json", "file:///no/such/file.json"], "cannot read /no/such/file.json"),
        (vec!["create-token", "--cli-input-yaml", "file://~/missing.yaml"], "missing.yaml"),
        (
            vec!["create-token", "--cli-input-yaml", "clientId: a\nnested:\n  x: leak-DO-NOT-LEAK\n"],
            "line 3: nested mappings",
        ),
        (vec!["create-token", "--cli-input-json", r#"{"clientID": "c"}"#], "unknown parameter \"clientID\""),
        (
            vec!["create-token", "--cli-input-json", r#"{"scope": "openid"}"#],
            "scope in --cli-input-json must be a list",
        ),
        (args(&ok, &["--grant-type", "password"]), ""),
        (
            vec!["create-token", "--client-id", "c", "--client-secret", "s", "--grant-type", "password"],
            "unknown grant type \"password\"",
        ),
        (
            vec!["create-token", "--client-id", "c", "--grant-type", "refresh_token"],
            "create-token needs --client-secret",
        ),
        (vec!["create-token", "--client-secret", "s-DO-NOT-LEAK"], "create-token needs --client-id"),
        (vec!["create-token-with-iam", "--client-id", APP_ARN], "create-token-with-iam needs --grant-type"),
        (vec!["create-token-with-iam", "--client-id", APP_ARN, "--grant-type", DEVICE_GRANT], "unknown grant type"),
        (vec!["register-client", "--client-name", "x"], "register-client needs --client-type"),
    ];
    for (argv, needle) in cases {
        let run = env.run(&argv);
        if needle.is_empty() {
            // Clap's own usage errors (a flag given twice): exit 2, nothing on stdout.
            assert_eq!(run.code, 2, "{run:?}");
            assert!(run.stdout.is_empty());
        } else {
            run.assert_fails(2, needle);
        }
        assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
    }
    for argv in [
        vec!["create-token", "--generate-cli-skeleton", "xml"],
        vec!["create-token", "--cli-input-json", "{}", "--cli-input-yaml", "a: b"],
        vec!["create-token-with-iam", "--client-secret", "s"],
    ] {
        assert_eq!(env.run(&argv).code, 2, "{argv:?}");
    }
    // An input file that is a FIFO nobody writes to, an endless device, or too big: refused at
    // once, without hanging or reading it all.
    let fifo = env.home().join("input.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let huge = env.home().join("huge.json");
    std::fs::File::create(&huge).unwrap().set_len(2 << 20).unwrap();
    for path in [fifo.to_str().unwrap(), "/dev/zero", huge.to_str().unwrap()] {
        let input = format!("file://{path}");
        env.run(&["create-token", "--cli-input-json", &input]).assert_fails(2, &format!("cannot read {path}"));
    }
    assert!(env.fake.requests().is_empty());
}

#[test]
fn help_reads_like_the_aws_cli_page() {
    let env = TestEnv::new();
    let flags: &[(&str, &[&str])] = &[
        (
            "create-token",
            &[
                "--client-id",
                "--client-secret",
                "--grant-type",
                "--device-code",
                "--code",
                "--refresh-token",
                "--scope",
                "--redirect-uri",
                "--code-verifier",
            ],
        ),
        (
            "create-token-with-iam",
            &[
                "--client-id",
                "--grant-type",
                "--code",
                "--refresh-token",
                "--assertion",
                "--scope",
                "--redirect-uri",
                "--subject-token",
                "--subject-token-type",
                "--requested-token-type",
                "--code-verifier",
                "--source-profile",
            ],
        ),
        (
            "register-client",
            &[
                "--client-name",
                "--client-type",
                "--scopes",
                "--redirect-uris",
                "--grant-types",
                "--issuer-url",
                "--entitled-application-arn",
            ],
        ),
        ("start-device-authorization", &["--client-id", "--client-secret", "--start-url"]),
    ];
    for (command, command_flags) in flags {
        let run = env.run(&[command, "--help"]);
        run.assert_ok();
        let common = ["--region", "--endpoint-url", "--cli-input-json", "--cli-input-yaml", "--generate-cli-skeleton"];
        for flag in command_flags.iter().chain(&common) {
            // Each flag is listed with a description on the lines after it.
            let at = run.stdout.find(&format!("  {flag} ")).unwrap_or_else(|| panic!("{command}: {flag}"));
            let described = run.stdout[at..].lines().nth(1).is_some_and(|l| l.trim().len() > 10);
            assert!(described, "{command}: {flag} has no description");
        }
        for section in ["Output:", "Examples:", "Exit status:", "Mirrors `aws sso-oidc"] {
            assert!(run.stdout.contains(section), "{command}: {section}");
        }
    }
    let run = env.run(&["create-token", "--help"]);
    assert!(run.stdout.contains("urn:ietf:params:oauth:grant-type:device_code"));
}

#[test]
fn skeletons_match_the_botocore_model() {
    let Some(python) = python_with_botocore() else { return };
    let script = r#"
import json, botocore.session
from botocore.utils import ArgumentGenerator
m = botocore.session.get_session().get_service_model('sso-oidc')
out = {}
for op in ['CreateToken', 'CreateTokenWithIAM', 'RegisterClient', 'StartDeviceAuthorization']:
    o = m.operation_model(op)
    out[op] = {"input": list(o.input_shape.members), "required": o.input_shape.required_members,
               "output": ArgumentGenerator(use_member_names=True).generate_skeleton(o.output_shape),
               "uri": o.http["requestUri"]}
print(json.dumps(out))
"#;
    let out = Command::new(python).args(["-c", script]).output().unwrap();
    let run = to_run(out);
    assert_eq!(run.code, 0, "{run:?}");
    let model: Value = serde_json::from_str(&run.stdout).unwrap();
    let env = TestEnv::new();
    for (command, op, _) in commands() {
        let m = &model[op];
        let input = env.run(&[command, "--generate-cli-skeleton", "input"]).json();
        let keys: Vec<&str> = input.as_object().unwrap().keys().map(String::as_str).collect();
        let want: Vec<&str> = m["input"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(keys, want, "{command}: input skeleton keys (and order) = the model's input members");
        let yaml = env.run(&[command, "--generate-cli-skeleton", "yaml-input"]).stdout;
        for key in &want {
            let required = m["required"].as_array().unwrap().iter().any(|r| r == key);
            let line = yaml.lines().find(|l| l.starts_with(&format!("{key}:"))).unwrap_or_else(|| panic!("{key}"));
            assert_eq!(line.contains("[REQUIRED]"), required, "{command}: {line}");
        }
        let output = env.run(&[command, "--generate-cli-skeleton", "output"]).json();
        assert_eq!(output, m["output"], "{command}: output skeleton = botocore's generator");
        // A missing required member is named by its flag.
        for key in m["required"].as_array().unwrap() {
            let mut skeleton = input.clone();
            skeleton.as_object_mut().unwrap().remove(key.as_str().unwrap());
            env.run(&[command, "--cli-input-json", &skeleton.to_string()])
                .assert_fails(2, &format!("(or {} in --cli-input-json", key.as_str().unwrap()));
        }
    }
    assert!(env.fake.requests().is_empty());
}

/// `python3` when it can import botocore; `None` (with a note) outside CI, a failure in CI.
fn python_with_botocore() -> Option<&'static str> {
    let probe = Command::new("python3").args(["-c", "import botocore"]).output();
    if probe.as_ref().is_ok_and(|o| o.status.success()) {
        return Some("python3");
    }
    skip_or_fail("python3 with botocore", "pip install boto3");
    None
}
