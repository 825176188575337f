//! URL pieces the program builds or reads, on the crates the HTTP client already brings
//! (`percent-encoding`, and `http::Uri` through ureq): a query component's encoding and decoding,
//! and where a URL's authority puts its host and port.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Every byte but the RFC 3986 unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`) is
/// escaped: what Python's `quote(safe='')` does, and what the AWS CLI sends in /authorize and
/// sign-in URLs.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `s` as one query component (a name or a value), `%XX` in upper-case hex.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// A form-encoded query component read back: `+` is a space, `%XX` (two hex digits) a byte,
/// anything else itself; bytes that are not UTF-8 become U+FFFD.
pub fn decode_component(s: &str) -> String {
    percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// An authority's host (an IPv6 literal without its brackets) and port, read by `http::Uri`'s
/// rules: userinfo (`user:password@`) is skipped. `None` when the text is no authority, or its
/// port is not a number from 0 to 65535 (so `host:99999` is never taken for `host`).
pub fn host_port(authority: &ureq::http::uri::Authority) -> Option<(&str, Option<u16>)> {
    let host = authority.host();
    let after = authority.as_str().rsplit('@').next().unwrap_or("");
    let port = match after[host.len()..].strip_prefix(':') {
        None if after.len() == host.len() => None,
        None => return None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse::<u16>().ok()?),
        Some(_) => return None,
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::uri::Authority;

    #[test]
    fn components_escape_all_but_unreserved() {
        assert_eq!(encode_component("aZ09-._~"), "aZ09-._~");
        assert_eq!(encode_component("a b+c/d?e=f&g#h%"), "a%20b%2Bc%2Fd%3Fe%3Df%26g%23h%25");
        assert_eq!(
            encode_component("http://127.0.0.1:5/oauth/callback"),
            "http%3A%2F%2F127.0.0.1%3A5%2Foauth%2Fcallback"
        );
        assert_eq!(encode_component("é"), "%C3%A9");
    }

    #[test]
    fn components_decode_plus_and_two_hex_digits_only() {
        assert_eq!(decode_component("a%20b+c%3A"), "a b c:");
        assert_eq!(decode_component("%2b%2B"), "++");
        // A `%` without two hex digits after it is itself (a sign is no hex digit).
        assert_eq!(decode_component("%+1%4%zz%"), "% 1%4%zz%");
        assert_eq!(decode_component("%ff"), "\u{fffd}");
    }

    #[test]
    fn host_and_port_of_an_authority() {
        let hp = |s: &str| {
            let a: Authority = s.parse().unwrap();
            host_port(&a).map(|(h, p)| (h.to_owned(), p))
        };
        assert_eq!(hp("example.com"), Some(("example.com".into(), None)));
        assert_eq!(hp("example.com:8443"), Some(("example.com".into(), Some(8443))));
        assert_eq!(hp("user:pw@127.0.0.1:8080"), Some(("127.0.0.1".into(), Some(8080))));
        assert_eq!(hp("u@p@h:1"), Some(("h".into(), Some(1))));
        assert_eq!(hp("[::1]"), Some(("::1".into(), None)));
        assert_eq!(hp("[::1]:80"), Some(("::1".into(), Some(80))));
        assert_eq!(hp("user@[fe80::1]:0"), Some(("fe80::1".into(), Some(0))));
        assert_eq!(hp("h:99999"), None);
        assert_eq!(hp("h:8x"), None);
        assert_eq!(hp("h:"), None);
        assert_eq!(hp("[::1]x"), None);
    }
}
