//! TestEnv: a throwaway HOME with an AWS config, the fake service, and a way to run the built
//! binary with a clean environment (only what the test sets, both services pointed at the fake).

#![allow(dead_code)]

pub mod fake;
pub mod proxy;
#[cfg(unix)]
pub mod pty;
pub mod schema;
pub mod sigv4;
pub mod skip;
pub mod tls;

use fake::{CLIENT_ID, CLIENT_SECRET, FakeSso};
use serde_json::{Value, json};
pub use skip::{skip_or_fail, skip_part};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_aws-sso-process");
pub const START_URL: &str = "https://corp.awsapps.com/start";
pub const ACCOUNT: &str = "111122223333";
pub const ROLE: &str = "Developer";
/// sha1("corp"): the token cache file of the default session.
pub const CORP_KEY: &str = "ee0bfd2552fbd840c02cc48b6e823320543c450f";
/// sha1 of {"accountId":"111122223333","roleName":"Developer","sessionName":"corp"}.
pub const CORP_ROLE_KEY: &str = "6b17aaa4b7ddc1fd491e01d5f64d4b66d9e2b04c";

pub const DEFAULT_CONFIG: &str = "\
[profile dev]
credential_process = aws-sso-process --profile dev-sso

[profile dev-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer
region = eu-west-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
";

/// Whether `program --version` runs (a shell, a man page renderer, ...).
pub fn has(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// The repository's root folder.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// How long `run_bounded` lets a run take before killing it: far longer than any run that does
/// nothing slow takes, even on a busy machine.
pub const HANG_LIMIT: Duration = Duration::from_secs(10);
/// The address space `run_bounded` allows: far above a normal run, far below a file read without
/// bound (a link to /dev/zero read to the end).
pub const MEMORY_CAP: u64 = 512 << 20;

pub struct TestEnv {
    pub home: tempfile::TempDir,
    pub fake: FakeSso,
    pub env: Vec<(String, String)>,
    /// Variables removed after `env` is applied (e.g. the default endpoint overrides).
    pub unset: Vec<String>,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    /// A failure: the exit code, nothing on stdout, and a one-line `aws-sso-process:` error (plus
    /// an optional hint line) containing `needle`.
    #[track_caller]
    pub fn assert_fails(&self, code: i32, needle: &str) -> &Run {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stdout.is_empty(), "stdout must stay empty on failure: {self:?}");
        let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.contains("warning:")).collect();
        assert!(!lines.is_empty() && lines.len() <= 2, "one error line and a hint: {self:?}");
        assert!(lines[0].starts_with("aws-sso-process: "), "{self:?}");
        if lines.len() == 2 {
            assert!(lines[1].starts_with("hint: "), "{self:?}");
        }
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}: {self:?}");
        self
    }
}

pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `YYYY-MM-DDTHH:MM:SSZ`, `offset` seconds from now.
pub fn ts(offset: i64) -> String {
    let t = chrono::DateTime::from_timestamp(now_secs() + offset, 0).unwrap();
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Seconds from now until a timestamp string.
pub fn secs_until(stamp: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(stamp).unwrap().timestamp() - now_secs()
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv::with_fake(FakeSso::start())
    }

    /// A TestEnv around a given fake (e.g. `FakeSso::start_tls`).
    pub fn with_fake(fake: FakeSso) -> TestEnv {
        let env = TestEnv { home: tempfile::tempdir().unwrap(), fake, env: Vec::new(), unset: Vec::new() };
        env.write_config(DEFAULT_CONFIG);
        env
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.unset.retain(|k| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Runs without `key`, even one `command` sets by default (until `set_env` sets it again).
    pub fn unset_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
        self.unset.push(key.to_owned());
    }

    pub fn write_config(&self, text: &str) {
        let dir = self.home().join(".aws");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config"), text).unwrap();
    }

    pub fn token_path(&self, key: &str) -> PathBuf {
        self.home().join(".aws/sso/cache").join(format!("{key}.json"))
    }

    pub fn role_path(&self, key: &str) -> PathBuf {
        self.home().join(".aws/cli/cache").join(format!("{key}.json"))
    }

    pub fn write_file(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read_json(&self, path: &Path) -> Value {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", path.display()))
    }

    /// A token file for session `corp` as `aws sso login` writes it, expiring in `expires_in` s,
    /// with a refresh token and a registration valid for 90 days; the fake trusts both tokens.
    pub fn seed_corp_token(&self, expires_in: i64) -> Value {
        let doc = json!({
            "startUrl": START_URL,
            "region": "us-east-1",
            "accessToken": "seeded-access-token-DO-NOT-LEAK",
            "expiresAt": ts(expires_in),
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "registrationExpiresAt": ts(90 * 86400),
            "refreshToken": "seeded-refresh-token-DO-NOT-LEAK",
        });
        self.seed_token(CORP_KEY, &doc);
        doc
    }

    pub fn seed_token(&self, key: &str, doc: &Value) {
        if let Some(at) = doc["accessToken"].as_str() {
            self.fake.trust_access_token(at);
        }
        if let Some(rt) = doc["refreshToken"].as_str() {
            self.fake.trust_refresh_token(rt);
        }
        self.write_file(&self.token_path(key), &doc.to_string());
    }

    pub fn corp_token(&self) -> Value {
        self.read_json(&self.token_path(CORP_KEY))
    }

    /// A role cache entry for corp/111122223333/Developer expiring in `expires_in` s.
    pub fn seed_corp_role(&self, expires_in: i64) {
        let doc = json!({"ProviderType": "sso", "Credentials": {
            "AccessKeyId": "ASIACACHED", "SecretAccessKey": "cached-secret-DO-NOT-LEAK",
            "SessionToken": "cached-session-DO-NOT-LEAK", "Expiration": ts(expires_in), "AccountId": ACCOUNT}});
        self.write_file(&self.role_path(CORP_ROLE_KEY), &doc.to_string());
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL_SSO_OIDC", self.fake.url())
            .env("AWS_ENDPOINT_URL_SSO", self.fake.url())
            // Never prompt on the developer's terminal; tests that want a "terminal" set a file.
            .env("AWS_SSO_PROCESS_TTY", "none")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for k in &self.unset {
            cmd.env_remove(k);
        }
        cmd
    }

    /// Another program (python3, the AWS CLI, node) in this HOME with a cleared environment, both
    /// services pointed at the fake, no instance metadata, prompts to stderr, and no stdin.
    pub fn client_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("AWS_ENDPOINT_URL_SSO_OIDC", self.fake.url())
            .env("AWS_ENDPOINT_URL_SSO", self.fake.url())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_SSO_PROCESS_TTY", "none")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run aws-sso-process");
        to_run(out)
    }

    /// `run`, but killed after `HANG_LIMIT` (the test then fails) and with its memory capped at
    /// `MEMORY_CAP`: for inputs that once made the binary hang or read without bound.
    pub fn run_bounded(&self, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and changes nothing but the child process.
            unsafe {
                cmd.pre_exec(|| {
                    let cap =
                        libc::rlimit { rlim_cur: MEMORY_CAP as libc::rlim_t, rlim_max: MEMORY_CAP as libc::rlim_t };
                    if libc::setrlimit(libc::RLIMIT_AS, &cap) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("run aws-sso-process");
        if !wait_for(HANG_LIMIT, || child.try_wait().unwrap().is_some()) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aws-sso-process {args:?} was still running after {HANG_LIMIT:?} (killed)");
        }
        to_run(child.wait_with_output().unwrap())
    }

    /// Starts `n` copies at once and waits for all of them.
    pub fn run_many(&self, n: usize, args: &[&str]) -> Vec<Run> {
        let children: Vec<_> =
            (0..n).map(|_| self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()).collect();
        children.into_iter().map(|c| to_run(c.wait_with_output().unwrap())).collect()
    }
}

pub fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A `BROWSER` command for tests: it appends its argument count and URL to `$HOME/browser.log`,
/// then fetches the URL and follows redirects (like a browser whose user approves at once). It uses
/// curl, else python3; `None` (the caller skips with a note) when neither exists. Written once per
/// test run, before any test could be running it.
pub fn browser_script() -> Option<&'static Path> {
    static SCRIPT: std::sync::OnceLock<Option<(tempfile::TempDir, PathBuf)>> = std::sync::OnceLock::new();
    let found = SCRIPT.get_or_init(|| {
        let works = |cmd: &str, arg: &str| Command::new(cmd).arg(arg).output().is_ok_and(|o| o.status.success());
        let body = if works("curl", "--version") {
            "#!/bin/sh\necho \"$# $1\" >> \"$HOME/browser.log\"\nexec curl -s -L --max-time 30 -o /dev/null \"$1\"\n"
        } else if works("python3", "--version") {
            "#!/usr/bin/env python3\nimport os, sys, urllib.request\n\
             open(os.environ['HOME'] + '/browser.log', 'a').write(f'{len(sys.argv) - 1} {sys.argv[1]}\\n')\n\
             try:\n    urllib.request.urlopen(sys.argv[1], timeout=30).read()\nexcept Exception:\n    pass\n"
        } else {
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("browser");
        std::fs::write(&path, body).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Some((dir, path))
    });
    match found {
        Some((_, path)) => Some(path.as_path()),
        None => {
            skip_or_fail("curl or python3", "to play the browser");
            None
        }
    }
}

/// Waits for a condition, polling; false on timeout.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

pub fn sha1_hex(s: &str) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under HOME as (relative path, bytes), for "nothing changed" assertions.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}
