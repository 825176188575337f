//! Keeping pace with the AWS CLI v2 (the facts are in docs/login.md):
//! - vanity start URLs resolved by one redirect, against a loopback HTTPS redirector (a second fake
//!   with a test CA), with the OIDC calls going to the usual fake;
//! - client registrations under the key that describes them, with "the CLI's" files written in the
//!   test the way `aws sso login` writes them, in both orders;
//! - expired legacy tokens refused on the local clock;
//! - timestamps other tools write: read, reported by `status`, rewritten in the CLI's form.

use crate::util::fake::{FakeSso, Reply};
use crate::util::tls::TestCa;
use crate::util::*;
use serde_json::{Value, json};
use std::path::PathBuf;

const DEFAULT_SCOPE: &str = "sso:account:access";
const PKCE_GRANTS: [&str; 2] = ["authorization_code", "refresh_token"];
const PORTLESS_REDIRECT: &str = "http://127.0.0.1/oauth/callback";

/// The file name the AWS CLI gives a registration (B.5): sha1 of Python's `json.dumps(sort_keys=True)`.
fn cli_registration_key(start_url: &str, region: &str, scopes: Option<&[&str]>, session: Option<&str>) -> String {
    let scopes = match scopes {
        Some(list) => format!("[{}]", list.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")),
        None => "null".to_owned(),
    };
    let session = session.map(|s| format!("\"{s}\"")).unwrap_or_else(|| "null".to_owned());
    sha1_hex(&format!(
        r#"{{"region": "{region}", "scopes": {scopes}, "session_name": {session}, "startUrl": "{start_url}", "tool": "botocore"}}"#
    ))
}

fn cache_file(env: &TestEnv, key: &str) -> PathBuf {
    env.home().join(".aws/sso/cache").join(format!("{key}.json"))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Sets up the browser stand-in for the PKCE flow; `None` (skip) without curl or python3.
fn with_browser(env: &mut TestEnv) -> Option<()> {
    let script = browser_script()?;
    env.set_env("BROWSER", script.to_str().unwrap());
    env.set_env("DISPLAY", ":0");
    Some(())
}

// ---------------------------------------------------------------------------------------------------
// 1. Vanity start URLs.

struct Vanity {
    env: TestEnv,
    /// The company's start URL host: HTTPS on 127.0.0.1, trusted through AWS_CA_BUNDLE.
    redirector: FakeSso,
    ca: TestCa,
    start_url: String,
}

fn vanity_config(start_url: &str, region: Option<&str>) -> String {
    let region = region.map(|r| format!("sso_region = {r}\n")).unwrap_or_default();
    format!(
        "# the company's start URL\n[profile dev-sso]\nsso_session = corp\nsso_account_id = 111122223333\n\
         sso_role_name = Developer\nregion = eu-west-1\n\n[sso-session corp]\nsso_start_url = {start_url}\n{region}\
         sso_registration_scopes = sso:account:access\n"
    )
}

fn vanity(region: Option<&str>) -> Vanity {
    let ca = TestCa::new();
    let redirector = FakeSso::start_tls(ca.server.clone());
    let mut env = TestEnv::new();
    let bundle = env.home().join("company-ca.pem");
    env.write_file(&bundle, &ca.ca_pem);
    env.set_env("AWS_CA_BUNDLE", bundle.to_str().unwrap());
    let start_url = format!("{}/start", redirector.url());
    env.write_config(&vanity_config(&start_url, region));
    Vanity { env, redirector, ca, start_url }
}

fn config_text(env: &TestEnv) -> String {
    std::fs::read_to_string(env.home().join(".aws/config")).unwrap()
}

/// `setup` with a vanity start URL and no --region: the redirect names the region, so an
/// unattended setup needs no --region, says where the URL leads, and writes that region.
#[test]
fn setup_takes_the_region_from_a_vanity_start_urls_redirect() {
    let portal = "https://ssoins-7223a1b2c3d4e5f6.portal.eu-west-1.app.aws";
    // setup without --region against a vanity URL that redirects (for setup's lookup, then the login's) to the portal.
    let setup = |vanity: &Vanity| {
        let to_portal = || Reply::Redirect(format!("{portal}/start/"));
        vanity.redirector.script("StartUrlHead", [to_portal(), to_portal()]);
        let start_url = vanity.start_url.as_str();
        vanity.env.run(&[
            "setup",
            "--start-url",
            start_url,
            "--sso-session",
            "corp",
            "--generate",
            "none",
            "--use-device-code",
        ])
    };
    let with_empty_config = vanity(None);
    let Vanity { env, start_url, .. } = &with_empty_config;
    env.write_config("");
    let run = setup(&with_empty_config);
    run.assert_ok();
    assert!(run.stderr.contains(&format!("leads to {portal}/start, in eu-west-1")), "{run:?}");
    assert!(run.stderr.contains("SSO region: eu-west-1 (the default; --region sets it)"), "{run:?}");
    let config = config_text(env);
    assert!(config.contains(&format!("sso_start_url = {start_url}\nsso_region = eu-west-1\n")), "{config}");
    assert!(env.token_path(CORP_KEY).exists());

    // The same for a session already in the config without sso_region (as `aws configure sso`
    // leaves a vanity one): the redirect's region, not an empty default.
    let without_region = vanity(None);
    let env = &without_region.env;
    let run = setup(&without_region);
    run.assert_ok();
    assert!(run.stderr.contains("SSO region: eu-west-1 (the default; --region sets it)"), "{run:?}");
    // The session counts as the one asked for; the login writes its region, as `login` does.
    assert!(run.stdout.contains("[sso-session corp] is already in "), "{run:?}");
    assert!(config_text(env).contains("sso_region = eu-west-1\n"), "{}", config_text(env));

    // A start URL that does not redirect to an AWS portal: the flag is still needed, nothing written.
    let Vanity { env, redirector, start_url, .. } = vanity(None);
    env.write_config("");
    redirector.script("StartUrlHead", [Reply::Redirect("https://evil.example.com/".into())]);
    let run = env.run(&["setup", "--start-url", &start_url, "--sso-session", "corp", "--generate", "none"]);
    run.assert_fails(2, "give --region");
    assert_eq!(config_text(&env), "");
}

#[test]
fn a_vanity_start_url_is_resolved_by_one_redirect_and_names_the_region() {
    let Vanity { mut env, redirector, start_url, .. } = vanity(None);
    if with_browser(&mut env).is_none() {
        return;
    }
    let portal = "https://ssoins-7223a1b2c3d4e5f6.portal.eu-west-1.app.aws";
    redirector.script("StartUrlHead", [Reply::Redirect(format!("{portal}/start/?from=vanity#top"))]);
    let run = env.run(&["login", "--sso-session", "corp"]);
    run.assert_ok();

    // One request to the company's host, not followed anywhere.
    let asked = redirector.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!((asked[0].method.as_str(), asked[0].path.as_str()), ("HEAD", "/start"));
    // RegisterClient gets the resolved URL (normalised as the CLI does: no slash, query or fragment).
    let reg = env.fake.calls("RegisterClient")[0].json();
    assert_eq!(reg["issuerUrl"], format!("{portal}/start"));
    assert_eq!(env.fake.count("Authorize"), 1);
    // The token file and every cache key keep the configured URL; the region is the portal's.
    let token = env.corp_token();
    assert_eq!(token["startUrl"], start_url.as_str());
    assert_eq!(token["region"], "eu-west-1");
    let reg_key = cli_registration_key(&start_url, "eu-west-1", Some(&[DEFAULT_SCOPE]), Some("corp"));
    assert_eq!(env.read_json(&cache_file(&env, &reg_key))["grantTypes"], json!(PKCE_GRANTS));
    // As the CLI does after such a login: sso_region goes into the session's section, and only that.
    let config = config_text(&env);
    assert_eq!(
        config,
        vanity_config(&start_url, None).replace("[sso-session corp]\n", "[sso-session corp]\nsso_region = eu-west-1\n")
    );
    assert!(run.stderr.contains("set sso_region = eu-west-1 in [sso-session corp]"), "{run:?}");
    // The session now serves credentials like any other.
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("GetRoleCredentials"), 1);
}

#[test]
fn head_not_allowed_falls_back_to_get_and_the_device_flow_gets_the_resolved_url() {
    let Vanity { env, redirector, start_url, .. } = vanity(Some("us-east-1"));
    redirector.script("StartUrlHead", [Reply::Raw(405, "text/plain".into(), String::new())]);
    redirector.script(
        "StartUrlGet",
        [Reply::Headers(
            vec![("location".into(), "https://d-92671207e4.awsapps.com/start".into())],
            Box::new(Reply::Raw(301, "text/html".into(), "<a>moved</a>".into())),
        )],
    );
    let before = config_text(&env);
    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code"]);
    run.assert_ok();
    let methods: Vec<String> = redirector.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["HEAD", "GET"]);
    let start = env.fake.calls("StartDeviceAuthorization");
    assert_eq!(start[0].json()["startUrl"], "https://d-92671207e4.awsapps.com/start");
    assert_eq!(env.corp_token()["startUrl"], start_url.as_str());
    assert_eq!(env.corp_token()["region"], "us-east-1", "an awsapps.com host names no region: sso_region stays");
    assert_eq!(config_text(&env), before, "nothing to write");
}

#[test]
fn a_portal_in_another_region_than_sso_region_wins_as_in_the_cli() {
    let Vanity { env, redirector, .. } = vanity(Some("us-east-1"));
    redirector.script("StartUrlHead", [Reply::Redirect("https://ssoins-1.eu-central-1.portal.amazonaws.com/".into())]);
    let run = env.run(&["login", "--sso-session", "corp", "--use-device-code"]);
    run.assert_ok();
    assert_eq!(env.corp_token()["region"], "eu-central-1");
    assert!(config_text(&env).contains("\nsso_region = eu-central-1\n"), "{}", config_text(&env));
    assert!(!config_text(&env).contains("us-east-1"));
    assert!(run.stderr.contains("sso_region = eu-central-1 (was us-east-1)"), "{run:?}");
}

#[test]
fn redirects_anywhere_but_aws_are_refused_before_any_call() {
    let cases: Vec<(Reply, &str)> = vec![
        (Reply::Redirect("https://evil.example.com/start".into()), "which is not an AWS IAM Identity Center host"),
        (Reply::Redirect("https://d-1.awsapps.com.evil.example/".into()), "not an AWS IAM Identity Center host"),
        (Reply::Redirect("https://evil-awsapps.com/".into()), "not an AWS IAM Identity Center host"),
        (Reply::Redirect("https://127.0.0.1:1/start".into()), "not an AWS IAM Identity Center host"),
        (Reply::Redirect("/elsewhere".into()), "not an AWS IAM Identity Center host"),
        (Reply::Redirect("http://d-1.awsapps.com/start".into()), "which does not use https"),
        (Reply::Redirect("https://x@d-1.awsapps.com/".into()), "carries a user name or password"),
        (Reply::Redirect("javascript:alert(1)".into()), "is not a web URL"),
        (Reply::Raw(302, "text/plain".into(), String::new()), "HTTP 302 without a Location header"),
        (Reply::Raw(200, "text/html".into(), "<html>portal</html>".into()), "does not redirect to one"),
        (Reply::Raw(404, "text/plain".into(), String::new()), "it answered HTTP 404"),
    ];
    // Files but the session's lock file (which a login takes before anything else).
    let files = |env: &TestEnv| -> Vec<(String, Vec<u8>)> {
        snapshot(env.home()).into_iter().filter(|(name, _)| !name.ends_with(".lock")).collect()
    };
    for (reply, needle) in cases {
        let Vanity { env, redirector, .. } = vanity(Some("us-east-1"));
        let before = files(&env);
        redirector.script("StartUrlHead", [reply.clone()]);
        env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_fails(1, needle);
        assert_eq!(redirector.requests().len(), 1, "{reply:?}");
        assert_eq!(env.fake.requests().len(), 0, "no OIDC call after a refused redirect: {reply:?}");
        assert_eq!(files(&env), before, "no file written: {reply:?}");
    }
}

#[test]
fn a_redirect_chain_is_not_followed() {
    if !cfg!(debug_assertions) {
        eprintln!("skipping: the test hook exists only in debug builds");
        return;
    }
    let Vanity { mut env, redirector, ca, .. } = vanity(Some("us-east-1"));
    let next_hop = FakeSso::start_tls(ca.server.clone());
    next_hop.script("StartUrlHead", [Reply::Redirect("https://d-1.awsapps.com/start".into())]);
    let hop = format!("{}/start/next", next_hop.url());
    redirector.script("StartUrlHead", [Reply::Redirect(hop.clone()), Reply::Redirect(hop.clone())]);

    // Without the hook a loopback target is refused like any other non-AWS host.
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_fails(1, "not an AWS IAM Identity");
    // The hook (debug builds only) counts that one loopback host:port as AWS's; the target is then
    // used as it is, and never asked where it would redirect next.
    env.set_env("AWS_SSO_PROCESS_TEST_AWS_HOST", &next_hop.addr().to_string());
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(redirector.requests().len(), 2, "one request per login");
    assert_eq!(next_hop.requests().len(), 0, "the redirect target is never requested");
    assert_eq!(env.fake.calls("StartDeviceAuthorization")[0].json()["startUrl"], hop.as_str());
}

#[test]
fn the_test_hook_cannot_widen_the_allow_list_beyond_loopback() {
    let Vanity { mut env, redirector, .. } = vanity(Some("us-east-1"));
    env.set_env("AWS_SSO_PROCESS_TEST_AWS_HOST", "evil.example.com");
    redirector.script("StartUrlHead", [Reply::Redirect("https://evil.example.com/".into())]);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_fails(1, "not an AWS IAM Identity");
}

#[test]
fn no_region_anywhere_is_a_clear_error() {
    let Vanity { env, redirector, .. } = vanity(None);
    redirector.script("StartUrlHead", [Reply::Redirect("https://d-92671207e4.awsapps.com/start".into())]);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"])
        .assert_fails(1, "corp has no sso_region, and its start URL does not tell it")
        .assert_fails(1, "hint: add sso_region = ");
    assert_eq!(env.fake.requests().len(), 0);
    // Before any login has found it, other commands say to log in.
    env.run(&["--profile", "dev-sso"]).assert_fails(3, "no cached SSO token");
}

#[test]
fn a_session_without_sso_region_uses_the_region_its_last_login_found() {
    // `aws sso login` (or our login, if the config could not be written) found the region.
    let Vanity { env, start_url, .. } = vanity(None);
    let mut token = env.seed_corp_token(7200);
    token["startUrl"] = json!(start_url);
    token["region"] = json!("eu-west-1");
    env.seed_token(CORP_KEY, &token);
    env.run(&["--profile", "dev-sso"]).assert_ok();
    // Generated profiles get that region, never an empty `region =`; list says it too.
    let run = env.run(&["configure", "generate", "--sso-session", "corp"]);
    run.assert_ok();
    assert!(run.stdout.contains("region = eu-west-1\n") && !run.stdout.contains("region = \n"), "{run:?}");
    assert_eq!(env.run(&["list", "--sso-session", "corp", "--json"]).assert_ok().json()["region"], "eu-west-1");
    token.as_object_mut().unwrap().remove("region");
    env.seed_token(CORP_KEY, &token);
    std::fs::remove_file(env.role_path(CORP_ROLE_KEY)).unwrap();
    env.run(&["--profile", "dev-sso"]).assert_fails(3, "corp has no sso_region, and no login has found it yet");
}

#[test]
fn start_urls_on_aws_domains_are_never_requested_and_must_be_https() {
    let mut env = TestEnv::new();
    // Any https request would have to go through this proxy, where nothing listens: the login
    // succeeding shows that the start URL was not asked (the fake itself is plain http).
    env.set_env("HTTPS_PROXY", "http://127.0.0.1:1");
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.calls("StartDeviceAuthorization")[0].json()["startUrl"], START_URL);
    env.write_config(&DEFAULT_CONFIG.replace("https://corp.awsapps.com/start", "http://corp.awsapps.com/start"));
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_fails(1, "does not use https");
}

// ---------------------------------------------------------------------------------------------------
// 2. Registrations under the key that describes them.

const NO_SCOPES_CONFIG: &str = "\
[profile dev-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
";

/// A registration file as `aws sso login` writes it (json.dumps with its default separators).
fn write_cli_registration(env: &TestEnv, key: &str, client: &str, scopes: &[&str], pkce: bool) -> Vec<u8> {
    let mut text =
        format!(r#"{{"clientId": "{client}", "clientSecret": "{client}-secret", "expiresAt": "{}""#, ts(80 * 86400));
    if !scopes.is_empty() {
        let list: Vec<String> = scopes.iter().map(|s| format!("\"{s}\"")).collect();
        text.push_str(&format!(r#", "scopes": [{}]"#, list.join(", ")));
    }
    if pkce {
        text.push_str(r#", "grantTypes": ["authorization_code", "refresh_token"]"#);
    }
    text.push('}');
    env.write_file(&cache_file(env, key), &text);
    let (grants, redirects): (&[&str], &[&str]) = if pkce { (&PKCE_GRANTS, &[PORTLESS_REDIRECT]) } else { (&[], &[]) };
    env.fake.add_client(client, &format!("{client}-secret"), grants, redirects, scopes);
    text.into_bytes()
}

fn no_scope_keys() -> (String, String) {
    let corp = |scopes: Option<&[&str]>| cli_registration_key(START_URL, "us-east-1", scopes, Some("corp"));
    (corp(None), corp(Some(&[DEFAULT_SCOPE])))
}

#[test]
fn no_scopes_device_flow_never_touches_the_clis_registration() {
    // The CLI first: its device registration without scopes, under the key for no scopes.
    let env = TestEnv::new();
    env.write_config(NO_SCOPES_CONFIG);
    let (none_key, default_key) = no_scope_keys();
    let cli_file = write_cli_registration(&env, &none_key, "cli-device", &[], false);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.calls("RegisterClient")[0].json()["scopes"], json!([DEFAULT_SCOPE]));
    assert_eq!(std::fs::read(cache_file(&env, &none_key)).unwrap(), cli_file, "the CLI's file is untouched");
    let ours = env.read_json(&cache_file(&env, &default_key));
    assert_eq!(keys(&ours), ["clientId", "clientSecret", "expiresAt", "scopes"], "the CLI's device shape");
    assert_eq!(ours["scopes"], json!([DEFAULT_SCOPE]));
    assert_eq!(env.corp_token()["clientId"], ours["clientId"]);
    assert!(env.corp_token()["refreshToken"].is_string(), "registered with a scope: refreshable");
}

#[test]
fn no_scopes_device_flow_we_first_then_the_cli() {
    let env = TestEnv::new();
    env.write_config(NO_SCOPES_CONFIG);
    let (none_key, default_key) = no_scope_keys();
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert!(cache_file(&env, &default_key).exists());
    assert!(!cache_file(&env, &none_key).exists(), "the key for no scopes is left to the CLI");
    // The CLI logs in now: it finds nothing under its key and registers its own there.
    let cli_file = write_cli_registration(&env, &none_key, "cli-device", &[], false);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 1, "ours is reused");
    assert_eq!(std::fs::read(cache_file(&env, &none_key)).unwrap(), cli_file);
}

#[test]
fn no_scopes_pkce_shares_the_clis_registration_both_ways() {
    // The CLI first: its PKCE registration (made with sso:account:access) under the key for no scopes.
    let mut env = TestEnv::new();
    if with_browser(&mut env).is_none() {
        return;
    }
    env.write_config(NO_SCOPES_CONFIG);
    let (none_key, default_key) = no_scope_keys();
    let cli_file = write_cli_registration(&env, &none_key, "cli-pkce", &[DEFAULT_SCOPE], true);
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 0, "the CLI's registration fits and is reused");
    assert_eq!(env.corp_token()["clientId"], "cli-pkce");
    assert_eq!(std::fs::read(cache_file(&env, &none_key)).unwrap(), cli_file);
    assert!(!cache_file(&env, &default_key).exists());

    // We first: ours goes where the CLI's PKCE flow looks, in the shape it reuses.
    let mut env = TestEnv::new();
    with_browser(&mut env);
    env.write_config(NO_SCOPES_CONFIG);
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    let ours = env.read_json(&cache_file(&env, &none_key));
    assert_eq!(keys(&ours), ["clientId", "clientSecret", "expiresAt", "scopes", "grantTypes"]);
    assert_eq!((&ours["scopes"], &ours["grantTypes"]), (&json!([DEFAULT_SCOPE]), &json!(PKCE_GRANTS)));
    assert!(!cache_file(&env, &default_key).exists());
}

#[test]
fn no_scopes_pkce_never_overwrites_the_clis_live_device_registration() {
    let mut env = TestEnv::new();
    if with_browser(&mut env).is_none() {
        return;
    }
    env.write_config(NO_SCOPES_CONFIG);
    let (none_key, default_key) = no_scope_keys();
    let cli_file = write_cli_registration(&env, &none_key, "cli-device", &[], false);
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 1, "registered once, then reused from its own file");
    assert_eq!(std::fs::read(cache_file(&env, &none_key)).unwrap(), cli_file);
    let ours = env.read_json(&cache_file(&env, &default_key));
    assert_eq!(ours["grantTypes"], json!(PKCE_GRANTS));

    // An expiring one is replaced there, as the CLI itself would replace it.
    let mut env = TestEnv::new();
    with_browser(&mut env);
    env.write_config(NO_SCOPES_CONFIG);
    write_cli_registration(&env, &none_key, "cli-device", &[], false);
    let mut stale = env.read_json(&cache_file(&env, &none_key));
    stale["expiresAt"] = json!(ts(60));
    env.write_file(&cache_file(&env, &none_key), &stale.to_string());
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.read_json(&cache_file(&env, &none_key))["grantTypes"], json!(PKCE_GRANTS));
    assert!(!cache_file(&env, &default_key).exists());
}

#[test]
fn configured_scopes_share_one_key_both_ways() {
    let key = cli_registration_key(START_URL, "us-east-1", Some(&[DEFAULT_SCOPE]), Some("corp"));
    // The CLI first, device flow: reused.
    let env = TestEnv::new();
    let cli_file = write_cli_registration(&env, &key, "cli-device", &[DEFAULT_SCOPE], false);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 0);
    assert_eq!(env.corp_token()["clientId"], "cli-device");
    assert_eq!(std::fs::read(cache_file(&env, &key)).unwrap(), cli_file);
    // The CLI first, PKCE: reused.
    let mut env = TestEnv::new();
    if with_browser(&mut env).is_none() {
        return;
    }
    write_cli_registration(&env, &key, "cli-pkce", &[DEFAULT_SCOPE], true);
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 0);
    assert_eq!(env.corp_token()["clientId"], "cli-pkce");
    // We first: the same key, in the CLI's shape for each flow (the files the CLI reuses).
    let mut env = TestEnv::new();
    with_browser(&mut env);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(keys(&env.read_json(&cache_file(&env, &key))), ["clientId", "clientSecret", "expiresAt", "scopes"]);
    env.run(&["login", "--sso-session", "corp"]).assert_ok();
    let pkce = env.read_json(&cache_file(&env, &key));
    assert_eq!(keys(&pkce), ["clientId", "clientSecret", "expiresAt", "scopes", "grantTypes"]);
}

#[test]
fn legacy_profiles_register_without_scopes_under_the_clis_key() {
    let env = TestEnv::new();
    let url = "https://legacy.awsapps.com/start";
    env.write_config(&format!(
        "[profile legacy]\nsso_start_url = {url}\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\n"
    ));
    let key = cli_registration_key(url, "us-east-1", None, None);
    let cli_file = write_cli_registration(&env, &key, "cli-legacy", &[], false);
    env.run(&["login", "--profile", "legacy"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 0, "the CLI's legacy registration is the same thing");
    assert_eq!(std::fs::read(cache_file(&env, &key)).unwrap(), cli_file);
}

// ---------------------------------------------------------------------------------------------------
// 4. Legacy tokens (CLI 2.25.3): expired on the local clock means no call at all.

#[test]
fn an_expired_legacy_token_is_refused_before_any_call() {
    let env = TestEnv::new();
    let url = "https://d-abc123.awsapps.com/start";
    env.write_config(&format!(
        "[profile legacy]\nsso_start_url = {url}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Admin\n"
    ));
    // The portal would still take it (the fake trusts it): only the local clock can refuse it.
    for expires in [ts(-1), ts(-3600), "2020-01-01T05:30:00+05:30".to_owned()] {
        let doc =
            json!({"startUrl": url, "region": "us-east-1", "accessToken": "legacy-DO-NOT-LEAK", "expiresAt": expires});
        env.seed_token(&sha1_hex(url), &doc);
        env.run(&["--profile", "legacy"])
            .assert_fails(3, "the SSO session profile legacy expired at")
            .assert_fails(3, "hint: run 'aws-sso-process login --profile legacy'");
        assert_eq!(env.fake.requests().len(), 0, "{expires}: nothing was sent");
    }
}

// ---------------------------------------------------------------------------------------------------
// 5. Timestamps other tools write.

#[test]
fn offsets_and_fractions_are_read_reported_and_rewritten_in_the_clis_form() {
    // As the Go SDK writes them where TZ is not UTC (here India), with a fraction on top.
    let env = TestEnv::new();
    let in_ist = |offset: i64| {
        let t = chrono::DateTime::from_timestamp(now_secs() + offset, 250_000_000).unwrap();
        t.with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap()).to_rfc3339()
    };
    let mut token = env.seed_corp_token(7200);
    token["expiresAt"] = json!(in_ist(7200));
    token["registrationExpiresAt"] = json!(in_ist(80 * 86400));
    env.seed_token(CORP_KEY, &token);
    assert!(token["expiresAt"].as_str().unwrap().ends_with("+05:30"), "{token}");

    // Read correctly: two hours left, so served without a refresh.
    env.run(&["--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 0);
    let status = env.run(&["status", "--json"]).json();
    let found: Vec<&Value> =
        status["warnings"].as_array().unwrap().iter().filter(|w| w["kind"] == "timestamp-form").collect();
    assert_eq!(found.len(), 2, "{status}");
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("has expiresAt with a UTC offset (+05:30), which the AWS SDK for Rust rejects")
    );
    assert!(found[1]["message"].as_str().unwrap().contains("registrationExpiresAt"));
    assert_eq!(
        status["sessions"][0]["token"]["expiresInSeconds"].as_i64().map(|s| (7190..=7200).contains(&s)),
        Some(true)
    );

    // A refresh rewrites both in the CLI's form; status is then quiet about them.
    env.run(&["refresh", "--force", "--sso-session", "corp"]).assert_ok();
    let after = env.corp_token();
    for field in ["expiresAt", "registrationExpiresAt"] {
        let v = after[field].as_str().unwrap();
        assert!(v.len() == 20 && v.ends_with('Z'), "{field}: {v}");
    }
    assert!((80 * 86400 - 10..=80 * 86400).contains(&secs_until(after["registrationExpiresAt"].as_str().unwrap())));
    let status = env.run(&["status", "--json"]).json();
    assert!(!status["warnings"].as_array().unwrap().iter().any(|w| w["kind"] == "timestamp-form"), "{status}");

    // A login writes the CLI's form too, whatever was there.
    token["accessToken"] = json!("seeded-access-token-DO-NOT-LEAK");
    env.seed_token(CORP_KEY, &token);
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let v = env.corp_token()["expiresAt"].as_str().unwrap().to_owned();
    assert!(v.len() == 20 && v.ends_with('Z'), "{v}");
}

#[test]
fn a_registration_expiry_with_an_offset_is_read_and_copied_in_the_clis_form() {
    let env = TestEnv::new();
    let key = cli_registration_key(START_URL, "us-east-1", Some(&[DEFAULT_SCOPE]), Some("corp"));
    write_cli_registration(&env, &key, "cli-device", &[DEFAULT_SCOPE], false);
    let mut reg = env.read_json(&cache_file(&env, &key));
    reg["expiresAt"] = json!("2099-01-01T05:30:00+05:30");
    env.write_file(&cache_file(&env, &key), &reg.to_string());
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    assert_eq!(env.fake.count("RegisterClient"), 0);
    assert_eq!(env.corp_token()["registrationExpiresAt"], "2099-01-01T00:00:00Z");
}
