//! The `status` command: golden outputs (human and JSON) at a fixed time, warnings, broken cache
//! files, and `--check` against the fake portal.
//!
//! Golden files live in tests/data/golden/. After a deliberate change to the output, regenerate
//! them with `UPDATE_GOLDEN=1 cargo test --test cli status::` and review the diff.

use crate::util::fake::Reply;
use crate::util::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const NOW: &str = "2026-11-21T08:00:00Z";

const GOLDEN_CONFIG: &str = "\
# Team config: comments, odd spacing and every case status reports on.
[profile dev]
credential_process = aws-sso-process --profile dev-sso

[profile dev-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer
region = eu-west-1

[profile payments]
credential_process = aws-sso-process --sso-session corp --account-id 222233334444 --role-name Admin

[profile sandbox]
credential_process = aws-sso-process --sso-session corp --account-id 444455556666 --role-name PowerUser

[profile audit]
credential_process = aws-sso-process --sso-session ops --account-id 555566667777 --role-name SecurityAudit

[profile bypassed]
credential_process = aws-sso-process --sso-session ops --account-id 333344445555 --role-name ReadOnly
sso_session = ops
sso_account_id = 333344445555
sso_role_name = ReadOnly

[profile old]
sso_start_url = https://legacy.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 666677778888
sso_role_name = ReadOnly

[profile broken]
sso_session = damaged
sso_account_id = 777788889999
sso_role_name = Admin

[profile typo]
credential_process = aws-sso-process --sso-session crop --account-id 1 --role-name R

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[sso-session ops]
sso_start_url = https://ops.awsapps.com/start
sso_region = eu-central-1
sso_registration_scopes = sso:account:access

[sso-session damaged]
sso_start_url = https://damaged.awsapps.com/start
sso_region = us-west-2
sso_registration_scopes = sso:account:access

[sso-session new]
sso_start_url = https://new.awsapps.com/start
sso_region = ap-southeast-2
output = json # an inline comment
";

/// The role-cache key of a session-based target (docs/shared-cache.md, "Role credentials file").
fn role_key(account: &str, role: &str, session: &str) -> String {
    sha1_hex(&format!(r#"{{"accountId":"{account}","roleName":"{role}","sessionName":"{session}"}}"#))
}

fn role_doc(account: &str, expiration: &str) -> String {
    json!({"ProviderType": "sso", "Credentials": {"AccessKeyId": "ASIAGOLDEN", "SecretAccessKey": "golden-secret-DO-NOT-LEAK",
        "SessionToken": "golden-session-DO-NOT-LEAK", "Expiration": expiration, "AccountId": account}})
    .to_string()
}

fn token_doc(start_url: &str, region: &str, expires_at: &str, refresh: bool) -> Value {
    let mut doc = json!({"startUrl": start_url, "region": region, "accessToken": "golden-access-DO-NOT-LEAK",
        "expiresAt": expires_at});
    if refresh {
        doc["clientId"] = json!("golden-client");
        doc["clientSecret"] = json!("golden-client-secret-DO-NOT-LEAK");
        doc["registrationExpiresAt"] = json!("2027-02-19T07:00:00Z");
        doc["refreshToken"] = json!("golden-refresh-DO-NOT-LEAK");
    }
    doc
}

/// A HOME with every state status distinguishes, at `NOW`.
fn golden_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.set_env("AWS_SSO_PROCESS_NOW", NOW);
    env.write_config(GOLDEN_CONFIG);
    // The config's lines run `aws-sso-process` by its bare name: found on PATH, as after an install.
    let path = path_with_binary(&env);
    env.set_env("PATH", &path);
    let write = |path: PathBuf, text: &str| env.write_file(&path, text);
    // corp: valid for 42 more minutes, refreshable.
    let corp = token_doc("https://corp.awsapps.com/start", "us-east-1", "2026-11-21T08:42:00Z", true);
    write(env.token_path(&sha1_hex("corp")), &corp.to_string());
    // ops: expired half an hour ago, refreshable (the next use refreshes it).
    let ops = token_doc("https://ops.awsapps.com/start", "eu-central-1", "2026-11-21T07:30:00.000Z", true);
    write(env.token_path(&sha1_hex("ops")), &ops.to_string());
    // damaged: a half-written file.
    write(env.token_path(&sha1_hex("damaged")), r#"{"startUrl": "https://damaged.awsapps.com/start", "accessTo"#);
    // The legacy start URL: expired, and legacy tokens never refresh.
    let old = token_doc("https://legacy.awsapps.com/start", "eu-west-1", "2026-11-21T06:00:00UTC", false);
    write(env.token_path(&sha1_hex("https://legacy.awsapps.com/start")), &old.to_string());
    // Role credentials: valid, expiring, expired, unreadable; sandbox has none.
    write(
        env.role_path(&role_key("111122223333", "Developer", "corp")),
        &role_doc("111122223333", "2026-11-21T09:00:00Z"),
    );
    write(env.role_path(&role_key("222233334444", "Admin", "corp")), &role_doc("222233334444", "2026-11-21T08:10:00Z"));
    write(
        env.role_path(&role_key("555566667777", "SecurityAudit", "ops")),
        &role_doc("555566667777", "2026-11-21T07:55:00Z"),
    );
    write(env.role_path(&role_key("333344445555", "ReadOnly", "ops")), r#"{"ProviderType":"sso"}"#);
    // A file some other tool left behind.
    write(env.home().join(".aws/cli/cache/garbage.json"), "not json at all");
    env
}

/// Compares `actual` (with the temporary HOME written as `$HOME`) with a golden file, or rewrites
/// the golden file when UPDATE_GOLDEN=1.
#[track_caller]
fn assert_golden(env: &TestEnv, name: &str, actual: &str) {
    let actual = actual.replace(&env.home().display().to_string(), "$HOME");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden").join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    if expected != actual {
        panic!(
            "{} differs (UPDATE_GOLDEN=1 rewrites it after a deliberate change)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

#[test]
fn golden_human_output() {
    let env = golden_env();
    let before = snapshot(env.home());
    let run = env.run(&["status"]);
    run.assert_ok();
    assert!(run.stderr.is_empty(), "{run:?}");
    assert!(!run.stdout.contains('\x1b'), "no colour when stdout is not a terminal");
    assert_golden(&env, "status.txt", &run.stdout);
    assert!(!run.stdout.contains("DO-NOT-LEAK"));
    assert_eq!(env.fake.requests().len(), 0, "status reads local files only");
    assert_eq!(snapshot(env.home()), before, "status changes no file, not even the broken ones");
}

#[test]
fn golden_json_output() {
    let env = golden_env();
    let run = env.run(&["status", "--json"]);
    run.assert_ok();
    assert_golden(&env, "status.json", &run.stdout);
    assert!(!run.stdout.contains("DO-NOT-LEAK"));
    let doc = run.json();
    assert_eq!(doc["version"], 1);
    let kinds: Vec<&str> = doc["warnings"].as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect();
    for kind in [
        "config",
        "no-registration-scopes",
        "sdk-bypass",
        "legacy-no-refresh",
        "unreadable-cache-file",
        "timestamp-form",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let damaged = &doc["sessions"].as_array().unwrap().iter().find(|s| s["name"] == "damaged").unwrap()["token"];
    assert_eq!(damaged["state"], "unreadable");
    assert_eq!(damaged["needsLogin"], true);
    assert_eq!(env.fake.requests().len(), 0);
}

#[test]
fn relative_times_follow_the_clock() {
    // One hour later the corp token has expired (and is refreshable), payments' credentials too.
    let mut env = golden_env();
    env.set_env("AWS_SSO_PROCESS_NOW", "2026-11-21T09:00:00+00:00");
    let doc = env.run(&["status", "--json"]).json();
    let corp = &doc["sessions"][0];
    assert_eq!(corp["name"], "corp");
    assert_eq!(corp["token"]["state"], "expired");
    assert_eq!(corp["token"]["expiresInSeconds"], -18 * 60);
    assert_eq!(corp["token"]["needsLogin"], false);
    assert_eq!(doc["now"], "2026-11-21T09:00:00Z");
    env.set_env("AWS_SSO_PROCESS_NOW", "soon");
    env.run(&["status"]).assert_fails(1, "AWS_SSO_PROCESS_NOW is not a timestamp");
}

#[test]
fn an_empty_config_says_so() {
    let env = TestEnv::new();
    env.write_config("");
    let run = env.run(&["status"]);
    run.assert_ok();
    assert!(run.stdout.contains("no sso-session and no SSO profile in "), "{run:?}");
    let doc = env.run(&["status", "--json"]).json();
    assert_eq!(doc["sessions"], json!([]));
}

#[test]
fn a_missing_config_file_is_named_with_the_command_that_makes_one() {
    let env = TestEnv::new();
    std::fs::remove_file(env.home().join(".aws/config")).unwrap();
    let run = env.run(&["status"]);
    run.assert_ok();
    assert!(run.stdout.contains("does not exist; to set it up, run 'aws-sso-process setup'"), "{run:?}");
}

/// `status` takes names as every command does: a named session or profile (the tool-facing one too)
/// shows that session alone; an unknown one is an error with the closest names; a profile whose
/// credential_process loops or names nothing usable gets a warning saying which.
#[test]
fn status_for_a_named_target_and_what_it_cannot_use() {
    let env = TestEnv::new();
    env.write_config(&format!(
        "{DEFAULT_CONFIG}\n[profile other]\nsso_session = other\nsso_account_id = 222233334444\nsso_role_name = R\n\n\
         [sso-session other]\nsso_start_url = https://other.awsapps.com/start\nsso_region = eu-west-1\n\n\
         [profile loop]\ncredential_process = aws-sso-process --profile loop2\n\n\
         [profile loop2]\ncredential_process = aws-sso-process --profile loop\n\n\
         [profile gone]\ncredential_process = aws-sso-process --profile nowhere\n"
    ));
    let all = env.run(&["status"]);
    all.assert_ok();
    assert!(all.stdout.contains("\nsso-session corp  ") && all.stdout.contains("\nsso-session other  "), "{all:?}");
    // Shown as the resolver shows it (`status --profile loop` below), from the profile warned about.
    assert!(all.stdout.contains("profile loop names no usable target: the credential_process lines of these profiles point at each other: loop -> loop2 -> loop"), "{all:?}");
    assert!(all.stdout.contains("it names profile nowhere, which is not in the config"), "{all:?}");

    for named in [&["--profile", "dev"][..], &["--profile", "dev-sso"], &["--sso-session", "corp"]] {
        let run = env.run(&[&["status"][..], named].concat());
        run.assert_ok();
        // Its heading only (the config's warnings stay, whichever session they are about).
        assert!(run.stdout.contains("\nsso-session corp  "), "{named:?}: {run:?}");
        assert!(!run.stdout.contains("\nsso-session other  "), "{named:?}: {run:?}");
    }
    env.run(&["status", "--profile", "dve"]).assert_fails(1, "profile dve").assert_fails(1, "dev");
    env.run(&["status", "--sso-session", "crop"]).assert_fails(1, "crop").assert_fails(1, "corp");
    env.run(&["status", "--profile", "loop"]).assert_fails(1, "loop -> loop2 -> loop");
}

#[test]
fn a_config_that_does_not_parse_is_an_error() {
    let env = TestEnv::new();
    env.write_config("[profile a]\nx = 1\n[profile a]\n");
    env.run(&["status"]).assert_fails(1, "duplicate section [profile a]");
}

#[test]
fn check_proves_the_token_at_the_portal() {
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let run = env.run(&["status", "--check"]);
    run.assert_ok();
    assert!(run.stdout.contains("check    ok: the portal accepts the token"), "{run:?}");
    let calls = env.fake.calls("ListAccounts");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].query["max_result"], "1");
    assert_eq!(calls[0].headers["x-amz-sso_bearer_token"], "seeded-access-token-DO-NOT-LEAK");
    let doc = env.run(&["status", "--check", "--json"]).json();
    assert_eq!(doc["sessions"][0]["check"], json!({"ok": true, "error": null, "loginRequired": false}));
}

#[test]
fn check_refreshes_a_token_that_is_due_and_shows_the_new_one() {
    let env = TestEnv::new();
    env.seed_corp_token(300);
    let doc = env.run(&["status", "--check", "--json"]).json();
    assert_eq!(env.fake.count("CreateToken"), 1);
    assert_eq!(doc["sessions"][0]["check"]["ok"], true);
    let left = doc["sessions"][0]["token"]["expiresInSeconds"].as_i64().unwrap();
    assert!(left > 3000, "the refreshed token is what status shows: {left}");
}

#[test]
fn check_failures_set_the_exit_code() {
    // A session the portal no longer accepts, whose refresh token is dead too: login required (3).
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.revoke_access_token("seeded-access-token-DO-NOT-LEAK");
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    let run = env.run(&["status", "--check", "--json"]);
    assert_eq!(run.code, 3, "{run:?}");
    let check = &run.json()["sessions"][0]["check"];
    assert_eq!(check["ok"], false);
    assert_eq!(check["loginRequired"], true);
    assert!(check["error"].as_str().unwrap().contains("could not be refreshed"), "{check}");

    // The portal failing (5xx on every try): exit 1, and the report still printed.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.fake.script("ListAccounts", vec![Reply::portal_error(500, "InternalServerException", "oops"); 3]);
    let run = env.run(&["status", "--check"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("check    failed: ListAccounts"), "{run:?}");

    // No token at all: login required.
    let env = TestEnv::new();
    let run = env.run(&["status", "--check"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("failed: no cached SSO token for corp"), "{run:?}");
    assert_eq!(env.fake.count("ListAccounts"), 0);
}

#[test]
fn an_unparsable_token_is_a_warning_not_a_crash() {
    let env = TestEnv::new();
    let path = env.token_path(CORP_KEY);
    env.write_file(&path, "\u{0}\u{1}garbage");
    let run = env.run(&["status"]);
    run.assert_ok();
    assert!(run.stdout.contains("token  unreadable: invalid JSON"), "{run:?}");
    assert!(run.stdout.contains(&format!("! cache file {} is not usable", path.display())), "{run:?}");
    assert!(run.stdout.contains("it was left as it is"), "{run:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"\x00\x01garbage");
    // A token file that is JSON but lacks fields.
    env.write_file(&path, r#"{"accessToken": "x"}"#);
    let doc = env.run(&["status", "--json"]).json();
    assert_eq!(doc["sessions"][0]["token"]["problem"], "it has no expiresAt");
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    // `script` runs the command on a pseudo-terminal; without it this test has nothing to check.
    if !Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success()) {
        skip_part("util-linux script", "to run status on a pseudo-terminal");
        return;
    }
    let env = golden_env();
    // The same environment as `env.run`, around `script`.
    let run_script = |no_color: Option<&str>| {
        let base = env.command(&[]);
        let mut cmd = Command::new("script");
        cmd.env_clear();
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.args(["-qec", &format!("{BIN} status"), "/dev/null"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = run_script(None);
    assert!(coloured.contains("\x1b[32mvalid until"), "{coloured:?}");
    let plain = run_script(Some("1"));
    assert!(plain.contains("valid until") && !plain.contains('\x1b'), "{plain:?}");
}

/// The report has one description, docs/status.md's example: every object has exactly its keys.
#[test]
fn status_json_has_exactly_the_shape_docs_status_md_shows() {
    use crate::util::schema::{assert_shape, documented_json};
    let documented = documented_json("docs/status.md", "{\n  \"version\": 1");
    let env = golden_env();
    for args in [&["status", "--json"][..], &["status", "--check", "--json"]] {
        let doc = env.run(args).json();
        assert!(doc["sessions"].as_array().is_some_and(|s| s.len() > 1) && doc["warnings"][0].is_object(), "{doc}");
        assert_shape(&doc, &documented, "status --json");
        if args.contains(&"--check") {
            let check = &doc["sessions"][0]["check"];
            let keys: Vec<&String> = check.as_object().expect("check is an object with --check").keys().collect();
            assert_eq!(keys, ["ok", "error", "loginRequired"], "the check object docs/status.md describes");
        }
    }
}

/// A PATH whose first folder holds `aws-sso-process` (a link to the binary under test).
fn path_with_binary(env: &TestEnv) -> String {
    let bin = env.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("aws-sso-process");
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).unwrap();
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn a_credential_process_program_tools_cannot_run_is_a_warning_with_the_fix() {
    let mut env = TestEnv::new();
    let path = path_with_binary(&env);
    env.set_env("PATH", &path);
    env.set_env("MYBIN", "/usr/local/bin");
    let home = env.home().display().to_string();
    let not_executable = env.home().join("bin/not-executable/aws-sso-process");
    env.write_file(&not_executable, "#!/bin/sh\n");
    let folder = env.home().join("bin/folder/aws-sso-process");
    std::fs::create_dir_all(&folder).unwrap();
    let line = |program: &str| format!("credential_process = {program} --profile dev-sso\n");
    let forms = [
        ("tilde", "~/bin/aws-sso-process".to_owned(), "starts with ~"),
        ("var", "$MYBIN/aws-sso-process".to_owned(), "holds a $ variable"),
        ("braces", "${HOME}/bin/aws-sso-process".to_owned(), "holds a $ variable"),
        ("relative", "bin/aws-sso-process".to_owned(), "is relative"),
        ("missing", format!("{home}/nowhere/aws-sso-process"), "does not exist"),
        ("noexec", not_executable.display().to_string(), "is not an executable file"),
        ("folder", folder.display().to_string(), "is a folder, not a program"),
        ("notonpath", "aws-sso-process-not-installed".to_owned(), "not found on PATH"),
    ];
    let mut config = DEFAULT_CONFIG.to_owned();
    for (name, program, _) in &forms {
        config.push_str(&format!("\n[profile {name}]\n{}", line(program)));
    }
    // Fine: a bare name on PATH, and a full path to an executable.
    config.push_str(&format!("\n[profile bare]\n{}", line("aws-sso-process")));
    config.push_str(&format!("\n[profile full]\n{}", line(BIN)));
    env.write_config(&config);

    let run = env.run(&["status", "--json"]);
    run.assert_ok();
    let warnings: Vec<(String, String)> = run.json()["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "credential-process-program")
        .map(|w| (w["subject"].as_str().unwrap().to_owned(), w["message"].as_str().unwrap().to_owned()))
        .collect();
    let subjects: Vec<&str> = warnings.iter().map(|(s, _)| s.as_str()).collect();
    let mut want: Vec<String> = forms.iter().map(|(name, _, _)| format!("profile {name}")).collect();
    want.sort();
    assert_eq!(subjects, want, "{warnings:#?}");
    for (name, _, why) in &forms {
        let (_, message) = warnings.iter().find(|(s, _)| *s == format!("profile {name}")).unwrap();
        assert!(message.contains(why), "{name}: {message}");
        assert!(message.contains("write the full path, such as /"), "{name}: {message}");
        if *name == "folder" {
            assert!(!message.contains("chmod"), "{message}");
        }
        if ["tilde", "var"].contains(name) {
            assert!(message.contains("without a shell (FileNotFoundError)"), "{message}");
        }
    }
    // The human form shows them too.
    let text = env.run(&["status"]);
    assert!(text.stdout.contains("tools cannot run the credential_process of profile tilde"), "{text:?}");
}

/// A credential_process line whose quotes do not balance: botocore stops with "ValueError: No
/// closing quotation", so status warns about it, and `--profile` says the line cannot be split.
#[test]
fn a_credential_process_line_that_will_not_split_is_a_warning_and_a_clear_error() {
    let env = TestEnv::new();
    let mut config = DEFAULT_CONFIG.to_owned();
    config.push_str(&format!("\n[profile u4]\ncredential_process = {BIN} --profile dev-sso 'unterminated\n"));
    config.push_str("\n[profile u5]\ncredential_process = /bin/other-tool a\\\n");
    env.write_config(&config);

    let run = env.run(&["status", "--json"]);
    run.assert_ok();
    let warnings: Vec<(String, String)> = run.json()["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "credential-process-line")
        .map(|w| (w["subject"].as_str().unwrap().to_owned(), w["message"].as_str().unwrap().to_owned()))
        .collect();
    let subjects: Vec<&str> = warnings.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(subjects, ["profile u4", "profile u5"], "{warnings:#?}");
    assert!(
        warnings[0].1.contains("No closing quotation") && warnings[0].1.contains("unbalanced quote"),
        "{warnings:#?}"
    );
    assert!(warnings[1].1.contains("No escaped character"), "{warnings:#?}");
    let text = env.run(&["status"]);
    assert!(text.stdout.contains("credential_process of profile u4"), "{text:?}");

    let run = env.run(&["--profile", "u4"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("the credential_process line of profile u4 cannot be split"), "{run:?}");
    assert!(run.stderr.contains("No closing quotation"), "{run:?}");
    assert!(!run.stderr.contains("no sso_* keys"), "{run:?}");
}

#[test]
fn after_the_service_refused_the_refresh_token_status_says_login() {
    let mut env = TestEnv::new();
    // Expired a minute ago, with a refresh token and a registration: "refreshed on next use".
    let doc = env.seed_corp_token(-60);
    let before = env.run(&["status", "--json"]).json();
    assert_eq!(before["sessions"][0]["token"]["refreshable"], true);
    assert_eq!(before["sessions"][0]["token"]["needsLogin"], false);

    // The service refuses the refresh token (invalid_grant): the credential run needs a login.
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    env.run(&["--profile", "dev-sso"]).assert_fails(3, "login");
    assert_eq!(env.corp_token(), doc, "the token file is left as it was");

    let after = env.run(&["status", "--json"]).json();
    let token = &after["sessions"][0]["token"];
    assert_eq!(token["refreshable"], false, "{token}");
    assert_eq!(token["needsLogin"], true, "{token}");
    assert!(
        token["notRefreshableReason"].as_str().unwrap().contains("the service refused its refresh token"),
        "{token}"
    );
    let text = env.run(&["status"]).stdout;
    assert!(!text.contains("refreshed on next use") && !text.contains("refresh  yes"), "{text}");
    assert!(text.contains("login    run 'aws-sso-process login --sso-session corp'"), "{text}");
    assert_eq!(env.run(&["status", "--prompt"]).stdout, "corp login\n");

    // --check asks once more, fails with exit 3 and prints the login command.
    env.fake.script("CreateToken", [Reply::oidc_error(400, "InvalidGrantException", "invalid_grant")]);
    let check = env.run(&["status", "--check"]);
    assert_eq!(check.code, 3, "{check:?}");
    assert!(check.stdout.contains("aws-sso-process login --sso-session corp"), "{check:?}");

    // A new login makes the record moot: it was about the old refresh token.
    env.set_env("AWS_SSO_PROCESS_TTY", "none");
    env.run(&["login", "--sso-session", "corp", "--use-device-code"]).assert_ok();
    let fresh = env.run(&["status", "--json"]).json();
    assert_eq!(fresh["sessions"][0]["token"]["refreshable"], true);
    assert_eq!(fresh["sessions"][0]["token"]["needsLogin"], false);
}

#[test]
fn the_prompt_line_shows_each_session_or_one_target() {
    let mut env = TestEnv::new();
    env.set_env("AWS_SSO_PROCESS_NOW", NOW);
    env.write_config(GOLDEN_CONFIG);
    let corp = token_doc("https://corp.awsapps.com/start", "us-east-1", "2026-11-21T15:58:30Z", true);
    env.write_file(&env.token_path(&sha1_hex("corp")), &corp.to_string());
    let ops = token_doc("https://ops.awsapps.com/start", "eu-central-1", "2026-11-21T07:30:00Z", true);
    env.write_file(&env.token_path(&sha1_hex("ops")), &ops.to_string());
    let damaged = token_doc("https://damaged.awsapps.com/start", "us-west-2", "2026-11-21T08:45:00Z", false);
    env.write_file(&env.token_path(&sha1_hex("damaged")), &damaged.to_string());

    let run = env.run(&["status", "--prompt"]);
    run.assert_ok();
    assert_eq!(run.stdout, "corp 7h58m damaged 45m new login ops refresh\n", "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    assert_eq!(env.run(&["status", "--prompt", "--profile", "audit"]).stdout, "audit refresh\n");
    assert_eq!(env.run(&["status", "--prompt", "--sso-session", "corp"]).stdout, "corp 7h58m\n");
    assert_eq!(env.fake.requests().len(), 0, "no network");
    let both = env.run(&["status", "--prompt", "--json"]);
    assert!(both.code == 2 && both.stderr.contains("cannot be used with"), "{both:?}");
    // Nothing configured: nothing printed, so a prompt module hides itself.
    env.write_config("[default]\nregion = eu-west-1\n");
    let empty = env.run(&["status", "--prompt"]);
    assert_eq!((empty.code, empty.stdout.as_str()), (0, ""), "{empty:?}");
}
