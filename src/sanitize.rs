//! Text from elsewhere made safe to show (as fd's `sanitize.rs`): server-supplied names and
//! messages lose every secret this run holds and every character a terminal acts on, and URLs
//! lose embedded credentials. A leaf: it imports nothing from the crate, so every module can use
//! it without an import cycle.
//!
//! The secrets: every `secret::Secret` made in this run (tokens, client secrets, keys, device
//! codes, authorization codes, sign-in tokens, the PKCE verifier), and the proxy's password,
//! is held here by value (`hold`). Every text the program shows from elsewhere passes
//! through `sanitize`, which first replaces each of them by `REDACTED`, also where a service or a
//! proxy repeats it encoded, escaped, wrapped, base64'd or cut short (`scrub`, docs/reliability.md).

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

/// Each held value with the forms it is looked for in (`forms_of`), made once when it is held.
type Held = (Box<str>, Vec<Vec<u8>>);

static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

/// Remembers a secret value this run sent or holds, so that no text shown repeats it.
pub fn hold(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = held.iter().position(|(h, _)| **h == *value) {
        let same = held.remove(i);
        held.push(same);
        return;
    }
    if held.len() >= MAX_HELD {
        held.remove(0);
    }
    held.push((value.into(), forms_of(value)));
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

/// Runs of at least this many bytes that also occur in a held secret (or in one of its base64
/// forms) are removed: a server that cuts its echo short, or wraps it oddly, leaves at most this
/// many minus one bytes of a secret, too few to use.
const WINDOW: usize = 16;

/// How many times escapes are undone: percent-encoded twice (`%252D`) or JSON-escaped twice
/// (`\\u002d`) is seen; a third layer for the two mixed (`%5Cu002d`).
const MAX_LAYERS: usize = 3;

/// `text` with every held secret replaced by `REDACTED` (docs/reliability.md): looked for in the
/// text as it is and in up to `MAX_LAYERS` decodings of it (percent-encoding with either case of
/// hex digits, JSON escapes, HTML character references), each with its whitespace removed (a
/// line break, CRLF, space or tab inside an echo); looked for as it is and as base64 (standard
/// and URL-safe, each of the three byte alignments, so inside a base64'd JSON too); and every run
/// of `WINDOW` or more bytes that also occurs in one of those forms goes too (a prefix, a cut
/// echo). Text longer than `MAX_SEARCHED` is cut first.
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
    let forms: Vec<&[u8]> = held.iter().flat_map(|(_, forms)| forms.iter().map(Vec::as_slice)).collect();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut layer = View::of(text);
    for depth in 0..=MAX_LAYERS {
        let view = layer.without_whitespace();
        view.find(&forms, &mut cuts);
        if depth == MAX_LAYERS || memchr::memchr3(b'%', b'\\', b'&', &layer.bytes).is_none() {
            break;
        }
        match layer.decoded() {
            Some(next) => layer = next,
            None => break,
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
        // Overlapping (or touching) matches make one cut.
        if start >= done {
            out.push_str(&text[done..start]);
            out.push_str(REDACTED);
        }
        done = end;
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

/// The forms of a secret looked for, whitespace removed: the value, and the part of its base64
/// encoding that does not depend on the bytes around it, for each of the three alignments and
/// both alphabets (standard, URL-safe). Forms shorter than `MIN_SECRET_LEN` are left out.
fn forms_of(secret: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let value: Vec<u8> = secret.bytes().filter(|b| !is_space(*b)).collect();
    let mut forms = vec![];
    for lead in 0..3usize {
        let mut bytes = vec![0u8; lead];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes).into_bytes();
        // Characters wholly inside the secret's bits: from ceil(8*lead/6) to floor(8*total/6).
        let start = (8 * lead).div_ceil(6);
        let end = (8 * bytes.len() / 6).min(encoded.len());
        if end > start + MIN_SECRET_LEN {
            let middle = encoded[start..end].to_vec();
            let url: Vec<u8> = middle
                .iter()
                .map(|&b| match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    b => b,
                })
                .collect();
            if url != middle {
                forms.push(url);
            }
            forms.push(middle);
        }
    }
    if value.len() >= MIN_SECRET_LEN {
        forms.push(value);
    }
    forms
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c')
}

/// Text seen through some decoding: its bytes, each remembering the span of the original text
/// it came from.
struct View {
    bytes: Vec<u8>,
    /// For each byte: where its source starts and ends in the original text.
    units: Vec<(usize, usize)>,
}

impl View {
    fn of(text: &str) -> View {
        View { bytes: text.as_bytes().to_vec(), units: (0..text.len()).map(|i| (i, i + 1)).collect() }
    }

    fn without_whitespace(&self) -> View {
        let (bytes, units) =
            self.bytes.iter().zip(&self.units).filter(|(b, _)| !is_space(**b)).map(|(b, u)| (*b, *u)).unzip();
        View { bytes, units }
    }

    /// Adds to `cuts` the original spans of every form found whole, and of every run of
    /// `WINDOW` bytes found in a form.
    fn find(&self, forms: &[&[u8]], cuts: &mut Vec<(usize, usize)>) {
        let span = |from: usize, len: usize| (self.units[from].0, self.units[from + len - 1].1);
        for form in forms.iter().filter(|f| f.len() < WINDOW) {
            cuts.extend(memchr::memmem::find_iter(&self.bytes, form).map(|at| span(at, form.len())));
        }
        if self.bytes.len() < WINDOW || forms.iter().all(|f| f.len() < WINDOW) {
            return;
        }
        // Each WINDOW-byte run of the text, by its bytes (a u128 is exactly 16 bytes: no hash
        // collisions to check); then every run of every form looked up. Time: the text plus the
        // held secrets; memory: the text.
        let key = |w: &[u8]| u128::from_le_bytes(w.try_into().expect("a window is 16 bytes"));
        let mut at: std::collections::HashMap<u128, Vec<u32>> = std::collections::HashMap::new();
        for (i, w) in self.bytes.windows(WINDOW).enumerate() {
            at.entry(key(w)).or_default().push(i as u32);
        }
        let mut hit = vec![false; self.bytes.len()];
        for form in forms.iter().filter(|f| f.len() >= WINDOW) {
            for w in form.windows(WINDOW) {
                if let Some(starts) = at.get(&key(w)) {
                    for &i in starts {
                        hit[i as usize] = true;
                    }
                }
            }
        }
        cuts.extend(hit.iter().enumerate().filter(|(_, h)| **h).map(|(i, _)| span(i, WINDOW)));
    }

    /// One layer of escapes undone (`%XX`; JSON's `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`
    /// and `\uXXXX`; HTML's `&#NN;`, `&#xHH;`, `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`), or
    /// `None` when there was none.
    fn decoded(&self) -> Option<View> {
        let raw = &self.bytes;
        let mut bytes = Vec::with_capacity(raw.len());
        let mut units = Vec::with_capacity(raw.len());
        let hex = |at: usize, n: usize| {
            raw.get(at..at + n)
                .filter(|h| h.iter().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        };
        let mut changed = false;
        let mut i = 0;
        while i < raw.len() {
            let (decoded, len): (Option<Vec<u8>>, usize) = match raw[i] {
                b'%' => (hex(i + 1, 2).map(|b| vec![b as u8]), 3),
                b'\\' => match raw.get(i + 1) {
                    Some(&c @ (b'"' | b'\\' | b'/')) => (Some(vec![c]), 2),
                    Some(b'b' | b'f' | b'n' | b'r' | b't') => (Some(vec![b' ']), 2),
                    Some(b'u') => {
                        let c = hex(i + 2, 4).and_then(char::from_u32);
                        (c.map(|c| c.to_string().into_bytes()), 6)
                    }
                    _ => (None, 1),
                },
                b'&' => html_reference(&raw[i..]).map_or((None, 1), |(c, len)| (Some(c.to_string().into_bytes()), len)),
                _ => (None, 1),
            };
            match decoded {
                Some(d) => {
                    changed = true;
                    let unit = (self.units[i].0, self.units[i + len - 1].1);
                    for b in d {
                        bytes.push(b);
                        units.push(unit);
                    }
                    i += len;
                }
                None => {
                    bytes.push(raw[i]);
                    units.push(self.units[i]);
                    i += 1;
                }
            }
        }
        changed.then_some(View { bytes, units })
    }
}

/// An HTML character reference at the start of `s` (which starts with `&`): the character and
/// the reference's length.
fn html_reference(s: &[u8]) -> Option<(char, usize)> {
    let end = s.iter().take(12).position(|&b| b == b';')?;
    let name = std::str::from_utf8(&s[1..end]).ok()?;
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(h, 16).ok()?
                }
                None if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.parse().ok()?,
                _ => return None,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
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

    /// Every variant an echo may take, none of which may leave 16 characters of the secret.
    #[test]
    fn wrapped_encoded_and_cut_echoes_lose_the_secret() {
        use base64::Engine as _;
        let secret = "aQ9-Zk2/Lm8+Rt4=Wx7-Pn3_Vb6.SANITIZE-VARIANTS-Jd5";
        hold(secret);
        let gone = |shown: &str, what: &str| {
            for w in secret.as_bytes().windows(WINDOW) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(!shown.contains(w), "{what}: {w:?} survives in {shown:?}");
            }
            assert!(shown.contains(REDACTED), "{what}: {shown:?}");
        };
        let wrapped = |sep: &str| format!("echo: {}{sep}{}{sep}{} end", &secret[..10], &secret[10..30], &secret[30..]);
        for sep in ["\n", "\r\n", " ", "\t"] {
            let text = wrapped(sep);
            let shown = sanitize(&text);
            gone(&shown.replace('?', ""), &format!("wrapped with {sep:?}"));
            assert!(shown.starts_with("echo: ") && shown.ends_with(" end"), "{shown}");
        }
        let b64 = |bytes: &[u8], url: bool| {
            if url {
                base64::engine::general_purpose::URL_SAFE.encode(bytes)
            } else {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }
        };
        for url in [false, true] {
            for lead in ["", "x", "xy"] {
                let plain = b64(format!("{lead}{secret}").as_bytes(), url);
                let json = b64(format!(r#"{{"{lead}refreshToken":"{secret}","x":1}}"#).as_bytes(), url);
                for text in [plain, json] {
                    let shown = sanitize(&format!("body: {text}"));
                    assert!(shown.starts_with("body: "), "{shown}");
                    let forms = forms_of(secret);
                    for f in forms.iter().filter(|f| f.len() >= WINDOW) {
                        for w in f.windows(WINDOW) {
                            let w = std::str::from_utf8(w).unwrap();
                            assert!(!shown.contains(w), "base64 (url {url}, lead {lead:?}): {w} in {shown}");
                        }
                    }
                    assert!(shown.contains(REDACTED), "{shown}");
                }
            }
        }
        // MIME: base64 wrapped at 76 columns.
        let mime = b64(format!("request {secret} sent").as_bytes(), false);
        let mime = mime.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\r\n");
        let mime = b64(format!("{mime} {mime}").as_bytes(), false) + "\n" + &mime;
        let shown = sanitize(&mime);
        let tail = forms_of(secret).into_iter().find(|f| f.len() > 40 && !f.contains(&b'_')).unwrap();
        assert!(!shown.replace('?', "").contains(std::str::from_utf8(&tail[..WINDOW]).unwrap()), "{shown}");
        let percent2: String = secret.bytes().map(|b| format!("%25{b:02X}")).collect();
        let html_dec: String = secret.chars().map(|c| format!("&#{};", c as u32)).collect();
        let html_hex = secret.replace('-', "&#x2d;").replace('=', "&#X3D;");
        let json2 = secret.replace('-', "\\\\u002d").replace('/', "\\\\/");
        let amp = format!("a=1&amp;t={}", secret.replace('-', "&amp;#45;"));
        let mixed = secret.replace('-', "%5Cu002d");
        for (what, text) in [
            ("percent twice", percent2),
            ("HTML decimal", html_dec),
            ("HTML hex", html_hex),
            ("JSON twice", json2),
            ("HTML &amp; then a reference", amp),
            ("percent then JSON", mixed),
        ] {
            gone(&sanitize(&format!("got {text}.")), what);
        }
        // A server that cuts its echo short: a prefix, a middle and an end of 16 or more go, the
        // text around them stays.
        for part in [&secret[..16], &secret[..30], &secret[12..40], &secret[secret.len() - 20..]] {
            let shown = sanitize(&format!("token '{part}…' rejected"));
            assert_eq!(shown, format!("token '{REDACTED}…' rejected"), "{part}");
        }
        // Fifteen characters are too few to use, and too few to tell from ordinary text.
        let short = &secret[3..18];
        assert_eq!(sanitize(&format!("x {short} y")), format!("x {short} y"));
        // Ordinary text with escapes stays as it is.
        for text in ["a &amp; b &#45; c %20 \\n d", "100% sure &nbsp; \\u00e9", "Rôle: Admin (eu-west-1)"] {
            assert_eq!(sanitize(text), text);
        }
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
