//! Timestamps: UTC, kept to the microsecond, written as RFC 3339 with a `Z`.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

/// A point in time (UTC).
pub type Timestamp = DateTime<Utc>;

/// Parses an RFC 3339 timestamp (any offset), converting it to UTC and truncating it to
/// microseconds, the precision every store keeps. A bare date (`2026-09-01`) means midnight UTC.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc).trunc_subsecs(6));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "`{}` is not an RFC 3339 timestamp (e.g. 2026-09-01T10:00:00Z) or a date (2026-09-01)",
        truncate_for_message(text)
    ))
}

/// Formats a timestamp as RFC 3339 in UTC with a `Z` and only the sub-second digits needed.
pub fn format_timestamp(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The current time, truncated to the microseconds every store keeps.
pub fn now() -> Timestamp {
    Utc::now().trunc_subsecs(6)
}

/// Microseconds since the Unix epoch, the storage representation.
pub(crate) fn to_micros(t: &Timestamp) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`to_micros`].
pub(crate) fn from_micros(us: i64) -> Timestamp {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub(crate) fn truncate_for_message(text: &str) -> String {
    const MAX: usize = 60;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// serde adapter writing [`format_timestamp`] and reading [`parse_timestamp`].
pub(crate) mod serde_ts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_timestamp(&text).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Timestamp>` (`null` when absent).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&format_timestamp(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
            text.map(|t| parse_timestamp(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_normalised_to_utc_and_micros() {
        let t = parse_timestamp("2026-09-01T12:00:00.1234567+02:00").expect("valid");
        assert_eq!(format_timestamp(&t), "2026-09-01T10:00:00.123456Z");
        assert_eq!(from_micros(to_micros(&t)), t);
    }

    #[test]
    fn dates_and_garbage() {
        let t = parse_timestamp("2026-09-01").expect("valid");
        assert_eq!(format_timestamp(&t), "2026-09-01T00:00:00Z");
        let err = parse_timestamp("yesterday").expect_err("invalid");
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
