//! Folding SQL aggregates into a metrics report, shared by the SQL backends: each backend
//! groups by model and day inside its database; this turns those rows into the same
//! [`MetricsReport`] the pure reference computes.

use crate::analysis::metrics::{assemble_report, bucket_start_micros, ModelTallies, Tally};
use crate::model::{Bucket, MetricsReport, Polarity};
use std::collections::{BTreeMap, HashMap};

const DAY_MICROS: i64 = 86_400_000_000;

/// How a metrics range `[since, until)` (microseconds since the epoch, open where `None`)
/// is read by a store that keeps counts per day: its whole days from those counts, and the
/// parts of days a bound cuts (a bound that is not midnight UTC) from the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaySplit {
    /// Whole days `[first, end)` (days since the epoch, open where `None`); `None` when the
    /// range holds no whole day (it lies within one day or across one midnight).
    pub(crate) whole: Option<(Option<i64>, Option<i64>)>,
    /// Ranges `[from, to)` in microseconds to read from the rows: the whole range when it
    /// holds no whole day, else the cut first and last days; each spans at most two days.
    pub(crate) rows: Vec<(i64, i64)>,
}

/// Splits `[since, until)` into whole days and the cut parts of days. A reversed or empty
/// range splits into nothing.
pub(crate) fn split_by_days(since: Option<i64>, until: Option<i64>) -> DaySplit {
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return DaySplit {
                whole: None,
                rows: Vec::new(),
            };
        }
    }
    let first = since.map(|s| s.div_euclid(DAY_MICROS) + i64::from(s.rem_euclid(DAY_MICROS) != 0));
    let end = until.map(|u| u.div_euclid(DAY_MICROS));
    match (since, until, first, end) {
        (Some(s), Some(u), Some(a), Some(b)) if a >= b => DaySplit {
            whole: None,
            rows: vec![(s, u)],
        },
        _ => {
            let mut rows = Vec::new();
            if let (Some(s), Some(a)) = (since, first) {
                let midnight = a.saturating_mul(DAY_MICROS);
                if s != midnight {
                    rows.push((s, midnight));
                }
            }
            if let (Some(u), Some(b)) = (until, end) {
                let midnight = b.saturating_mul(DAY_MICROS);
                if u != midnight {
                    rows.push((midnight, u));
                }
            }
            DaySplit {
                whole: Some((first, end)),
                rows,
            }
        }
    }
}

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

/// Counts as they were read, to be added to a [`DayCounts`] later in the same order: lets
/// independent reads (whole days from the aggregates, each cut edge day from the rows) run
/// at once, each into its own `DayRows`, and be added up afterwards.
#[derive(Debug, Default)]
pub(crate) struct DayRows(Vec<DayRow>);

#[derive(Debug)]
enum DayRow {
    Responses(i64, i64, i64),
    Feedback(i64, i64, i64, Option<i64>, i64),
    Category(i64, i64, String, i64),
}

impl DayCounts for DayRows {
    fn add_responses(&mut self, model: i64, day: i64, n: i64) {
        self.0.push(DayRow::Responses(model, day, n));
    }

    fn add_feedback(&mut self, model: i64, day: i64, polarity: i64, rating: Option<i64>, n: i64) {
        self.0
            .push(DayRow::Feedback(model, day, polarity, rating, n));
    }

    fn add_category(&mut self, model: i64, day: i64, category: String, n: i64) {
        self.0.push(DayRow::Category(model, day, category, n));
    }
}

impl DayRows {
    /// Adds every count to `into`, in the order they were read (a day's responses before
    /// its feedback, as [`DayTallies`] needs).
    pub(crate) fn add_to(self, into: &mut impl DayCounts) {
        for row in self.0 {
            match row {
                DayRow::Responses(m, d, n) => into.add_responses(m, d, n),
                DayRow::Feedback(m, d, p, r, n) => into.add_feedback(m, d, p, r, n),
                DayRow::Category(m, d, c, n) => into.add_category(m, d, c, n),
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = DAY_MICROS;

    /// Reads split over several `DayRows` (as metrics runs them at once) add up to the
    /// report of the same reads into one `DayTallies`, whichever part is added first, also
    /// when two parts name the same day (a weekly group keyed by a Monday that is also a
    /// cut edge day).
    #[test]
    fn rows_read_apart_add_up_to_the_same_report() {
        fn read_whole(into: &mut impl DayCounts) {
            into.add_responses(1, 10, 4);
            into.add_feedback(1, 10, 1, None, 3);
            into.add_feedback(1, 10, -1, Some(2), 1);
            into.add_category(1, 10, "tone".into(), 1);
            into.add_responses(2, 11, 1);
        }
        fn read_edge(into: &mut impl DayCounts) {
            into.add_responses(1, 10, 2);
            into.add_feedback(1, 10, 0, Some(3), 2);
            into.add_responses(1, 12, 1);
            into.add_feedback(1, 12, 1, Some(5), 1);
            into.add_category(1, 12, "accuracy".into(), 1);
        }
        let names: HashMap<i64, String> = [(1, "a".to_string()), (2, "b".to_string())].into();
        for bucket in [None, Some(Bucket::Day), Some(Bucket::Week)] {
            let mut direct = DayTallies::default();
            read_whole(&mut direct);
            read_edge(&mut direct);
            let direct = direct.into_report(&names, bucket);
            assert_eq!(direct.models.len(), 2);
            for edge_first in [false, true] {
                let (mut whole, mut edge) = (DayRows::default(), DayRows::default());
                read_whole(&mut whole);
                read_edge(&mut edge);
                let mut days = DayTallies::default();
                if edge_first {
                    edge.add_to(&mut days);
                    whole.add_to(&mut days);
                } else {
                    whole.add_to(&mut days);
                    edge.add_to(&mut days);
                }
                assert_eq!(
                    days.into_report(&names, bucket),
                    direct,
                    "{bucket:?} {edge_first}"
                );
            }
        }
    }

    #[test]
    fn ranges_split_into_whole_days_and_cut_edges() {
        let whole = |a, b| Some((a, b));
        let cases = [
            ((None, None), whole(None, None), vec![]),
            ((Some(2 * D), Some(5 * D)), whole(Some(2), Some(5)), vec![]),
            (
                (Some(2 * D + 7), Some(5 * D + 9)),
                whole(Some(3), Some(5)),
                vec![(2 * D + 7, 3 * D), (5 * D, 5 * D + 9)],
            ),
            (
                (Some(2 * D + 7), None),
                whole(Some(3), None),
                vec![(2 * D + 7, 3 * D)],
            ),
            (
                (None, Some(5 * D + 9)),
                whole(None, Some(5)),
                vec![(5 * D, 5 * D + 9)],
            ),
            (
                (Some(2 * D + 7), Some(2 * D + 9)),
                None,
                vec![(2 * D + 7, 2 * D + 9)],
            ),
            (
                (Some(2 * D + 7), Some(3 * D + 9)),
                None,
                vec![(2 * D + 7, 3 * D + 9)],
            ),
            (
                (Some(-D - 7), Some(D + 1)),
                whole(Some(-1), Some(1)),
                vec![(-D - 7, -D), (D, D + 1)],
            ),
            ((Some(3 * D), Some(3 * D)), None, vec![]),
            ((Some(4 * D), Some(3 * D)), None, vec![]),
        ];
        for ((since, until), whole, rows) in cases {
            assert_eq!(
                split_by_days(since, until),
                DaySplit { whole, rows },
                "{since:?}..{until:?}"
            );
        }
    }
}
