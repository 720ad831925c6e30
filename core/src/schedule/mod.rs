//! The weekly job's schedule: a cron expression (UTC) and the `[schedule]` section.
//!
//! ```
//! use tuneloop::model::parse_timestamp;
//! use tuneloop::schedule::Schedule;
//!
//! let s = Schedule::parse("0 3 * * MON").unwrap();
//! let after = parse_timestamp("2026-11-25T12:00:00Z").unwrap(); // a Wednesday
//! assert_eq!(s.next_after(after).unwrap(), parse_timestamp("2026-11-30T03:00:00Z").unwrap());
//! ```

pub mod weekly;

use crate::model::Timestamp;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Mondays at 03:00 UTC.
pub const DEFAULT_CRON: &str = "0 3 * * MON";

/// `[schedule]` of `tuneloop.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// When the weekly job runs: a 5-field cron expression (minute hour day month weekday,
    /// names like `MON` allowed), or 6 fields with seconds first, in UTC.
    pub cron: String,
    /// Models the job considers for fine-tuning (empty: every model in the store).
    pub models: Vec<String>,
    /// How long the weekly lease outlives an instance that stops renewing it (it crashed or
    /// hung). A run renews it every third of this while it works, so it can be short.
    pub lease_minutes: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            cron: DEFAULT_CRON.to_string(),
            models: Vec::new(),
            lease_minutes: 2,
        }
    }
}

impl ScheduleConfig {
    /// Checks the expression and the lease; the error names the field.
    pub fn validate(&self) -> Result<()> {
        Schedule::parse(&self.cron)?;
        if self.lease_minutes == 0 || self.lease_minutes > 1_440 {
            return Err(Error::invalid(
                "lease_minutes",
                format!("{} is not between 1 and 1440", self.lease_minutes),
            ));
        }
        Ok(())
    }
}

/// A parsed cron expression, evaluated in UTC.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    text: String,
}

impl Schedule {
    /// Parses `expr`; a bad one is [`Error::InvalidInput`] on `cron` saying why.
    pub fn parse(expr: &str) -> Result<Schedule> {
        let cron = croner::Cron::from_str(expr).map_err(|e| {
            Error::invalid("cron", format!("`{expr}` is not a cron expression: {e}"))
        })?;
        Ok(Schedule {
            cron,
            text: expr.trim().to_string(),
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A readable description (`At 03:00 on Monday`).
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    /// The first time strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Result<Timestamp> {
        self.cron.find_next_occurrence(&t, false).map_err(|e| {
            Error::invalid(
                "cron",
                format!("`{}` has no time after {t}: {e}", self.text),
            )
        })
    }

    /// The latest time at or before `t` (the slot a run at `t` belongs to), if any.
    pub fn latest_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        self.cron.find_previous_occurrence(&t, true).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_timestamp;

    fn ts(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn the_default_is_monday_three_utc() {
        let s = Schedule::parse(DEFAULT_CRON).unwrap();
        // From just before, exactly at, and just after a slot.
        assert_eq!(
            s.next_after(ts("2026-11-30T02:59:59Z")).unwrap(),
            ts("2026-11-30T03:00:00Z")
        );
        assert_eq!(
            s.next_after(ts("2026-11-30T03:00:00Z")).unwrap(),
            ts("2026-12-07T03:00:00Z")
        );
        assert_eq!(
            s.latest_at_or_before(ts("2026-12-01T06:00:00Z")),
            Some(ts("2026-11-30T03:00:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(ts("2026-11-30T03:00:00Z")),
            Some(ts("2026-11-30T03:00:00Z"))
        );
    }

    #[test]
    fn other_expressions_and_errors() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            s.next_after(ts("2026-11-30T10:07:00Z")).unwrap(),
            ts("2026-11-30T10:15:00Z")
        );
        let s = Schedule::parse("0 0 3 * * MON").unwrap(); // with seconds
        assert_eq!(
            s.next_after(ts("2026-11-29T00:00:00Z")).unwrap(),
            ts("2026-11-30T03:00:00Z")
        );
        for bad in ["", "every monday", "61 * * * *", "0 3 * * FUNDAY"] {
            match Schedule::parse(bad) {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "cron"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let c = ScheduleConfig {
            lease_minutes: 0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
