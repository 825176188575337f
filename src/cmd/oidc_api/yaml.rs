//! The flat YAML subset that `--cli-input-yaml` needs: one mapping of `key: value` lines whose
//! values are scalars or lists of scalars, which is all the request shapes of the SSO OIDC calls
//! hold (docs/oidc-api.md). A YAML library would bring a general parser for what fits on one page.
//!
//! Accepted: `key: value`, `key: 'single'` / `key: "double"` (with `''` and the usual backslash
//! escapes), `key: [a, 'b', "c"]`, `key:` followed by `- item` lines, `# comments`, a leading
//! `---`, and `~` / `null` for nothing. Plain values are taken as text (`code: 12345` is the string
//! "12345"), since every member of these requests is a string. Anything else (nested mappings,
//! block scalars, anchors, tags, tabs) is an error naming the line, never silently misread. Error
//! messages never quote the input: it holds secrets.

use serde_json::{Map, Value};
use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line number.
    pub line: usize,
    pub what: &'static str,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for YamlError {}

/// Parses one flat mapping.
pub fn parse_flat(text: &str) -> Result<Map<String, Value>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut map = Map::new();
    // The key whose value is a block list still being read.
    let mut list_key: Option<String> = None;
    let mut seen_content = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |what| YamlError { line, what };
        let indent_text: &str = &raw[..raw.len() - raw.trim_start().len()];
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if indent_text.contains('\t') {
            return Err(err("tabs cannot indent YAML; use spaces"));
        }
        if !seen_content && content == "---" {
            seen_content = true;
            continue;
        }
        seen_content = true;
        if content == "..." {
            break;
        }
        if content == "-" || content.starts_with("- ") {
            let Some(key) = &list_key else { return Err(err("a list item (- ...) that belongs to no key")) };
            let item = scalar_with_comment(content[1..].trim_start()).map_err(err)?;
            if let Some(Value::Array(items)) = map.get_mut(key) {
                items.push(item);
            } else {
                map.insert(key.clone(), Value::Array(vec![item]));
            }
            continue;
        }
        if !indent_text.is_empty() {
            return Err(err("nested mappings are not supported (only key: value and lists of values)"));
        }
        list_key = None;
        let Some((key, rest)) = split_key(content) else {
            return Err(err("expected key: value"));
        };
        if map.contains_key(key) {
            return Err(err("a key that appears twice"));
        }
        let value = if rest.is_empty() || rest.starts_with('#') {
            list_key = Some(key.to_owned());
            Value::Null
        } else if let Some(inner) = rest.strip_prefix('[') {
            flow_list(inner).map_err(err)?
        } else {
            scalar_with_comment(rest).map_err(err)?
        };
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

/// `key: rest` with a plain key; `rest` is trimmed.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let at = (0..bytes.len()).find(|&i| bytes[i] == b':' && bytes.get(i + 1).is_none_or(|b| *b == b' '))?;
    let key = line[..at].trim();
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    plain.then(|| (key, line[at + 1..].trim()))
}

/// A scalar that fills the rest of the line, then nothing or a comment.
fn scalar_with_comment(s: &str) -> Result<Value, &'static str> {
    let (value, rest) = scalar(s, false)?;
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') { Ok(value) } else { Err("unexpected text after a quoted value") }
}

/// `a, 'b', "c"]` after the `[`.
fn flow_list(mut s: &str) -> Result<Value, &'static str> {
    let mut items = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix(']') {
            let rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                return Ok(Value::Array(items));
            }
            return Err("unexpected text after ]");
        }
        if s.is_empty() {
            return Err("a [list that is not closed on its line");
        }
        let (item, rest) = scalar(s, true)?;
        items.push(item);
        let rest = rest.trim_start();
        s = match rest.strip_prefix(',') {
            Some(after) => after,
            None if rest.starts_with(']') => rest,
            None if rest.is_empty() || rest.starts_with('#') => return Err("a [list that is not closed on its line"),
            None => return Err("expected , or ] in a [list]"),
        };
    }
}

/// One scalar at the start of `s` and what follows it. In a flow list, plain scalars end at `,`
/// or `]`.
fn scalar(s: &str, in_flow: bool) -> Result<(Value, &str), &'static str> {
    if let Some(body) = s.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                return Ok((Value::String(out), &body[i + 1..]));
            }
            out.push(c);
        }
        return Err("a 'quoted value' that is not closed on its line");
    }
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((Value::String(out), &body[i + 1..])),
                '\\' => {
                    let escaped = match chars.next().map(|(_, e)| e) {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('0') => '\0',
                        Some(e @ ('\\' | '"' | '/' | ' ')) => e,
                        Some('u') => {
                            let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == 4)
                                .and_then(char::from_u32)
                                .ok_or("a bad \\u escape in a \"quoted value\"")?
                        }
                        _ => return Err("an unknown escape in a \"quoted value\""),
                    };
                    out.push(escaped);
                }
                c => out.push(c),
            }
        }
        return Err("a \"quoted value\" that is not closed on its line");
    }
    match s.chars().next() {
        Some('|' | '>') => return Err("block scalars (| or >) are not supported; quote the value"),
        Some('&' | '*' | '!') => return Err("anchors, aliases and tags are not supported"),
        Some('{') => return Err("nested mappings are not supported (only key: value and lists of values)"),
        Some('[') => return Err("nested lists are not supported"),
        _ => {}
    }
    // A plain scalar ends at a comment (` #`), and in a flow list at `,` or `]`.
    let bytes = s.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| {
            (bytes[i] == b'#' && i > 0 && bytes[i - 1] == b' ') || (in_flow && (bytes[i] == b',' || bytes[i] == b']'))
        })
        .unwrap_or(bytes.len());
    let text = s[..end].trim();
    if text.contains(": ") {
        return Err("a value with ': ' in it must be quoted");
    }
    let value = match text {
        "~" | "null" | "Null" | "NULL" | "" => Value::Null,
        other => Value::String(other.to_owned()),
    };
    Ok((value, &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Value {
        Value::Object(parse_flat(text).unwrap_or_else(|e| panic!("{text:?}: {e}")))
    }

    fn bad(text: &str) -> YamlError {
        parse_flat(text).expect_err(text)
    }

    #[test]
    fn flat_mappings_and_scalars() {
        assert_eq!(
            ok("---\n# comment\nclientId: abc # trailing\nclientSecret: 'it''s # not a comment'\n\
                grantType: \"refresh_token\"  # c\ncode: 12345\nempty: ''\nnothing:\ntilde: ~\nurl: https://x.test/a#b\n"),
            json!({"clientId": "abc", "clientSecret": "it's # not a comment", "grantType": "refresh_token",
                   "code": "12345", "empty": "", "nothing": null, "tilde": null, "url": "https://x.test/a#b"})
        );
        assert_eq!(ok("a: \"q\\\"\\\\\\n\\u00e9\"\r\nb: x\r\n"), json!({"a": "q\"\\\né", "b": "x"}));
        assert_eq!(ok(""), json!({}));
        assert_eq!(ok("\u{feff}a: b\n...\nignored"), json!({"a": "b"}));
    }

    #[test]
    fn lists_block_and_flow() {
        assert_eq!(
            ok(
                "scope:\n- openid\n-   'sso:account:access'  # c\n  - \"x\"\nnext: 1\nflow: [a, 'b, c', \"d\" ]\nnone: []\n"
            ),
            json!({"scope": ["openid", "sso:account:access", "x"], "next": "1", "flow": ["a", "b, c", "d"], "none": []})
        );
        assert_eq!(ok("scope: # comment\n  - ''\n"), json!({"scope": [""]}));
        assert_eq!(ok("a: [x,y,]\n"), json!({"a": ["x", "y"]}));
    }

    #[test]
    fn unsupported_or_broken_input_names_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("a: b\nnested:\n  key: v\n", 3, "nested mappings"),
            ("a: {b: c}\n", 1, "nested mappings"),
            ("a: |\n  text\n", 1, "block scalars"),
            ("a: &x b\n", 1, "anchors"),
            ("a: 'open\n", 1, "not closed"),
            ("a: \"open\n", 1, "not closed"),
            ("a: \"\\q\"\n", 1, "unknown escape"),
            ("a: 'x' y\n", 1, "after a quoted value"),
            ("a: [x, y\n", 1, "not closed"),
            ("a: [x] y\n", 1, "after ]"),
            ("a: [[x]]\n", 1, "nested lists"),
            ("- x\n", 1, "belongs to no key"),
            ("a: b\na: c\n", 2, "twice"),
            ("just text\n", 1, "expected key: value"),
            ("'q': v\n", 1, "expected key: value"),
            ("a: b: c\n", 1, "must be quoted"),
            ("a:\n\t- x\n", 2, "tabs"),
        ];
        for (text, line, needle) in cases {
            let e = bad(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.what.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn errors_never_quote_the_input() {
        let e = bad("clientSecret: 'super-secret\n");
        assert!(!e.to_string().contains("super-secret"), "{e}");
    }

    #[test]
    fn single_quotes_round_trip() {
        for s in ["", "it's", "a # b", "x: y"] {
            let quoted = format!("'{}'", s.replace('\'', "''"));
            assert_eq!(ok(&format!("k: {quoted}\n"))["k"], s);
        }
    }
}
