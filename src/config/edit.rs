//! Editing `~/.aws/config` without losing a byte of it: sections found, removed or given a new
//! `region` line in the text, and the one way a change reaches the file (`replace`): the new text is
//! read back with our own parser and must hold every section the old one had with exactly its keys
//! and values (but those removed or changed on purpose) and besides them only the sections added;
//! then a backup, a check that nobody changed the file meanwhile, and an atomic replace with the
//! file's mode. Pure text and file work: `generate` decides what changes and says so
//! (docs/configure-generate.md, "What the tool checks before printing or writing").

use super::{Config, Values};
use crate::cache;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A name or header as messages show it: at most 64 characters (and `…`).
pub fn clip(s: &str) -> String {
    if s.chars().count() > 64 { s.chars().take(64).collect::<String>() + "…" } else { s.to_owned() }
}

/// A generated profile to remove.
#[derive(Debug)]
pub struct Removal {
    pub profile: String,
    pub account: String,
    pub role: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Profile,
    SsoSession,
}

/// A section as our parser must read it back.
#[derive(Debug)]
pub struct Expected {
    pub kind: Kind,
    pub name: String,
    pub values: Values,
}

impl Expected {
    pub fn header(&self) -> String {
        match self.kind {
            Kind::Profile => format!("profile {}", self.name),
            Kind::SsoSession => format!("sso-session {}", self.name),
        }
    }
}

/// Where the section of profile `profile` is in `lines`: its header's index, and the index after
/// its last line (the next header, or the end).
pub fn section_span(lines: &[&str], profile: &str) -> Option<(usize, usize)> {
    // The reader's own header rule (`[default]` too), so the edit is of the section it reads.
    let start = (0..lines.len()).find(|&i| super::heads_section(lines[i], true, profile))?;
    let end = (start + 1..lines.len()).find(|&i| super::is_header_line(lines[i])).unwrap_or(lines.len());
    Some((start, end))
}

/// `text` with the `region` line of profile `profile` set to `region` (its line ending kept), or
/// one added after the header when it has none.
pub fn set_region(text: &str, profile: &str, region: &str, eol: &str) -> Result<String, String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let Some((start, end)) = section_span(&refs, profile) else {
        return Err(format!("the section of profile {} was not found", clip(profile)));
    };
    let key_of = |line: &str| {
        // A key line starts unindented (indented lines continue a value).
        let key = line.split(['=', ':']).next().unwrap_or("");
        (!line.starts_with([' ', '\t']) && line.contains(['=', ':'])).then(|| key.trim().to_ascii_lowercase())
    };
    match (start + 1..end).find(|&i| key_of(&lines[i]).as_deref() == Some("region")) {
        Some(i) => {
            let ending = &lines[i][lines[i].trim_end_matches(['\r', '\n']).len()..];
            lines[i] = format!("region = {region}{ending}");
        }
        None => {
            if !lines[start].ends_with('\n') {
                lines[start].push_str(eol);
            }
            lines.insert(start + 1, format!("region = {region}{eol}"));
        }
    }
    Ok(lines.concat())
}

/// `text` without the sections of the profiles in `gone`, and the headers removed (as written).
/// A section runs from its header to its last key before the next header; the comment line above
/// goes too when it is the one `block` wrote for that account and role, and so does one blank line.
pub fn remove_profiles(text: &str, gone: &[Removal]) -> Result<(String, HashSet<String>), String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare = |i: usize| lines[i].trim();
    let mut drop = vec![false; lines.len()];
    let mut headers = HashSet::new();
    let mut spans = Vec::new();
    for r in gone {
        let Some((start, next)) = section_span(&lines, &r.profile) else {
            return Err(format!("the section of profile {} was not found", clip(&r.profile)));
        };
        headers.insert(bare(start)[1..].rsplit_once(']').map(|(h, _)| h.to_owned()).unwrap_or_default());
        let mut end = next;
        while end > start + 1 && (bare(end - 1).is_empty() || bare(end - 1).starts_with(['#', ';'])) {
            end -= 1;
        }
        let mut first = start;
        let comment = format!("({}), role {}", r.account, r.role);
        if first > 0 && bare(first - 1).starts_with("# ") && bare(first - 1).ends_with(&comment) {
            first -= 1;
        }
        spans.push((first, end));
    }
    // One blank line goes with each block: the one before it (blocks are appended after one),
    // else the one after, never one another block took.
    spans.sort();
    for (mut first, mut end) in spans {
        if first > 0 && bare(first - 1).is_empty() && !drop[first - 1] {
            first -= 1;
        } else if end < lines.len() && bare(end).is_empty() {
            end += 1;
        }
        drop[first..end].iter_mut().for_each(|d| *d = true);
    }
    let kept: String = lines.iter().zip(&drop).filter(|(_, d)| !**d).map(|(l, _)| *l).collect();
    Ok((kept, headers))
}

/// What a change may do to a config: `new`, read with our own parser, holds every section of
/// `old` with exactly its keys and values, except the `removed` headers, which are gone; and
/// besides them only the sections of `added`, each with exactly its keys and values and read as
/// that profile or sso-session. The reason otherwise.
pub fn verify(path: &Path, old: &str, new: &str, added: &[&Expected], removed: &HashSet<String>) -> Result<(), String> {
    verify_change(path, old, new, added, removed, &HashSet::new())
}

/// `verify`, where the sections of `old` named in `changed` must hold the keys and values of their
/// entry in `added` instead of their old ones.
pub fn verify_change(
    path: &Path,
    old: &str,
    new: &str,
    added: &[&Expected],
    removed: &HashSet<String>,
    changed: &HashSet<String>,
) -> Result<(), String> {
    let old_sections = super::sections(path, old).map_err(|e| crate::sanitize::chain(&e))?;
    let mut new_sections: HashMap<String, Values> = super::sections(path, new)
        .map_err(|e| format!("the new text would not parse ({})", crate::sanitize::chain(&e)))?
        .into_iter()
        .collect();
    for (header, values) in old_sections {
        if changed.contains(&header) && added.iter().any(|p| p.header() == header) {
            continue;
        }
        match new_sections.remove(&header) {
            Some(_) if removed.contains(&header) => return Err(format!("section [{}] would stay", clip(&header))),
            None if removed.contains(&header) => {}
            None => return Err(format!("section [{}] would be lost", clip(&header))),
            Some(now) if now != values => return Err(format!("section [{}] would change", clip(&header))),
            Some(_) => {}
        }
    }
    for p in added {
        let header = p.header();
        match new_sections.remove(&header) {
            None => return Err(format!("section [{}] would be missing", clip(&header))),
            Some(now) if now != p.values => {
                return Err(format!("section [{}] would hold other keys or values", clip(&header)));
            }
            Some(_) => {}
        }
    }
    if let Some(header) = new_sections.keys().min() {
        return Err(format!("section [{}] would be added", clip(header)));
    }
    let parsed = Config::parse(path, new, Path::new(""), "").map_err(|e| crate::sanitize::chain(&e))?;
    let read_as = |p: &Expected| match p.kind {
        Kind::Profile => parsed.profile(&p.name).map(|s| &s.values),
        Kind::SsoSession => parsed.sso_sessions.get(&p.name).map(|s| &s.values),
    };
    match added.iter().find(|p| read_as(p) != Some(&p.values)) {
        Some(p) => Err(format!("section [{}] would not be read as that section", clip(&p.header()))),
        None => Ok(()),
    }
}

/// Why `replace` wrote nothing.
#[derive(Debug)]
pub enum EditError {
    /// The new text breaks a rule (`verify`, the size limit, UTF-8): the reason.
    Refused(String),
    /// The file no longer holds the bytes the change was made from.
    Changed,
    /// The file could not be read again.
    Read(cache::ReadError),
    /// The backup or the new file could not be written.
    Write(cache::CacheError),
}

/// Replaces the config at `path`, whose bytes were `old`, with `text`: only when `verify` passes
/// and the file still holds `old`, after a copy of `old` went to `<config>.bak` when `backup`
/// (returned; none for an empty file). On any error the file is untouched.
pub fn replace(
    path: &Path,
    old: &[u8],
    text: &[u8],
    (added, changed): (&[&Expected], &HashSet<String>),
    removed: &HashSet<String>,
    backup: bool,
) -> Result<Option<PathBuf>, EditError> {
    let refuse = EditError::Refused;
    // Never a file this tool (and its cache hit) would refuse to read.
    if text.len() as u64 > cache::SETTINGS_FILE_LIMIT {
        return Err(refuse(format!(
            "the new file would be {} bytes, more than the {} MiB this tool reads",
            text.len(),
            cache::SETTINGS_FILE_LIMIT >> 20
        )));
    }
    let old_text = std::str::from_utf8(old).map_err(|_| refuse("it is not UTF-8".into()))?;
    let new_text = std::str::from_utf8(text).map_err(|_| refuse("the new text would not be UTF-8".into()))?;
    verify_change(path, old_text, new_text, added, removed, changed).map_err(refuse)?;

    let mode = cache::file_mode(path);
    let backup = (backup && !old.is_empty()).then(|| backup_path(path));
    if let Some(backup) = &backup {
        cache::write_bytes_atomic_mode(backup, old, mode).map_err(EditError::Write)?;
    }
    // Another program may have changed the file since we read it: then write nothing.
    let now = cache::read_bounded(path, cache::SETTINGS_FILE_LIMIT).map_err(EditError::Read)?;
    if now.unwrap_or_default() != old {
        return Err(EditError::Changed);
    }
    cache::write_bytes_atomic_mode(path, text, mode.or(Some(0o600))).map_err(EditError::Write)?;
    Ok(backup)
}

/// `<config>.bak` next to the file.
fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".bak");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The editor finds a profile's section by the reader's rule: `[default]`, a BOM before the
    /// first header, botocore's unchecked first word (`[profilex dev]` is read as profile dev), no
    /// trimming inside the brackets; and a section ends at the next line the reader takes for a header.
    #[test]
    fn sections_are_found_by_the_readers_header_rule() {
        let span = |text: &str, profile: &str| {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            section_span(&lines, profile)
        };
        assert_eq!(span("[ profile dev ]\nregion = a\n[profile dev]\nregion = b\n", "dev"), Some((2, 4)));
        assert_eq!(span("[ profile dev ]\nregion = a\n", "dev"), None);
        assert_eq!(span("\u{feff}[profile dev]\nregion = a\n", "dev"), Some((0, 2)));
        assert_eq!(span("[default]\nregion = a\n[profile x]\n", "default"), Some((0, 2)));
        assert_eq!(span("[profilex dev]\nregion = a\n", "dev"), Some((0, 2)));
        assert_eq!(span("[profile dev] ; note\nk = v\n  [indented\n", "dev"), Some((0, 3)));
        // set_region edits the section the reader reads, not the one whose header trims to it.
        let text = "[ profile dev ]\nregion = a\n\n[profile dev]\nregion = b\n";
        assert_eq!(
            set_region(text, "dev", "eu-west-1", "\n").unwrap(),
            "[ profile dev ]\nregion = a\n\n[profile dev]\nregion = eu-west-1\n"
        );
        let read = crate::config::Config::parse(Path::new("/h/c"), text, Path::new(""), "").unwrap();
        assert_eq!(read.profile("dev").and_then(|p| p.get("region")), Some("b"));
    }

    #[test]
    fn backup_name() {
        assert_eq!(backup_path(Path::new("/h/.aws/config")), Path::new("/h/.aws/config.bak"));
    }
}
