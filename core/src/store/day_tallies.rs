//! Folding SQL aggregates into a metrics report, shared by the SQL backends: each backend
//! groups by model and day inside its database; this turns those rows into the same
//! [`MetricsReport`] the pure reference computes.

use crate::analysis::metrics::{assemble_report, bucket_start_micros, ModelTallies, Tally};
use crate::model::{Bucket, MetricsReport, Polarity};
use std::collections::{BTreeMap, HashMap};

const DAY_MICROS: i64 = 86_400_000_000;

/// Counts per model key and day read from the rows, whoever keeps them: [`DayTallies`] for
/// a metrics report, the aggregates' recount for `check db` and the rebuild. One reader of
/// the rows (`sql::metrics::raw_into`) fills either.
pub(crate) trait DayCounts {
    /// `n` responses of `model` on `day`.
    fn add_responses(&mut self, model: i64, day: i64, n: i64);
    /// `n` feedback items of one polarity code (-1, 0, 1) and rating on responses of
    /// `model` made on `day`.
    fn add_feedback(&mut self, model: i64, day: i64, polarity: i64, rating: Option<i64>, n: i64);
    /// `n` mentions of `category` on responses of `model` made on `day`.
    fn add_category(&mut self, model: i64, day: i64, category: String, n: i64);
}

/// Tallies per model key, per day (days since the epoch, UTC).
#[derive(Debug, Default)]
pub(crate) struct DayTallies {
    days: BTreeMap<i64, BTreeMap<i64, Tally>>,
}

impl DayCounts for DayTallies {
    fn add_responses(&mut self, model: i64, day: i64, n: i64) {
        self.days
            .entry(model)
            .or_default()
            .entry(day)
            .or_default()
            .responses += u64::try_from(n).unwrap_or(0);
    }

    // Feedback always belongs to a counted response, so its day exists.
    fn add_feedback(&mut self, model: i64, day: i64, polarity: i64, rating: Option<i64>, n: i64) {
        let Some(t) = self.slot(model, day) else {
            return;
        };
        let polarity = match polarity {
            1 => Polarity::Positive,
            -1 => Polarity::Negative,
            _ => Polarity::Neutral,
        };
        t.add_feedback_group(
            polarity,
            rating.map(|r| u64::try_from(r).unwrap_or(0)),
            u64::try_from(n).unwrap_or(0),
        );
    }

    fn add_category(&mut self, model: i64, day: i64, category: String, n: i64) {
        if let Some(t) = self.slot(model, day) {
            *t.categories.entry(category).or_default() += u64::try_from(n).unwrap_or(0);
        }
    }
}

impl DayTallies {
    fn slot(&mut self, model: i64, day: i64) -> Option<&mut Tally> {
        self.days.get_mut(&model).and_then(|d| d.get_mut(&day))
    }

    /// The report: models by name, days folded into totals and (optionally) buckets.
    pub(crate) fn into_report(
        self,
        names: &HashMap<i64, String>,
        bucket: Option<Bucket>,
    ) -> MetricsReport {
        let mut tallies = ModelTallies::default();
        for (model, per_day) in self.days {
            let Some(name) = names.get(&model) else {
                continue;
            };
            let mut total = Tally::default();
            let mut buckets: BTreeMap<i64, Tally> = BTreeMap::new();
            for (day, t) in per_day {
                total.merge(&t);
                if let Some(b) = bucket {
                    buckets
                        .entry(bucket_start_micros(day * DAY_MICROS, b))
                        .or_default()
                        .merge(&t);
                }
            }
            tallies.add_model(name, total, bucket.map(|_| buckets));
        }
        assemble_report(tallies, bucket)
    }
}
