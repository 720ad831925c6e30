//! Timestamps: UTC, kept to the microsecond, written as RFC 3339 with a `Z`.

use chrono::{DateTime, SecondsFormat, SubsecRound, Timelike, Utc};

/// A point in time (UTC).
pub type Timestamp = DateTime<Utc>;

/// The first instant a stored response or feedback item may carry: 2000-01-01T00:00:00Z
/// (microseconds since the Unix epoch).
pub const SUPPORTED_FROM_MICROS: i64 = 946_684_800_000_000;

/// The end of the supported range, exclusive: 2100-01-01T00:00:00Z (microseconds).
pub const SUPPORTED_UNTIL_MICROS: i64 = 4_102_444_800_000_000;

/// The supported range as written in messages and docs.
pub const SUPPORTED_RANGE: &str = "2000-01-01..2100-01-01";

/// Whether `t` is inside the range record times must be in (see [`SUPPORTED_RANGE`]).
///
/// The range is what keeps every time series small: a response dated year 1 next to one
/// dated today would otherwise ask for a 105,000-week series.
pub fn in_supported_range(t: &Timestamp) -> bool {
    (SUPPORTED_FROM_MICROS..SUPPORTED_UNTIL_MICROS).contains(&t.timestamp_micros())
}

/// Checks a record time against the supported range; the reason names the time and the range.
pub(crate) fn check_supported(t: &Timestamp) -> Result<(), String> {
    if in_supported_range(t) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is outside the supported range {SUPPORTED_RANGE} (from 2000-01-01T00:00:00Z \
             inclusive to 2100-01-01T00:00:00Z exclusive)",
            format_timestamp(t)
        ))
    }
}

/// Parses an RFC 3339 timestamp (any offset), converting it to UTC and truncating it to
/// microseconds, the precision every store keeps. A bare date (`2026-09-01`) means midnight UTC.
///
/// A leap second (`23:59:60`) is refused: UTC microseconds since the epoch (how every store
/// keeps time) have no place for it, and moving it to the next second would reorder it.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        // chrono keeps a leap second as a nanosecond count of one second or more.
        if t.nanosecond() >= 1_000_000_000 {
            return Err(format!(
                "`{}` is a leap second (second 60), which tuneloop does not store; use \
                 23:59:59.999999 or the next second",
                truncate_for_message(text)
            ));
        }
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

/// `since` must come before `until` when both are given.
pub(crate) fn check_range(since: Option<Timestamp>, until: Option<Timestamp>) -> crate::Result<()> {
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(crate::Error::invalid(
                "since",
                format!(
                    "{} must be before until ({})",
                    format_timestamp(&s),
                    format_timestamp(&u)
                ),
            ));
        }
    }
    Ok(())
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

    #[test]
    fn leap_seconds_are_refused_not_moved() {
        for text in [
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2017-01-01T00:59:60+01:00",
        ] {
            let err = parse_timestamp(text).expect_err(text);
            assert!(err.contains("leap second"), "{text}: {err}");
            assert!(err.contains(text), "{text}: {err}");
        }
        let t = parse_timestamp("2016-12-31T23:59:59.999999Z").expect("valid");
        assert_eq!(format_timestamp(&t), "2016-12-31T23:59:59.999999Z");
    }

    #[test]
    fn the_supported_range_is_exact_to_the_microsecond() {
        let first = parse_timestamp("2000-01-01T00:00:00Z").expect("valid");
        let end = parse_timestamp("2100-01-01T00:00:00Z").expect("valid");
        assert_eq!(to_micros(&first), SUPPORTED_FROM_MICROS);
        assert_eq!(to_micros(&end), SUPPORTED_UNTIL_MICROS);
        assert!(in_supported_range(&first));
        assert!(!in_supported_range(&end));
        let last = parse_timestamp("2099-12-31T23:59:59.999999Z").expect("valid");
        assert!(in_supported_range(&last));
        let before = parse_timestamp("1999-12-31T23:59:59.999999Z").expect("valid");
        let err = check_supported(&before).expect_err("outside");
        assert!(
            err.contains("outside the supported range 2000-01-01..2100-01-01"),
            "{err}"
        );
    }
}
