//! The literal pass: lines -> sections with properties, all carrying their file and line, under
//! configparser's strict rules and botocore's sub-property blocks (docs/config-file.md).

use super::*;

//
// One pass serves the whole config (every section built) and the lookup of a few profiles (an
// organisation's config holds thousands of generated profiles and a cache hit needs one). The
// second keeps only the sections `keep` accepts, but checks every line of every section exactly as
// the first does, in the same order, so both give the same error for the same text; it only skips
// building values (and the warnings, which only `status` shows, from a whole config). The pass
// works on bytes where that is exact (every character it looks for is ASCII, which UTF-8 never uses
// inside a multi-byte character) and takes the `char` methods where a line is not ASCII.

pub(super) struct RawProp {
    pub(super) key: String,
    pub(super) value: Value,
}

pub(super) struct RawSection<'t> {
    /// The text between the brackets, untouched (botocore classifies on it as written).
    pub(super) header: &'t str,
    pub(super) line: usize,
    pub(super) props: Vec<RawProp>,
}

/// Where the literal pass read a section header: the byte offset of its line in the file, its
/// 1-based line, and the text between the brackets.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeaderAt<'t> {
    pub(super) offset: usize,
    pub(super) line: usize,
    pub(super) header: &'t str,
}

/// The property being read: continuation lines may still follow it (they go to the pass's `more`).
pub(super) struct Pending<'t> {
    pub(super) key: Cow<'t, str>,
    pub(super) indent: usize,
    /// Its own value (after an inline comment is cut); for a section not kept, only whether it is empty.
    pub(super) first: &'t str,
    pub(super) blanks: usize,
    pub(super) continued: bool,
    /// The first continuation line that is not `k = v` (an error if the value turns out to be a block).
    pub(super) not_nested: Option<usize>,
    pub(super) keep: bool,
}

/// configparser's defaults section: its keys go into every other section of the same file.
pub(super) const DEFAULT_SECTION: &str = "DEFAULT";

pub(super) fn parse_error(path: &Path, line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError::Parse { path: path.to_path_buf(), line, message: message.into() }
}

/// Lines split on `\n`, `\r\n` and a lone `\r`, as Python's universal newlines do (without the breaks).
pub(super) struct Lines<'t> {
    pub(super) text: &'t str,
    /// Where the next line starts.
    pub(super) start: usize,
    /// Whether the text has a `\r` at all: without one, lines end at `\n` (one memchr each).
    pub(super) has_cr: bool,
}

pub(super) fn lines(text: &str) -> Lines<'_> {
    Lines { text, start: 0, has_cr: memchr::memchr(b'\r', text.as_bytes()).is_some() }
}

impl<'t> Iterator for Lines<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        let bytes = self.text.as_bytes();
        if self.start >= bytes.len() {
            return None;
        }
        let rest = bytes.get(self.start..)?;
        let end = if self.has_cr { memchr::memchr2(b'\r', b'\n', rest) } else { memchr::memchr(b'\n', rest) };
        let Some(i) = end else {
            let line = self.text.get(self.start..)?;
            self.start = bytes.len();
            return Some(line);
        };
        let line = self.text.get(self.start..self.start + i)?;
        let crlf = self.has_cr && rest.get(i..i + 2) == Some(b"\r\n");
        self.start += i + if crlf { 2 } else { 1 };
        Some(line)
    }
}

/// `char::is_whitespace` for a byte that is a whole character (ASCII).
pub(super) fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// `str::trim_start`, quick while the text is ASCII (a non-ASCII character goes to `str::trim_start`).
pub(super) fn trim_start(s: &str) -> &str {
    let n = s.bytes().position(|b| !ascii_space(b)).unwrap_or(s.len());
    match s.as_bytes().get(n) {
        Some(b) if !b.is_ascii() => s.trim_start(),
        _ => s.get(n..).unwrap_or(""),
    }
}

/// `str::trim_end`, likewise.
pub(super) fn trim_end(s: &str) -> &str {
    let n = s.bytes().rposition(|b| !ascii_space(b)).map_or(0, |i| i + 1);
    match n.checked_sub(1).and_then(|i| s.as_bytes().get(i)) {
        Some(b) if !b.is_ascii() => s.trim_end(),
        _ => s.get(..n).unwrap_or(""),
    }
}

/// A key as configparser compares it: lower-cased (borrowed when it already is).
pub(super) fn lower(key: &str) -> Cow<'_, str> {
    if key.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(key.to_lowercase())
    }
}

/// The keys of the section being read, with their lines: a short list, a map once it grows (a
/// section of thousands of keys must not make the pass quadratic).
#[derive(Default)]
pub(super) struct KeyLines<'t> {
    pub(super) few: Vec<(Cow<'t, str>, usize)>,
    pub(super) many: HashMap<Cow<'t, str>, usize>,
}

impl<'t> KeyLines<'t> {
    const FEW: usize = 16;

    /// Records `key` at `line`; returns the line it was first seen on if it is a duplicate.
    fn insert(&mut self, key: Cow<'t, str>, line: usize) -> Option<usize> {
        if self.many.is_empty() {
            if let Some((_, first)) = self.few.iter().find(|(k, _)| *k == key) {
                return Some(*first);
            }
            if self.few.len() < Self::FEW {
                self.few.push((key, line));
                return None;
            }
            self.many.extend(self.few.drain(..));
        }
        match self.many.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(line);
                None
            }
        }
    }

    fn clear(&mut self) {
        self.few.clear();
        if !self.many.is_empty() {
            self.many = HashMap::new();
        }
    }
}

/// The hasher of the set of headers seen: SipHash was the largest single cost of scanning a
/// 20,000-profile config. Seeded from std's `RandomState`, so no file is written for one fixed table
/// layout; a collision costs time, never an answer (the map compares the headers themselves).
#[derive(Clone, Copy)]
pub(super) struct QuickState(u64);

pub(super) struct QuickHasher(u64);

impl QuickState {
    fn new() -> QuickState {
        QuickState(std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), 0x16_u8))
    }
}

impl std::hash::BuildHasher for QuickState {
    type Hasher = QuickHasher;

    fn build_hasher(&self) -> QuickHasher {
        QuickHasher(self.0)
    }
}

impl std::hash::Hasher for QuickHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(29);
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        if let Some(head) = last.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        self.0 = (self.0 ^ u64::from_le_bytes(last) ^ bytes.len() as u64).wrapping_mul(K).rotate_left(29);
    }

    /// murmur3's finaliser: every output bit depends on every input bit (hashbrown uses both ends).
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h = (h ^ (h >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Whether `value` (the text after `=`) is empty once an inline comment is cut, as `inline_comment`
/// would cut it, without scanning the whole value: a `#` or `;` cuts only after whitespace.
pub(super) fn empty_after_cut(value: &str) -> bool {
    let rest = trim_start(value);
    rest.is_empty() || (rest.len() < value.len() && rest.starts_with(['#', ';']))
}

/// The lines of one file as sections (those `keep` accepts) with their properties. Warnings are
/// collected when `warnings` is given (the whole-config parse, which keeps every section).
/// `first_line` is the line number of the text's first line (1 for a whole file, more for one
/// section read on its own through the index). `headers`, when given, receives every header the
/// pass reads (kept or not): the byte offset of its line in `text`, its line and the header.
pub(super) fn literal_pass<'t>(
    path: &Path,
    text: &'t str,
    mut warnings: Option<&mut Vec<String>>,
    keep: &dyn Fn(&str) -> bool,
    first_line: usize,
    mut headers: Option<&mut Vec<HeaderAt<'t>>>,
) -> Result<Vec<RawSection<'t>>, ConfigError> {
    let base = text.as_ptr() as usize;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<RawSection<'t>> = Vec::new();
    // Sized for every `[` of the file (a bound on the headers) so that it is not rebuilt as it grows;
    // at most 65,536 ahead of need, so that a file of brackets does not reserve gigabytes.
    let brackets = memchr::memchr_iter(b'[', text.as_bytes()).count().min(1 << 16);
    let mut header_lines: HashMap<&'t str, usize, QuickState> =
        HashMap::with_capacity_and_hasher(brackets, QuickState::new());
    let mut key_lines = KeyLines::default();
    let mut default_keys = KeyLines::default();
    // The header of the section being read, and whether it is kept.
    let mut current: Option<(&'t str, bool)> = None;
    let mut pending: Option<Pending<'t>> = None;
    // The continuation lines of the pending property (blank ones as ""), for kept sections only.
    let mut more: Vec<(usize, &'t str)> = Vec::new();

    for (index, raw) in lines(text).enumerate() {
        let line = index + first_line;
        let bytes = raw.as_bytes();
        let lead = bytes.iter().position(|&b| !ascii_space(b)).unwrap_or(bytes.len());
        // Leading whitespace counts in characters; ASCII ones are a byte each.
        let (start, indent) = match bytes.get(lead) {
            Some(b) if !b.is_ascii() => {
                let start = raw.trim_start();
                (start, raw.chars().take_while(|c| c.is_whitespace()).count())
            }
            _ => (raw.get(lead..).unwrap_or(""), lead),
        };
        if start.is_empty() {
            if let Some(p) = pending.as_mut() {
                p.blanks += 1;
            }
            continue;
        }
        if start.starts_with(['#', ';']) {
            continue;
        }
        let trimmed = trim_end(start);
        if let Some(p) = pending.as_mut()
            && indent > p.indent
        {
            // Continuation: configparser keeps inner blank lines; comments are never cut here.
            if p.keep {
                more.extend((0..p.blanks).map(|_| (line, "")));
                more.push((line, trimmed));
            }
            p.blanks = 0;
            p.continued = true;
            if p.not_nested.is_none() && !nested_line(trimmed) {
                p.not_nested = Some(line);
            }
            continue;
        }
        if let Some(p) = pending.take() {
            finish_property(path, p, &mut more, &mut sections)?;
        }

        // configparser's header: `[` to the last `]` with something between. A line that starts
        // with `[` and is no header is read as a property (`[x = y` is the key `[x`).
        if let Some((header, rest)) = split_header(trimmed) {
            if let Some(warnings) = warnings.as_deref_mut()
                && !rest.trim().is_empty()
                && !rest.trim_start().starts_with(['#', ';'])
            {
                warnings
                    .push(format!("{}:{line}: text after the section header [{header}] is ignored", path.display()));
            }
            // `[DEFAULT]` is configparser's defaults section: it may come again, and its keys are
            // checked for duplicates across all of its parts (kept aside while another section is read).
            let is_default = header == DEFAULT_SECTION;
            if !is_default && let Some(first) = header_lines.insert(header, line) {
                return Err(parse_error(path, line, format!("duplicate section [{header}] (first at line {first})")));
            }
            if matches!(current, Some((DEFAULT_SECTION, _))) {
                default_keys = std::mem::take(&mut key_lines);
            }
            key_lines.clear();
            if is_default {
                key_lines = std::mem::take(&mut default_keys);
            }
            if let Some(headers) = headers.as_deref_mut() {
                headers.push(HeaderAt { offset: raw.as_ptr() as usize - base, line, header });
            }
            // The defaults apply to every section of the file: always kept.
            let kept = is_default || keep(header);
            if kept {
                sections.push(RawSection { header, line, props: Vec::new() });
            }
            current = Some((header, kept));
            continue;
        }

        let Some((header, kept)) = current else {
            return Err(parse_error(path, line, "property before the first [section] header"));
        };
        let Some(at) = trimmed.bytes().position(|b| b == b'=' || b == b':') else {
            return Err(parse_error(
                path,
                line,
                match trimmed.starts_with('[') {
                    true if trimmed.starts_with("[]") => "empty section header '[]'",
                    true => "section header is missing its closing ']'",
                    false => "expected 'key = value', a [section] header or a comment",
                },
            ));
        };
        // `trimmed` starts with no whitespace, so the key only needs its end trimmed.
        let key = lower(trim_end(trimmed.get(..at).unwrap_or("")));
        let value = trimmed.get(at + 1..).unwrap_or("");
        if key.is_empty() {
            return Err(parse_error(path, line, "missing key before the '=' or ':'"));
        }
        if let Some(first) = key_lines.insert(key.clone(), line) {
            return Err(parse_error(
                path,
                line,
                format!("duplicate key '{key}' in [{header}] (first at line {first})"),
            ));
        }
        let first = if kept {
            // The comment text is not echoed: in the credentials file it may hold an old key.
            match inline_comment(value) {
                Some(cut) => {
                    if let Some(warnings) = warnings.as_deref_mut() {
                        warnings.push(format!(
                            "{}:{line}: value of '{key}' cut at an inline comment (the AWS CLI keeps the comment as part of the value)",
                            path.display(),
                        ));
                    }
                    cut.trim()
                }
                None => value.trim(),
            }
        } else if empty_after_cut(value) {
            ""
        } else {
            "-"
        };
        pending = Some(Pending { key, indent, first, blanks: 0, continued: false, not_nested: None, keep: kept });
    }
    if let Some(p) = pending.take() {
        finish_property(path, p, &mut more, &mut sections)?;
    }
    Ok(sections)
}

/// A line of a sub-property block: `k = v`, the key possibly empty (botocore `_parse_nested`
/// splits on the first `=` and checks nothing else: `  = v` is the key "").
pub(super) fn nested_line(text: &str) -> bool {
    text.contains('=')
}

/// Turns a finished property into a text value or, when its own value is empty and indented lines
/// follow, a sub-property block (botocore `_parse_nested`: every line must be `k = v`). Takes the
/// continuation lines out of `more`.
#[inline]
pub(super) fn finish_property<'t>(
    path: &Path,
    p: Pending<'t>,
    more: &mut Vec<(usize, &'t str)>,
    sections: &mut [RawSection<'t>],
) -> Result<(), ConfigError> {
    let nested = p.first.is_empty() && p.continued;
    if nested && let Some(line) = p.not_nested {
        return Err(parse_error(path, line, format!("expected 'key = value' in the indented block under '{}'", p.key)));
    }
    if !p.keep {
        return Ok(());
    }
    let value = if nested {
        let mut map = BTreeMap::new();
        for (_, text) in more.iter().filter(|(_, t)| !t.is_empty()) {
            // botocore keeps the key's case (only the section's own keys go through configparser's
            // lower-casing), and the last of two equal keys wins.
            if let Some((key, value)) = text.split_once('=') {
                map.insert(key.trim().to_string(), value.trim().to_string());
            }
        }
        Value::Nested(map)
    } else {
        let mut text = p.first.to_string();
        for (_, line) in more.iter() {
            text.push('\n');
            text.push_str(line);
        }
        Value::Text(text)
    };
    more.clear();
    if let Some(section) = sections.last_mut() {
        section.props.push(RawProp { key: p.key.into_owned(), value });
    }
    Ok(())
}

/// Splits `[header] rest` as configparser's section pattern `\[(?P<header>.+)\]` matches a line:
/// the header runs to the **last** `]` of the line and is not empty; what follows is ignored.
/// `None` when the line is no header (it is then read as a property).
pub(super) fn split_header(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix('[')?;
    let close = body.rfind(']').filter(|&i| i > 0)?;
    Some((body.get(..close)?, body.get(close + 1..)?))
}

/// A `#` or `;` preceded by whitespace starts an inline comment: returns the value before it.
pub(super) fn inline_comment(value: &str) -> Option<&str> {
    let mut after_space = false;
    for (i, c) in value.char_indices() {
        if after_space && (c == '#' || c == ';') {
            return value.get(..i);
        }
        after_space = c.is_whitespace();
    }
    None
}

/// Python's `shlex.split` (POSIX mode, no comments). `None` on unbalanced quotes or a trailing `\`.
pub fn shlex_split(text: &str) -> Option<Vec<String>> {
    shlex_words(text).ok()
}

/// `shlex_split`, or Python's `ValueError` message when the text will not split: "No closing
/// quotation" (an unbalanced quote) or "No escaped character" (a trailing `\`).
pub fn shlex_words(text: &str) -> Result<Vec<String>, &'static str> {
    const QUOTE: &str = "No closing quotation";
    const ESCAPE: &str = "No escaped character";
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut in_token = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_token {
                    tokens.push(std::mem::take(&mut token));
                    in_token = false;
                }
            }
            '\'' => {
                in_token = true;
                loop {
                    match chars.next().ok_or(QUOTE)? {
                        '\'' => break,
                        c => token.push(c),
                    }
                }
            }
            '"' => {
                in_token = true;
                loop {
                    match chars.next().ok_or(QUOTE)? {
                        '"' => break,
                        '\\' => {
                            let next = chars.next().ok_or(ESCAPE)?;
                            if !matches!(next, '\\' | '"' | '$' | '`' | '\n') {
                                token.push('\\');
                            }
                            token.push(next);
                        }
                        c => token.push(c),
                    }
                }
            }
            '\\' => {
                in_token = true;
                token.push(chars.next().ok_or(ESCAPE)?);
            }
            c => {
                in_token = true;
                token.push(c);
            }
        }
    }
    if in_token {
        tokens.push(token);
    }
    Ok(tokens)
}
