//! Quality metrics per model: counts, positive rate with a Wilson interval, mean rating,
//! category counts, optional day/week series.

use super::stats::{wilson_interval, Z95};
use super::{MAX_SERIES_DAYS, MAX_SERIES_WEEKS};
use crate::model::time::{from_micros, to_micros};
use crate::model::{
    Bucket, BucketMetrics, Feedback, MetricsQuery, MetricsReport, ModelMetrics, Polarity,
    QualityFigures, ResponseRecord, Timestamp,
};
use std::collections::{BTreeMap, HashMap};

const DAY_MICROS: i64 = 86_400_000_000;
/// 1970-01-01 was a Thursday; ISO weeks start on Monday, four days later.
const MONDAY_OFFSET_MICROS: i64 = 4 * DAY_MICROS;

/// Running counts for one model (or one bucket); [`Tally::finish`] turns them into figures.
/// Backends that aggregate in SQL fill a `Tally` from their query and share `finish`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Responses.
    pub responses: u64,
    /// Feedback items.
    pub feedback: u64,
    /// Positive items.
    pub positive: u64,
    /// Negative items.
    pub negative: u64,
    /// Neutral items.
    pub neutral: u64,
    /// Sum of ratings.
    pub rating_sum: u64,
    /// Items with a rating.
    pub rating_count: u64,
    /// Explicit category counts.
    pub categories: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts one feedback item.
    pub fn add_feedback(&mut self, polarity: Polarity, rating: Option<u8>) {
        self.add_feedback_group(polarity, rating.map(u64::from), 1);
    }

    /// Counts `n` feedback items of one polarity and rating: the grouped form the SQL
    /// stores' aggregates and the memory store's per-code counters come in.
    pub(crate) fn add_feedback_group(&mut self, polarity: Polarity, rating: Option<u64>, n: u64) {
        self.feedback += n;
        match polarity {
            Polarity::Positive => self.positive += n,
            Polarity::Negative => self.negative += n,
            Polarity::Neutral => self.neutral += n,
        }
        if let Some(r) = rating {
            self.rating_sum += r * n;
            self.rating_count += n;
        }
    }

    /// Adds another tally's counts.
    pub fn merge(&mut self, other: &Tally) {
        self.responses += other.responses;
        self.feedback += other.feedback;
        self.positive += other.positive;
        self.negative += other.negative;
        self.neutral += other.neutral;
        self.rating_sum += other.rating_sum;
        self.rating_count += other.rating_count;
        for (k, v) in &other.categories {
            *self.categories.entry(k.clone()).or_default() += v;
        }
    }

    /// Rates and the Wilson interval.
    pub fn finish(&self) -> QualityFigures {
        let rate = |k: u64| (self.feedback > 0).then(|| k as f64 / self.feedback as f64);
        QualityFigures {
            responses: self.responses,
            feedback: self.feedback,
            positive: self.positive,
            negative: self.negative,
            neutral: self.neutral,
            positive_rate: rate(self.positive),
            positive_rate_ci: wilson_interval(self.positive, self.feedback, Z95),
            negative_rate: rate(self.negative),
            average_rating: (self.rating_count > 0)
                .then(|| self.rating_sum as f64 / self.rating_count as f64),
            categories: self.categories.clone(),
        }
    }
}

/// The start of the bucket holding `micros` (microseconds since the epoch), in microseconds.
pub fn bucket_start_micros(micros: i64, bucket: Bucket) -> i64 {
    match bucket {
        Bucket::Day => micros.div_euclid(DAY_MICROS) * DAY_MICROS,
        Bucket::Week => {
            let week = 7 * DAY_MICROS;
            (micros - MONDAY_OFFSET_MICROS).div_euclid(week) * week + MONDAY_OFFSET_MICROS
        }
    }
}

/// The start of the bucket holding `t`.
pub fn bucket_start(t: &Timestamp, bucket: Bucket) -> Timestamp {
    from_micros(bucket_start_micros(to_micros(t), bucket))
}

fn bucket_len_micros(bucket: Bucket) -> i64 {
    match bucket {
        Bucket::Day => DAY_MICROS,
        Bucket::Week => 7 * DAY_MICROS,
    }
}

/// Whether a response created at `micros` is inside the query's range and model.
pub fn in_range(query: &MetricsQuery, micros: i64) -> bool {
    query.since.is_none_or(|s| micros >= to_micros(&s))
        && query.until.is_none_or(|u| micros < to_micros(&u))
}

/// Per-model tallies with optional per-bucket tallies, keyed by model id.
#[derive(Debug, Clone, Default)]
pub struct ModelTallies {
    /// Whole-range tally per model.
    pub totals: BTreeMap<String, Tally>,
    /// Per model, per bucket start (µs), when a bucket is asked for.
    pub buckets: BTreeMap<String, BTreeMap<i64, Tally>>,
}

impl ModelTallies {
    /// Adds one model's whole-range tally and, when a bucket was asked for, its per-bucket
    /// tallies. A model without responses in range is left out of the report.
    pub(crate) fn add_model(
        &mut self,
        name: &str,
        total: Tally,
        buckets: Option<BTreeMap<i64, Tally>>,
    ) {
        if total.responses == 0 {
            return;
        }
        if let Some(b) = buckets {
            self.buckets.insert(name.to_string(), b);
        }
        self.totals.insert(name.to_string(), total);
    }
}

/// Builds the report from tallies: models sorted by id, bucket series contiguous from the
/// first to the last bucket with data (gaps filled with zeros).
pub fn assemble_report(tallies: ModelTallies, bucket: Option<Bucket>) -> MetricsReport {
    let ModelTallies {
        totals,
        mut buckets,
    } = tallies;
    let models = totals
        .into_iter()
        .map(|(model_id, total)| {
            let (series, omitted_from_buckets) = match bucket {
                Some(b) => {
                    let per = buckets.remove(&model_id).unwrap_or_default();
                    let (series, omitted) = contiguous_series(per, b);
                    (Some(series), omitted)
                }
                None => (None, 0),
            };
            ModelMetrics {
                model_id,
                figures: total.finish(),
                buckets: series,
                omitted_from_buckets,
            }
        })
        .collect();
    MetricsReport { models }
}

/// The most buckets a series holds (see [`MAX_SERIES_DAYS`], [`MAX_SERIES_WEEKS`]).
pub fn max_buckets(bucket: Bucket) -> usize {
    match bucket {
        Bucket::Day => MAX_SERIES_DAYS,
        Bucket::Week => MAX_SERIES_WEEKS,
    }
}

/// The series from the first to the last bucket with data, gaps filled with zeros, within
/// the newest [`max_buckets`]; returns it with the responses of the buckets left out.
fn contiguous_series(per: BTreeMap<i64, Tally>, bucket: Bucket) -> (Vec<BucketMetrics>, u64) {
    let Some(last) = per.keys().next_back().copied() else {
        return (Vec::new(), 0);
    };
    let step = bucket_len_micros(bucket);
    let cap = max_buckets(bucket) as i64;
    let cutoff = last.saturating_sub((cap - 1) * step);
    // Start at the oldest bucket with data inside the cap, so a stray old response costs no
    // run of empty buckets.
    let first = per.range(cutoff..).next().map_or(last, |(t, _)| *t);
    let omitted = per.range(..first).map(|(_, t)| t.responses).sum();
    let mut out = Vec::new();
    let mut t = first;
    while t <= last {
        let figures = per
            .get(&t)
            .map(Tally::finish)
            .unwrap_or_else(|| Tally::default().finish());
        out.push(BucketMetrics {
            start: from_micros(t),
            figures,
        });
        t += step;
    }
    (out, omitted)
}

/// Metrics over plain records: the reference definition every backend matches.
///
/// `feedback` items whose response is not in `responses` are ignored.
pub fn compute_metrics(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    query: &MetricsQuery,
) -> MetricsReport {
    let mut tallies = ModelTallies::default();
    let mut by_id: HashMap<&str, (&str, i64)> = HashMap::with_capacity(responses.len());
    for r in responses {
        if query.model.as_deref().is_some_and(|m| m != r.model_id) {
            continue;
        }
        let micros = to_micros(&r.created_at);
        if !in_range(query, micros) {
            continue;
        }
        by_id.insert(&r.id, (&r.model_id, micros));
        tallies
            .totals
            .entry(r.model_id.clone())
            .or_default()
            .responses += 1;
        if let Some(b) = query.bucket {
            tallies
                .buckets
                .entry(r.model_id.clone())
                .or_default()
                .entry(bucket_start_micros(micros, b))
                .or_default()
                .responses += 1;
        }
    }
    for f in feedback {
        let Some(&(model, micros)) = by_id.get(f.response_id.as_str()) else {
            continue;
        };
        let add = |t: &mut Tally| {
            t.add_feedback(f.polarity(), f.rating());
            for c in f.categories() {
                *t.categories.entry(c.as_str().to_string()).or_default() += 1;
            }
        };
        if let Some(t) = tallies.totals.get_mut(model) {
            add(t);
        }
        if let Some(b) = query.bucket {
            if let Some(t) = tallies
                .buckets
                .get_mut(model)
                .and_then(|m| m.get_mut(&bucket_start_micros(micros, b)))
            {
                add(t);
            }
        }
    }
    assemble_report(tallies, query.bucket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_timestamp;

    #[test]
    fn week_buckets_start_on_monday() {
        let t = parse_timestamp("2026-09-03T15:00:00Z").expect("valid"); // a Thursday
        let start = bucket_start(&t, Bucket::Week);
        assert_eq!(
            crate::model::format_timestamp(&start),
            "2026-08-31T00:00:00Z"
        );
        let d = bucket_start(&t, Bucket::Day);
        assert_eq!(crate::model::format_timestamp(&d), "2026-09-03T00:00:00Z");
    }

    #[test]
    fn bucket_series_keep_the_newest_buckets() {
        let day = |d: i64| d * DAY_MICROS;
        let per: BTreeMap<i64, Tally> = [0, 10, 5_000]
            .into_iter()
            .map(|d| {
                let t = Tally {
                    responses: 2,
                    ..Default::default()
                };
                (day(d), t)
            })
            .collect();
        // Days 0 and 10 are older than the newest 3,660 days: the series is day 5,000 alone.
        let (series, omitted) = contiguous_series(per.clone(), Bucket::Day);
        assert_eq!(series.len(), 1);
        assert_eq!(omitted, 4);
        assert_eq!(series.last().map(|b| to_micros(&b.start)), Some(day(5_000)));
        // A bucket inside the cap starts the series, however far back.
        let mut wide = per.clone();
        wide.insert(day(5_000 - 3_659), Tally::default());
        let (series, omitted) = contiguous_series(wide, Bucket::Day);
        assert_eq!(series.len(), MAX_SERIES_DAYS);
        assert_eq!(omitted, 4);
        // Weeks: the same keys as week starts (any step-aligned keys work here).
        let weeks: BTreeMap<i64, Tally> = [0, 100, 600]
            .into_iter()
            .map(|w| (w * 7 * DAY_MICROS, Tally::default()))
            .collect();
        let (series, _) = contiguous_series(weeks, Bucket::Week);
        assert_eq!(series.len(), 501);
        // Under the cap nothing is cut.
        let recent: BTreeMap<i64, Tally> = per.into_iter().filter(|(t, _)| *t < day(20)).collect();
        let (series, omitted) = contiguous_series(recent, Bucket::Day);
        assert_eq!(series.len(), 11);
        assert_eq!(omitted, 0);
    }
}
