//! `configure generate`: profile names and slugs, printing, and `--write` (append only, backup,
//! atomic, idempotent, the rest of the file byte for byte).

use crate::util::fake::FakeAccount;
use crate::util::*;

fn config_path(env: &TestEnv) -> std::path::PathBuf {
    env.home().join(".aws/config")
}

/// PATH with the built binary's folder first: the bare name `aws-sso-process` is then this binary.
pub fn path_with_bin() -> String {
    let dir = std::path::Path::new(BIN).parent().unwrap();
    std::env::join_paths(
        std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap()
    .into_string()
    .unwrap()
}

/// A TestEnv whose PATH finds this binary, so generated lines name it `aws-sso-process`.
fn new_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.set_env("PATH", &path_with_bin());
    env
}

/// A config with comments, odd spacing, `:` delimiters, continuation lines, tabs, and no newline at the end.
const ODD_CONFIG: &str = "# my AWS config   \n\
;  a semicolon comment\n\
\n\
[default]\n\
region=eu-west-1   \n\
\t\n\
[profile   dev-sso  ]\n\
sso_session   =   corp\n\
sso_account_id: 111122223333\n\
sso_role_name =Developer\n\
s3 =\n\
    max_concurrent_requests = 20\n\
\n\
  \n\
[sso-session corp]\n\
sso_start_url = https://corp.awsapps.com/start\n\
sso_region = us-east-1\n\
sso_registration_scopes = sso:account:access\n\
# the end, without a newline";

#[test]
fn prints_one_block_per_account_and_role() {
    let env = new_env();
    env.seed_corp_token(7200);
    let before = std::fs::read(config_path(&env)).unwrap();
    let run = env.run(&["configure", "generate", "--sso-session", "corp"]);
    run.assert_ok();
    assert_eq!(run.stdout.matches("[profile ").count(), 9, "{run:?}");
    assert!(
        run.stdout.contains(
            "# Prod ? Payments (EU) (222233334444), role Admin\n\
             [profile prod-payments-eu.Admin]\n\
             credential_process = aws-sso-process --sso-session corp --account-id 222233334444 --role-name Admin\n\
             region = us-east-1\n\
             aws_sso_process_generated = corp\n"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("[profile audit-logging.SecurityAudit]"), "{run:?}");
    assert!(run.stdout.contains("[profile shared-services.ReadOnly]"), "{run:?}");
    assert_eq!(std::fs::read(config_path(&env)).unwrap(), before, "printing writes nothing");
    assert!(!env.home().join(".aws/config.bak").exists());
}

#[test]
fn prefix_region_and_command_flags() {
    let env = new_env();
    env.seed_corp_token(7200);
    let run = env.run(&[
        "configure",
        "generate",
        "--profile",
        "dev-sso",
        "--prefix",
        "corp-",
        "--region",
        "eu-west-1",
        "--command",
        "/opt/aws tools/aws-sso-process",
    ]);
    run.assert_ok();
    assert!(
        run.stdout.contains(
            "[profile corp-sandbox.PowerUser]\n\
             credential_process = '/opt/aws tools/aws-sso-process' --sso-session corp --account-id 444455556666 --role-name PowerUser\n\
             region = eu-west-1\n"
        ),
        "{run:?}"
    );
    env.run(&["configure", "generate", "--sso-session", "corp", "--prefix", "a b"]).assert_fails(2, "--prefix");
}

#[test]
fn colliding_slugs_get_the_account_id() {
    let env = new_env();
    env.seed_corp_token(7200);
    env.fake.set_accounts(vec![
        FakeAccount::new("111111111111", "Prod Payments", &["Admin"]),
        FakeAccount::new("222222222222", "prod-payments", &["Admin"]),
        FakeAccount::new("333333333333", "日本", &["Admin"]),
    ]);
    let run = env.run(&["configure", "generate", "--sso-session", "corp"]);
    run.assert_ok();
    for name in ["prod-payments-111111111111.Admin", "prod-payments-222222222222.Admin", "333333333333.Admin"] {
        assert!(run.stdout.contains(&format!("[profile {name}]\n")), "{name}: {run:?}");
    }
}

#[test]
fn write_appends_keeps_the_rest_byte_for_byte_and_is_idempotent() {
    let env = new_env();
    env.write_config(ODD_CONFIG);
    env.seed_corp_token(7200);
    let path = config_path(&env);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let run = env.run(&["configure", "generate", "--write"]);
    run.assert_ok();
    assert!(run.stdout.contains("added profile prod-payments-eu.Admin\n"), "{run:?}");
    assert!(run.stdout.contains("9 added, 0 kept, 0 removed in "), "{run:?}");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with(ODD_CONFIG), "the old bytes are a prefix:\n{written}");
    let appended = &written[ODD_CONFIG.len()..];
    assert!(appended.starts_with("\n\n# Audit & Logging (555566667777), role SecurityAudit\n"), "{appended:?}");
    assert_eq!(appended.matches("[profile ").count(), 9);
    assert!(written.ends_with("region = us-east-1\naws_sso_process_generated = corp\n"));
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/config.bak")).unwrap(), ODD_CONFIG);
    #[cfg(unix)]
    crate::credentials::assert_mode(&path, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(env.home().join(".aws"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The generated command line works as it is written (botocore's use is in interop.rs).
    let line = written.lines().find(|l| l.contains("--account-id 444455556666 --role-name PowerUser")).unwrap();
    let words: Vec<&str> = line.trim_start_matches("credential_process = ").split(' ').collect();
    assert_eq!(words[0], "aws-sso-process");
    let creds = env.run(&words[1..]);
    creds.assert_ok();
    assert_eq!(creds.json()["AccountId"], "444455556666");
    assert_eq!(env.fake.calls("GetRoleCredentials")[0].query["role_name"], "PowerUser");
    let status = env.run(&["status", "--json"]).json();
    let profiles = status["sessions"][0]["profiles"].as_array().unwrap();
    assert_eq!(profiles.iter().filter(|p| p["via"] == "credential_process").count(), 9);
    assert!(status["warnings"].as_array().unwrap().iter().all(|w| w["kind"] != "invalid-config"), "{status}");

    // Twice: nothing added, nothing written, the backup still holds the original.
    let again = env.run(&["configure", "generate", "--write"]);
    again.assert_ok();
    assert!(again.stdout.contains("nothing to change in "), "{again:?}");
    assert!(again.stdout.contains(": 9 kept"), "{again:?}");
    assert!(!again.stdout.contains("skipped profile"), "our own profiles are kept silently: {again:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/config.bak")).unwrap(), ODD_CONFIG);
}

#[test]
fn write_skips_names_and_targets_that_exist() {
    let env = new_env();
    let config = format!(
        "{DEFAULT_CONFIG}\n[profile sandbox.Admin]\nregion = us-west-2\n\n\
         [profile payments]\ncredential_process = aws-sso-process --sso-session corp --account-id 222233334444 --role-name Admin\n"
    );
    env.write_config(&config);
    env.seed_corp_token(7200);
    let run = env.run(&["configure", "generate", "--sso-session", "corp", "--write"]);
    run.assert_ok();
    assert!(run.stdout.contains("skipped profile sandbox.Admin: it is already in the config"), "{run:?}");
    assert!(
        run.stdout.contains(
            "skipped profile prod-payments-eu.Admin: profile payments already runs aws-sso-process for 222233334444 Admin"
        ),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("skipped profile development.Developer: profile dev already runs aws-sso-process"),
        "the DEFAULT_CONFIG's own dev profile counts: {run:?}"
    );
    assert!(run.stdout.contains("6 added, 2 kept, 0 removed"), "{run:?}");
    let written = std::fs::read_to_string(config_path(&env)).unwrap();
    assert!(written.starts_with(&config));
    assert_eq!(written.matches("[profile sandbox.Admin]").count(), 1);
    assert!(!written.contains("[profile prod-payments-eu.Admin]"));
}

#[test]
fn crlf_files_get_crlf_lines() {
    let env = new_env();
    let config = DEFAULT_CONFIG.replace('\n', "\r\n");
    env.write_config(&config);
    env.seed_corp_token(7200);
    env.run(&["configure", "generate", "--write"]).assert_ok();
    let written = std::fs::read_to_string(config_path(&env)).unwrap();
    assert!(written.starts_with(&config));
    let appended = &written[config.len()..];
    assert!(appended.starts_with("\r\n# "), "{appended:?}");
    assert_eq!(appended.matches('\n').count(), appended.matches("\r\n").count());
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_is_written_through_the_link() {
    let env = new_env();
    let real = env.home().join("dotfiles/aws-config");
    env.write_file(&real, DEFAULT_CONFIG);
    std::fs::remove_file(config_path(&env)).unwrap();
    std::os::unix::fs::symlink(&real, config_path(&env)).unwrap();
    env.seed_corp_token(7200);
    env.run(&["configure", "generate", "--write"]).assert_ok();
    assert!(std::fs::symlink_metadata(config_path(&env)).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("[profile sandbox.Admin]"));
    assert_eq!(std::fs::read_to_string(env.home().join("dotfiles/aws-config.bak")).unwrap(), DEFAULT_CONFIG);
}

#[test]
fn a_legacy_start_url_into_a_new_config_file() {
    let env = new_env();
    std::fs::remove_file(config_path(&env)).unwrap();
    let url = "https://legacy.awsapps.com/start";
    let mut doc = env.seed_corp_token(7200);
    doc["startUrl"] = url.into();
    env.seed_token(&sha1_hex(url), &doc);
    let run = env.run(&["configure", "generate", "--start-url", url, "--region", "eu-west-1", "--write"]);
    run.assert_ok();
    assert!(!run.stdout.contains("previous file"), "{run:?}");
    let written = std::fs::read_to_string(config_path(&env)).unwrap();
    assert!(written.starts_with("# Audit & Logging"), "{written}");
    assert!(
        written.contains(
            "credential_process = aws-sso-process --start-url https://legacy.awsapps.com/start --region eu-west-1 \
             --account-id 444455556666 --role-name Admin\nregion = eu-west-1\n\
             aws_sso_process_generated = https://legacy.awsapps.com/start\n"
        ),
        "{written}"
    );
    assert!(!env.home().join(".aws/config.bak").exists());
    #[cfg(unix)]
    crate::credentials::assert_mode(&config_path(&env), 0o600);
}

#[test]
fn no_session_no_listing_no_write() {
    let env = new_env();
    let before = std::fs::read(config_path(&env)).unwrap();
    env.run(&["configure", "generate", "--sso-session", "corp", "--write"]).assert_fails(3, "login --sso-session corp");
    assert_eq!(std::fs::read(config_path(&env)).unwrap(), before);
    assert!(!env.home().join(".aws/config.bak").exists());
}

// ---- what the SSO portal says cannot shape the config (docs/configure-generate.md) ----

/// 65 characters: one more than IAM allows in a role name.
fn long_role() -> String {
    "R".repeat(65)
}

/// 64 characters: the longest role name IAM allows.
fn longest_role() -> String {
    "R".repeat(64)
}

/// An organisation no SSO portal should serve: every kind of hostile ID, role and name, with four
/// valid account-role pairs among them. "AAA first" sorts first, so its block would directly follow
/// the user's last section.
fn hostile_accounts() -> Vec<FakeAccount> {
    let long = long_role();
    let longest = longest_role();
    vec![
        FakeAccount::new("100000000001", "AAA first", &["Admin\nendpoint_url = http://evil", "Good"]),
        FakeAccount::new("10000000002", "Short id", &["Admin"]),
        FakeAccount::new("1000000000033", "Long id", &["Admin"]),
        FakeAccount::new("10000000000x", "Letter id", &["Admin"]),
        FakeAccount::new("100000000004\n[profile x]", "Newline id", &["Admin"]),
        FakeAccount::new("100000000005", "Brackets", &["]", "[profile x]", &long, &longest]),
        FakeAccount::new("\u{202e}100000000006", "Bidi id", &["Admin"]),
        FakeAccount::new("100000000007", "\u{202e}lanigiro\u{202c} Bidi\u{200b}", &["ReadOnly"]),
        FakeAccount::new("100000000008", "x]\n[profile x]\ncredential_process = /tmp/injected", &["ReadOnly"])
            .with_email("root@example.com\nendpoint_url = http://mail.invalid"),
    ]
}

/// The valid pairs of `hostile_accounts`, as (profile, account, role).
fn valid_profiles() -> Vec<(String, &'static str, String)> {
    vec![
        ("aaa-first.Good".into(), "100000000001", "Good".into()),
        (format!("brackets.{}", longest_role()), "100000000005", longest_role()),
        ("lanigiro-bidi.ReadOnly".into(), "100000000007", "ReadOnly".into()),
        ("x-profile-x-credential-process-tmp-injected.ReadOnly".into(), "100000000008", "ReadOnly".into()),
    ]
}

/// The warnings `hostile_accounts` must produce, one each: the account ID as the terminal shows it.
const SKIPPED: [&str; 9] = [
    "100000000001",             // the role with a line break
    "10000000002",              // 11 digits
    "1000000000033",            // 13 digits
    "10000000000x",             // a letter
    "100000000004?[profile x]", // a line break
    "100000000005",             // "]"
    "100000000005",             // "[profile x]"
    "100000000005",             // 65 characters
    "?100000000006",            // a bidi override
];

/// Asserts that `generated` (printed, or appended to a config) holds nothing but the valid
/// profiles' blocks: comment lines, their headers, and their two keys with the expected values.
#[track_caller]
fn assert_only_valid_blocks(generated: &str) {
    let valid = valid_profiles();
    let mut headers = Vec::new();
    let mut first = true;
    for line in generated.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(comment.chars().all(|c| c.is_ascii() && !c.is_ascii_control()), "comment: {line:?}");
            continue;
        }
        if first {
            assert!(
                line.starts_with("[profile "),
                "a key before the first new header lands in the user's section: {line:?}"
            );
            first = false;
        }
        if let Some(name) = line.strip_prefix("[profile ").and_then(|l| l.strip_suffix(']')) {
            assert!(valid.iter().any(|(p, _, _)| p == name), "unexpected section: {line:?}\n{generated}");
            headers.push(name.to_owned());
        } else if let Some(command) = line.strip_prefix("credential_process = ") {
            assert!(
                valid.iter().any(|(_, account, role)| command
                    == format!("aws-sso-process --sso-session corp --account-id {account} --role-name {role}")),
                "unexpected command: {line:?}"
            );
        } else if line != "aws_sso_process_generated = corp" {
            assert_eq!(line, "region = us-east-1", "unexpected line:\n{generated}");
        }
    }
    let wanted: Vec<String> = valid.into_iter().map(|(p, _, _)| p).collect();
    assert_eq!(headers.len(), wanted.len(), "{generated}");
    assert!(wanted.iter().all(|w| headers.contains(w)), "{headers:?}");
}

/// The `aws-sso-process: warning: skipped ...` lines: one per hostile entry, naming its account ID
/// with nothing a terminal would act on.
#[track_caller]
fn assert_one_warning_per_hostile_entry(run: &Run) {
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("warning: skipped")).collect();
    assert_eq!(warnings.len(), SKIPPED.len(), "{run:?}");
    for id in SKIPPED {
        let needle = format!("account {id} (");
        let n = SKIPPED.iter().filter(|s| **s == id).count();
        assert_eq!(warnings.iter().filter(|w| w.contains(&needle)).count(), n, "{needle}: {warnings:#?}");
    }
    assert!(!run.stderr.contains(['\u{202e}', '\u{202c}', '\u{200b}']), "{run:?}");
    assert!(!run.stderr.contains("mail.invalid"), "the e-mail address is never used: {run:?}");
}

#[test]
fn write_skips_hostile_names_and_keeps_the_users_sections_byte_for_byte() {
    let env = new_env();
    let config = format!("{DEFAULT_CONFIG}\n[profile mine]\nregion = eu-west-1\noutput = json\n");
    env.write_config(&config);
    env.seed_corp_token(7200);
    env.fake.set_accounts(hostile_accounts());
    let run = env.run(&["configure", "generate", "--sso-session", "corp", "--write"]);
    run.assert_ok();
    assert!(run.stdout.contains("4 added, 0 kept, 0 removed"), "{run:?}");
    assert_one_warning_per_hostile_entry(&run);

    let written = std::fs::read_to_string(config_path(&env)).unwrap();
    assert!(written.starts_with(&config), "the user's bytes are a prefix:\n{written}");
    assert_only_valid_blocks(&written[config.len()..]);
    assert!(!written.contains("evil") && !written.contains("mail.invalid") && !written.contains("\n[profile x]"));

    // Our own reading of the result: the user's profile as it was, every new one runs us.
    let status = env.run(&["status", "--json"]).json();
    assert!(status["warnings"].as_array().unwrap().iter().all(|w| w["kind"] != "invalid-config"), "{status}");
    let profiles = status["sessions"][0]["profiles"].as_array().unwrap();
    assert_eq!(profiles.iter().filter(|p| p["via"] == "credential_process").count(), 4 + 1, "{status}");
}

#[test]
fn printed_profiles_carry_no_injected_section_or_key() {
    let env = new_env();
    env.seed_corp_token(7200);
    env.fake.set_accounts(hostile_accounts());
    let run = env.run(&["configure", "generate", "--sso-session", "corp"]);
    run.assert_ok();
    assert_only_valid_blocks(&run.stdout);
    assert!(!run.stdout.contains("evil") && !run.stdout.contains("mail.invalid"), "{run:?}");
    assert!(!run.stdout.contains("\n[profile x]"), "{run:?}");
    assert_one_warning_per_hostile_entry(&run);
}

// ---- templates, filters, --prune and the program's path (docs/configure-generate.md) ----

#[test]
fn template_and_filters_choose_names_and_profiles() {
    let env = new_env();
    env.seed_corp_token(7200);
    let run = env.run(&[
        "configure",
        "generate",
        "--sso-session",
        "corp",
        "--template",
        "{sso_session}-{account_name}-{role_name}",
        "--accounts",
        "(?i)^(sandbox|prod)|333344445555",
        "--roles",
        "^(Admin|ReadOnly)$",
        "--region",
        "eu-central-1",
    ]);
    run.assert_ok();
    let headers: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("[profile ")).collect();
    assert_eq!(
        headers,
        [
            "[profile corp-prod-payments-eu-admin]",
            "[profile corp-prod-payments-eu-readonly]",
            "[profile corp-sandbox-admin]",
            "[profile corp-shared-services-readonly]",
        ],
        "{run:?}"
    );
    assert!(
        run.stdout.contains(
            "[profile corp-sandbox-admin]\n\
             credential_process = aws-sso-process --sso-session corp --account-id 444455556666 --role-name Admin\n\
             region = eu-central-1\n\
             aws_sso_process_generated = corp\n"
        ),
        "{run:?}"
    );
    // Mistakes in the flags are usage errors before any request.
    for (flag, value, needle) in [
        ("--template", "{account}", "unknown placeholder {account}"),
        ("--accounts", "(", "--accounts is not a regular expression"),
        ("--roles", "[", "--roles is not a regular expression"),
    ] {
        let before = env.fake.requests().len();
        env.run(&["configure", "generate", "--sso-session", "corp", flag, value]).assert_fails(2, needle);
        assert_eq!(env.fake.requests().len(), before, "{flag}: no request");
    }
}

#[test]
fn prune_removes_only_generated_profiles_that_are_gone() {
    let env = new_env();
    let hand = "\n# my own, for the Sandbox admin role\n[profile sandbox-by-hand]\n\
                credential_process = aws-sso-process --sso-session corp --account-id 444455556666 --role-name Admin\n\
                region = eu-west-1\n";
    env.write_config(&format!("{DEFAULT_CONFIG}{hand}"));
    env.seed_corp_token(7200);
    let path = config_path(&env);
    env.run(&["configure", "generate", "--write"]).assert_ok();
    let first = std::fs::read_to_string(&path).unwrap();
    assert_eq!(first.matches("aws_sso_process_generated = corp").count(), 7, "{first}");

    // Sandbox loses Admin and PowerUser, Audit & Logging goes: three generated profiles are gone;
    // the hand-written Sandbox Admin profile stays. Payments gains a role.
    let mut accounts = crate::util::fake::default_accounts();
    accounts.retain(|a| a.id != "555566667777");
    for a in &mut accounts {
        if a.id == "444455556666" {
            a.roles = vec!["Developer".into()];
        }
        if a.id == "222233334444" {
            a.roles.push("Billing".into());
        }
    }
    env.fake.set_accounts(accounts);
    let run = env.run(&["configure", "generate", "--write", "--prune"]);
    run.assert_ok();
    assert!(run.stdout.contains("added profile prod-payments-eu.Billing\n"), "{run:?}");
    assert!(
        run.stdout.contains(
            "removed profile sandbox.PowerUser: the SSO session no longer lists account 444455556666 role PowerUser\n"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("removed profile audit-logging.SecurityAudit"), "{run:?}");
    assert!(run.stdout.contains("1 added, 6 kept, 2 removed in "), "{run:?}");
    let pruned = std::fs::read_to_string(&path).unwrap();
    assert!(pruned.starts_with(&format!("{DEFAULT_CONFIG}{hand}")), "the user's part byte for byte:\n{pruned}");
    assert!(!pruned.contains("[profile sandbox.PowerUser]") && !pruned.contains("PowerUser"), "{pruned}");
    assert!(!pruned.contains("Audit"), "the comment line went with its block:\n{pruned}");
    assert!(!pruned.contains("\n\n\n"), "no blank lines pile up:\n{pruned}");
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/config.bak")).unwrap(), first);

    // Again: nothing to change, and the file byte-identical.
    let again = env.run(&["configure", "generate", "--write", "--prune"]);
    again.assert_ok();
    assert!(again.stdout.contains("nothing to change in "), "{again:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pruned);

    // A generated profile someone re-pointed by hand at another session is no longer ours.
    env.fake.set_accounts(Vec::new());
    let run = env.run(&["configure", "generate", "--write", "--prune", "--force"]);
    run.assert_ok();
    assert!(run.stdout.contains("0 added, 0 kept, 6 removed"), "{run:?}");
    let empty = std::fs::read_to_string(&path).unwrap();
    assert_eq!(empty, format!("{DEFAULT_CONFIG}{hand}"), "only the user's text is left");
}

#[cfg(unix)]
#[test]
fn the_program_is_named_by_absolute_path_unless_path_finds_this_binary() {
    use std::os::unix::fs::PermissionsExt;
    let mut env = TestEnv::new();
    env.seed_corp_token(7200);
    let args = ["configure", "generate", "--sso-session", "corp", "--accounts", "^Sandbox$", "--roles", "^Admin$"];
    let line = |run: &Run| run.stdout.lines().find(|l| l.starts_with("credential_process = ")).unwrap().to_owned();
    let me = std::fs::canonicalize(BIN).unwrap();

    // Not on PATH: the full path, and the reason on stderr.
    env.set_env("PATH", "/usr/bin:/bin");
    let run = env.run(&args);
    run.assert_ok();
    assert_eq!(
        line(&run),
        format!("credential_process = {} --sso-session corp --account-id 444455556666 --role-name Admin", me.display())
    );
    assert!(run.stderr.contains("by its full path: aws-sso-process is not on PATH"), "{run:?}");

    // Another program of that name first on PATH: still the full path, naming the other one.
    let other = env.home().join("bin/aws-sso-process");
    env.write_file(&other, "#!/bin/sh\nexit 1\n");
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.set_env("PATH", &format!("{}:{}", other.parent().unwrap().display(), path_with_bin()));
    let run = env.run(&args);
    assert!(line(&run).starts_with(&format!("credential_process = {} ", me.display())), "{run:?}");
    assert!(run.stderr.contains("aws-sso-process on PATH is another program"), "{run:?}");

    // This binary, through a symlink on PATH: the bare name.
    std::fs::remove_file(&other).unwrap();
    std::os::unix::fs::symlink(&me, &other).unwrap();
    let run = env.run(&args);
    assert!(line(&run).starts_with("credential_process = aws-sso-process --sso-session"), "{run:?}");
    assert!(run.stderr.contains("credential_process runs aws-sso-process, which on PATH is this binary"), "{run:?}");

    // --command wins.
    let run = env.run(&[&args[..], &["--command", "/opt/x/aws-sso-process"]].concat());
    assert!(line(&run).starts_with("credential_process = /opt/x/aws-sso-process "), "{run:?}");
}

#[test]
fn botocore_uses_a_profile_generated_with_the_full_path() {
    let mut env = TestEnv::new();
    env.set_env("PATH", "/usr/bin:/bin");
    env.seed_corp_token(7200);
    env.run(&["configure", "generate", "--write", "--accounts", "^Sandbox$", "--roles", "^PowerUser$"]).assert_ok();
    let script = r#"
import json, boto3
c = boto3.Session(profile_name='sandbox.PowerUser').get_credentials().get_frozen_credentials()
print(json.dumps({"key": c.access_key}))
"#;
    let Some(run) = crate::interop::python(&env, script) else { return };
    assert!(run.stdout.contains("\"key\""), "{run:?}");
    assert_eq!(env.fake.calls("GetRoleCredentials")[0].query["role_name"], "PowerUser");
    assert_eq!(env.fake.calls("GetRoleCredentials")[0].query["account_id"], "444455556666");
}

// ---- portal limits, --prune safety, --region updates, filters that say what they did ----

/// `run`, and the child's peak resident set in KiB, when python3 is there to measure it. A child
/// this process starts itself would report at least this process's own peak (Linux keeps the
/// peak of the memory the child had before its exec), so a small python3 starts it and reports
/// its rusage.
fn run_measured(env: &TestEnv, args: &[&str]) -> (Run, Option<i64>) {
    const MEASURE: &str = "import os, sys, subprocess\n\
                           p = subprocess.Popen(sys.argv[2:])\n\
                           _, status, usage = os.wait4(p.pid, 0)\n\
                           open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n\
                           sys.exit(os.waitstatus_to_exitcode(status))\n";
    let report = env.home().join("maxrss");
    let python = std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !python {
        eprintln!("note: no python3 to measure the peak RSS with; the run is not measured");
        return (env.run(args), None);
    }
    let cmd = env.command(args);
    let mut measured = std::process::Command::new("python3");
    measured.arg("-c").arg(MEASURE).arg(&report).arg(cmd.get_program()).args(cmd.get_args());
    measured.env_clear().stdin(std::process::Stdio::null());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            measured.env(k, v);
        }
    }
    let run = to_run(measured.output().unwrap());
    let rss = std::fs::read_to_string(&report).ok().and_then(|s| s.trim().parse().ok());
    (run, rss)
}

/// Three accounts with 900 kB names (the cut falls among multi-byte characters, so it must fall
/// on a character boundary) and 12 roles each: once a 65 MB config with 900,000-character lines that every later
/// run refused.
fn bloated_accounts() -> Vec<FakeAccount> {
    let roles: Vec<String> = (1..=12).map(|i| format!("Role{i:02}")).collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    ["Alpha", "Bravo", "Charlie"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // The 50th character falls among the two-byte ones; the rest is 900 kB of ASCII.
            let long = format!("{name} team ü{}\u{202e}{}", "é".repeat(40), "a".repeat(900_000));
            FakeAccount::new(&format!("70000000000{i}"), &long, &roles)
                .with_email(&format!("{}@example.com", "x".repeat(100)))
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn portal_text_beyond_aws_limits_cannot_bloat_or_brick_the_config() {
    let env = new_env();
    env.seed_corp_token(7200);
    env.fake.set_accounts(bloated_accounts());
    env.fake.set_page_size(1);
    let path = config_path(&env);
    let (run, rss_kib) = run_measured(&env, &["configure", "generate", "--sso-session", "corp", "--write"]);
    if let Some(kib) = rss_kib {
        eprintln!("configure generate --write over 3 accounts with 900 kB names: peak RSS {} MiB", kib / 1024);
    }
    run.assert_ok();
    assert!(run.stdout.contains("36 added, 0 kept, 0 removed"), "{run:?}");
    let written = std::fs::read_to_string(&path).unwrap();
    eprintln!("the config after the hostile run: {} bytes", written.len());
    assert!(written.len() < 64 << 10, "the config grew to {} bytes", written.len());
    assert!(written.lines().all(|l| l.chars().count() <= 200), "no line over 200 characters");
    assert!(written.contains("[profile alpha-team.Role01]"), "{written}");
    // One warning per account, naming it, with nothing a terminal acts on.
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("warning: account 70000000000")).collect();
    assert_eq!(warnings.len(), 3, "{}", run.stderr);
    assert!(
        warnings.iter().all(|w| w.contains("name is longer than the 50 characters AWS allows; shortened")
            && w.contains("e-mail address is longer than the 64 characters AWS allows; left out")
            && w.chars().count() < 300),
        "{warnings:#?}"
    );
    assert!(!run.stderr.contains('\u{202e}'), "{}", run.stderr);
    assert!(rss_kib.is_none_or(|kib| kib < 64 << 10), "peak RSS {rss_kib:?} KiB (391 MiB before the limits)");
    // Every later run still reads the config: the profiles work.
    let creds = env.run(&["--profile", "bravo-team.Role12"]);
    creds.assert_ok();
    assert_eq!(creds.json()["AccountId"], "700000000001");
    let listed = env.run(&["list", "--sso-session", "corp", "--json"]);
    listed.assert_ok();
    let names: Vec<String> = listed.json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["accountName"].as_str().unwrap().into())
        .collect();
    assert!(names.iter().all(|n| n.chars().count() == 50 && n.ends_with('…')), "{names:?}");
}

#[test]
fn a_config_that_would_grow_past_the_readers_limit_is_never_written() {
    let env = new_env();
    // Just under the 32 MiB the reader takes: a few new profiles would take it over.
    let line = format!("# {}\n", "x".repeat(4094));
    let limit = 32 << 20;
    let mut config = String::from(DEFAULT_CONFIG);
    while config.len() + line.len() < limit - 300 {
        config.push_str(&line);
    }
    config.push_str(&format!("# {}\n", "x".repeat(limit - 300 - config.len() - 3)));
    assert_eq!(config.len(), limit - 300);
    env.write_config(&config);
    env.seed_corp_token(7200);
    let run = env.run(&["configure", "generate", "--sso-session", "corp", "--write"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("more than the 32 MiB this tool reads"), "{}", run.stderr);
    assert!(run.stderr.contains("the file is unchanged"), "{}", run.stderr);
    assert!(std::fs::read_to_string(config_path(&env)).unwrap() == config, "the file is unchanged");
    assert!(!env.home().join(".aws/config.bak").exists());
}

#[test]
fn prune_never_wipes_the_config_by_accident() {
    let env = new_env();
    env.seed_corp_token(7200);
    let path = config_path(&env);
    env.run(&["configure", "generate", "--sso-session", "corp", "--write"]).assert_ok();
    // A hand edit inside one generated profile.
    let generated = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[profile sandbox.Admin]\n", "[profile sandbox.Admin]\n# my note\noutput = json\n");
    std::fs::write(&path, &generated).unwrap();

    // The listing comes back empty: --prune alone previews, --write --prune stops, nothing changes.
    env.fake.set_accounts(Vec::new());
    let preview = env.run(&["configure", "generate", "--sso-session", "corp", "--prune"]);
    preview.assert_ok();
    assert!(
        preview.stderr.contains("would remove profile development.ReadOnly: the SSO session no longer lists"),
        "{preview:?}"
    );
    assert!(preview.stderr.contains("kept profile sandbox.Admin"), "{preview:?}");
    assert!(
        preview.stderr.contains("--prune would remove 7 of the 8 profiles generated for the SSO session corp"),
        "{preview:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), generated);

    let stopped = env.run(&["configure", "generate", "--sso-session", "corp", "--write", "--prune"]);
    assert_eq!(stopped.code, 1, "{stopped:?}");
    assert!(stopped.stdout.is_empty(), "{stopped:?}");
    assert!(
        stopped.stderr.contains("--prune would remove 7 of the 8 profiles generated for the SSO session corp"),
        "{stopped:?}"
    );
    assert!(stopped.stderr.contains("more than half") && stopped.stderr.contains("--force"), "{stopped:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), generated, "nothing written");

    // More than half (5 of 8) needs --force too.
    let mut accounts = crate::util::fake::default_accounts();
    accounts.retain(|a| a.id == "444455556666");
    env.fake.set_accounts(accounts);
    let run = env.run(&["configure", "generate", "--sso-session", "corp", "--write", "--prune"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("would remove 5 of the 8"), "{run:?}");

    // --force removes them, and still keeps the edited profile, naming it.
    env.fake.set_accounts(Vec::new());
    let forced = env.run(&["configure", "generate", "--sso-session", "corp", "--write", "--prune", "--force"]);
    forced.assert_ok();
    assert!(
        forced.stdout.contains(
            "kept profile sandbox.Admin: the SSO session no longer lists account 444455556666 role Admin, but the \
             profile was edited by hand (output added, a comment added)"
        ),
        "{forced:?}"
    );
    assert!(forced.stdout.contains("0 added, 0 kept, 7 removed (1 edited by hand, kept) in "), "{forced:?}");
    let left = std::fs::read_to_string(&path).unwrap();
    assert_eq!(left.matches("aws_sso_process_generated").count(), 1, "{left}");
    assert!(left.contains("[profile sandbox.Admin]\n# my note\noutput = json\n"), "{left}");
    assert!(left.starts_with(DEFAULT_CONFIG), "{left}");
}

#[test]
fn region_given_updates_the_generated_profiles_region() {
    let env = new_env();
    let hand = "\n[profile mine]\n\
                credential_process = aws-sso-process --sso-session corp --account-id 444455556666 --role-name Admin\n\
                region = ap-south-1\n";
    env.write_config(&format!("{DEFAULT_CONFIG}{hand}"));
    env.seed_corp_token(7200);
    let path = config_path(&env);
    env.run(&["configure", "generate", "--sso-session", "corp", "--write"]).assert_ok();
    let first = std::fs::read_to_string(&path).unwrap();
    assert_eq!(first.matches("region = us-east-1\naws_sso_process_generated").count(), 7, "{first}");

    let run = env.run(&["configure", "generate", "--sso-session", "corp", "--region", "eu-west-1", "--write"]);
    run.assert_ok();
    assert!(run.stdout.contains("updated profile sandbox.Developer: region = eu-west-1\n"), "{run:?}");
    assert!(run.stdout.contains("0 added, 7 updated, 2 kept, 0 removed in "), "{run:?}");
    let updated = std::fs::read_to_string(&path).unwrap();
    assert_eq!(updated.matches("region = eu-west-1\naws_sso_process_generated").count(), 7, "{updated}");
    assert_eq!(
        updated,
        first.replace("region = us-east-1\naws_sso_process_generated", "region = eu-west-1\naws_sso_process_generated")
    );
    assert!(updated.starts_with(&format!("{DEFAULT_CONFIG}{hand}")), "hand-written profiles keep theirs");
    assert_eq!(std::fs::read_to_string(env.home().join(".aws/config.bak")).unwrap(), first);

    // Again, or without --region: nothing to change, the chosen region stays.
    for args in [&["--region", "eu-west-1"][..], &[]] {
        let again = env.run(&[&["configure", "generate", "--sso-session", "corp", "--write"][..], args].concat());
        again.assert_ok();
        assert!(again.stdout.contains("nothing to change in "), "{again:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), updated);
    }
}

#[test]
fn filters_ignore_case_and_one_that_matches_nothing_says_what_exists() {
    let env = new_env();
    env.seed_corp_token(7200);
    let run = env.run(&[
        "configure",
        "generate",
        "--sso-session",
        "corp",
        "--accounts",
        "dev|sandbox",
        "--roles",
        "admin|developer",
    ]);
    run.assert_ok();
    let headers: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("[profile ")).collect();
    assert_eq!(
        headers,
        ["[profile development.Developer]", "[profile sandbox.Admin]", "[profile sandbox.Developer]"],
        "{run:?}"
    );
    let none = env.run(&["configure", "generate", "--sso-session", "corp", "--accounts", "staging", "--write"]);
    none.assert_fails(
        1,
        "--accounts staging matches none of the 5 accounts: Audit & Logging (555566667777), \
                          Development (111122223333), Prod – Payments (EU) (222233334444)",
    );
    assert!(none.stderr.contains("ignoring case"), "{none:?}");
    let none =
        env.run(&["configure", "generate", "--sso-session", "corp", "--accounts", "sandbox", "--roles", "^read"]);
    none.assert_fails(1, "--roles '^read' matches none of the 3 roles: Admin, Developer, PowerUser");
    // `(?-i)` asks for case to count.
    let none = env.run(&["configure", "generate", "--sso-session", "corp", "--accounts", "(?-i)sandbox"]);
    none.assert_fails(1, "matches none of the 5 accounts");
}
