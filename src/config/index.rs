//! The config index (docs/config-file.md, "The cache hit's index"): where each section of the config and credentials files starts and
//! ends, so that a cache hit with a config of thousands of profiles reads the few sections it needs
//! instead of reading and checking every line.
//!
//! A run that parses the files for a `Scope::Profiles` without a usable index writes one to
//! `<cache dir>/aws-sso-process/config-index-<sha1 of the two paths>` (0600 in a 0700 folder,
//! atomically, through `cache::prepare_write`). It holds, for each file, the path, device, inode,
//! size, mtime and ctime (in nanoseconds) it was read with, the outcome of the parse (ok, or the
//! exact error, which a later hit returns as it is), and for each profile name (the credentials
//! file: each header) the byte ranges and header lines of its sections, in file order; sso-session
//! and services sections are listed apart, since every hit needs them.
//!
//! A later run opens both files, takes their stamps from the open descriptors (fstat, so what it
//! compares is what it reads), and uses the index only when every stamp matches exactly; then it
//! reads (pread) only the ranges it needs and gives them to the same literal and build passes.
//! Why the stamps tell a changed file: every write to a file, and every change of its mode or times
//! (`touch -d` included), sets its ctime to the current time, and no user can set a ctime back.
//! A file replaced by a rename has another inode. The one gap is a write within the same clock tick
//! as the stamp we took (Linux stamps files with a clock that advances by ticks of a few
//! milliseconds): so, as git does for its index, a run does not write an index for a file whose
//! mtime or ctime is less than `RACY_MARGIN` old; a later edit then always gets a newer ctime.
//!
//! The index is input like any other file: it is read bounded (regular file only, pieces of at
//! most `PIECE_LIMIT`), each part carries a checksum, and every range must lie in the file, start
//! at a line start, end at a line end, and parse into exactly one section of the name the index
//! gives. Any mismatch means the index is ignored and the files are parsed whole (then the index is
//! rewritten). What cannot be checked without reading the whole file (the recorded outcome, the
//! header line numbers, a name missing from the index) is guarded by the checksums against a
//! damaged file only: the index is our own file, 0600 in a folder only we may write to.
//! A folder we cannot write means no index, silently: the hit works as before. Files with a
//! `[DEFAULT]` section (whose keys go into every section of the file) get no index either.

use super::{Config, ConfigError, HeaderAt, Kind, Scope, SectionText, classify_name};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// 02: files with a `[DEFAULT]` section are no longer indexed (an index of 01 may hold one).
const MAGIC: &[u8; 8] = b"ASPCIX02";
/// Files changed less than this long ago are not indexed (see the module comment).
pub const RACY_MARGIN: Duration = Duration::from_secs(2);
/// Below this size (config and credentials together) the files are parsed whole and no index is
/// used: reading a small config costs less than opening and reading an index (measured: a 460-byte
/// config took 0.15 ms longer through the index).
pub const MIN_INDEXED_SIZE: u64 = 64 << 10;
/// The largest piece of an index read at once (its header, one bucket).
const PIECE_LIMIT: u64 = 1 << 20;
/// Names a bucket holds on average, and the most buckets an index has.
const PER_BUCKET: usize = 8;
const MAX_BUCKETS: usize = 1 << 16;
/// The size of one bucket's entry in the directory: offset, length, checksum.
const DIR_ENTRY: u64 = 8 + 4 + 8;
/// Which file an entry belongs to.
const CONFIG: u8 = 0;
const CREDENTIALS: u8 = 1;

/// A file's identity and version as fstat gives it; `None` for a file that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// One section: bytes `start..end` of its file, its header on `line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
    line: u64,
}

/// An opened file (or `None` when it does not exist) and its stamp.
struct Opened {
    file: Option<(File, std::fs::Metadata)>,
    stamp: Option<Stamp>,
}

/// The index file for this pair of files, in `dir`.
pub fn index_path(dir: &Path, config_path: &Path, credentials_path: &Path) -> PathBuf {
    let mut key = path_bytes(config_path);
    key.push(0);
    key.extend(path_bytes(credentials_path));
    dir.join(format!("config-index-{}", crate::cache::sha1_hex(&String::from_utf8_lossy(&key))))
}

fn path_bytes(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    path.to_string_lossy().as_bytes().to_vec()
}

/// `Config::load_scoped(.., Scope::Profiles(names))` through the index at `index`: the same
/// answer, read from the sections it names while it matches the files, else from the whole files
/// (and then the index is rewritten when the files are old enough, see `RACY_MARGIN`).
pub fn load(
    config_path: &Path,
    credentials_path: &Path,
    names: &[&str],
    index: &Path,
    margin: Duration,
    min_size: u64,
) -> Result<Config, ConfigError> {
    let now = SystemTime::now();
    let (Some(config), Some(credentials)) = (open(config_path), open(credentials_path)) else {
        // Not a regular file, too large, unreadable: the plain load says which, with its error.
        return Config::load_scoped(config_path, credentials_path, Scope::Profiles(names));
    };
    let paths = [config_path, credentials_path];
    let stamps = [config.stamp, credentials.stamp];
    let size: u64 = stamps.iter().flatten().map(|s| s.size).sum();
    if size >= min_size
        && let Some(answer) = from_index(index, paths, stamps, [&config, &credentials], names)
    {
        return answer;
    }
    let read = |opened: Opened, path: &Path| match opened.file {
        Some((file, meta)) => crate::cache::read_opened(file, &meta, crate::cache::SETTINGS_FILE_LIMIT)
            .map_err(|e| ConfigError::Io { path: path.to_path_buf(), source: e.into_io() }),
        None => Ok(Vec::new()),
    };
    let config_bytes = read(config, config_path)?;
    let credentials_bytes = read(credentials, credentials_path)?;
    let mut layouts = [Vec::new(), Vec::new()];
    let answer = Config::parse_bytes_laid_out(
        config_path,
        &config_bytes,
        credentials_path,
        &credentials_bytes,
        Scope::Profiles(names),
        &mut layouts,
    );
    if size < min_size {
        return answer;
    }
    let settled = |s: &Option<Stamp>| {
        s.is_none_or(|s| [s.mtime, s.ctime].iter().all(|&(sec, ns)| older_than(now, sec, ns, margin)))
    };
    if stamps.iter().all(settled) {
        let outcome = match &answer {
            Ok(_) => Some(None),
            Err(ConfigError::Parse { path, line, message }) => {
                let file = if path == config_path { CONFIG } else { CREDENTIALS };
                Some(Some((file, *line as u64, message.as_str())))
            }
            Err(_) => None,
        };
        if let Some(outcome) = outcome {
            let texts = [config_bytes.len() as u64, credentials_bytes.len() as u64];
            let bytes = encode(paths, stamps, outcome, &layouts, texts);
            // No folder, not ours, full disk: no index, and nothing to say on the hit path.
            if !bytes.is_empty() {
                let _ = crate::cache::write_bytes_atomic(index, &bytes);
            }
        }
    }
    answer
}

/// Whether the time `sec.ns` is more than `margin` before `now` (a time in the future is not).
fn older_than(now: SystemTime, sec: i64, ns: i64, margin: Duration) -> bool {
    let Ok(since) = now.duration_since(SystemTime::UNIX_EPOCH) else { return false };
    let Ok(ns) = u32::try_from(ns) else { return false };
    let Ok(sec) = u64::try_from(sec) else { return true };
    since.checked_sub(margin).is_some_and(|limit| Duration::new(sec, ns.min(999_999_999)) < limit)
}

fn open(path: &Path) -> Option<Opened> {
    match crate::cache::open_bounded(path, crate::cache::SETTINGS_FILE_LIMIT) {
        Ok(Some((file, meta))) => {
            let stamp = stamp_of(&meta)?;
            Some(Opened { file: Some((file, meta)), stamp: Some(stamp) })
        }
        Ok(None) => Some(Opened { file: None, stamp: None }),
        Err(_) => None,
    }
}

#[cfg(unix)]
fn stamp_of(meta: &std::fs::Metadata) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    Some(Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ctime: (meta.ctime(), meta.ctime_nsec()),
    })
}

/// Without a ctime, a file's version cannot be told: no index.
#[cfg(not(unix))]
fn stamp_of(_meta: &std::fs::Metadata) -> Option<Stamp> {
    None
}

// ---------------------------------------------------------------------------------------------------
// The file format: little-endian integers, length-prefixed byte strings.
//
//   magic (8) | header length u32 | header checksum u64 | header | directory | buckets
//   header:    per file (config, credentials): present u8, dev, ino, size u64, mtime s/ns, ctime s/ns
//              i64, path; outcome u8 (0 ok, 1 error: file u8, line u64, message); the config's
//              sso-session and services ranges (count u32, then start, end, line u64 each);
//              bucket count u32, directory offset u64
//   directory: per bucket: offset u64, length u32, checksum u64
//   bucket:    entries: file u8, name, count u32, then start, end, line u64 each

/// FNV-1a, 64 bits: a stable hash (the index outlives the process), for buckets and checksums.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn bucket_of(file: u8, name: &str, buckets: usize) -> usize {
    (fnv(&[&[file], name.as_bytes()]) % buckets.max(1) as u64) as usize
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}
fn put_ranges(out: &mut Vec<u8>, ranges: &[Range]) {
    put_u32(out, ranges.len() as u32);
    for r in ranges {
        put_u64(out, r.start);
        put_u64(out, r.end);
        put_u64(out, r.line);
    }
}

/// The ranges of a file's sections from the headers the literal pass saw: each runs to the next
/// header's line, the last to the end of the file.
fn ranges<'a, 't>(headers: &'a [HeaderAt<'t>], len: u64) -> impl Iterator<Item = (&'t str, Range)> + 'a {
    headers.iter().enumerate().map(move |(i, h)| {
        let end = headers.get(i + 1).map_or(len, |next| next.offset as u64);
        (h.header, Range { start: h.offset as u64, end, line: h.line as u64 })
    })
}

fn encode(
    paths: [&Path; 2],
    stamps: [Option<Stamp>; 2],
    outcome: Option<(u8, u64, &str)>,
    layouts: &[Vec<HeaderAt<'_>>; 2],
    lens: [u64; 2],
) -> Vec<u8> {
    // Named entries: (file, name) -> ranges in file order.
    let mut named: Vec<((u8, String), Vec<Range>)> = Vec::new();
    let mut at: std::collections::HashMap<(u8, String), usize> = std::collections::HashMap::new();
    let mut always = Vec::new();
    // A `[DEFAULT]` section's keys go into every section of its file, so a section cannot be read
    // on its own: such files get no index (nothing, which no lookup takes for one).
    if layouts.iter().flatten().any(|h| h.header == super::ini::DEFAULT_SECTION) {
        return Vec::new();
    }
    if outcome.is_none() {
        let mut add = |key: (u8, String), range: Range| match at.get(&key) {
            Some(&i) => named[i].1.push(range),
            None => {
                at.insert(key.clone(), named.len());
                named.push((key, vec![range]));
            }
        };
        for (header, range) in ranges(&layouts[0], lens[0]) {
            match classify_name(header) {
                Some((Kind::Profile, name)) => add((CONFIG, name.into_owned()), range),
                Some(_) => always.push(range),
                None => {}
            }
        }
        for (header, range) in ranges(&layouts[1], lens[1]) {
            add((CREDENTIALS, header.to_string()), range);
        }
    }
    let buckets = named.len().div_ceil(PER_BUCKET).clamp(1, MAX_BUCKETS);
    let mut by_bucket: Vec<Vec<u8>> = vec![Vec::new(); buckets];
    for ((file, name), ranges) in &named {
        let out = &mut by_bucket[bucket_of(*file, name, buckets)];
        out.push(*file);
        put_bytes(out, name.as_bytes());
        put_ranges(out, ranges);
    }

    let mut header = Vec::new();
    for (path, stamp) in paths.iter().zip(stamps) {
        let s = stamp.unwrap_or_default();
        header.push(u8::from(stamp.is_some()));
        for v in [s.dev, s.ino, s.size] {
            put_u64(&mut header, v);
        }
        for v in [s.mtime.0, s.mtime.1, s.ctime.0, s.ctime.1] {
            put_u64(&mut header, v as u64);
        }
        put_bytes(&mut header, &path_bytes(path));
    }
    match outcome {
        None => header.push(0),
        Some((file, line, message)) => {
            header.push(1);
            header.push(file);
            put_u64(&mut header, line);
            put_bytes(&mut header, message.as_bytes());
        }
    }
    put_ranges(&mut header, &always);
    put_u32(&mut header, buckets as u32);
    let dir_offset = (MAGIC.len() + 4 + 8 + header.len() + 8) as u64;
    put_u64(&mut header, dir_offset);

    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, header.len() as u32);
    put_u64(&mut out, fnv(&[&header]));
    out.extend_from_slice(&header);
    let mut offset = dir_offset + DIR_ENTRY * buckets as u64;
    for bucket in &by_bucket {
        put_u64(&mut out, offset);
        put_u32(&mut out, bucket.len() as u32);
        put_u64(&mut out, fnv(&[bucket]));
        offset += bucket.len() as u64;
    }
    for bucket in &by_bucket {
        out.extend_from_slice(bucket);
    }
    out
}

/// Reads what `encode` wrote, every read checked against the end of its piece.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let piece = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(piece)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&[u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn ranges(&mut self) -> Option<Vec<Range>> {
        let n = self.u32()? as usize;
        // Each range takes 24 bytes: a count larger than what is left is a lie.
        if n > self.bytes.len().saturating_sub(self.at) / 24 {
            return None;
        }
        (0..n).map(|_| Some(Range { start: self.u64()?, end: self.u64()?, line: self.u64()? })).collect()
    }
}

/// `pread` of exactly `len` bytes at `offset`, or `None`.
fn read_at(file: &File, offset: u64, len: u64) -> Option<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; usize::try_from(len).ok()?];
        file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    }
    #[cfg(not(unix))]
    {
        let _ = (file, offset, len);
        None
    }
}

/// The answer from the index, or `None` when the index is missing, stale or not to be trusted.
fn from_index(
    index: &Path,
    paths: [&Path; 2],
    stamps: [Option<Stamp>; 2],
    opened: [&Opened; 2],
    names: &[&str],
) -> Option<Result<Config, ConfigError>> {
    let (file, meta) = crate::cache::open_bounded(index, u64::MAX).ok()??;
    // Only an index of our own that nobody else may have written: owned by this user, writable by
    // nobody else (we write it 0600 in a folder of our own; anything else was not written by us).
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } || meta.mode() & 0o022 != 0 {
            return None;
        }
    }
    let size = meta.len();
    let head = read_at(&file, 0, (MAGIC.len() + 12) as u64)?;
    if head.get(..MAGIC.len())? != MAGIC {
        return None;
    }
    let mut r = Reader { bytes: &head, at: MAGIC.len() };
    let header_len = u64::from(r.u32()?);
    let checksum = r.u64()?;
    if header_len > PIECE_LIMIT || head.len() as u64 + header_len > size {
        return None;
    }
    let header = read_at(&file, head.len() as u64, header_len)?;
    if fnv(&[&header]) != checksum {
        return None;
    }
    let mut r = Reader { bytes: &header, at: 0 };
    for (path, stamp) in paths.iter().zip(stamps) {
        let present = r.u8()? == 1;
        let mut s = Stamp { dev: r.u64()?, ino: r.u64()?, size: r.u64()?, ..Stamp::default() };
        s.mtime = (r.u64()? as i64, r.u64()? as i64);
        s.ctime = (r.u64()? as i64, r.u64()? as i64);
        let recorded = if present { Some(s) } else { None };
        if recorded != stamp || r.bytes()? != path_bytes(path).as_slice() {
            return None;
        }
    }
    match r.u8()? {
        0 => {}
        1 => {
            let which = r.u8()?;
            let line = usize::try_from(r.u64()?).ok()?;
            let message = std::str::from_utf8(r.bytes()?).ok()?.to_owned();
            let path = paths.get(usize::from(which))?.to_path_buf();
            return Some(Err(ConfigError::Parse { path, line, message }));
        }
        _ => return None,
    }
    // The sso-session and services ranges carry no name; profile ranges carry theirs.
    let mut config_ranges: Vec<(Range, Option<&str>)> = r.ranges()?.into_iter().map(|r| (r, None)).collect();
    let buckets = r.u32()? as usize;
    let dir_offset = r.u64()?;
    if buckets == 0 || buckets > MAX_BUCKETS || r.at != header.len() {
        return None;
    }
    let mut credentials_ranges: Vec<(Range, Option<&str>)> = Vec::new();
    for name in names {
        for (which, ranges) in [(CONFIG, &mut config_ranges), (CREDENTIALS, &mut credentials_ranges)] {
            let slot = dir_offset.checked_add(DIR_ENTRY * bucket_of(which, name, buckets) as u64)?;
            if slot.checked_add(DIR_ENTRY)? > size {
                return None;
            }
            let entry = read_at(&file, slot, DIR_ENTRY)?;
            let mut e = Reader { bytes: &entry, at: 0 };
            let (offset, len, checksum) = (e.u64()?, u64::from(e.u32()?), e.u64()?);
            if len > PIECE_LIMIT || offset.checked_add(len)? > size {
                return None;
            }
            let bucket = read_at(&file, offset, len)?;
            if fnv(&[&bucket]) != checksum {
                return None;
            }
            let mut b = Reader { bytes: &bucket, at: 0 };
            while b.at < bucket.len() {
                let (file_of, entry_name) = (b.u8()?, b.bytes()?.to_vec());
                let found = b.ranges()?;
                if file_of == which && entry_name == name.as_bytes() {
                    ranges.extend(found.into_iter().map(|r| (r, Some(*name))));
                }
            }
        }
    }
    let texts = [
        read_sections(opened[0], stamps[0], &mut config_ranges)?,
        read_sections(opened[1], stamps[1], &mut credentials_ranges)?,
    ];
    let config_sections = section_texts(&texts[0], &config_ranges)?;
    let credentials_sections = section_texts(&texts[1], &credentials_ranges)?;
    Config::from_sections(paths, [&config_sections, &credentials_sections], names).map(Ok)
}

fn section_texts<'a>(texts: &'a [String], ranges: &[(Range, Option<&'a str>)]) -> Option<Vec<SectionText<'a>>> {
    texts
        .iter()
        .zip(ranges)
        .map(|(text, (range, name))| Some(SectionText { text, line: usize::try_from(range.line).ok()?, name: *name }))
        .collect()
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// The text of each range, in file order (duplicates dropped), each checked to lie in the file,
/// after the one before, and to run from a line start to a line start (or the end); `None` if not.
fn read_sections(
    opened: &Opened,
    stamp: Option<Stamp>,
    ranges: &mut Vec<(Range, Option<&str>)>,
) -> Option<Vec<String>> {
    ranges.sort_by_key(|(r, _)| r.start);
    ranges.dedup_by_key(|(r, _)| r.start);
    if ranges.is_empty() {
        return Some(Vec::new());
    }
    let (file, _) = opened.file.as_ref()?;
    let size = stamp?.size;
    let (mut total, mut prev_end) = (0u64, 0u64);
    let mut texts = Vec::with_capacity(ranges.len());
    for (r, _) in ranges.iter() {
        if r.start >= r.end || r.end > size || r.start < prev_end || r.line == 0 {
            return None;
        }
        prev_end = r.end;
        total += r.end - r.start;
        if total > crate::cache::SETTINGS_FILE_LIMIT {
            return None;
        }
        // One byte either side, to see the line breaks around the range.
        let from = r.start.saturating_sub(1);
        let to = r.end.saturating_add(1).min(size);
        let bytes = read_at(file, from, to - from)?;
        let (body_start, body_end) = (usize::try_from(r.start - from).ok()?, usize::try_from(r.end - from).ok()?);
        let body = bytes.get(body_start..body_end)?;
        let starts_line = match (r.start, bytes.first()) {
            (0, _) => true,
            (_, Some(b'\n')) => true,
            (_, Some(b'\r')) => body.first() != Some(&b'\n'),
            (3, _) => read_at(file, 0, 3)?.as_slice() == BOM,
            _ => false,
        };
        let ends_line = r.end == size
            || match body.last() {
                Some(b'\n') => true,
                Some(b'\r') => bytes.get(body_end) != Some(&b'\n'),
                _ => false,
            };
        if !starts_line || !ends_line {
            return None;
        }
        texts.push(String::from_utf8(body.to_vec()).ok()?);
    }
    Some(texts)
}

#[cfg(all(test, unix))]
mod tests {
    use super::super::tests::{NAMES, Rng, answer, random_file};
    use super::*;
    use std::fs;

    struct Files {
        _dir: tempfile::TempDir,
        config: PathBuf,
        credentials: PathBuf,
        index: PathBuf,
    }

    fn files() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let credentials = dir.path().join("credentials");
        let index = index_path(&dir.path().join("cache/aws-sso-process"), &config, &credentials);
        Files { _dir: dir, config, credentials, index }
    }

    fn shown(r: &Result<Config, ConfigError>, names: &[&str]) -> String {
        match r {
            Ok(c) => {
                let profiles: Vec<String> = names.iter().map(|n| answer(c, n)).collect();
                format!("{profiles:?} {:?} {:?}", c.sso_sessions, c.services)
            }
            Err(e) => format!("error {e} / {:?}", e.hint()),
        }
    }

    fn whole(f: &Files, names: &[&str]) -> String {
        shown(&Config::load(&f.config, &f.credentials), names)
    }

    fn indexed(f: &Files, names: &[&str]) -> String {
        shown(&load(&f.config, &f.credentials, names, &f.index, Duration::ZERO, 0), names)
    }

    /// Whether the index at `f.index` answers for these files now.
    fn index_answers(f: &Files, names: &[&str]) -> bool {
        let (config, credentials) = (open(&f.config).unwrap(), open(&f.credentials).unwrap());
        let stamps = [config.stamp, credentials.stamp];
        from_index(&f.index, [&f.config, &f.credentials], stamps, [&config, &credentials], names).is_some()
    }

    #[test]
    fn the_index_answers_as_the_whole_parse() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut hits, mut eligible) = (0, 300);
        for case in 0..300 {
            let f = files();
            fs::write(&f.config, random_file(&mut rng, false)).unwrap();
            if rng.chance(50) {
                fs::write(&f.credentials, random_file(&mut rng, true)).unwrap();
            }
            let names: Vec<&str> = (0..1 + rng.below(2)).map(|_| rng.pick(&NAMES)).collect();
            let expected = whole(&f, &names);
            let context = format!("case {case} {names:?}\n{:?}", fs::read_to_string(&f.config).unwrap());
            assert_eq!(indexed(&f, &names), expected, "miss: {context}");
            // Files with a [DEFAULT] section get no index (but for an error found before it).
            let text = fs::read_to_string(&f.config).unwrap() + &fs::read_to_string(&f.credentials).unwrap_or_default();
            let defaults = text.contains("[DEFAULT]");
            eligible -= usize::from(defaults);
            hits += usize::from(index_answers(&f, &names));
            assert_eq!(indexed(&f, &names), expected, "hit: {context}");
            // Other names through the same index.
            for other in NAMES {
                assert_eq!(indexed(&f, &[other]), whole(&f, &[other]), "{other}: {context}");
            }
        }
        assert!(hits + 20 > eligible && eligible > 250, "{hits} of {eligible} indexes answered");
    }

    #[test]
    fn an_edit_that_keeps_size_and_mtime_is_noticed_by_its_ctime() {
        let f = files();
        fs::write(&f.config, "[sso-session corp]\nsso_start_url = https://a.awsapps.com/start\nsso_region = us-east-1\n[profile dev]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = R\n").unwrap();
        let before = whole(&f, &["dev"]);
        assert_eq!(indexed(&f, &["dev"]), before);
        assert!(index_answers(&f, &["dev"]));
        let mtime = fs::metadata(&f.config).unwrap().modified().unwrap();
        // Past any clock tick, so the ctime of the edit differs.
        std::thread::sleep(Duration::from_millis(50));
        let text = fs::read_to_string(&f.config).unwrap().replace("111111111111", "222222222222");
        fs::write(&f.config, &text).unwrap();
        let file = fs::OpenOptions::new().write(true).open(&f.config).unwrap();
        file.set_times(fs::FileTimes::new().set_modified(mtime)).unwrap(); // touch -d
        drop(file);
        let meta = fs::metadata(&f.config).unwrap();
        assert_eq!((meta.len(), meta.modified().unwrap()), (text.len() as u64, mtime), "same size and mtime");
        assert!(!index_answers(&f, &["dev"]), "the ctime changed");
        let after = indexed(&f, &["dev"]);
        assert!(after.contains("222222222222") && after == whole(&f, &["dev"]), "{after}");
    }

    #[test]
    fn a_file_with_defaults_gets_no_index_and_the_same_answer() {
        let f = files();
        fs::write(&f.config, "[profile dev]\nsso_account_id = 1\n[profile other]\n[DEFAULT]\nsso_role_name = R\n")
            .unwrap();
        let expected = whole(&f, &["dev"]);
        assert!(expected.contains("sso_role_name"), "{expected}");
        assert_eq!(indexed(&f, &["dev"]), expected);
        assert!(!f.index.exists(), "no index for a file with [DEFAULT]");
        assert_eq!(indexed(&f, &["dev"]), expected);
    }

    #[test]
    fn a_swapped_file_of_the_same_size_and_mtime_is_noticed() {
        let f = files();
        let a = "[profile dev]\nsso_account_id = 1\n";
        let b = "[profile dev]\nsso_account_id = 2\n";
        fs::write(&f.config, a).unwrap();
        assert_eq!(indexed(&f, &["dev"]), whole(&f, &["dev"]));
        let mtime = fs::metadata(&f.config).unwrap().modified().unwrap();
        let other = f.config.with_file_name("other");
        fs::write(&other, b).unwrap();
        fs::File::options()
            .write(true)
            .open(&other)
            .unwrap()
            .set_times(fs::FileTimes::new().set_modified(mtime))
            .unwrap();
        fs::rename(&other, &f.config).unwrap();
        let after = indexed(&f, &["dev"]);
        assert!(after.contains("\"2\"") || after.contains("sso_account_id"), "{after}");
        assert_eq!(after, whole(&f, &["dev"]));
    }

    #[test]
    fn a_small_config_is_not_indexed() {
        let f = files();
        fs::write(&f.config, "[profile dev]\nregion = x\n").unwrap();
        let answer = load(&f.config, &f.credentials, &["dev"], &f.index, Duration::ZERO, MIN_INDEXED_SIZE);
        assert_eq!(shown(&answer, &["dev"]), whole(&f, &["dev"]));
        assert!(!f.index.exists());
    }

    #[test]
    fn a_fresh_file_is_not_indexed() {
        let f = files();
        fs::write(&f.config, "[profile dev]\nregion = x\n").unwrap();
        let answer = load(&f.config, &f.credentials, &["dev"], &f.index, RACY_MARGIN, 0);
        assert_eq!(shown(&answer, &["dev"]), whole(&f, &["dev"]));
        assert!(!f.index.exists(), "changed less than RACY_MARGIN ago");
    }

    #[test]
    fn errors_come_back_from_the_index_as_they_were() {
        let f = files();
        fs::write(&f.config, "[profile dev]\nregion = x\n").unwrap();
        fs::write(&f.credentials, "[dev]\nregion = x\nREGION = y\n").unwrap();
        let expected = whole(&f, &["dev"]);
        assert!(expected.contains("credentials:3: duplicate key"), "{expected}");
        assert_eq!(indexed(&f, &["dev"]), expected);
        assert!(index_answers(&f, &["dev"]));
        assert_eq!(indexed(&f, &["dev"]), expected);
    }

    /// An index whose checksums are right but whose ranges and lines point elsewhere: the answer
    /// is still the whole parse's (the ranges are checked against what they hold).
    #[test]
    fn ranges_pointing_elsewhere_never_change_an_answer() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut used = 0;
        for case in 0..300 {
            let f = files();
            let config = random_file(&mut rng, false);
            let credentials = random_file(&mut rng, true);
            fs::write(&f.config, &config).unwrap();
            fs::write(&f.credentials, &credentials).unwrap();
            let names: Vec<&str> = vec![rng.pick(&NAMES)];
            let expected = whole(&f, &names);
            let mut layouts = [Vec::new(), Vec::new()];
            let parsed = Config::parse_bytes_laid_out(
                &f.config,
                config.as_bytes(),
                &f.credentials,
                credentials.as_bytes(),
                Scope::All,
                &mut layouts,
            );
            if parsed.is_err() {
                continue;
            }
            for layout in &mut layouts {
                if layout.is_empty() {
                    continue;
                }
                let i = rng.below(layout.len());
                // Not the line numbers alone: those only the checksum guards (see the module comment).
                match rng.below(3) {
                    0 => layout[i].offset = (layout[i].offset + 1 + rng.below(30)).min(config.len().max(1) - 1),
                    1 => layout[i].offset = layout[i].offset.saturating_sub(1 + rng.below(30)),
                    _ => {
                        let j = rng.below(layout.len());
                        let (a, b) = (layout[i].offset, layout[j].offset);
                        layout[i].offset = b;
                        layout[j].offset = a;
                    }
                }
            }
            let (config_open, credentials_open) = (open(&f.config).unwrap(), open(&f.credentials).unwrap());
            let stamps = [config_open.stamp, credentials_open.stamp];
            let lens = [config.len() as u64, credentials.len() as u64];
            let bytes = encode([&f.config, &f.credentials], stamps, None, &layouts, lens);
            crate::cache::write_bytes_atomic(&f.index, &bytes).unwrap();
            used += usize::from(index_answers(&f, &names));
            let got = shown(&load(&f.config, &f.credentials, &names, &f.index, Duration::MAX, 0), &names);
            assert_eq!(got, expected, "case {case} {names:?}\n{config:?}\n{credentials:?}");
        }
        assert!(used < 300, "{used}");
    }

    /// An index that others may have written (group- or world-writable) is not used.
    #[test]
    #[cfg(unix)]
    fn an_index_others_may_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let f = files();
        let mut config = String::new();
        for i in 0..20 {
            config.push_str(&format!("[profile p{i}]\nregion = r{i}\n"));
        }
        fs::write(&f.config, &config).unwrap();
        fs::write(&f.credentials, "").unwrap();
        let names = ["p3"];
        assert_eq!(indexed(&f, &names), whole(&f, &names), "the first run writes the index");
        assert!(index_answers(&f, &names), "an index of our own, 0600, is used");
        fs::set_permissions(&f.index, fs::Permissions::from_mode(0o622)).unwrap();
        assert!(!index_answers(&f, &names), "a group- or world-writable index is not");
    }

    #[test]
    fn a_fifo_a_huge_file_or_garbage_at_the_index_path_is_ignored() {
        let f = files();
        fs::write(&f.config, "[profile dev]\nregion = x\n").unwrap();
        let expected = whole(&f, &["dev"]);
        fs::create_dir_all(f.index.parent().unwrap()).unwrap();
        let fifo = std::ffi::CString::new(f.index.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo has no other preconditions.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert_eq!(indexed(&f, &["dev"]), expected, "a FIFO: no hang, no change");
        assert!(index_answers(&f, &["dev"]), "the FIFO was replaced by an index");
        let huge = fs::File::create(&f.index).unwrap();
        huge.set_len(8 << 30).unwrap(); // sparse
        drop(huge);
        assert_eq!(indexed(&f, &["dev"]), expected);
        let mut rng = Rng(7);
        let good = fs::read(&f.index).unwrap();
        for _ in 0..200 {
            let mut bad = good.clone();
            match rng.below(3) {
                0 => bad.truncate(rng.below(good.len())),
                1 => {
                    let i = rng.below(bad.len());
                    bad[i] ^= 1 << rng.below(8);
                }
                _ => bad = (0..rng.below(5000)).map(|_| rng.below(256) as u8).collect(),
            }
            fs::write(&f.index, &bad).unwrap();
            let got = shown(&load(&f.config, &f.credentials, &["dev"], &f.index, Duration::MAX, 0), &["dev"]);
            assert_eq!(got, expected);
        }
    }
}
