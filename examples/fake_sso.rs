//! The test suite's fake IAM Identity Center as a standalone program, for the benchmark and the
//! demo. It is an example (never part of the installed binary) and listens on 127.0.0.1 only.
//!
//! `fake_sso --seed-home DIR` also writes DIR/.aws/config (profiles `dev` and `dev-sso`, session
//! `corp`) and a token cache entry for `corp` valid for 8 hours that the fake accepts, then
//! serves until killed. It refuses a DIR that already has `.aws/config` (or that token file), so a
//! real HOME is never overwritten: seed a throwaway one (`export HOME=$(mktemp -d)`). The first line on stdout is the base URL. Device codes are approved at
//! once (the first CreateToken poll), or after N polls with `--approve-after N` (the demo uses 1,
//! so that the user code is shown as it would be for real).

#[path = "../tests/cli/util/fake.rs"]
mod fake;
#[allow(dead_code)]
#[path = "../tests/cli/util/sigv4.rs"]
mod sigv4;

use serde_json::json;
use std::io::Write;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let server = fake::FakeSso::start();
    if let Some(pos) = args.iter().position(|a| a == "--seed-home") {
        let Some(home) = args.get(pos + 1) else {
            eprintln!("fake_sso: --seed-home needs a folder");
            std::process::exit(2);
        };
        if let Err(e) = seed(Path::new(home), &server) {
            eprintln!("fake_sso: cannot seed {home}: {e}");
            std::process::exit(1);
        }
    }
    if let Some(pos) = args.iter().position(|a| a == "--approve-after") {
        let Some(polls) = args.get(pos + 1).and_then(|n| n.parse().ok()) else {
            eprintln!("fake_sso: --approve-after needs a number of polls");
            std::process::exit(2);
        };
        server.set_device_mode(fake::DeviceMode::Approve, polls);
    }
    println!("{}", server.url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

/// Writes the demo config and token into `home`, refusing a folder that already has an AWS
/// config: `--seed-home "$HOME"` in a real HOME must not overwrite the user's config and token.
fn seed(home: &Path, server: &fake::FakeSso) -> std::io::Result<()> {
    let aws = home.join(".aws");
    let config = aws.join("config");
    let token_file = aws.join("sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json");
    for existing in [&config, &token_file] {
        if existing.symlink_metadata().is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} already exists, and seeding would overwrite it; seed a throwaway folder instead \
                     (export HOME=$(mktemp -d) first)",
                    existing.display()
                ),
            ));
        }
    }
    std::fs::create_dir_all(aws.join("sso/cache"))?;
    // create_new: never over a file that appeared since the check.
    std::fs::OpenOptions::new().write(true).create_new(true).open(&config)?.write_all(
        "[profile dev]\ncredential_process = aws-sso-process --profile dev-sso\n\n\
         [profile dev-sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Developer\nregion = eu-west-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\
         sso_registration_scopes = sso:account:access\n"
            .as_bytes(),
    )?;
    let now = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let token = json!({
        "startUrl": "https://corp.awsapps.com/start", "region": "us-east-1",
        "accessToken": "demo-access-token", "expiresAt": fmt(now + chrono::TimeDelta::hours(8)),
        "clientId": fake::CLIENT_ID, "clientSecret": fake::CLIENT_SECRET,
        "registrationExpiresAt": fmt(now + chrono::TimeDelta::days(90)), "refreshToken": "demo-refresh-token",
    });
    server.trust_access_token("demo-access-token");
    server.trust_refresh_token("demo-refresh-token");
    // The file name is sha1("corp").
    std::fs::OpenOptions::new().write(true).create_new(true).open(&token_file)?.write_all(token.to_string().as_bytes())
}
