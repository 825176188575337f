//! A string that must never be shown: access tokens, refresh tokens, client secrets, keys.
//!
//! `Secret` has no `Display`, a redacted `Debug`, and serialises transparently so cache files
//! round-trip. Reading the value takes an explicit `expose()`, which is easy to grep for.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
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
    fn serde_is_transparent() {
        let s: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"abc\"");
    }
}
