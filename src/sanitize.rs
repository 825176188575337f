//! Text from elsewhere made safe to show (as fd's `sanitize.rs`): server-supplied names and
//! messages lose every secret this run holds and every character a terminal acts on, and URLs
//! lose embedded credentials. A leaf: it imports nothing from the crate, so every module can use
//! it without an import cycle.
//!
//! The secrets: every `secret::Secret` made in this run (tokens, client secrets, keys, device
//! codes, authorization codes, sign-in tokens, the PKCE verifier), and the proxy's password,
//! is held here by value (`hold`). Every text the program shows from elsewhere passes
//! through `sanitize`, which first replaces each of them by `REDACTED`, also where a service or a
//! proxy repeats it percent-encoded or JSON-escaped (docs/reliability.md).

use std::borrow::Cow;
use std::sync::Mutex;

/// What a secret becomes in shown text (the same words as `Secret`'s Debug).
pub const REDACTED: &str = "** redacted **";

/// Shorter values are not searched for: no secret AWS issues is that short, and removing a short
/// word from every message would garble them.
const MIN_SECRET_LEN: usize = 8;

/// The most values held; a long-lived `serve` drops the oldest, which it no longer sends.
const MAX_HELD: usize = 512;

/// The longest text searched in full: longer text (a service message can be up to the 1 MiB a
/// body may have) is cut to this first, and the shown part is far shorter (`shortened`).
const MAX_SEARCHED: usize = 64 * 1024;

static HELD: Mutex<Vec<Box<str>>> = Mutex::new(Vec::new());

/// Remembers a secret value this run sent or holds, so that no text shown repeats it.
pub fn hold(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = held.iter().position(|h| **h == *value) {
        let same = held.remove(i);
        held.push(same);
        return;
    }
    if held.len() >= MAX_HELD {
        held.remove(0);
    }
    held.push(value.into());
}

/// Server-supplied or error text made safe for a terminal line: every secret held becomes
/// `REDACTED` (`scrub`), and every character that is not inert text becomes `?` (see
/// `acts_on_terminal`).
pub fn sanitize(s: &str) -> String {
    scrub(s).chars().map(|c| if acts_on_terminal(c) { '?' } else { c }).collect()
}

/// The error chain on one line: "what failed: why: deeper cause".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    sanitize(&out)
}

/// `sanitize`, then at most `max` characters (and `…`): secrets are removed before the cut, so
/// no part of one survives it.
pub fn shortened(s: &str, max: usize) -> String {
    let clean = sanitize(s);
    if clean.chars().count() > max { clean.chars().take(max).collect::<String>() + "…" } else { clean }
}

/// `text` with every held secret replaced by `REDACTED`: as it is, percent-encoded (either case
/// of hex digits, any choice of encoded characters) or JSON-escaped. Text longer than
/// `MAX_SEARCHED` is cut first.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if held.is_empty() || text.len() < MIN_SECRET_LEN {
        return Cow::Borrowed(text);
    }
    let text = if text.len() > MAX_SEARCHED {
        let mut end = MAX_SEARCHED;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    } else {
        text
    };
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    if memchr::memchr2(b'%', b'\\', text.as_bytes()).is_none() {
        // Nothing escaped (most text): the held values as they are.
        for secret in held.iter() {
            cuts.extend(
                memchr::memmem::find_iter(text.as_bytes(), secret.as_bytes()).map(|at| (at, at + secret.len())),
            );
        }
    } else {
        let decoded = Decoded::of(text);
        for secret in held.iter() {
            for at in memchr::memmem::find_iter(&decoded.bytes, secret.as_bytes()) {
                cuts.push((decoded.units[at].0, decoded.units[at + secret.len() - 1].1));
            }
        }
    }
    drop(held);
    if cuts.is_empty() {
        return Cow::Borrowed(text);
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (mut start, mut end) in cuts {
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if end <= done {
            continue;
        }
        // Overlapping matches make one cut.
        if start >= done {
            out.push_str(&text[done..start]);
            out.push_str(REDACTED);
        }
        done = end;
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

/// Text with its escapes undone (`%XX`, and JSON's `\"`, `\\`, `\/`, `\uXXXX` and the
/// like), each byte remembering the span of the text it came from.
struct Decoded {
    bytes: Vec<u8>,
    /// For each decoded byte: where its source starts and ends in the text.
    units: Vec<(usize, usize)>,
}

impl Decoded {
    fn of(text: &str) -> Decoded {
        let raw = text.as_bytes();
        let mut bytes = Vec::with_capacity(raw.len());
        let mut units = Vec::with_capacity(raw.len());
        let hex = |at: usize, n: usize| {
            raw.get(at..at + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
        };
        let mut i = 0;
        while i < raw.len() {
            let (decoded, len): (Option<Vec<u8>>, usize) = match raw[i] {
                b'%' => (hex(i + 1, 2).map(|b| vec![b as u8]), 3),
                b'\\' => match raw.get(i + 1) {
                    Some(&c @ (b'"' | b'\\' | b'/')) => (Some(vec![c]), 2),
                    Some(b'u') => {
                        let c = hex(i + 2, 4).and_then(char::from_u32);
                        (c.map(|c| c.to_string().into_bytes()), 6)
                    }
                    _ => (None, 1),
                },
                _ => (None, 1),
            };
            match decoded {
                Some(d) => {
                    for b in d {
                        bytes.push(b);
                        units.push((i, i + len));
                    }
                    i += len;
                }
                None => {
                    bytes.push(raw[i]);
                    units.push((i, i + 1));
                    i += 1;
                }
            }
        }
        Decoded { bytes, units }
    }
}

/// Characters that do something other than print a glyph: C0 and C1 controls (escape sequences,
/// line breaks), the line and paragraph separators, and the Unicode format characters (general
/// category Cf, Unicode 15.1): bidi embeddings, overrides, isolates and marks, which reorder the
/// rest of the line; zero-width spaces and joiners, word joiners and invisible operators, which
/// hide text or make two strings look alike; the BOM; and the invisible tag characters.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061c}'
                | '\u{06dd}'
                | '\u{070f}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08e2}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

/// `scheme://host[:port]` of a URL, for messages.
pub fn host_of(url: &str) -> String {
    let rest = without_userinfo(url.split_once("://").map(|(_, r)| r).unwrap_or(url));
    rest.split(['/', '?', '#']).next().unwrap_or(rest).to_owned()
}

/// Everything after the last `@`: never show credentials embedded in a URL, even ones with an
/// unescaped `/`, `?` or `#` in the password (which would end the authority of a proper parse).
fn without_userinfo(rest: &str) -> &str {
    rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest)
}

/// A URL for messages: scheme, host and path, without embedded credentials.
pub fn display_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", without_userinfo(rest)),
        None => without_userinfo(url).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_leaves_nothing_a_terminal_acts_on() {
        let ranges: [(&str, std::ops::RangeInclusive<char>); 17] = [
            ("C0 controls", '\u{0}'..='\u{1f}'),
            ("DEL", '\u{7f}'..='\u{7f}'),
            ("C1 controls", '\u{80}'..='\u{9f}'),
            ("bidi embeddings and overrides", '\u{202a}'..='\u{202e}'),
            ("bidi isolates", '\u{2066}'..='\u{2069}'),
            ("left-to-right and right-to-left marks", '\u{200e}'..='\u{200f}'),
            ("Arabic letter mark", '\u{061c}'..='\u{061c}'),
            ("zero-width space, non-joiner, joiner", '\u{200b}'..='\u{200d}'),
            ("word joiner", '\u{2060}'..='\u{2060}'),
            ("invisible operators", '\u{2061}'..='\u{2064}'),
            ("deprecated format characters", '\u{206a}'..='\u{206f}'),
            ("zero-width no-break space (BOM)", '\u{feff}'..='\u{feff}'),
            ("line and paragraph separators", '\u{2028}'..='\u{2029}'),
            ("soft hyphen", '\u{ad}'..='\u{ad}'),
            ("interlinear annotations", '\u{fff9}'..='\u{fffb}'),
            ("language tag", '\u{e0001}'..='\u{e0001}'),
            ("tag characters", '\u{e0020}'..='\u{e007f}'),
        ];
        for (what, range) in ranges {
            for c in range {
                let text = format!("a{c}b");
                assert_eq!(sanitize(&text), "a?b", "{what}: U+{:04X}", c as u32);
            }
        }
        // Text of any script, punctuation and emoji stays as it is.
        for text in ["Prod – Payments (EU)", "日本 العربية עברית Ελληνικά", "café 👍 ½ € ‘quoted’", "x@y.z [a] #;=", ""]
        {
            assert_eq!(sanitize(text), text);
        }
    }

    #[test]
    fn held_secrets_never_show_in_any_encoding_nor_in_part() {
        hold("tok/en+one=SANITIZE-UNIT");
        hold("second-SANITIZE-UNIT-ünïcode");
        hold("short");
        let cases = [
            ("as it is: tok/en+one=SANITIZE-UNIT.", "as it is: ** redacted **."),
            ("percent: tok%2Fen%2bone%3DSANITIZE-UNIT", "percent: ** redacted **"),
            ("json: tok\\/en\\u002bone=SANITIZE-UNIT\"", "json: ** redacted **\""),
            ("twice tok/en+one=SANITIZE-UNITtok/en+one=SANITIZE-UNIT", "twice ** redacted **** redacted **"),
            ("é second-SANITIZE-UNIT-ünïcode é", "é ** redacted ** é"),
            ("second-SANITIZE-UNIT-%C3%BCn%C3%AFcode", "** redacted **"),
            // Too short to search for without garbling every message.
            ("a short text", "a short text"),
            ("100%: nothing\\ held", "100%: nothing\\ held"),
        ];
        for (text, want) in cases {
            assert_eq!(sanitize(text), want, "{text}");
        }
        // Removed before the cut: no fragment of it survives at the end.
        let long = format!("{}tok/en+one=SANITIZE-UNIT", "x".repeat(190));
        let shown = shortened(&long, 200);
        assert!(!shown.contains("tok/"), "{shown}");
        assert!(shown.starts_with(&"x".repeat(190)) && shown.ends_with('…'), "{shown}");
    }

    #[test]
    fn host_never_shows_userinfo() {
        assert_eq!(host_of("http://user:pw@127.0.0.1:8080/token?x=1"), "127.0.0.1:8080");
        assert_eq!(host_of("https://oidc.us-east-1.amazonaws.com"), "oidc.us-east-1.amazonaws.com");
        // A password with characters that would end the authority still never shows.
        assert_eq!(host_of("socks5://user:se/cret@proxy:1080"), "proxy:1080");
        assert_eq!(host_of("ftp://u:se#cr?et@h:21/x"), "h:21");
        assert_eq!(display_url("http://u:PASSWD@127.0.0.1:9/base"), "http://127.0.0.1:9/base");
    }
}
