//! `console` (docs/serve-and-console.md): the role credentials become a sign-in token at the federation endpoint
//! (the fake's, through AWS_ENDPOINT_URL_SIGNIN), and the printed or opened link holds that token
//! and the destination. The fake checks that the `Session` it gets is the role credentials its
//! portal issued. The partition table itself is tested in src/federation.rs.

use crate::util::fake::{Reply, percent_decode};
use crate::util::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn console_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    let url = env.fake.url();
    env.set_env("AWS_ENDPOINT_URL_SIGNIN", &url);
    env
}

/// The query of a printed link, decoded, after checking where it points.
fn link_query(env: &TestEnv, link: &str) -> BTreeMap<String, String> {
    let (base, query) = link.split_once('?').unwrap_or_else(|| panic!("not a link: {link}"));
    assert_eq!(base, format!("{}/federation", env.fake.url()));
    query
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), percent_decode(v))
        })
        .collect()
}

#[test]
fn console_prints_a_link_with_the_signin_token_and_the_destination() {
    let env = console_env();
    let run = env.run(&["console", "--profile", "dev", "--no-browser"]);
    run.assert_ok();
    assert!(run.stderr.is_empty(), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{run:?}");
    let q = link_query(&env, lines[0]);
    assert_eq!(q["Action"], "login");
    assert_eq!(q["Issuer"], START_URL);
    assert_eq!(q["Destination"], "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1");
    assert!(q["SigninToken"].starts_with("signin-token-"), "{q:?}");

    // The fake got exactly the role credentials its portal issued (and cached for the role).
    let calls = env.fake.calls("GetSigninToken");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].query["Action"], "getSigninToken");
    assert!(!calls[0].query.contains_key("SessionDuration"));
    let session: Value = serde_json::from_str(&calls[0].query["Session"]).unwrap();
    let cached = &env.read_json(&env.role_path(CORP_ROLE_KEY))["Credentials"];
    assert_eq!(session["sessionId"], cached["AccessKeyId"]);
    assert_eq!(session["sessionKey"], cached["SecretAccessKey"]);
    assert_eq!(session["sessionToken"], cached["SessionToken"]);
    assert_eq!(session.as_object().unwrap().len(), 3);
}

#[test]
fn console_destination_and_region() {
    let mut env = console_env();
    let run = env.run(&[
        "console",
        "--profile",
        "dev-sso",
        "--no-browser",
        "--destination",
        "https://console.aws.amazon.com/s3/home?a=b&c=d",
    ]);
    run.assert_ok();
    assert_eq!(link_query(&env, run.stdout.trim())["Destination"], "https://console.aws.amazon.com/s3/home?a=b&c=d");
    // The environment's region wins over the profile's.
    env.set_env("AWS_REGION", "ap-southeast-2");
    let run = env.run(&["console", "--profile", "dev-sso", "--no-browser"]);
    assert_eq!(
        link_query(&env, run.stdout.trim())["Destination"],
        "https://ap-southeast-2.console.aws.amazon.com/console/home?region=ap-southeast-2"
    );
    // A region that would not make a host name is an error, not a link.
    env.set_env("AWS_REGION", "evil.example/x");
    env.run(&["console", "--profile", "dev-sso", "--no-browser"]).assert_fails(1, "is not a region name");
    // Only https destinations.
    env.unset_env("AWS_REGION");
    env.run(&["console", "--profile", "dev-sso", "--no-browser", "--destination", "javascript:alert(1)"])
        .assert_fails(2, "--destination must be an https:// URL");
}

#[test]
fn console_opens_the_link_in_the_browser() {
    let mut env = console_env();
    let script = env.home().join("browser");
    std::fs::write(&script, "#!/bin/sh\necho \"$1\" > \"$HOME/opened\"\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    env.set_env("BROWSER", script.to_str().unwrap());
    let run = env.run(&["--debug", "console", "--profile", "dev"]);
    run.assert_ok();
    assert!(run.stdout.is_empty(), "the link went to the browser only: {run:?}");
    assert!(run.stderr.contains("opened the AWS console for dev in the browser"), "{run:?}");
    let opened = env.home().join("opened");
    assert!(wait_for(std::time::Duration::from_secs(10), || opened.exists()));
    let link = std::fs::read_to_string(&opened).unwrap();
    let q = link_query(&env, link.trim());
    assert!(q["SigninToken"].starts_with("signin-token-"));
    // The sign-in token and the credentials stay out of the --debug log.
    assert!(!run.stderr.contains("signin-token-") && !run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
    assert!(!run.stderr.contains("Session="), "{run:?}");
}

#[test]
fn console_failures_are_one_line_and_hold_no_secret() {
    let env = console_env();
    env.fake.script("GetSigninToken", [Reply::Raw(400, "text/html".into(), "<html>Bad Request</html>".into())]);
    let run = env.run(&["console", "--profile", "dev", "--no-browser"]);
    run.assert_fails(1, "GetSigninToken at 127.0.0.1:");
    assert!(!run.stderr.contains("DO-NOT-LEAK") && !run.stderr.contains("ASIAFAKE"), "{run:?}");
    // A proxy's HTML error page (retried as a 5xx, then given up), truncated JSON, a wrong type.
    let html = || Reply::Raw(502, "text/html".into(), "<html><h1>Bad Gateway</h1></html>".into());
    env.fake.script("GetSigninToken", [html(), html(), html()]);
    let run = env.run(&["console", "--profile", "dev", "--no-browser"]);
    run.assert_fails(1, "GetSigninToken at 127.0.0.1:");
    assert!(!run.stderr.contains("<html>") && !run.stderr.contains("ASIAFAKE"), "{run:?}");
    for body in [r#"{"SigninToken": "abc"#, r#"{"SigninToken": 5}"#, "[]"] {
        env.fake.script("GetSigninToken", [Reply::Raw(200, "application/json".into(), body.into())]);
        let run = env.run(&["console", "--profile", "dev", "--no-browser"]);
        assert_eq!(run.code, 1, "{body}: {run:?}");
        assert!(run.stdout.is_empty() && !run.stderr.contains("ASIAFAKE"), "{body}: {run:?}");
    }
    env.fake.script("GetSigninToken", [Reply::Json(200, None, serde_json::json!({"SigninToken": "a\u{1b}b"}))]);
    let run = env.run(&["console", "--profile", "dev", "--no-browser"]);
    run.assert_fails(1, "no SigninToken of printable text");
    assert!(!run.stderr.contains('\u{1b}'), "{run:?}");
    // A session that needs a login: exit 3 before any sign-in call.
    let fresh = TestEnv::new();
    let mut fresh = fresh;
    let url = fresh.fake.url();
    fresh.set_env("AWS_ENDPOINT_URL_SIGNIN", &url);
    fresh.run(&["console", "--profile", "dev", "--no-browser"]).assert_fails(3, "aws-sso-process login");
    assert_eq!(fresh.fake.count("GetSigninToken"), 0);
}

#[test]
fn console_in_a_partition_without_known_sign_in_hosts_is_not_supported() {
    let env = TestEnv::new();
    env.write_config(&DEFAULT_CONFIG.replace("sso_region = us-east-1", "sso_region = us-iso-east-1"));
    // No AWS_ENDPOINT_URL_SIGNIN: the error comes before any network call.
    let run = env.run(&["console", "--profile", "dev", "--no-browser"]);
    run.assert_fails(1, "console sign-in is not supported in the aws-iso partition");
    assert!(run.stderr.contains("AWS_ENDPOINT_URL_SIGNIN"), "{run:?}");
    assert!(env.fake.requests().is_empty());
}
