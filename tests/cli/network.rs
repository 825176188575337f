//! Network fidelity (docs/networks.md): proxies, trust roots and CA bundles,
//! retries and timeouts, the user agent, endpoint overrides and the default endpoints of each
//! partition. Nothing leaves 127.0.0.1: requests for AWS hosts go to a refusing proxy that only
//! records which host they were for.

use crate::util::fake::{FakeSso, Reply};
use crate::util::proxy::{ForwardProxy, Squid, base64};
use crate::util::tls::TestCa;
use crate::util::*;
use std::time::{Duration, Instant};

const ENDPOINT_VARS: [&str; 2] = ["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO"];

/// A port nothing listens on.
fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
}

/// Both calls of a run whose token is inside the refresh window went to the fake, and it worked.
#[track_caller]
fn assert_refreshed_and_fetched(env: &TestEnv, run: &Run) {
    run.assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1, "{run:?}");
    assert_eq!(env.fake.count("GetRoleCredentials"), 1, "{run:?}");
}

// ---- proxies ----------------------------------------------------------------------------------

#[test]
fn http_endpoints_go_through_http_proxy_with_credentials() {
    let proxy = ForwardProxy::with_credentials("alice", "s3cr@t");
    let mut env = TestEnv::new();
    env.seed_corp_token(60);
    // The password is percent-encoded in the URL, as in curl.
    env.set_env("HTTP_PROXY", &proxy.url_with_credentials("alice", "s3cr%40t"));
    let run = env.run(&["--profile", "dev-sso", "--debug"]);
    assert_refreshed_and_fetched(&env, &run);

    // Plain HTTP goes to the proxy in absolute form, one request each, credentials on each.
    let forwarded = proxy.forwarded();
    assert_eq!(forwarded.len(), 2, "{forwarded:?}");
    assert_eq!(proxy.seen().len(), 2, "nothing refused, no tunnel: {:?}", proxy.seen());
    let fake = env.fake.addr().to_string();
    for r in &forwarded {
        assert!(r.target.starts_with(&format!("http://{fake}/")), "{r:?}");
        assert_eq!(r.headers["proxy-authorization"], format!("Basic {}", base64(b"alice:s3cr@t")));
        assert!(r.headers["user-agent"].starts_with("aws-sso-process/"), "{r:?}");
        assert_eq!(r.headers["host"], fake, "{r:?}");
    }
    assert!(forwarded.iter().any(|r| r.line.starts_with(&format!("POST http://{fake}/token "))), "{forwarded:?}");
    let shown = proxy.url().replace("http://", "");
    assert!(run.stderr.contains(&format!("through the proxy {shown} (HTTP_PROXY)")), "{run:?}");
    assert!(!run.stderr.contains("s3cr"), "the proxy password leaked: {run:?}");
    // The credentials reached the proxy only: the fake never sees them.
    assert!(env.fake.requests().iter().all(|r| !r.headers.contains_key("proxy-authorization")));
}

/// Proxies expect plain HTTP in absolute form and CONNECT only for TLS (curl and botocore do
/// the same); both through one proxy here.
#[test]
fn http_goes_to_a_proxy_in_absolute_form_and_https_through_connect() {
    let proxy = ForwardProxy::start();
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("HTTP_PROXY", &proxy.url());
    env.run(&["--profile", "dev-sso"]).assert_ok();
    let fake = env.fake.addr();
    let lines: Vec<String> = proxy.seen().into_iter().map(|r| r.line).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with(&format!("GET http://{fake}/federation/credentials?")), "{lines:?}");
    assert!(lines[0].ends_with(" HTTP/1.1"), "{lines:?}");

    let ca = TestCa::new();
    let proxy = ForwardProxy::start();
    let mut env = https_env(&ca);
    env.seed_corp_token(7200);
    let bundle = env.home().join("ca.pem");
    env.write_file(&bundle, &ca.ca_pem);
    env.set_env("AWS_CA_BUNDLE", bundle.to_str().unwrap());
    env.set_env("HTTPS_PROXY", &proxy.url());
    env.run(&["--profile", "dev-sso"]).assert_ok();
    let lines: Vec<String> = proxy.seen().into_iter().map(|r| r.line).collect();
    assert_eq!(lines, [format!("CONNECT {} HTTP/1.1", env.fake.addr())]);
}

#[test]
fn wrong_proxy_credentials_are_a_clear_error() {
    let proxy = ForwardProxy::with_credentials("alice", "right");
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("http_proxy", &proxy.url_with_credentials("alice", "wrong-DO-NOT-LEAK"));
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "refused the request with HTTP 407");
    assert!(run.stderr.contains("check the user and password in http_proxy"), "{run:?}");
    assert!(run.stderr.contains("GetRoleCredentials"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
    assert_eq!(proxy.seen().len(), 1, "a 407 is not retried: {:?}", proxy.seen());
    assert_eq!(proxy.seen()[0].refused, Some("bad credentials"));
    assert_eq!(env.fake.requests().len(), 0);

    // Through CONNECT (https), the same words for the tunnel.
    let ca = TestCa::new();
    let mut env = https_env(&ca);
    env.seed_corp_token(7200);
    env.set_env("HTTPS_PROXY", &proxy.url_with_credentials("alice", "wrong-DO-NOT-LEAK"));
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "refused the tunnel with HTTP 407");
    assert!(run.stderr.contains("check the user and password in HTTPS_PROXY"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let proxy = ForwardProxy::refusing();
    let rows: [(&str, &str, bool); 8] = [
        ("NO_PROXY", "127.0.0.1", true),
        ("no_proxy", "example.com, 127.0.0.1", true),
        ("NO_PROXY", "*", true),
        ("NO_PROXY", "127.0.0.0/8", true),
        ("NO_PROXY", "localhost,.0.0.1", false),
        ("NO_PROXY", "127.0.0.2", false),
        ("NO_PROXY", "127.0.0.1:1", false),
        ("NO_PROXY", "", false),
    ];
    for (var, value, bypass) in rows {
        let mut env = TestEnv::new();
        env.seed_corp_token(7200);
        env.set_env("HTTP_PROXY", &proxy.url());
        env.set_env(var, value);
        let before = proxy.seen().len();
        let run = env.run(&["--profile", "dev-sso"]);
        if bypass {
            run.assert_ok();
            assert_eq!(proxy.seen().len(), before, "{var}={value}");
            assert_eq!(env.fake.count("GetRoleCredentials"), 1, "{var}={value}");
        } else {
            run.assert_fails(1, "refused the request with HTTP 403");
            assert_eq!(proxy.seen().len(), before + 1, "{var}={value}");
            assert_eq!(env.fake.requests().len(), 0, "{var}={value}");
        }
    }
    // host:port matches only that port.
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("HTTP_PROXY", &proxy.url());
    env.set_env("NO_PROXY", &format!("127.0.0.1:{}", env.fake.addr().port()));
    env.run(&["--profile", "dev-sso"]).assert_ok();
}

#[test]
fn https_proxy_is_not_used_for_http_endpoints() {
    // ureq would apply HTTPS_PROXY to every URL if it read the environment itself.
    let proxy = ForwardProxy::refusing();
    let mut env = TestEnv::new();
    env.seed_corp_token(60);
    env.set_env("HTTPS_PROXY", &proxy.url());
    env.set_env("https_proxy", &proxy.url());
    assert_refreshed_and_fetched(&env, &env.run(&["--profile", "dev-sso"]));
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
}

#[test]
fn all_proxy_applies_to_http_endpoints() {
    let proxy = ForwardProxy::start();
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("ALL_PROXY", &proxy.url());
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(proxy.forwarded().len(), 1, "{:?}", proxy.seen());
}

/// A proxy that is not there: the error names the endpoint, the refusal, and the proxy with the
/// variable it came from (never its credentials), without `--debug`.
#[test]
fn a_dead_proxy_is_named_with_its_variable() {
    let ca = TestCa::new();
    let dead = closed_port_url();
    let dead_with_password = dead.replace("http://", "http://bob:pw-DO-NOT-LEAK@");
    for (var, https) in [("HTTPS_PROXY", true), ("https_proxy", true), ("HTTP_PROXY", false), ("ALL_PROXY", false)] {
        let mut env = if https { https_env(&ca) } else { TestEnv::new() };
        if https {
            let bundle = env.home().join("ca.pem");
            env.write_file(&bundle, &ca.ca_pem);
            env.set_env("AWS_CA_BUNDLE", bundle.to_str().unwrap());
        }
        env.seed_corp_token(7200);
        env.set_env(var, &dead_with_password);
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_fails(1, "connection refused");
        let fake = env.fake.addr().to_string();
        assert!(run.stderr.contains(&format!("GetRoleCredentials request to {fake} failed")), "{var}: {run:?}");
        assert!(run.stderr.contains(&format!("at the proxy {dead} ({var})")), "{var}: {run:?}");
        assert!(!run.stderr.contains("DO-NOT-LEAK") && !run.stderr.contains("bob"), "{var}: {run:?}");
        assert_eq!(env.fake.requests().len(), 0);
    }
}

#[test]
fn unusable_proxy_urls_name_the_variable() {
    for (var, value, needle) in [
        ("HTTP_PROXY", "socks5://bob:pw-DO-NOT-LEAK@127.0.0.1:1080", "SOCKS proxies are not supported"),
        ("http_proxy", "ftp://127.0.0.1:21", "http:// or https://"),
    ] {
        let mut env = TestEnv::new();
        env.seed_corp_token(7200);
        env.set_env(var, value);
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_fails(1, needle);
        assert!(run.stderr.contains(&format!("(from {var})")), "{run:?}");
        assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
        assert_eq!(env.fake.requests().len(), 0);
    }
}

/// A proxy URL whose port cannot be read is refused, never taken for port 80.
#[test]
fn a_proxy_port_that_is_not_a_port_is_a_configuration_error() {
    let ca = TestCa::new();
    for (var, value) in [
        ("HTTPS_PROXY", "http://127.0.0.1:99999"),
        ("HTTPS_PROXY", "http://bob:pw-DO-NOT-LEAK@127.0.0.1:65536"),
        ("https_proxy", "http://127.0.0.1:abc"),
        ("HTTPS_PROXY", "http://127.0.0.1:"),
        ("HTTP_PROXY", "http://127.0.0.1:99999"),
        ("http_proxy", "http://bob:pw-DO-NOT-LEAK@127.0.0.1:abc/"),
        ("ALL_PROXY", "https://[::1]:0/"),
    ] {
        // HTTPS_PROXY is for https:// endpoints (the TLS fake), the others for the plain one.
        let mut env = if var.eq_ignore_ascii_case("https_proxy") { https_env(&ca) } else { TestEnv::new() };
        // An expired token: the run must go to the network, through the proxy.
        env.seed_corp_token(-60);
        env.set_env(var, value);
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_fails(1, "its port is not valid");
        assert!(run.stderr.contains(&format!("(from {var})")), "{value}: {run:?}");
        assert!(!run.stderr.contains("DO-NOT-LEAK") && !run.stderr.contains("bob"), "{value}: {run:?}");
        assert_eq!(env.fake.requests().len(), 0, "{value}");
    }
}

/// A real Squid in Debian's default configuration: it forwards plain HTTP to any "safe" port but
/// allows CONNECT to port 443 only, so `http://` endpoints must go in absolute form. Skipped with a
/// note where squid is not installed, except in CI (`CI=true`, where `.ci/run` installs it).
#[test]
fn a_real_squid_in_its_default_configuration() {
    let Some(binary) = Squid::binary() else {
        skip_or_fail("squid", "apt-get install squid");
        return;
    };
    let squid = Squid::start(&binary);

    // An http:// endpoint: the refresh and the role call both go through, and squid's Via header on
    // them shows that squid itself forwarded each request (a tunnel would pass bytes unchanged).
    let mut env = TestEnv::new();
    env.seed_corp_token(60);
    env.set_env("HTTP_PROXY", &squid.url());
    let run = env.run(&["--profile", "dev-sso"]);
    assert_eq!(run.code, 0, "{run:?}\nsquid:\n{}", squid.output());
    assert_refreshed_and_fetched(&env, &run);
    for r in env.fake.requests() {
        assert!(r.headers.get("via").is_some_and(|v| v.contains("squid")), "{}: {:?}", r.op, r.headers);
    }

    // A port squid's rules deny (not a "safe" port): squid's own 403, named as the proxy's.
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    env.set_env("HTTP_PROXY", &squid.url());
    env.set_env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:1");
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "refused the request with HTTP 403");
    assert!(run.stderr.contains("hint: check the proxy settings"), "{run:?}");

    // An https:// endpoint on a port other than 443: CONNECT, which this configuration refuses.
    let ca = TestCa::new();
    let mut env = https_env(&ca);
    env.seed_corp_token(7200);
    env.set_env("HTTPS_PROXY", &squid.url());
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "refused the tunnel with HTTP 403");
    assert!(run.stderr.contains(&format!("the proxy 127.0.0.1:{}", squid.url().rsplit(':').next().unwrap())));
    assert_eq!(env.fake.requests().len(), 0);
}

// ---- trust roots and CA bundles ---------------------------------------------------------------

fn https_env(ca: &TestCa) -> TestEnv {
    TestEnv::with_fake(FakeSso::start_tls(ca.server.clone()))
}

#[test]
fn https_fake_is_rejected_without_the_bundle() {
    let ca = TestCa::new();
    let env = https_env(&ca);
    env.seed_corp_token(7200);
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "TLS handshake failed");
    let host = env.fake.addr().to_string();
    assert!(run.stderr.contains(&format!("GetRoleCredentials request to {host}")), "{run:?}");
    assert!(run.stderr.contains("hint: ") && run.stderr.contains("AWS_CA_BUNDLE"), "{run:?}");
    assert_eq!(env.fake.requests().len(), 0, "no request gets past the handshake");
}

/// A login's failures keep their cause and its hint, as a refresh's do (docs/networks.md).
#[test]
fn a_login_behind_tls_inspection_gets_the_same_hint() {
    let ca = TestCa::new();
    let env = https_env(&ca);
    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code"]);
    run.assert_fails(1, "cannot register a client for corp: ");
    assert!(run.stderr.contains("TLS handshake failed"), "the cause is kept: {run:?}");
    assert!(run.stderr.contains("hint: ") && run.stderr.contains("AWS_CA_BUNDLE"), "{run:?}");
}

#[test]
fn aws_ca_bundle_makes_the_https_fake_trusted() {
    let ca = TestCa::new();
    let mut env = https_env(&ca);
    env.seed_corp_token(60);
    let bundle = env.home().join("corp-ca.pem");
    // A bundle may carry other PEM items and text between certificates.
    env.write_file(&bundle, &format!("Corporate root\n{}\n", ca.ca_pem));
    env.set_env("AWS_CA_BUNDLE", bundle.to_str().unwrap());
    assert_refreshed_and_fetched(&env, &env.run(&["--profile", "dev-sso"]));
}

#[test]
fn profile_ca_bundle_makes_the_https_fake_trusted_and_the_variable_wins() {
    let ca = TestCa::new();
    let mut env = https_env(&ca);
    env.seed_corp_token(60);
    env.write_file(&env.home().join("certs/corp.pem"), &ca.ca_pem);
    env.write_config(
        &DEFAULT_CONFIG.replace("region = eu-west-1\n", "region = eu-west-1\nca_bundle = ~/certs/corp.pem\n"),
    );
    assert_refreshed_and_fetched(&env, &env.run(&["--profile", "dev-sso"]));

    // AWS_CA_BUNDLE comes first (botocore's order): another CA there means the fake is not trusted.
    let other = TestCa::new();
    let other_path = env.home().join("other.pem");
    env.write_file(&other_path, &other.ca_pem);
    env.set_env("AWS_CA_BUNDLE", other_path.to_str().unwrap());
    std::fs::remove_file(env.role_path(CORP_ROLE_KEY)).unwrap();
    env.run(&["--profile", "dev-sso"]).assert_fails(1, "TLS handshake failed");
}

#[test]
fn https_through_a_connect_proxy_with_a_ca_bundle() {
    let ca = TestCa::new();
    let proxy = ForwardProxy::start();
    let mut env = https_env(&ca);
    env.seed_corp_token(60);
    let bundle = env.home().join("ca.pem");
    env.write_file(&bundle, &ca.ca_pem);
    env.set_env("AWS_CA_BUNDLE", bundle.to_str().unwrap());
    env.set_env("HTTPS_PROXY", &proxy.url());
    assert_refreshed_and_fetched(&env, &env.run(&["--profile", "dev-sso"]));
    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty() && tunnels.len() == proxy.seen().len(), "{:?}", proxy.seen());
    assert!(tunnels.iter().all(|t| t.target == env.fake.addr().to_string()), "{tunnels:?}");
}

#[test]
fn unusable_ca_bundles_are_clear_errors_naming_the_file() {
    let ca = TestCa::new();
    let rows: [(&str, Option<&str>, &str); 7] = [
        ("missing.pem", None, "does not exist"),
        ("empty.pem", Some(""), "holds no PEM certificate"),
        ("notes.txt", Some("not a certificate\n"), "holds no PEM certificate"),
        ("bad.pem", Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "cannot be used"),
        ("dir", None, "folder"),
        // Bounded reads (docs/reliability.md): never a hang, never unbounded memory.
        ("fifo.pem", None, "it is a FIFO (named pipe), not a regular file"),
        ("zero.pem", None, "it is a device, not a regular file"),
    ];
    for (name, text, needle) in rows {
        let mut env = https_env(&ca);
        env.seed_corp_token(7200);
        let path = env.home().join(name);
        match text {
            Some(t) => env.write_file(&path, t),
            None if name == "dir" => std::fs::create_dir(&path).unwrap(),
            None if name == "fifo.pem" => {
                use std::os::unix::ffi::OsStrExt;
                let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            }
            None if name == "zero.pem" => std::os::unix::fs::symlink("/dev/zero", &path).unwrap(),
            None => {}
        }
        env.set_env("AWS_CA_BUNDLE", path.to_str().unwrap());
        let run = env.run_bounded(&["--profile", "dev-sso"]);
        run.assert_fails(1, needle);
        assert!(run.stderr.contains(&format!("{} (from AWS_CA_BUNDLE)", path.display())), "{run:?}");
        assert!(run.stderr.contains("hint: "), "{run:?}");
        assert_eq!(env.fake.requests().len(), 0, "{name}");
    }
}

/// An empty `AWS_CA_BUNDLE` or `ca_bundle =` is a configuration error with a hint, as in the AWS
/// CLI since 2.36.6, not the same as unset: the variable wins over the profile even when empty.
#[test]
fn an_empty_ca_bundle_is_a_configuration_error() {
    let ca = TestCa::new();
    let with_profile_bundle = |value: &str| {
        DEFAULT_CONFIG.replace("region = eu-west-1\n", &format!("region = eu-west-1\nca_bundle = {value}\n"))
    };
    let rows: [(Option<&str>, Option<&str>, &str, &str); 4] = [
        (Some(""), None, "AWS_CA_BUNDLE is set to an empty value", "unset it"),
        (Some("  "), None, "AWS_CA_BUNDLE is set to an empty value", "unset it"),
        (Some(""), Some("~/ca.pem"), "AWS_CA_BUNDLE is set to an empty value", "unset it"),
        (None, Some(""), "ca_bundle in [profile dev-sso] is empty", "remove the line"),
    ];
    for (var, profile, needle, hint) in rows {
        let mut env = https_env(&ca);
        env.seed_corp_token(7200);
        env.write_file(&env.home().join("ca.pem"), &ca.ca_pem);
        if let Some(value) = profile {
            env.write_config(&with_profile_bundle(value));
        }
        if let Some(value) = var {
            env.set_env("AWS_CA_BUNDLE", value);
        }
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_fails(1, needle);
        assert!(
            run.stderr.contains(&format!("hint: set {}", if var.is_some() { "AWS_CA_BUNDLE" } else { "ca_bundle" }))
        );
        assert!(run.stderr.contains(hint), "{run:?}");
        assert_eq!(env.fake.requests().len(), 0, "{var:?} {profile:?}");
    }
    // Spaces around a path in the profile are not a path of their own.
    let env = https_env(&ca);
    env.seed_corp_token(7200);
    env.write_file(&env.home().join("ca.pem"), &ca.ca_pem);
    env.write_config(&with_profile_bundle("~/ca.pem  "));
    env.run(&["--profile", "dev-sso"]).assert_ok();
}

#[test]
fn cache_hit_reads_no_bundle_and_no_proxy_setting() {
    // Broken network settings do not matter when nothing is sent.
    let mut env = TestEnv::new();
    env.seed_corp_role(3600);
    env.set_env("AWS_CA_BUNDLE", "/nonexistent/ca.pem");
    env.set_env("HTTPS_PROXY", "socks5://127.0.0.1:1");
    env.set_env("HTTP_PROXY", "ftp://127.0.0.1:1");
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert!(run.stderr.is_empty(), "{run:?}");
    assert_eq!(env.fake.requests().len(), 0);
}

// ---- retries and timeouts ---------------------------------------------------------------------

#[test]
fn retry_after_is_honoured() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let throttled = Reply::portal_error(429, "TooManyRequestsException", "slow down").with_header("Retry-After", "1");
    env.fake.script("GetRoleCredentials", [throttled]);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    let calls = env.fake.calls("GetRoleCredentials");
    assert_eq!(calls.len(), 2);
    let gap = calls[1].at - calls[0].at;
    assert!(gap >= Duration::from_secs(1), "the retry came {gap:?} after the 429");
    assert!(gap < Duration::from_secs(3), "{gap:?}");
}

#[test]
fn client_errors_other_than_429_are_tried_once() {
    for (status, shape) in [(400, "InvalidRequestException"), (403, "ForbiddenException")] {
        let env = TestEnv::new();
        env.seed_corp_token(7200);
        env.fake.script("GetRoleCredentials", [Reply::portal_error(status, shape, "no")]);
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_fails(1, &format!("GetRoleCredentials at {} failed with HTTP {status}", env.fake.addr()));
        assert!(run.stderr.contains(shape), "{run:?}");
        assert_eq!(env.fake.count("GetRoleCredentials"), 1, "HTTP {status} must not be retried");
    }
    // The same for SSO OIDC: a 400 on the refresh is not retried (the still-valid token is used).
    let env = TestEnv::new();
    env.seed_corp_token(60);
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidRequestException", "invalid_request")]);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1);
}

/// The one slow test: real timeouts (15 s per try, 30 s per run), no test-only knob.
#[test]
fn a_hung_server_ends_the_run_within_the_deadline() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let hang = || Reply::Default.delayed(60_000);
    env.fake.script("GetRoleCredentials", [hang(), hang(), hang()]);
    let started = Instant::now();
    let run = env.run(&["--profile", "dev-sso"]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(35), "took {took:?}");
    assert!(took >= Duration::from_secs(15), "gave up after {took:?}, before the request timeout");
    let host = env.fake.addr().to_string();
    run.assert_fails(1, &format!("GetRoleCredentials request to {host}"));
    assert!(run.stderr.contains("timed out") || run.stderr.contains("time limit"), "{run:?}");
    assert!(!run.stderr.contains("DO-NOT-LEAK"), "{run:?}");
    assert!(env.fake.count("GetRoleCredentials") <= 2, "tries fit in the deadline");
}

// ---- user agent -------------------------------------------------------------------------------

#[test]
fn user_agent_names_the_tool_version_and_os() {
    let env = TestEnv::new();
    env.seed_corp_token(60);
    assert_refreshed_and_fetched(&env, &env.run(&["--profile", "dev-sso"]));
    let want = format!(
        "aws-sso-process/{} os/{} md/arch#{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    for r in env.fake.requests() {
        assert_eq!(r.headers.get("user-agent"), Some(&want), "{}", r.op);
    }
}

// ---- endpoints --------------------------------------------------------------------------------

/// Which source names which endpoint; the fake is at `winner`, a closed port at the others.
#[test]
fn endpoint_override_order_end_to_end() {
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Src {
        ServiceVar,
        GlobalVar,
        Services,
        ServicesRustKey,
        ProfileKey,
    }
    use Src::*;
    let rows: [(&[Src], Src); 7] = [
        (&[ServiceVar, GlobalVar, Services, ProfileKey], ServiceVar),
        (&[GlobalVar, Services, ProfileKey], GlobalVar),
        (&[Services, ProfileKey], Services),
        (&[ServicesRustKey, ProfileKey], ServicesRustKey),
        (&[ProfileKey], ProfileKey),
        (&[ServiceVar, ProfileKey], ServiceVar),
        (&[GlobalVar, ProfileKey], GlobalVar),
    ];
    for (present, winner) in rows {
        let mut env = TestEnv::new();
        env.seed_corp_token(60);
        let closed = closed_port_url();
        let fake = env.fake.url();
        let url = |s: Src| if s == winner { fake.clone() } else { closed.clone() };
        for v in ENDPOINT_VARS {
            env.unset_env(v);
        }
        let mut profile_extra = String::new();
        let mut services = String::new();
        for &s in present {
            match s {
                ServiceVar => {
                    env.set_env("AWS_ENDPOINT_URL_SSO_OIDC", &url(s));
                    env.set_env("AWS_ENDPOINT_URL_SSO", &url(s));
                }
                GlobalVar => env.set_env("AWS_ENDPOINT_URL", &url(s)),
                Services => {
                    services = format!(
                        "[services local]\nsso_oidc =\n  endpoint_url = {0}\nsso =\n  endpoint_url = {0}\n",
                        url(s)
                    );
                    profile_extra.push_str("services = local\n");
                }
                ServicesRustKey => {
                    services = format!(
                        "[services local]\nsso-oidc =\n  endpoint_url = {0}\nsso =\n  endpoint_url = {0}\n",
                        url(s)
                    );
                    profile_extra.push_str("services = local\n");
                }
                ProfileKey => profile_extra.push_str(&format!("endpoint_url = {}\n", url(s))),
            }
        }
        let config = DEFAULT_CONFIG.replace("region = eu-west-1\n", &format!("region = eu-west-1\n{profile_extra}"));
        env.write_config(&format!("{config}\n{services}"));
        let run = env.run(&["--profile", "dev-sso"]);
        assert_eq!(run.code, 0, "{present:?} -> {winner:?}: {run:?}");
        assert_refreshed_and_fetched(&env, &run);
    }
}

/// Default endpoints of each partition, FIPS and dual-stack, as the hosts a proxy is asked to
/// tunnel to (the refusing proxy answers 502: nothing reaches AWS).
#[test]
fn default_endpoints_by_partition_fips_and_dualstack() {
    struct Row {
        region: &'static str,
        env: &'static [(&'static str, &'static str)],
        profile: &'static str,
        oidc: &'static str,
        portal: &'static str,
    }
    let rows = [
        Row {
            region: "us-east-1",
            env: &[],
            profile: "",
            oidc: "oidc.us-east-1.amazonaws.com",
            portal: "portal.sso.us-east-1.amazonaws.com",
        },
        Row {
            region: "us-east-1",
            env: &[("AWS_USE_FIPS_ENDPOINT", "true")],
            profile: "",
            oidc: "oidc-fips.us-east-1.amazonaws.com",
            portal: "portal.sso-fips.us-east-1.amazonaws.com",
        },
        Row {
            region: "eu-west-1",
            env: &[],
            profile: "use_dualstack_endpoint = true\n",
            oidc: "oidc.eu-west-1.api.aws",
            portal: "portal.sso.eu-west-1.api.aws",
        },
        Row {
            region: "cn-north-1",
            env: &[],
            profile: "",
            oidc: "oidc.cn-north-1.amazonaws.com.cn",
            portal: "portal.sso.cn-north-1.amazonaws.com.cn",
        },
        Row {
            region: "us-gov-west-1",
            env: &[("AWS_USE_FIPS_ENDPOINT", "TRUE")],
            profile: "",
            oidc: "oidc.us-gov-west-1.amazonaws.com",
            portal: "portal.sso.us-gov-west-1.amazonaws.com",
        },
        Row {
            region: "us-gov-west-1",
            env: &[],
            profile: "use_fips_endpoint = true\nuse_dualstack_endpoint = true\n",
            oidc: "oidc-fips.us-gov-west-1.api.aws",
            portal: "portal.sso-fips.us-gov-west-1.api.aws",
        },
        Row {
            region: "eusc-de-east-1",
            env: &[],
            profile: "",
            oidc: "oidc.eusc-de-east-1.amazonaws.eu",
            portal: "portal.sso.eusc-de-east-1.amazonaws.eu",
        },
        // Unknown regions fall back to the aws partition.
        Row {
            region: "xx-nowhere-9",
            env: &[],
            profile: "",
            oidc: "oidc.xx-nowhere-9.amazonaws.com",
            portal: "portal.sso.xx-nowhere-9.amazonaws.com",
        },
        // Configured endpoints are ignored when asked to.
        Row {
            region: "us-east-1",
            env: &[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:1")],
            profile: "endpoint_url = http://127.0.0.1:1\n",
            oidc: "oidc.us-east-1.amazonaws.com",
            portal: "portal.sso.us-east-1.amazonaws.com",
        },
    ];
    for row in rows {
        let proxy = ForwardProxy::refusing();
        let mut env = TestEnv::new();
        env.seed_corp_token(60);
        for v in ENDPOINT_VARS {
            env.unset_env(v);
        }
        env.set_env("HTTPS_PROXY", &proxy.url());
        for (k, v) in row.env {
            env.set_env(k, v);
        }
        let config = DEFAULT_CONFIG
            .replace("sso_region = us-east-1", &format!("sso_region = {}", row.region))
            .replace("region = eu-west-1\n", &format!("region = eu-west-1\n{}", row.profile));
        env.write_config(&config);
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_fails(1, &format!("GetRoleCredentials request to {}", row.portal));
        // The failed refresh of a still-valid token is a warning; then the portal call fails.
        let targets: Vec<String> = proxy.seen().into_iter().map(|c| c.target).collect();
        assert_eq!(targets, [format!("{}:443", row.oidc), format!("{}:443", row.portal)], "{}", row.region);
    }
}

/// An endpoint override wins over FIPS and dual-stack, as in botocore (docs/endpoints.md): the
/// flags only choose among the partition's hosts. Credentials with a refresh, and a login, reach
/// the override (the fake) for every way of setting the flags and the override.
#[test]
fn an_endpoint_override_wins_over_fips_and_dualstack() {
    /// Flag variables, profile lines, whether the override comes from the config (not the variables).
    type Row<'a> = (&'a [(&'a str, &'a str)], &'a str, bool);
    let rows: [Row; 5] = [
        (&[("AWS_USE_FIPS_ENDPOINT", "true")], "", false),
        (&[("AWS_USE_DUALSTACK_ENDPOINT", "true")], "", false),
        (&[], "use_fips_endpoint = true\nuse_dualstack_endpoint = true\n", false),
        (&[("AWS_USE_FIPS_ENDPOINT", "true")], "services = local\n", true),
        (&[], "use_fips_endpoint = true\nendpoint_url = {fake}\n", true),
    ];
    for (vars, profile, from_profile) in rows {
        let mut env = TestEnv::new();
        env.seed_corp_token(60);
        if from_profile {
            for v in ENDPOINT_VARS {
                env.unset_env(v);
            }
        }
        for (k, v) in vars {
            env.set_env(k, v);
        }
        let fake = env.fake.url();
        let services =
            format!("\n[services local]\nsso_oidc =\n  endpoint_url = {fake}\nsso =\n  endpoint_url = {fake}\n");
        let profile = profile.replace("{fake}", &fake);
        env.write_config(&format!(
            "{}{services}",
            DEFAULT_CONFIG.replace("region = eu-west-1\n", &format!("region = eu-west-1\n{profile}"))
        ));
        let context = format!("{vars:?} {profile:?}");
        let run = env.run(&["--profile", "dev-sso"]);
        run.assert_ok();
        assert_eq!(env.fake.count("CreateToken"), 1, "{context}: {run:?}");
        assert_eq!(env.fake.count("GetRoleCredentials"), 1, "{context}: {run:?}");
        let run = env.run(&["login", "--profile", "dev-sso", "--use-device-code"]);
        run.assert_ok();
        assert_eq!(env.fake.count("StartDeviceAuthorization"), 1, "{context}: {run:?}");
    }
}

// ---- region names from the network --------------------------------------------------------------

/// A vanity start URL whose redirect names a host of an AWS portal domain with a made-up region
/// (`zz-evil-9`): that name is never used nor written. Without `sso_region` the login stops before
/// any call and asks for it; with one, that one is used (with a warning); `setup` needs `--region`.
#[test]
fn a_region_that_is_no_partitions_is_never_taken_from_a_redirect() {
    let ca = TestCa::new();
    let redirector = FakeSso::start_tls(ca.server.clone());
    let evil = || Reply::Redirect("https://ssoins-1.portal.zz-evil-9.app.aws/start/".to_owned());
    let start_url = format!("{}/start", redirector.url());
    let env_with = |region: &str| {
        let mut env = TestEnv::new();
        let bundle = env.home().join("company-ca.pem");
        env.write_file(&bundle, &ca.ca_pem);
        env.set_env("AWS_CA_BUNDLE", bundle.to_str().unwrap());
        env.write_config(&format!(
            "[profile dev-sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Developer\n\n\
             [sso-session corp]\nsso_start_url = {start_url}\n{region}sso_registration_scopes = sso:account:access\n"
        ));
        env
    };
    let config = |env: &TestEnv| std::fs::read_to_string(env.home().join(".aws/config")).unwrap_or_default();

    let env = env_with("");
    let before = config(&env);
    redirector.script("StartUrlHead", [evil()]);
    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code"]);
    run.assert_fails(1, "\"zz-evil-9\" is not a region of any AWS partition");
    assert!(run.stderr.contains("add sso_region"), "{run:?}");
    assert_eq!(config(&env), before, "nothing written");
    assert!(!env.token_path(CORP_KEY).exists());
    assert_eq!(env.fake.requests().len(), 0, "no call to any service");

    let env = env_with("sso_region = us-east-1\n");
    let before = config(&env);
    redirector.script("StartUrlHead", [evil()]);
    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code"]);
    run.assert_ok();
    assert!(run.stderr.contains("using sso_region us-east-1"), "{run:?}");
    assert_eq!(env.corp_token()["region"], "us-east-1");
    assert_eq!(config(&env), before, "nothing written");

    let env = env_with("");
    env.write_config("");
    redirector.script("StartUrlHead", [evil()]);
    let run = env.run(&["setup", "--start-url", &start_url, "--sso-session", "corp", "--generate", "none"]);
    run.assert_fails(2, "give --region");
    assert_eq!(config(&env), "", "nothing written");
}
