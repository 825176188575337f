//! Text from elsewhere made safe to show (as fd's `sanitize.rs`): server-supplied names and
//! messages lose every character a terminal acts on, and URLs lose embedded credentials. A leaf:
//! it imports nothing from the crate, so every module can use it without an import cycle.

/// Server-supplied or error text made safe for a terminal line: every character that is not
/// inert text becomes `?` (see `acts_on_terminal`).
pub fn sanitize(s: &str) -> String {
    s.chars().map(|c| if acts_on_terminal(c) { '?' } else { c }).collect()
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
    fn host_never_shows_userinfo() {
        assert_eq!(host_of("http://user:pw@127.0.0.1:8080/token?x=1"), "127.0.0.1:8080");
        assert_eq!(host_of("https://oidc.us-east-1.amazonaws.com"), "oidc.us-east-1.amazonaws.com");
        // A password with characters that would end the authority still never shows.
        assert_eq!(host_of("socks5://user:se/cret@proxy:1080"), "proxy:1080");
        assert_eq!(host_of("ftp://u:se#cr?et@h:21/x"), "h:21");
        assert_eq!(display_url("http://u:PASSWD@127.0.0.1:9/base"), "http://127.0.0.1:9/base");
    }
}
