//! Timestamps in the cache files (docs/shared-cache.md).
//!
//! We always write `YYYY-MM-DDTHH:MM:SSZ` (the only form the Rust SDK reads), and read leniently
//! what the other tools write: `Z` or `z`, `±hh:mm` offsets (Go writes local offsets), fractions
//! (JS writes `.000Z`), the old CLI's `UTC` suffix, and a space instead of `T`. A string without a
//! zone is rejected, as botocore cannot compare it either.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Parses an expiry timestamp; `None` when it is not one of the accepted forms.
pub fn parse(input: &str) -> Option<DateTime<Utc>> {
    let s = input.trim();
    if let Some(naive) = s.strip_suffix("UTC") {
        let naive = naive.trim_end();
        return parse_naive(naive).map(|n| n.and_utc());
    }
    // RFC 3339 wants an upper-case T and Z; normalise the two variants we accept.
    let mut owned = s.to_owned();
    if owned.len() > 10 && owned.as_bytes()[10] == b' ' {
        owned.replace_range(10..11, "T");
    }
    if owned.ends_with('z') {
        owned.pop();
        owned.push('Z');
    }
    DateTime::parse_from_rfc3339(&owned).ok().map(|d| d.with_timezone(&Utc))
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
}

/// The one format we write: whole seconds, UTC, `Z`.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What is off about a timestamp we read that is not in the form every SDK reads (whole or
/// fractional seconds, upper-case `Z`), and which SDKs refuse it (docs/login.md); `None` for that form
/// and for text that is no timestamp at all. `status` reports these: we read them, others do not.
pub fn foreign_form(input: &str) -> Option<String> {
    parse(input)?;
    let b = input.as_bytes();
    let digits = |from: usize, to: usize| b.get(from..to).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let date_time = digits(0, 4)
        && at(4, b'-')
        && digits(5, 7)
        && at(7, b'-')
        && digits(8, 10)
        && digits(11, 13)
        && at(13, b':')
        && digits(14, 16)
        && at(16, b':')
        && digits(17, 19);
    let rest = input.get(19..).unwrap_or("");
    let zone = match rest.strip_prefix('.') {
        Some(frac) => frac.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    let rust = "which the AWS SDK for Rust rejects";
    if date_time && at(10, b'T') && zone == "Z" {
        None
    } else if input.trim_end().ends_with("UTC") {
        Some("with the old 'UTC' suffix, which the AWS SDKs for Rust, JavaScript and Go reject".to_owned())
    } else if date_time && (zone.starts_with('+') || zone.starts_with('-')) && zone.len() == 6 {
        Some(format!("with a UTC offset ({zone}), {rust}"))
    } else if input.ends_with('z') {
        Some(format!("with a lower-case 'z', {rust}"))
    } else if at(10, b' ') {
        Some(format!("with a space instead of 'T', {rust}"))
    } else {
        Some(format!("in a form other than YYYY-MM-DDTHH:MM:SSZ, {rust}"))
    }
}

/// Epoch milliseconds (portal `expiration`) as a UTC time; `None` when out of range.
pub fn from_epoch_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// Epoch seconds (OIDC `clientSecretExpiresAt`) as a UTC time.
pub fn from_epoch_secs(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// "in 42 min", "in 3 h 5 min", "2 min ago", "in 89 d 23 h": for human status lines.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let mins = secs.unsigned_abs() / 60;
    let span = if mins >= 48 * 60 {
        format!("{} d {} h", mins / (24 * 60), mins / 60 % 24)
    } else if mins >= 60 {
        format!("{} h {} min", mins / 60, mins % 60)
    } else if mins > 0 {
        format!("{mins} min")
    } else {
        format!("{} s", secs.unsigned_abs())
    };
    if secs >= 0 { format!("in {span}") } else { format!("{span} ago") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_vector_of_shared_timestamps_json() {
        let text = include_str!("../tests/data/timestamps.json");
        let doc: Value = serde_json::from_str(text).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 14);
        for case in cases {
            let input = case["input"].as_str().unwrap();
            let got = parse(input);
            if case["accept"].as_bool().unwrap() {
                let want = case["epoch"].as_f64().unwrap();
                let got = got.unwrap_or_else(|| panic!("rejected {input:?}"));
                let secs = got.timestamp() as f64 + got.timestamp_subsec_nanos() as f64 / 1e9;
                assert!((secs - want).abs() < 1e-6, "{input:?}: {secs} != {want}");
            } else {
                assert!(got.is_none(), "accepted {input:?}");
            }
        }
    }

    #[test]
    fn writes_whole_seconds_with_z() {
        let t = parse("2026-11-21T08:00:20.987654Z").unwrap();
        assert_eq!(format(t), "2026-11-21T08:00:20Z");
        let t = parse("2026-11-21T09:00:00+01:00").unwrap();
        assert_eq!(format(t), "2026-11-21T08:00:00Z");
    }

    #[test]
    fn forms_other_sdks_reject() {
        for ok in ["2026-11-21T08:00:00Z", "2026-11-21T08:00:00.000Z", "2026-11-21T08:00:20.123456Z"] {
            assert_eq!(foreign_form(ok), None, "{ok}");
        }
        for (input, want) in [
            ("2026-11-21T13:30:00+05:30", "a UTC offset (+05:30), which the AWS SDK for Rust rejects"),
            ("2026-11-21T08:00:00.5-01:00", "a UTC offset (-01:00)"),
            ("2026-11-21T08:00:00+00:00", "a UTC offset (+00:00)"),
            ("2026-11-21T08:00:00UTC", "'UTC' suffix, which the AWS SDKs for Rust, JavaScript and Go reject"),
            ("2026-11-21T08:00:00z", "lower-case 'z'"),
            ("2026-11-21 08:00:00Z", "space instead of 'T'"),
            (" 2026-11-21T08:00:00Z", "a form other than YYYY-MM-DDTHH:MM:SSZ"),
        ] {
            let got = foreign_form(input).unwrap_or_default();
            assert!(got.contains(want), "{input}: {got}");
        }
        assert_eq!(foreign_form("2026-11-21T08:00:00"), None, "no zone: not a timestamp we read at all");
        assert_eq!(foreign_form("garbage"), None);
    }

    #[test]
    fn epoch_units() {
        assert_eq!(format(from_epoch_millis(1_665_736_069_000).unwrap()), "2022-10-14T08:27:49Z");
        assert_eq!(format(from_epoch_secs(1_665_736_069).unwrap()), "2022-10-14T08:27:49Z");
        assert!(from_epoch_millis(i64::MAX).is_none());
    }

    #[test]
    fn relative_text() {
        let now = parse("2026-11-21T08:00:00Z").unwrap();
        assert_eq!(relative(parse("2026-11-21T08:42:00Z").unwrap(), now), "in 42 min");
        assert_eq!(relative(parse("2026-11-21T09:05:00Z").unwrap(), now), "in 1 h 5 min");
        assert_eq!(relative(parse("2026-11-21T07:58:00Z").unwrap(), now), "2 min ago");
        assert_eq!(relative(parse("2026-11-23T07:59:00Z").unwrap(), now), "in 47 h 59 min");
        assert_eq!(relative(parse("2027-02-19T07:00:00Z").unwrap(), now), "in 89 d 23 h");
        assert_eq!(relative(parse("2026-11-18T06:00:00Z").unwrap(), now), "3 d 2 h ago");
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            "Z",
            "UTC",
            " UTC",
            "2026-11-21 ",
            "2026-11-2",
            "\u{fe0f}\u{fe0f}\u{fe0f}\u{fe0f}\u{fe0f}\u{fe0f}xyz",
            "2026-11-21TXX:00:00Z",
        ] {
            let _ = parse(s);
        }
    }
}
