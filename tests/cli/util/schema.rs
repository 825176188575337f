//! The `--json` reports have one description: the `jsonc` example in their docs page. Tests compare
//! the program's output with it, key for key, so that neither can change without the other.

use serde_json::Value;
use std::path::Path;

/// The JSON of the first ```jsonc block in `page` (relative to the repository) whose text starts with
/// `starts_with`, its `//` comments removed.
pub fn documented_json(page: &str, starts_with: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let block = text
        .split("```jsonc\n")
        .skip(1)
        .filter_map(|b| b.split_once("\n```").map(|(b, _)| b))
        .find(|b| b.starts_with(starts_with))
        .unwrap_or_else(|| panic!("{page} has no ```jsonc block starting with {starts_with:?}"));
    let json = without_comments(block);
    serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{page}: the jsonc block is not JSON once its comments go: {e}"))
}

/// `text` without `//` comments outside strings.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let (mut in_string, mut escaped, mut cut) = (false, false, line.len());
        for (i, c) in line.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '/' if !in_string && line[i..].starts_with("//") => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// Every object in `got` has exactly the keys of the documented object at the same place (an
/// array's elements: its first documented element), and every value the documented kind. A
/// documented `null` accepts anything, and `null` is accepted anywhere ("a field that does not
/// apply is null").
#[track_caller]
pub fn assert_shape(got: &Value, documented: &Value, at: &str) {
    match (got, documented) {
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Object(g), Value::Object(d)) => {
            let (gk, dk): (Vec<&String>, Vec<&String>) = (g.keys().collect(), d.keys().collect());
            let extra: Vec<&&String> = gk.iter().filter(|k| !d.contains_key(**k)).collect();
            let missing: Vec<&&String> = dk.iter().filter(|k| !g.contains_key(**k)).collect();
            assert!(
                extra.is_empty() && missing.is_empty(),
                "{at}: keys not in the docs {extra:?}, documented keys missing {missing:?}"
            );
            for (k, v) in g {
                assert_shape(v, &d[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(d)) => {
            if let Some(first) = d.first() {
                for (i, v) in g.iter().enumerate() {
                    assert_shape(v, first, &format!("{at}[{i}]"));
                }
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{at}: {got} is not of the documented kind ({documented})"),
    }
}
