//! A hostile environment (docs/how-it-works.md, "Keeping the files safe"): a read-only `~/.aws`, cache folders that
//! are not ours alone, symbolic links where cache and lock files should be, a full disk, and no
//! HOME. Valid cached credentials are still served, nothing is written where it must not be, and
//! a token is never replaced by anything but a better one.
//!
//! Some of these need a private mount namespace (`unshare -m`, as root): a read-only bind mount
//! (root ignores file modes, so `chmod a-w` would prove nothing) and a tiny tmpfs for the full disk.
//! Where that is not possible they skip with a note, except in CI (`CI=true`), where they fail.

use crate::util::*;
use std::fs;
use std::path::Path;
use std::process::Command;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether mount namespaces can be used here; `false` (after a note, or a panic in CI) if not.
fn privileged(what: &str) -> bool {
    let works = is_root() && Command::new("unshare").args(["-m", "true"]).output().is_ok_and(|o| o.status.success());
    if !works {
        skip_or_fail("root and unshare(1)", what);
    }
    works
}

/// Runs the binary with `args` inside `unshare -m sh -c script`, where `"$@"` is the binary and its
/// arguments; the environment is the one `env.command` would give it.
fn run_in_namespace(env: &TestEnv, script: &str, args: &[&str]) -> Run {
    let inner = env.command(args);
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"]).arg(inner.get_program());
    cmd.args(inner.get_args()).env_clear().stdin(std::process::Stdio::null());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    to_run(cmd.output().expect("run unshare"))
}

const READ_ONLY_AWS: &str =
    r#"mount --bind "$HOME/.aws" "$HOME/.aws" && mount -o remount,bind,ro "$HOME/.aws" "$HOME/.aws" && exec "$@""#;

/// Runs with `~/.aws` read-only: a read-only bind mount as root, `chmod a-w` otherwise.
fn run_read_only(env: &TestEnv, args: &[&str]) -> Option<Run> {
    if is_root() {
        if !privileged("a read-only ~/.aws") {
            return None;
        }
        return Some(run_in_namespace(env, READ_ONLY_AWS, args));
    }
    use std::os::unix::fs::PermissionsExt;
    let dirs = [".aws/sso/cache", ".aws/cli/cache", ".aws/sso", ".aws/cli", ".aws"].map(|d| env.home().join(d));
    for d in &dirs {
        fs::create_dir_all(d).unwrap();
        for entry in fs::read_dir(d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                fs::set_permissions(&p, fs::Permissions::from_mode(0o400)).unwrap();
            }
        }
        fs::set_permissions(d, fs::Permissions::from_mode(0o500)).unwrap();
    }
    let run = env.run(args);
    for d in dirs.iter().rev() {
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
    }
    Some(run)
}

fn warnings(run: &Run) -> Vec<&str> {
    run.stderr.lines().filter(|l| l.contains("warning:")).collect()
}

#[test]
fn read_only_aws_still_serves_valid_cached_credentials_with_at_most_one_warning() {
    // 1. A role cache hit writes nothing: no warning at all.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    env.seed_corp_role(3600);
    let before = snapshot(env.home());
    let Some(run) = run_read_only(&env, &["--profile", "dev-sso"]) else { return };
    run.assert_ok();
    assert_eq!(run.json()["AccessKeyId"], "ASIACACHED");
    assert!(warnings(&run).is_empty(), "{run:?}");
    assert_eq!(snapshot(env.home()), before);

    // 2. Role credentials must be fetched (cold cache), the token is good: served, one warning.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let before = snapshot(env.home());
    let run = run_read_only(&env, &["--profile", "dev-sso"]).unwrap();
    run.assert_ok();
    assert!(run.json()["AccessKeyId"].as_str().unwrap().starts_with("ASIAFAKE"));
    assert_eq!(warnings(&run).len(), 1, "{run:?}");
    assert!(run.stderr.contains("role credentials will not be cached"), "{run:?}");
    assert_eq!(snapshot(env.home()), before, "nothing was written");

    // 3. Cold role cache and the token inside its refresh window: no refresh (its rotated refresh
    //    token could not be saved), the still-valid token is used, and there is still one warning.
    let env = TestEnv::new();
    let seed = env.seed_corp_token(60);
    let before = snapshot(env.home());
    let run = run_read_only(&env, &["--profile", "dev-sso"]).unwrap();
    run.assert_ok();
    assert_eq!(warnings(&run).len(), 1, "{run:?}");
    assert!(run.stderr.contains("using the cached token while it lasts"), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 0, "the refresh token was not burned");
    assert_eq!(env.fake.calls("GetRoleCredentials")[0].headers["x-amz-sso_bearer_token"], seed["accessToken"]);
    assert_eq!(snapshot(env.home()), before);

    // 4. `refresh --force` says why it cannot, and changes nothing.
    let run = run_read_only(&env, &["refresh", "--force", "--profile", "dev-sso"]).unwrap();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("corp: refresh failed (cannot open lock file"), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(snapshot(env.home()), before);

    // 5. An expired token cannot be served: a clear error naming the lock file, nothing changed.
    let env = TestEnv::new();
    env.seed_corp_token(-60);
    let before = snapshot(env.home());
    let run = run_read_only(&env, &["--profile", "dev-sso"]).unwrap();
    run.assert_fails(1, "cannot open lock file");
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(snapshot(env.home()), before);
}

#[test]
fn a_world_writable_cache_folder_is_read_but_never_written() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    env.seed_corp_token(60);
    let cache = env.home().join(".aws/sso/cache");
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
    let before = fs::read(env.token_path(CORP_KEY)).unwrap();

    let run = env.run(&["refresh", "--force", "--profile", "dev-sso"]);
    assert_eq!(run.code, 1, "{run:?}");
    let needle = format!("refusing to write in {}: every user may write to it (mode 0777)", cache.display());
    assert!(run.stdout.contains(&needle), "{run:?}");
    assert!(run.stdout.contains(&format!("chmod 700 {}", cache.display())), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(fs::read(env.token_path(CORP_KEY)).unwrap(), before);
    assert!(!env.home().join(format!(".aws/sso/cache/{CORP_KEY}.json.lock")).exists(), "not even a lock file");

    // The role cache folder too: credentials are fetched and served, but not cached there.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let cli_cache = env.home().join(".aws/cli/cache");
    fs::create_dir_all(&cli_cache).unwrap();
    fs::set_permissions(&cli_cache, fs::Permissions::from_mode(0o777)).unwrap();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(warnings(&run).len(), 1, "{run:?}");
    assert!(run.stderr.contains("role credentials will not be cached") && run.stderr.contains("refusing"), "{run:?}");
    assert_eq!(fs::read_dir(&cli_cache).unwrap().count(), 0);

    // Reading from it is fine: a cached entry there is served without a word.
    env.seed_corp_role(3600);
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(run.json()["AccessKeyId"], "ASIACACHED");
    assert!(run.stderr.is_empty(), "{run:?}");

    // An expired token in a world-writable folder: a clear error, the file left alone.
    let env = TestEnv::new();
    env.seed_corp_token(-60);
    fs::set_permissions(env.home().join(".aws/sso/cache"), fs::Permissions::from_mode(0o777)).unwrap();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_fails(1, "refusing to write in");
    assert_eq!(env.fake.count("CreateToken"), 0);
}

#[test]
fn a_cache_folder_owned_by_another_user_is_never_written() {
    if !is_root() {
        skip_or_fail("root", "to change a folder's owner");
        return;
    }
    let env = TestEnv::new();
    env.seed_corp_token(60);
    let cache = env.home().join(".aws/sso/cache");
    std::os::unix::fs::chown(&cache, Some(4242), Some(4242)).unwrap();
    let before = fs::read(env.token_path(CORP_KEY)).unwrap();
    let run = env.run(&["refresh", "--force", "--profile", "dev-sso"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains(&format!("refusing to write in {}: it belongs to user id 4242", cache.display())));
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(fs::read(env.token_path(CORP_KEY)).unwrap(), before);
    // Reading works: the token (60 s left) is used while it lasts, with one warning.
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(warnings(&run).len(), 1, "{run:?}");
}

#[test]
fn symbolic_links_at_cache_and_lock_paths_are_never_followed_to_write_elsewhere() {
    // The token file is a link to a file elsewhere: the refresh replaces the link, not the file.
    let env = TestEnv::new();
    let seed = env.seed_corp_token(60);
    let elsewhere = env.home().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let real = elsewhere.join("real.json");
    fs::rename(env.token_path(CORP_KEY), &real).unwrap();
    std::os::unix::fs::symlink(&real, env.token_path(CORP_KEY)).unwrap();
    env.run(&["refresh", "--profile", "dev-sso"]).assert_ok();
    assert_eq!(env.fake.count("CreateToken"), 1, "the token was read through the link");
    assert_eq!(fs::read_to_string(&real).unwrap(), seed.to_string(), "the link's target is untouched");
    let meta = fs::symlink_metadata(env.token_path(CORP_KEY)).unwrap();
    assert!(meta.file_type().is_file(), "the link itself was replaced by the new file");
    assert_ne!(env.corp_token()["accessToken"], seed["accessToken"]);

    // A link planted at the token's lock path: no file is created where it points.
    let env = TestEnv::new();
    let seed = env.seed_corp_token(60);
    let planted = env.home().join("planted-by-lock");
    let lock = env.home().join(format!(".aws/sso/cache/{CORP_KEY}.json.lock"));
    std::os::unix::fs::symlink(&planted, &lock).unwrap();
    let run = env.run(&["refresh", "--force", "--profile", "dev-sso"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("it is a symbolic link, which is never followed"), "{run:?}");
    assert!(!planted.exists());
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(env.corp_token(), seed);

    // The same at the role cache's lock path: credentials are served, not cached, nothing created.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let planted = env.home().join("planted-by-role-lock");
    let lock = env.home().join(format!(".aws/cli/cache/{CORP_ROLE_KEY}.json.lock"));
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&planted, &lock).unwrap();
    let run = env.run(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert!(run.stderr.contains("symbolic link"), "{run:?}");
    assert!(!planted.exists());
    assert!(!env.role_path(CORP_ROLE_KEY).exists());
}

/// Mounts a 64 KiB tmpfs on the token cache folder, copies `$HOME/seed.json` in as the token file,
/// fills the rest, runs the binary, and copies the token file and the folder listing back out.
fn full_disk_script() -> String {
    format!(
        r#"set -e
C="$HOME/.aws/sso/cache"
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$C"
cp "$HOME/seed.json" "$C/{CORP_KEY}.json"
cat /dev/zero > "$C/filler" 2>/dev/null || true
set +e
"$@"
rc=$?
cp "$C/{CORP_KEY}.json" "$HOME/after.json"
ls -a "$C" > "$HOME/after.ls"
exit $rc"#
    )
}

#[test]
fn a_full_disk_never_costs_the_session() {
    if !privileged("a full disk (tmpfs)") {
        return;
    }
    let script = full_disk_script();
    for (expires_in, args) in [
        (60, &["--profile", "dev-sso"][..]),
        (60, &["refresh", "--force", "--profile", "dev-sso"]),
        (-60, &["--profile", "dev-sso"]),
    ] {
        let env = TestEnv::new();
        let seed = env.seed_corp_token(expires_in);
        fs::rename(env.token_path(CORP_KEY), env.home().join("seed.json")).unwrap();
        let run = run_in_namespace(&env, &script, args);
        let after = fs::read_to_string(env.home().join("after.json")).unwrap();
        assert_eq!(after, seed.to_string(), "{args:?}: the old file is intact");
        let listing = fs::read_to_string(env.home().join("after.ls")).unwrap();
        assert!(!listing.contains(".tmp"), "{args:?}: no temp file left: {listing}");
        assert_eq!(env.fake.count("CreateToken"), 0, "{args:?}: no refresh that could not be saved");
        match (expires_in, args[0]) {
            (60, "refresh") => {
                assert_eq!(run.code, 1, "{run:?}");
                assert!(run.stdout.contains("corp: refresh failed (its cache file cannot be written"), "{run:?}");
                assert!(run.stdout.contains("No space left on device"), "{run:?}");
            }
            (60, _) => {
                run.assert_ok();
                assert_eq!(warnings(&run).len(), 1, "{run:?}");
                assert!(run.stderr.contains("No space left on device"), "{run:?}");
                assert!(env.role_path(CORP_ROLE_KEY).exists(), "the role cache (another disk) was written");
            }
            _ => {
                run.assert_fails(1, "cannot refresh the SSO token of corp: its cache file cannot be written");
                assert!(run.stderr.contains("No space left on device"), "{run:?}");
            }
        }
    }
}

#[test]
fn without_home_the_passwd_entry_is_used() {
    let uid = unsafe { libc::geteuid() };
    let out = Command::new("getent").args(["passwd", &uid.to_string()]).output();
    let Some(home) = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|line| line.trim().split(':').nth(5).map(str::to_owned))
    else {
        eprintln!("skipping: no passwd entry for uid {uid}");
        return;
    };
    // A session name no real cache can hold, so the run stops at "no token" and writes nothing.
    let name = format!("proof-no-home-{}-{}", std::process::id(), now_secs());
    let mut env = TestEnv::new();
    env.write_config(&format!("[sso-session {name}]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"));
    env.set_env("AWS_CONFIG_FILE", &env.home().join(".aws/config").to_string_lossy());
    env.unset_env("HOME");
    let run = env.run(&["refresh", "--sso-session", &name]);
    assert_eq!(run.code, 3, "{run:?}");
    let want = Path::new(&home).join(".aws/sso/cache").join(format!("{}.json", sha1_hex(&name)));
    assert!(run.stdout.contains(&format!("looked for {}", want.display())), "{run:?}");
}

#[test]
fn without_home_or_passwd_entry_a_clear_error() {
    let has_setpriv = Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    let free_uid = Command::new("getent").args(["passwd", "4242"]).output().is_ok_and(|o| !o.status.success());
    if !is_root() || !has_setpriv || !free_uid {
        eprintln!("skipping: needs root, setpriv(1) and no passwd entry for uid 4242");
        return;
    }
    let env = TestEnv::new();
    let out = Command::new("setpriv")
        .args(["--reuid=4242", "--regid=4242", "--clear-groups", BIN, "--profile", "dev-sso"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_SSO_PROCESS_TTY", "none")
        .current_dir("/")
        .output()
        .unwrap();
    let run = to_run(out);
    if run.stderr.contains("Permission denied") && !run.stderr.contains("aws-sso-process") {
        eprintln!("skipping: uid 4242 cannot run {BIN}");
        return;
    }
    drop(env);
    run.assert_fails(1, "aws-sso-process: cannot find the home folder");
    assert!(run.stderr.contains("hint: set HOME"), "{run:?}");
}

// ---- bounded reads (docs/reliability.md) -------------------------------------------------------

/// Things that are no cache or config file, to put at one's path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unusable {
    Fifo,
    LinkToDevZero,
    Folder,
    /// A (sparse) regular file of this many bytes.
    Huge(u64),
}

impl Unusable {
    /// The error text that names this kind of file.
    fn reason(self) -> &'static str {
        match self {
            Unusable::Fifo => "it is a FIFO (named pipe), not a regular file",
            Unusable::LinkToDevZero => "it is a device, not a regular file",
            Unusable::Folder => "it is a folder, not a regular file",
            Unusable::Huge(_) => "it is larger than",
        }
    }

    fn place(self, path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        match self {
            Unusable::Fifo => {
                use std::os::unix::ffi::OsStrExt;
                let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            }
            Unusable::LinkToDevZero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
            Unusable::Folder => fs::create_dir(path).unwrap(),
            Unusable::Huge(size) => fs::File::create(path).unwrap().set_len(size).unwrap(),
        }
    }

    /// Whether `path` still is what `place` put there.
    fn still_there(self, path: &Path) -> bool {
        use std::os::unix::fs::FileTypeExt;
        let Ok(meta) = fs::symlink_metadata(path) else { return false };
        match self {
            Unusable::Fifo => meta.file_type().is_fifo(),
            Unusable::LinkToDevZero => meta.file_type().is_symlink(),
            Unusable::Folder => meta.is_dir(),
            Unusable::Huge(size) => meta.is_file() && meta.len() == size,
        }
    }
}

const CACHE_KINDS: [Unusable; 4] = [Unusable::Fifo, Unusable::LinkToDevZero, Unusable::Folder, Unusable::Huge(2 << 20)];

#[test]
fn an_unusable_token_file_is_a_clear_error_naming_it() {
    for kind in CACHE_KINDS {
        let env = TestEnv::new();
        let path = env.token_path(CORP_KEY);
        kind.place(&path);
        let run = env.run_bounded(&["--profile", "dev-sso"]);
        run.assert_fails(3, kind.reason());
        assert!(run.stderr.contains(&format!("SSO token cache {} for", path.display())), "{kind:?}: {run:?}");
        assert!(kind.still_there(&path), "{kind:?}: left as it was");
        assert_eq!(env.fake.requests().len(), 0, "{kind:?}");
    }
}

/// A role cache file that cannot be read is a miss: the credentials are fetched, and the cache file
/// written as usual. The rename replaces whatever was at the path (it held no cache data); only a
/// folder cannot be replaced, which costs one warning.
#[test]
fn an_unusable_role_cache_file_is_a_miss() {
    for kind in CACHE_KINDS {
        let env = TestEnv::new();
        env.seed_corp_token(7200);
        let path = env.role_path(CORP_ROLE_KEY);
        kind.place(&path);
        let run = env.run_bounded(&["--profile", "dev-sso"]);
        run.assert_ok();
        assert!(run.json()["AccessKeyId"].as_str().unwrap().starts_with("ASIAFAKE"), "{kind:?}: {run:?}");
        assert_eq!(env.fake.count("GetRoleCredentials"), 1, "{kind:?}");
        if kind == Unusable::Folder {
            assert!(warnings(&run).len() == 1 && run.stderr.contains("could not be cached"), "{run:?}");
            assert!(kind.still_there(&path));
            continue;
        }
        assert!(warnings(&run).is_empty(), "{kind:?}: {run:?}");
        assert!(fs::symlink_metadata(&path).unwrap().is_file(), "{kind:?}: replaced by the new cache file");
        // The next run is a cache hit.
        env.run_bounded(&["--profile", "dev-sso"]).assert_ok();
        assert_eq!(env.fake.count("GetRoleCredentials"), 1, "{kind:?}");
    }
}

#[test]
fn unusable_config_and_credentials_files_are_a_clear_error_naming_them() {
    // Well above the limit for config files (32 MiB); sparse, so it costs no disk.
    let kinds = [Unusable::Fifo, Unusable::LinkToDevZero, Unusable::Folder, Unusable::Huge(33 << 20)];
    for which in ["config", "credentials"] {
        for kind in kinds {
            let env = TestEnv::new();
            // Even the cache-hit path reads both files.
            env.seed_corp_role(3600);
            let path = env.home().join(".aws").join(which);
            if which == "config" {
                fs::remove_file(&path).unwrap();
            }
            kind.place(&path);
            let run = env.run_bounded(&["--profile", "dev-sso"]);
            run.assert_fails(1, &format!("could not read {}: {}", path.display(), kind.reason()));
            assert!(kind.still_there(&path), "{which} {kind:?}");
        }
    }
}

/// The commands that rewrite the config read it the same bounded way (a FIFO there hung `setup`).
#[test]
fn commands_that_write_the_config_never_hang_on_an_unusable_one() {
    for kind in [Unusable::Fifo, Unusable::LinkToDevZero] {
        let env = TestEnv::new();
        let path = env.home().join(".aws/config");
        fs::remove_file(&path).unwrap();
        kind.place(&path);
        let setup = [
            "setup",
            "--start-url",
            "https://corp.awsapps.com/start",
            "--region",
            "us-east-1",
            "--sso-session",
            "corp",
            "--generate",
            "none",
        ];
        let run = env.run_bounded(&setup);
        assert_ne!(run.code, 0, "{kind:?}: {run:?}");
        assert!(run.stderr.contains(&path.display().to_string()), "{kind:?}: names the file: {run:?}");
        assert!(kind.still_there(&path), "{kind:?}");
    }
}

#[test]
fn a_fifo_at_a_lock_path_is_refused_not_waited_on() {
    // The role's lock: the credentials are fetched and served, not cached, with one warning.
    let env = TestEnv::new();
    env.seed_corp_token(7200);
    let lock = env.home().join(format!(".aws/cli/cache/{CORP_ROLE_KEY}.json.lock"));
    Unusable::Fifo.place(&lock);
    let run = env.run_bounded(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(warnings(&run).len(), 1, "{run:?}");
    assert!(run.stderr.contains("role credentials will not be cached"), "{run:?}");
    assert!(run.stderr.contains(&format!("{}: it is a FIFO", lock.display())), "{run:?}");
    assert!(!env.role_path(CORP_ROLE_KEY).exists());

    // The token's lock, inside the refresh window: no refresh, the valid token is used, one warning.
    let env = TestEnv::new();
    let seed = env.seed_corp_token(60);
    let lock = env.home().join(format!(".aws/sso/cache/{CORP_KEY}.json.lock"));
    Unusable::Fifo.place(&lock);
    let run = env.run_bounded(&["--profile", "dev-sso"]);
    run.assert_ok();
    assert_eq!(warnings(&run).len(), 1, "{run:?}");
    assert!(run.stderr.contains("it is a FIFO (named pipe), not a regular file"), "{run:?}");
    assert_eq!(env.fake.count("CreateToken"), 0);
    assert_eq!(env.corp_token(), seed);
}
