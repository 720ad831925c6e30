//! Weekly negative-feedback series (ISO weeks, UTC) and their trends.
//!
//! [`weekly_series`] groups negatives by any key (a category here; a pattern later), and
//! [`series_trend`] turns one group's series into a [`CategoryTrend`]-shaped result, so other
//! groupings reuse both. [`category_trends`] is the per-category report of `tuneloop trends`.

use super::metrics::bucket_start_micros;
use super::trend::{mann_kendall_at, pettitt};
use super::MAX_SERIES_WEEKS;
use crate::model::time::{from_micros, to_micros};
use crate::model::DailyTrendCounts;
use crate::model::{
    Bucket, CategoryTrend, ChangePoint, ErrorPattern, Feedback, PatternTrend, Polarity,
    ResponseRecord, Timestamp, TrendDirection, TrendQuery, TrendReport, WeeklyPoint,
};
use chrono::Datelike;
use std::collections::{BTreeMap, HashMap};

const DAY_MICROS: i64 = 86_400_000_000;
const WEEK_MICROS: i64 = 7 * DAY_MICROS;

/// Weekly counts shared by every group, plus each group's negatives per week.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklySeries<K> {
    /// ISO week labels (`2026-W36`), contiguous from the first to the last week with responses,
    /// at most [`MAX_SERIES_WEEKS`] of them (the newest).
    pub weeks: Vec<String>,
    /// Responses created in each week.
    pub responses: Vec<u64>,
    /// Per group: negative feedback items on responses created in each week.
    pub negatives: BTreeMap<K, Vec<u64>>,
    /// Responses matching the query but older than the first week, left out of the series
    /// (and their feedback with them) because the series keeps the newest
    /// [`MAX_SERIES_WEEKS`] weeks.
    pub omitted_responses: u64,
}

impl<K> WeeklySeries<K> {
    fn empty() -> Self {
        WeeklySeries {
            weeks: Vec::new(),
            responses: Vec::new(),
            negatives: BTreeMap::new(),
            omitted_responses: 0,
        }
    }
}

/// The weeks a series covers, given the Mondays (in microseconds) of its responses: from the
/// oldest Monday within [`MAX_SERIES_WEEKS`] of the newest, to the newest (not from the cap
/// itself, so a stray old response costs no run of empty weeks). `(first, last, labels)`;
/// `None` without any Monday.
fn week_span(mondays: impl Iterator<Item = i64> + Clone) -> Option<(i64, i64, Vec<String>)> {
    let last = mondays.clone().max()?;
    let cutoff = last.saturating_sub((MAX_SERIES_WEEKS as i64 - 1) * WEEK_MICROS);
    let first = mondays.filter(|m| *m >= cutoff).min().unwrap_or(last);
    // At most MAX_SERIES_WEEKS, since cutoff <= first <= last.
    let n = ((last - first) / WEEK_MICROS) as usize + 1;
    let labels = (0..n)
        .map(|i| iso_week_label(&from_micros(first + i as i64 * WEEK_MICROS)))
        .collect();
    Some((first, last, labels))
}

/// The ISO week label of a time (UTC), e.g. `2026-W36`.
pub fn iso_week_label(t: &Timestamp) -> String {
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Builds weekly series of negatives grouped by `group`.
///
/// Only responses matching `query` (model, since, until) count. A negative feedback item (its
/// polarity) on such a response adds 1 to each distinct key `group` returns for it, in the week
/// the response was created; feedback on other responses is ignored.
///
/// The series ends at the newest week with a response and spans at most
/// [`MAX_SERIES_WEEKS`] weeks: older responses are counted in
/// [`WeeklySeries::omitted_responses`] and left out, so one stray old timestamp cannot make the
/// series (and the O(n²) trend tests on it) arbitrarily long.
pub fn weekly_series<K, F>(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    query: &TrendQuery,
    mut group: F,
) -> WeeklySeries<K>
where
    K: Ord + Clone,
    F: FnMut(&Feedback, &ResponseRecord) -> Vec<K>,
{
    // Week starts in microseconds: integer arithmetic, so no stored time can overflow a
    // calendar computation.
    let selected: Vec<(&ResponseRecord, i64)> = responses
        .iter()
        .filter(|r| query.model.as_deref().is_none_or(|m| r.model_id == m))
        .filter(|r| query.since.is_none_or(|s| r.created_at >= s))
        .filter(|r| query.until.is_none_or(|u| r.created_at < u))
        .map(|r| {
            (
                r,
                bucket_start_micros(to_micros(&r.created_at), Bucket::Week),
            )
        })
        .collect();
    let Some((first, _, weeks)) = week_span(selected.iter().map(|(_, m)| *m)) else {
        return WeeklySeries::empty();
    };
    let n = weeks.len();
    let mut counts = vec![0u64; n];
    let mut omitted_responses = 0;
    let mut by_id: HashMap<&str, (usize, &ResponseRecord)> = HashMap::with_capacity(selected.len());
    for (r, monday) in &selected {
        if *monday < first {
            omitted_responses += 1;
            continue;
        }
        let i = ((*monday - first) / WEEK_MICROS) as usize;
        counts[i] += 1;
        by_id.insert(r.id.as_str(), (i, r));
    }
    let mut negatives: BTreeMap<K, Vec<u64>> = BTreeMap::new();
    for f in feedback {
        if f.polarity() != Polarity::Negative {
            continue;
        }
        let Some(&(i, r)) = by_id.get(f.response_id.as_str()) else {
            continue;
        };
        let mut keys = group(f, r);
        // One item counts once per group even if the grouping names a key twice.
        keys.sort();
        keys.dedup();
        for k in keys {
            negatives.entry(k).or_insert_with(|| vec![0; n])[i] += 1;
        }
    }
    WeeklySeries {
        weeks,
        responses: counts,
        negatives,
        omitted_responses,
    }
}

/// The trend of one group's series: rates, Mann-Kendall on them, emerging flag, change point.
///
/// `name` goes into [`CategoryTrend::category`]. `negatives` must be as long as
/// `series.weeks`. Only the newest [`MAX_SERIES_WEEKS`] weeks are used, whoever built the
/// series, so the O(n²) tests stay bounded.
pub fn series_trend<K>(
    name: String,
    series: &WeeklySeries<K>,
    negatives: &[u64],
    query: &TrendQuery,
) -> CategoryTrend {
    let n = series
        .weeks
        .len()
        .min(series.responses.len())
        .min(negatives.len());
    let skip = n.saturating_sub(MAX_SERIES_WEEKS);
    let negatives = &negatives[skip..n];
    let weekly: Vec<WeeklyPoint> = series.weeks[skip..n]
        .iter()
        .zip(&series.responses[skip..n])
        .zip(negatives)
        .map(|((week, &responses), &neg)| WeeklyPoint {
            week: week.clone(),
            negatives: neg,
            responses,
            rate: if responses == 0 {
                0.0
            } else {
                neg as f64 / responses as f64
            },
        })
        .collect();
    let rates: Vec<f64> = weekly.iter().map(|w| w.rate).collect();
    let mk = mann_kendall_at(&rates, query.alpha);
    let change_point = pettitt(&rates)
        .filter(|p| p.p_value < query.alpha)
        .and_then(|p| {
            weekly.get(p.index).map(|w| ChangePoint {
                week: w.week.clone(),
                p_value: p.p_value,
            })
        });
    CategoryTrend {
        category: name,
        direction: mk.direction,
        slope: mk.slope,
        p_value: mk.p_value,
        emerging: is_emerging(negatives, query.window as usize),
        weekly,
        change_point,
    }
}

/// Negatives in the last `window` weeks and none in the up to `window` weeks before; false
/// when there are no weeks before the last window to compare with.
fn is_emerging(negatives: &[u64], window: usize) -> bool {
    let n = negatives.len();
    if window == 0 || n <= window {
        return false;
    }
    let recent = &negatives[n - window..];
    let before = &negatives[n.saturating_sub(2 * window)..n - window];
    recent.iter().any(|&x| x > 0) && before.iter().all(|&x| x == 0)
}

/// Per-category trends of the weekly negative rate (see docs/formats.md, "Trends").
///
/// Categories are the explicit categories of negative feedback; a category without negatives
/// in range has no entry. Sorted significant (p < α) first, then by p-value, then by larger
/// |slope|, then by name.
pub fn category_trends(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    query: &TrendQuery,
) -> TrendReport {
    let series = weekly_series(responses, feedback, query, |f, _| {
        f.categories()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect()
    });
    report_of(&series, query)
}

/// [`category_trends`] from daily counts (a store's daily aggregates) instead of the rows:
/// the same report, given counts over the same responses (days wholly inside the query's
/// range; the model filter already applied).
pub fn category_trends_from_days(days: &DailyTrendCounts, query: &TrendQuery) -> TrendReport {
    let series = series_from_days(days);
    report_of(&series, query)
}

/// The trend report of a series grouped by category: each category's trend, sorted.
fn report_of(series: &WeeklySeries<String>, query: &TrendQuery) -> TrendReport {
    let mut trends: Vec<CategoryTrend> = series
        .negatives
        .iter()
        .map(|(name, neg)| series_trend(name.clone(), series, neg, query))
        .collect();
    sort_trends(&mut trends, query.alpha);
    TrendReport {
        trends,
        omitted_responses: series.omitted_responses,
    }
}

/// [`weekly_series`] by category from daily counts: the same weeks, the same cap on their
/// number and the same omitted responses.
fn series_from_days(days: &DailyTrendCounts) -> WeeklySeries<String> {
    let monday = |day: i64| bucket_start_micros(day.saturating_mul(DAY_MICROS), Bucket::Week);
    let mut per_week: BTreeMap<i64, u64> = BTreeMap::new();
    for (&day, &n) in days.responses.iter().filter(|(_, &n)| n > 0) {
        *per_week.entry(monday(day)).or_default() += n;
    }
    let Some((first, last, weeks)) = week_span(per_week.keys().copied()) else {
        return WeeklySeries::empty();
    };
    let n = weeks.len();
    let mut counts = vec![0u64; n];
    let mut omitted_responses = 0;
    for (&m, &c) in &per_week {
        if m < first {
            omitted_responses += c;
        } else {
            counts[((m - first) / WEEK_MICROS) as usize] += c;
        }
    }
    let mut negatives: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (category, per_day) in &days.negatives {
        for (&day, &c) in per_day {
            let m = monday(day);
            // Negatives count on responses inside the series only (as in `weekly_series`).
            if c == 0 || m < first || m > last {
                continue;
            }
            negatives
                .entry(category.clone())
                .or_insert_with(|| vec![0; n])[((m - first) / WEEK_MICROS) as usize] += c;
        }
    }
    WeeklySeries {
        weeks,
        responses: counts,
        negatives,
        omitted_responses,
    }
}

/// Sets each pattern's [`ErrorPattern::trend`]: the weekly rate of negatives on its member
/// responses over all responses matching `query`, tested as [`category_trends`] does.
///
/// A pattern without negatives in range gets an all-zero (stable) series rather than `None`,
/// so every pattern analysed over the same data carries a trend.
pub fn pattern_trends(
    patterns: &mut [ErrorPattern],
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    query: &TrendQuery,
) {
    // Response id -> indices of the patterns holding it; patterns normally partition the
    // negatives, but nothing here relies on that.
    let mut member_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in patterns.iter().enumerate() {
        for id in &p.response_ids {
            member_of.entry(id.as_str()).or_default().push(i);
        }
    }
    let series = weekly_series(responses, feedback, query, |_, r| {
        member_of.get(r.id.as_str()).cloned().unwrap_or_default()
    });
    let zeros = vec![0; series.weeks.len()];
    let trends: Vec<PatternTrend> = (0..patterns.len())
        .map(|i| {
            let neg = series.negatives.get(&i).unwrap_or(&zeros);
            let t = series_trend(String::new(), &series, neg, query);
            PatternTrend {
                direction: t.direction,
                slope: t.slope,
                p_value: t.p_value,
                emerging: t.emerging,
            }
        })
        .collect();
    for (p, t) in patterns.iter_mut().zip(trends) {
        p.trend = Some(t);
    }
}

/// Orders trends as [`category_trends`] does.
pub fn sort_trends(trends: &mut [CategoryTrend], alpha: f64) {
    trends.sort_by(|a, b| {
        let sig = |t: &CategoryTrend| t.direction == TrendDirection::Stable || t.p_value >= alpha;
        sig(a)
            .cmp(&sig(b))
            .then(a.p_value.total_cmp(&b.p_value))
            .then(b.slope.abs().total_cmp(&a.slope.abs()))
            .then(a.category.cmp(&b.category))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_timestamp, Category, FeedbackKind};

    fn ts(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn weeks_are_iso_and_contiguous() {
        // 2026-01-01 is a Thursday: ISO week 2026-W01 starts on 2025-12-29.
        assert_eq!(iso_week_label(&ts("2026-01-01T00:00:00Z")), "2026-W01");
        assert_eq!(iso_week_label(&ts("2025-12-28T23:59:59Z")), "2025-W52");
        let rs = vec![
            ResponseRecord::new("a", "m", "q", "r", ts("2026-08-31T10:00:00Z")),
            ResponseRecord::new("b", "m", "q", "r", ts("2026-09-20T10:00:00Z")),
            ResponseRecord::new("c", "other", "q", "r", ts("2026-09-20T10:00:00Z")),
        ];
        let neg = FeedbackKind::Full {
            rating: 1,
            categories: vec![Category::new("tone").unwrap()],
            correction: None,
        };
        let fb = vec![
            Feedback::new("f1", "b", neg.clone(), ts("2026-10-01T00:00:00Z")),
            Feedback::new("f2", "c", neg, ts("2026-10-01T00:00:00Z")),
        ];
        let q = TrendQuery {
            model: Some("m".into()),
            ..Default::default()
        };
        let report = category_trends(&rs, &fb, &q);
        assert_eq!(report.trends.len(), 1);
        let t = &report.trends[0];
        let weeks: Vec<&str> = t.weekly.iter().map(|w| w.week.as_str()).collect();
        assert_eq!(weeks, ["2026-W36", "2026-W37", "2026-W38"]);
        let rates: Vec<f64> = t.weekly.iter().map(|w| w.rate).collect();
        assert_eq!(rates, [0.0, 0.0, 1.0]);
        assert_eq!(t.weekly[1].responses, 0);
        assert_eq!(t.direction, TrendDirection::Stable);
    }

    #[test]
    fn any_grouping_works() {
        // A grouping by response (as patterns will be): keys come from the response, not the
        // feedback's categories; thumbs-down carries no category but still counts.
        let rs: Vec<ResponseRecord> = (0..4)
            .map(|i| {
                let at = ts("2026-09-07T10:00:00Z") + chrono::Duration::weeks(i);
                ResponseRecord::new(format!("r{i}"), "m", "q", "r", at)
            })
            .collect();
        let fb: Vec<Feedback> = rs
            .iter()
            .map(|r| {
                let kind = FeedbackKind::Thumbs { up: false };
                Feedback::new(format!("f-{}", r.id), r.id.clone(), kind, r.created_at)
            })
            .collect();
        let q = TrendQuery::default();
        let series = weekly_series(&rs, &fb, &q, |_, r| {
            vec![if r.id == "r0" { "early" } else { "late" }]
        });
        assert_eq!(series.weeks.len(), 4);
        assert_eq!(series.negatives["early"], [1, 0, 0, 0]);
        assert_eq!(series.negatives["late"], [0, 1, 1, 1]);
        let t = series_trend("late".into(), &series, &series.negatives["late"], &q);
        assert_eq!(t.category, "late");
        assert_eq!(t.weekly[3].rate, 1.0);
    }

    #[test]
    fn pattern_trend_counts_member_negatives() {
        // Two responses a week for six weeks; the pattern holds one response a week from week
        // 3 on, each with a thumbs-down: its rate climbs from 0 to 0.5 and stays.
        let rs: Vec<ResponseRecord> = (0..12)
            .map(|i| {
                let at = ts("2026-09-07T10:00:00Z") + chrono::Duration::weeks(i / 2);
                ResponseRecord::new(format!("r{i}"), "m", "q", "r", at)
            })
            .collect();
        let members: Vec<String> = (6..12).step_by(2).map(|i| format!("r{i}")).collect();
        let fb: Vec<Feedback> = members
            .iter()
            .map(|id| {
                let kind = FeedbackKind::Thumbs { up: false };
                Feedback::new(
                    format!("f-{id}"),
                    id.clone(),
                    kind,
                    ts("2026-11-01T00:00:00Z"),
                )
            })
            .collect();
        let t0 = ts("2026-09-01T00:00:00Z");
        let mut patterns = vec![ErrorPattern {
            id: "p-1".into(),
            label: "x".into(),
            category: "other".into(),
            category_share: 1.0,
            corrections: 0,
            size: members.len(),
            share: 1.0,
            response_ids: members,
            models: vec!["m".into()],
            top_terms: vec![],
            examples: vec![],
            first_seen: t0,
            last_seen: t0,
            trend: None,
        }];
        let q = TrendQuery {
            window: 3,
            ..Default::default()
        };
        pattern_trends(&mut patterns, &rs, &fb, &q);
        let t = patterns[0].trend.as_ref().unwrap();
        assert!(t.slope > 0.0, "{t:?}");
        assert!(t.emerging, "{t:?}");
        let json = serde_json::to_value(&patterns[0]).unwrap();
        assert_eq!(json["trend"]["emerging"], true);
        patterns[0].trend = None;
        let json = serde_json::to_value(&patterns[0]).unwrap();
        assert!(json["trend"].is_null());
    }

    #[test]
    fn the_series_keeps_the_newest_weeks_only() {
        // Week 0 and week 600 (plus one response right at the cap's edge): the series is the
        // newest MAX_SERIES_WEEKS weeks; the response of week 0 is counted as omitted.
        // Without the edge response it would start at week 600 itself.
        let t0 = ts("2010-01-04T10:00:00Z"); // a Monday
        let at = |w: i64| t0 + chrono::Duration::weeks(w);
        let edge = 600 - (MAX_SERIES_WEEKS as i64 - 1);
        let rs = vec![
            ResponseRecord::new("old", "m", "q", "r", at(0)),
            ResponseRecord::new("edge", "m", "q", "r", at(edge)),
            ResponseRecord::new("new", "m", "q", "r", at(600)),
        ];
        let fb: Vec<Feedback> = rs
            .iter()
            .map(|r| {
                let kind = FeedbackKind::Thumbs { up: false };
                Feedback::new(format!("f-{}", r.id), r.id.clone(), kind, r.created_at)
            })
            .collect();
        let q = TrendQuery::default();
        let series = weekly_series(&rs, &fb, &q, |_, _| vec!["all"]);
        assert_eq!(series.weeks.len(), MAX_SERIES_WEEKS);
        assert_eq!(series.omitted_responses, 1);
        assert_eq!(series.weeks[0], iso_week_label(&at(edge)));
        assert_eq!(series.weeks.last(), Some(&iso_week_label(&at(600))));
        assert_eq!(series.responses.iter().sum::<u64>(), 2);
        assert_eq!(series.negatives["all"].iter().sum::<u64>(), 2);
        let without_edge: Vec<ResponseRecord> =
            rs.iter().filter(|r| r.id != "edge").cloned().collect();
        let series = weekly_series(&without_edge, &fb, &q, |_, _| vec!["all"]);
        assert_eq!(series.weeks, [iso_week_label(&at(600))]);
        assert_eq!(series.omitted_responses, 1);
        // A series built by hand longer than the cap is cut too.
        let long = WeeklySeries {
            weeks: vec!["w".to_string(); 2 * MAX_SERIES_WEEKS],
            responses: vec![1; 2 * MAX_SERIES_WEEKS],
            negatives: BTreeMap::from([("x", vec![1u64; 2 * MAX_SERIES_WEEKS])]),
            omitted_responses: 0,
        };
        let t = series_trend("x".into(), &long, &long.negatives["x"], &q);
        assert_eq!(t.weekly.len(), MAX_SERIES_WEEKS);
    }

    #[test]
    fn emerging_needs_a_quiet_previous_window() {
        assert!(is_emerging(&[0, 0, 0, 0, 0, 1], 2));
        assert!(!is_emerging(&[0, 0, 0, 1, 0, 1], 2));
        assert!(!is_emerging(&[0, 0, 0, 0, 0, 0], 2));
        assert!(!is_emerging(&[0, 1], 2));
    }
}
