//! Cache files shared with the AWS CLI: their names (docs/shared-cache.md), tolerant reading and
//! atomic writing.
//!
//! Reading: a missing file is `None`; a file that does not parse is re-read once after a short pause
//! (the AWS CLI rewrites these files in place, so a reader can catch it half-written) and is then
//! an error that names the file. Nothing here ever deletes or rewrites a file it could not read.
//! Every read is bounded (`read_bounded`, docs/how-it-works.md): the file is opened without blocking, must be a
//! regular file (a FIFO would wait forever for a writer, `/dev/zero` would fill memory) and may not
//! be larger than a limit; it is read once, through the descriptor that was checked.
//! Writing: a temp file in the same folder (its name never ends in `.json`, since other tools glob
//! `*.json` here), mode 0600, fsync, rename; folders we create get 0700.
//!
//! Hostile surroundings (docs/how-it-works.md, "Keeping the files safe"): we never write into a folder that another user owns or that every
//! user may write to (someone else could swap our files or plant links there); reading from it is
//! fine. The rename replaces a symbolic link at the target path rather than writing through it. A
//! write can be prepared before its content is known (`prepare_write`), which reserves the space, so
//! a full disk shows before a refresh rotates a refresh token that could then not be saved. Temp
//! files that a killed process left behind are removed by the next write of the same file.
//! Whatever is at a cache path that is not a regular file we can read (a FIFO, a device, a link to
//! one) holds no cache data, so the rename replaces it like any old file; only a folder there
//! cannot be replaced, and that write fails with an error naming it.

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use std::fmt::{self, Write as _};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Pause before the one re-read of a file that did not parse.
const REREAD_PAUSE: Duration = Duration::from_millis(25);
/// A temp file of ours older than this is left over, whoever made it: no run keeps a write prepared
/// this long (the run's deadline is 30 s). Younger ones are always kept: the process id in the name
/// cannot tell a dead writer from a live one in another pid namespace (a container or host sharing
/// ~/.aws) (docs/reliability.md).
const STALE_TEMP_AGE: Duration = Duration::from_secs(60);
/// Largest cache file read (token, registration, role credentials); real ones hold a few KiB.
pub const CACHE_FILE_LIMIT: u64 = 1 << 20;
/// Largest config, credentials or CA bundle file read; real ones are far smaller.
pub const SETTINGS_FILE_LIMIT: u64 = 32 << 20;

pub fn sha1_hex(input: &str) -> String {
    let digest = Sha1::digest(input.as_bytes());
    let mut out = String::with_capacity(40);
    for byte in digest.iter() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Token cache key: the sso-session name, or the legacy start URL byte for byte.
pub fn token_key(session_name: Option<&str>, start_url: &str) -> String {
    sha1_hex(session_name.unwrap_or(start_url))
}

/// Registration cache key: Python `json.dumps(sort_keys=True)` with its default `", "`/`": "`
/// separators, `null` for a missing scope list or session name.
pub fn registration_key(
    start_url: &str,
    region: &str,
    scopes: Option<&[String]>,
    session_name: Option<&str>,
) -> String {
    let scopes = scopes.map(|s| Value::from(s.to_vec())).unwrap_or(Value::Null);
    let args = serde_json::json!({
        "tool": "botocore",
        "startUrl": start_url,
        "region": region,
        "scopes": scopes,
        "session_name": session_name,
    });
    sha1_hex(&py_dumps(&args, false))
}

/// Role credential cache key: compact sorted JSON of account, role and session name (or start URL).
pub fn role_key(account_id: &str, role_name: &str, session_name: Option<&str>, start_url: &str) -> String {
    let mut args = Map::new();
    args.insert("accountId".into(), account_id.into());
    args.insert("roleName".into(), role_name.into());
    match session_name {
        Some(name) => args.insert("sessionName".into(), name.into()),
        None => args.insert("startUrl".into(), start_url.into()),
    };
    sha1_hex(&py_dumps(&Value::Object(args), true))
}

/// Python's `json.dumps(v, sort_keys=True)` (ensure_ascii on), compact or with default separators.
pub fn py_dumps(v: &Value, compact: bool) -> String {
    let mut out = String::new();
    py_dump(v, compact, &mut out);
    out
}

fn py_dump(v: &Value, compact: bool, out: &mut String) {
    let (item_sep, key_sep) = if compact { (",", ":") } else { (", ", ": ") };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => py_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                py_dump(item, compact, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                py_string(key, out);
                out.push_str(key_sep);
                py_dump(&map[key], compact, out);
            }
            out.push('}');
        }
    }
}

fn py_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[derive(Debug)]
pub enum CacheError {
    Io { path: PathBuf, action: &'static str, source: io::Error },
    Corrupt { path: PathBuf, detail: String },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Io { path, action, .. } => write!(f, "cannot {action} {}", path.display()),
            CacheError::Corrupt { path, detail } => write!(f, "cache file {} is not usable: {detail}", path.display()),
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::Io { source, .. } => Some(source),
            CacheError::Corrupt { .. } => None,
        }
    }
}

/// Why `read_bounded` returned no bytes.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed (permissions, I/O).
    Io(io::Error),
    /// Not a regular file, or larger than the limit: nothing was read. Says which, in words.
    Unusable(String),
}

impl ReadError {
    /// As an I/O error (its message says why), for errors that carry one.
    pub fn into_io(self) -> io::Error {
        match self {
            ReadError::Io(e) => e,
            ReadError::Unusable(why) => io::Error::new(io::ErrorKind::InvalidData, why),
        }
    }
}

/// The bytes of the regular file at `path`, at most `limit` of them; `Ok(None)` when nothing is
/// there. The file is opened non-blocking (a FIFO without a writer does not hang the open), its
/// type and size are checked on the open descriptor, and it is read once, up to `limit + 1` bytes
/// (a file that grows past the limit while being read is refused too). A symbolic link to a
/// regular file is read; one to a device or FIFO is refused like the device itself.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    match open_bounded(path, limit)? {
        Some((file, meta)) => read_opened(file, &meta, limit).map(Some),
        None => Ok(None),
    }
}

/// The first half of `read_bounded`: the regular file at `path` opened (non-blocking) with its
/// metadata taken from the descriptor, or `Ok(None)` when nothing is there. Refuses what is not a
/// regular file, or larger than `limit`, as `read_bounded` does.
pub fn open_bounded(path: &Path, limit: u64) -> Result<Option<(File, fs::Metadata)>, ReadError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOCTTY: a link to a terminal must not become our controlling terminal by being opened.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // What open(2) says of a socket (and of a device without a driver).
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(ReadError::Unusable("it is a socket or a device, not a regular file".to_owned()));
        }
        Err(e) => return Err(ReadError::Io(e)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::Unusable(format!("it is {}, not a regular file", file_kind(&meta.file_type()))));
    }
    let too_large = || ReadError::Unusable(format!("it is larger than {}", size_text(limit)));
    if meta.len() > limit {
        return Err(too_large());
    }
    Ok(Some((file, meta)))
}

/// The second half of `read_bounded`: all of a file `open_bounded` opened, at most `limit` bytes.
pub fn read_opened(file: File, meta: &fs::Metadata, limit: u64) -> Result<Vec<u8>, ReadError> {
    let too_large = || ReadError::Unusable(format!("it is larger than {}", size_text(limit)));
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, for messages.
pub fn file_kind(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() { "a folder" } else { "a special file" }
}

/// `1 MiB`, `32 MiB`, or a number of bytes.
fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes >= MIB && bytes.is_multiple_of(MIB) { format!("{} MiB", bytes / MIB) } else { format!("{bytes} bytes") }
}

/// Reads a cache file that must hold a JSON object. `Ok(None)` when the file does not exist. A
/// file that is not a regular file or is larger than `CACHE_FILE_LIMIT` is `Corrupt` at once.
pub fn read_object(path: &Path) -> Result<Option<Map<String, Value>>, CacheError> {
    let mut attempt = 0;
    loop {
        let bytes = match read_bounded(path, CACHE_FILE_LIMIT) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(ReadError::Unusable(detail)) => return Err(CacheError::Corrupt { path: path.to_owned(), detail }),
            Err(ReadError::Io(source)) => return Err(CacheError::Io { path: path.to_owned(), action: "read", source }),
        };
        match parse_object(&bytes) {
            Ok(map) => return Ok(Some(map)),
            Err(detail) if attempt == 0 => {
                let _ = detail;
                attempt += 1;
                std::thread::sleep(REREAD_PAUSE);
            }
            Err(detail) => return Err(CacheError::Corrupt { path: path.to_owned(), detail }),
        }
    }
}

/// The JSON object in `bytes`, or why not. The reason never quotes the content (it holds secrets).
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("expected a JSON object, found {}", json_kind(&other))),
        Err(e) if e.is_eof() => Err("truncated JSON".to_owned()),
        Err(e) => Err(format!("invalid JSON at line {} column {}", e.line(), e.column())),
    }
}

pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string field of a cache object: `Ok(None)` when absent or null, an error when of another type.
pub fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("field {key} is {}, expected a string", json_kind(other))),
    }
}

/// The `*.json` files of a cache folder, sorted; none when the folder does not exist.
pub fn json_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, CacheError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CacheError::Io { path: dir.to_owned(), action: "list", source }),
    };
    let mut out: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

/// Creates `dir` and its missing parents; the ones we create get mode 0700.
pub fn ensure_dir(dir: &Path) -> Result<(), CacheError> {
    create_private_dir(dir).map_err(|source| CacheError::Io { path: dir.to_owned(), action: "create folder", source })
}

pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `value` as compact JSON to `path` atomically: temp file (0600) in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, value: &Value) -> Result<(), CacheError> {
    let bytes =
        serde_json::to_vec(value).map_err(|e| CacheError::Corrupt { path: path.to_owned(), detail: e.to_string() })?;
    write_bytes_atomic(path, &bytes)
}

pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    write_bytes_atomic_mode(path, bytes, None)
}

/// `write_bytes_atomic` giving the file `mode` (e.g. the mode of the file it replaces) instead of
/// 0600. The temp file gets the mode before the rename, so the path never has another one.
pub fn write_bytes_atomic_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), CacheError> {
    prepare_write_mode(path, 0, mode)?.commit_bytes(bytes)
}

/// Refuses a folder that is not ours alone to write in: one every user may write to, or one owned
/// by another user (root writing into a user's ~/.aws would leave files that user cannot replace).
/// Reading from such a folder is fine; only writes and lock files are refused.
pub fn check_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(dir)?;
        let refuse = |why: String| {
            io::Error::new(io::ErrorKind::PermissionDenied, format!("refusing to write in {}: {why}", dir.display()))
        };
        let mode = meta.mode() & 0o7777;
        if mode & 0o002 != 0 {
            return Err(refuse(format!(
                "every user may write to it (mode {mode:04o}); run 'chmod 700 {}' to fix it",
                dir.display()
            )));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(refuse(format!("it belongs to user id {}, not to user id {me} running this", meta.uid())));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A write whose temp file exists already, holding reserved space; `commit` puts the content in
/// and renames it over the target. Dropped without a commit, it removes its temp file.
pub struct PendingWrite {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

/// Creates the temp file for a write of `path` and reserves `reserve` bytes in it (written and
/// synced), so a full disk or a folder we may not write to fails now, before anything is done that
/// cannot be undone.
pub fn prepare_write(path: &Path, reserve: usize) -> Result<PendingWrite, CacheError> {
    prepare_write_mode(path, reserve, None)
}

/// `prepare_write` with a mode other than 0600 for the file (set on the temp file already).
pub fn prepare_write_mode(path: &Path, reserve: usize, mode: Option<u32>) -> Result<PendingWrite, CacheError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let io_err = |source| CacheError::Io { path: path.to_owned(), action: "write", source };
    check_private_dir(dir).map_err(io_err)?;
    // What a killed writer of this file left goes first: on a full disk it holds the space needed.
    remove_stale_temps(path);
    let tmp = temp_path(path);
    let file = create_private(&tmp).map_err(io_err)?;
    // From here on, dropping `pending` removes the temp file.
    let mut pending = PendingWrite { path: path.to_owned(), tmp, file: Some(file) };
    if let Some(file) = pending.file.as_mut() {
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(mode)).map_err(io_err)?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        if reserve > 0 {
            // Written and synced, so the blocks are really allocated; cut off again at commit.
            file.write_all(&vec![b' '; reserve]).and_then(|()| file.sync_all()).map_err(io_err)?;
        }
    }
    Ok(pending)
}

impl PendingWrite {
    /// Writes `value` as compact JSON and renames the temp file over the target.
    pub fn commit(self, value: &Value) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| CacheError::Corrupt { path: self.path.clone(), detail: e.to_string() })?;
        self.commit_bytes(&bytes)
    }

    pub fn commit_bytes(mut self, bytes: &[u8]) -> Result<(), CacheError> {
        let Some(mut file) = self.file.take() else {
            return Err(CacheError::Io {
                path: self.path.clone(),
                action: "write",
                source: io::ErrorKind::Other.into(),
            });
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let result = (|| {
            // Overwrite the reserved bytes in place (no new space needed), then cut off the rest.
            file.seek(io::SeekFrom::Start(0))?;
            file.write_all(bytes)?;
            file.set_len(bytes.len() as u64)?;
            file.sync_all()?;
            drop(file);
            // rename(2) replaces whatever is at the target path, a symbolic link included: it never
            // writes through a link to another place.
            fs::rename(&self.tmp, &self.path)?;
            // Make the rename itself durable; not every file system allows syncing a folder.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.tmp = PathBuf::new();
                remove_stale_temps(&self.path);
                Ok(())
            }
            Err(source) => Err(CacheError::Io { path: self.path.clone(), action: "write", source }),
        }
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    // create_new is O_CREAT|O_EXCL: it fails on an existing name, a symbolic link included.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// `<file>.<pid><nanos>.tmp` next to `path`: unique, and never ending in `.json`.
fn temp_path(path: &Path) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}.{}{nanos:09}.tmp", std::process::id()))
}

/// The process id in the name of a temp file of ours for `target_name`, or `None` for any other name.
fn temp_owner(target_name: &str, candidate: &str) -> Option<u32> {
    let digits = candidate.strip_prefix(target_name)?.strip_prefix('.')?.strip_suffix(".tmp")?;
    if digits.len() <= 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits[..digits.len() - 9].parse().ok()
}

/// Removes the temp files of `path` that a killed process left, before and after each write of
/// it: only names of our exact pattern for this very file, only regular files of the user running
/// this, and only when they are older than any run (`STALE_TEMP_AGE`). The age alone decides: the
/// process id in the name says nothing when ~/.aws is shared with another pid namespace, so a
/// fresh temp file is never touched, whoever wrote it.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else { return };
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        if file_name.to_str().and_then(|n| temp_owner(name, n)).is_none() {
            continue;
        }
        // symlink_metadata: a link is never a temp file of ours.
        let Some(meta) = fs::symlink_metadata(entry.path()).ok().filter(|m| m.is_file() && owned_by_me(m)) else {
            continue;
        };
        let old = meta.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > STALE_TEMP_AGE);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether a file belongs to the user running this.
fn owned_by_me(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        meta.uid() == unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Removes a cache file; a file that is already gone is fine.
pub fn remove(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CacheError::Io { path: path.to_owned(), action: "remove", source }),
    }
}

/// A file's permission bits, to keep them when the file is replaced (the config).
pub fn file_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../tests/data/cache_keys.json")).unwrap()
    }

    #[test]
    fn token_keys_match_vectors() {
        let v = vectors();
        let rows = v["token"].as_array().unwrap();
        assert!(rows.len() >= 8);
        for row in rows {
            assert_eq!(sha1_hex(row["input"].as_str().unwrap()), row["sha1"].as_str().unwrap());
        }
        assert_eq!(token_key(Some("my-sso"), "ignored"), "0ad374308c5a4e22f723adf10145eafad7c4031c");
        assert_eq!(
            token_key(None, "https://d-92671207e4.awsapps.com/start"),
            "13f9d35043871d073ab260e020f0ffde092cb14b"
        );
    }

    #[test]
    fn registration_keys_match_vectors() {
        let v = vectors();
        let rows = v["registration"].as_array().unwrap();
        assert!(rows.len() >= 4);
        for row in rows {
            let f = &row["fields"];
            let scopes: Option<Vec<String>> =
                f["scopes"].as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect());
            let key = registration_key(
                f["startUrl"].as_str().unwrap(),
                f["region"].as_str().unwrap(),
                scopes.as_deref(),
                f["session_name"].as_str(),
            );
            assert_eq!(key, row["sha1"].as_str().unwrap(), "{}", row["json"]);
        }
    }

    #[test]
    fn role_keys_match_vectors() {
        let v = vectors();
        let rows = v["role"].as_array().unwrap();
        assert!(rows.len() >= 3);
        for row in rows {
            let f = &row["fields"];
            let key = role_key(
                f["accountId"].as_str().unwrap(),
                f["roleName"].as_str().unwrap(),
                f["sessionName"].as_str(),
                f["startUrl"].as_str().unwrap_or(""),
            );
            assert_eq!(key, row["sha1"].as_str().unwrap(), "{}", row["json"]);
        }
    }

    #[test]
    fn python_escaping() {
        assert_eq!(
            py_dumps(&serde_json::json!({"b": "ó\"", "a": [1, null]}), false),
            r#"{"a": [1, null], "b": "\u00f3\""}"#
        );
        assert_eq!(py_dumps(&serde_json::json!({"x": "😀"}), true), r#"{"x":"\ud83d\ude00"}"#);
    }

    #[test]
    fn parse_object_reasons_never_quote_content() {
        for (input, want) in [
            (&b"{\"accessToken\": \"SECRET"[..], "truncated JSON"),
            (b"[1,2]", "expected a JSON object, found a list"),
            (b"<html>SECRET</html>", "invalid JSON at line 1 column 1"),
            (b"", "truncated JSON"),
        ] {
            let err = parse_object(input).unwrap_err();
            assert_eq!(err, want);
            assert!(!err.contains("SECRET"));
        }
    }

    #[test]
    fn atomic_write_is_private_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/x.json");
        write_atomic(&path, &serde_json::json!({"k": "v"})).unwrap();
        write_atomic(&path, &serde_json::json!({"k": "w"})).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"k":"w"}"#);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        assert!(read_object(&dir.path().join("missing.json")).unwrap().is_none());
    }

    #[test]
    fn temp_owner_matches_only_our_pattern_for_that_file() {
        assert_eq!(temp_owner("abc.json", "abc.json.4242000000123.tmp"), Some(4242));
        for other in [
            "abc.json",
            "abc.json.lock",
            "abc.json.000000123.tmp",    // no pid digits
            "abc.json.12x000000123.tmp", // not all digits
            "abcd.json.4242000000123.tmp",
            "abc.json.4242000000123.tmp.json",
            "x.abc.json.4242000000123.tmp",
        ] {
            assert_eq!(temp_owner("abc.json", other), None, "{other}");
        }
        let t = temp_path(Path::new("/x/abc.json"));
        assert_eq!(temp_owner("abc.json", t.file_name().unwrap().to_str().unwrap()), Some(std::process::id()));
    }

    #[test]
    fn a_fresh_temp_file_is_kept_even_when_its_pid_looks_dead() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let ago = |secs| std::time::SystemTime::now() - Duration::from_secs(secs);
        let make = |name: String, mtime: std::time::SystemTime| {
            let p = dir.path().join(name);
            let f = File::create(&p).unwrap();
            f.set_modified(mtime).unwrap();
            p
        };
        // A live writer in another pid namespace (a container sharing ~/.aws) has a pid that
        // looks dead here: its fresh temp file must survive; an old one of the same pid goes.
        let fresh = make(format!("t.json.{dead}000000001.tmp"), ago(2));
        let leftover = make(format!("t.json.{dead}000000002.tmp"), ago(120));
        let foreign = make(format!("other.json.{dead}000000001.tmp"), ago(3600));
        write_atomic(&path, &serde_json::json!({"k": 1})).unwrap();
        assert!(fresh.exists(), "a fresh temp file is kept whatever its pid");
        assert!(!leftover.exists(), "a temp file older than a minute is removed");
        assert!(foreign.exists(), "another file's temp files are not touched");
    }

    #[test]
    fn a_writer_removes_only_its_own_files_stale_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let ago = |secs| std::time::SystemTime::now() - Duration::from_secs(secs);
        // Process 1 always runs: only the age tells these apart.
        let make = |name: &str, mtime: std::time::SystemTime| {
            let p = dir.path().join(name);
            let f = File::create(&p).unwrap();
            f.set_modified(mtime).unwrap();
            p
        };
        let old = make("t.json.1000000001.tmp", ago(90));
        let fresh = make("t.json.1000000002.tmp", ago(5));
        let other_file = make("u.json.1000000003.tmp", ago(3600));
        let not_ours = make("t.json.tmp", ago(3600));
        #[cfg(unix)]
        let foreign_user = {
            let p = make("t.json.1000000004.tmp", ago(3600));
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            // SAFETY: a valid C string path; only root may give a file away.
            let given = unsafe { libc::chown(c.as_ptr(), 4242, 4242) } == 0;
            given.then_some(p)
        };
        // The writer cleans up before it creates its own temp file (space on a full disk).
        let pending = prepare_write(&path, 10).unwrap();
        assert!(!old.exists(), "a temp file of this file older than a minute is removed");
        assert!(fresh.exists(), "a fresh one of a live process is kept");
        assert!(other_file.exists() && not_ours.exists(), "other names are never touched");
        #[cfg(unix)]
        if let Some(p) = foreign_user {
            assert!(p.exists(), "another user's file is never touched");
        }
        pending.commit(&serde_json::json!({})).unwrap();
        assert!(fresh.exists());
    }

    #[test]
    fn a_prepared_write_reserves_space_and_cleans_up_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let pending = prepare_write(&path, 1000).unwrap();
        let temps: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(temps.len(), 1);
        assert_eq!(fs::metadata(&temps[0]).unwrap().len(), 1000);
        drop(pending);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "dropped without commit: no temp file");
        prepare_write(&path, 1000).unwrap().commit(&serde_json::json!({"a": "b"})).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"a":"b"}"#, "the reservation is cut off");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn writes_are_refused_in_a_folder_every_user_may_write_to() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        fs::create_dir(&cache).unwrap();
        fs::write(cache.join("t.json"), r#"{"old":1}"#).unwrap();
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
        let err = write_atomic(&cache.join("t.json"), &serde_json::json!({"new": 1})).unwrap_err();
        let text = crate::error::chain(&err);
        assert!(text.contains("refusing to write in") && text.contains("mode 0777"), "{text}");
        assert_eq!(fs::read_to_string(cache.join("t.json")).unwrap(), r#"{"old":1}"#);
        assert_eq!(read_object(&cache.join("t.json")).unwrap().unwrap()["old"], 1, "reading is fine");
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 1, "no temp file was made");
    }

    #[cfg(unix)]
    #[test]
    fn the_rename_replaces_a_symbolic_link_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.json");
        fs::write(&elsewhere, "precious").unwrap();
        let link = dir.path().join("cache/t.json");
        fs::create_dir(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        write_atomic(&link, &serde_json::json!({"k": 1})).unwrap();
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "precious");
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_file());
        assert_eq!(fs::read_to_string(&link).unwrap(), r#"{"k":1}"#);
    }

    #[cfg(unix)]
    pub(crate) fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
    }

    #[cfg(unix)] // its callers make FIFOs, sockets and links to devices
    fn unusable(path: &Path, limit: u64) -> String {
        match read_bounded(path, limit) {
            Err(ReadError::Unusable(why)) => why,
            other => panic!("{}: {other:?}", path.display()),
        }
    }

    #[cfg(unix)]
    #[test]
    fn bounded_reads_refuse_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.json");
        mkfifo(&fifo);
        assert_eq!(unusable(&fifo, 100), "it is a FIFO (named pipe), not a regular file");
        let zero = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert_eq!(unusable(&zero, 100), "it is a device, not a regular file");
        assert_eq!(unusable(dir.path(), 100), "it is a folder, not a regular file");
        let big = dir.path().join("big.json");
        fs::write(&big, vec![b' '; 101]).unwrap();
        assert_eq!(unusable(&big, 100), "it is larger than 100 bytes");
        assert_eq!(size_text(CACHE_FILE_LIMIT), "1 MiB");
        // At the limit, and through a link to a regular file: read.
        fs::write(&big, vec![b' '; 100]).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&big, &link).unwrap();
        assert_eq!(read_bounded(&link, 100).unwrap().unwrap().len(), 100);
        assert!(read_bounded(&dir.path().join("missing"), 100).unwrap().is_none());
        // A socket cannot even be opened.
        let sock = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(unusable(&sock, 100).contains("not a regular file"));
    }

    #[cfg(unix)]
    #[test]
    fn an_unusable_cache_file_is_corrupt_without_the_reread_pause() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("t.json");
        mkfifo(&fifo);
        let err = read_object(&fifo).unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("t.json is not usable: it is a FIFO"), "{err}");
    }

    #[test]
    fn temp_name_does_not_end_in_json() {
        let t = temp_path(Path::new("/x/abc.json"));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("abc.json.") && name.ends_with(".tmp"), "{name}");
    }
}
