//! A string that must never be shown: access tokens, refresh tokens, client secrets, keys.
//!
//! `Secret` has no `Display`, a redacted `Debug`, and serialises transparently so cache files
//! round-trip. Reading the value takes an explicit `expose()`, which is easy to grep for.
//! Every value made into a `Secret` (read from a file, received, typed on the command line) is
//! held by `sanitize`, which removes it from every text the program shows from elsewhere: a
//! service or proxy that repeats the request in its error message shows no secret.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        hold(&value);
        Secret(value)
    }

    /// A value kept out of sight like a secret but not held for removal from shown text: for a
    /// value that may or may not be secret and is not, such as a reference to a file.
    pub fn unheld(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Remembers a secret value that is not (yet) a `Secret`, such as a member of a request body.
pub fn hold(value: &str) {
    crate::sanitize::hold(value);
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_leak() {
        let s = Secret::new("very-secret-value");
        let shown = format!("{s:?} {:#?}", Some(&s));
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert_eq!(s.expose(), "very-secret-value");
    }

    #[test]
    fn every_secret_is_removed_from_shown_text() {
        let from_file: Secret = serde_json::from_str("\"refresh-token-from-a-file-UNIT\"").unwrap();
        let made = Secret::new("a/secret+key=with-slashes-UNIT");
        let shown = crate::sanitize::sanitize(&format!(
            "echo: {{\"refreshToken\":\"{}\"}} Session=%7B%22sessionKey%22%3A%22a%2Fsecret%2Bkey%3Dwith-slashes-UNIT%22%7D",
            from_file.expose()
        ));
        assert!(!shown.contains("UNIT"), "{shown}");
        assert!(
            shown.starts_with(
                "echo: {\"refreshToken\":\"** redacted **\"} Session=%7B%22sessionKey%22%3A%22** redacted **%22%7D"
            ),
            "{shown}"
        );
        assert_eq!(made.expose(), "a/secret+key=with-slashes-UNIT");
    }

    #[test]
    fn serde_is_transparent() {
        let s: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"abc\"");
    }
}
