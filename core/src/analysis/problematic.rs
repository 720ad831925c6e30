//! Problematic responses: those with negative feedback, worst first.
//!
//! The ranking lives here only: every store hands its candidates (the figures of each
//! response with a negative item) to [`top`], which orders them and applies the limit, so
//! the memory, SQLite and PostgreSQL stores list the same responses in the same order.

use crate::analysis::stats::{wilson_interval, Z95};
use crate::model::time::to_micros;
use crate::model::{Feedback, ProblematicQuery, ProblematicResponse, RankBy, ResponseRecord};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// What the ranking looks at for one response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankFigures<'a> {
    /// Negative feedback items.
    pub negative: u64,
    /// All feedback items.
    pub feedback: u64,
    /// Mean feedback score.
    pub score: f64,
    /// Response creation time, microseconds since the epoch.
    pub created_at: i64,
    /// Response id.
    pub response_id: &'a str,
}

impl RankFigures<'_> {
    /// Lower bound of the 95 % Wilson interval of the negative share (0 without feedback).
    pub fn wilson_lower(&self) -> f64 {
        wilson_lower(self.negative, self.feedback)
    }
}

/// The ranking figures of a summarised response.
pub fn figures_of(p: &ProblematicResponse) -> RankFigures<'_> {
    RankFigures {
        negative: p.negative,
        feedback: p.feedback,
        score: p.score,
        created_at: to_micros(&p.created_at),
        response_id: &p.response_id,
    }
}

/// Lower bound of the 95 % Wilson score interval (z = 1.96) of `negative` out of `feedback`.
pub fn wilson_lower(negative: u64, feedback: u64) -> f64 {
    wilson_interval(negative, feedback, Z95).map_or(0.0, |[lo, _]| lo)
}

/// The ranking, worst first. `rate`: the higher Wilson lower bound of the negative share,
/// then more negative items; `count`: more negative items, then the higher lower bound.
/// Then, for both: the lower mean score, the newer response, the smaller id.
pub fn compare(a: &RankFigures<'_>, b: &RankFigures<'_>, by: RankBy) -> Ordering {
    let rate = || b.wilson_lower().total_cmp(&a.wilson_lower());
    let count = || b.negative.cmp(&a.negative);
    match by {
        RankBy::Rate => rate().then_with(count),
        RankBy::Count => count().then_with(rate),
    }
    .then(a.score.total_cmp(&b.score))
    .then(b.created_at.cmp(&a.created_at))
    .then(a.response_id.cmp(b.response_id))
}

/// [`compare`] over summarised responses.
pub fn worst_first(a: &ProblematicResponse, b: &ProblematicResponse, by: RankBy) -> Ordering {
    compare(&figures_of(a), &figures_of(b), by)
}

/// The `limit` worst of `items` in ranking order: the one place the ranking and the limit
/// are applied, whatever the store. `figures` reads an item's figures.
pub fn top<T>(
    mut items: Vec<T>,
    figures: impl Fn(&T) -> RankFigures<'_>,
    by: RankBy,
    limit: usize,
) -> Vec<T> {
    let cmp = |a: &T, b: &T| compare(&figures(a), &figures(b), by);
    if items.len() > limit && limit > 0 {
        // Partial selection first: the candidates can be many, the limit is small.
        items.select_nth_unstable_by(limit - 1, cmp);
        items.truncate(limit);
    }
    items.sort_by(cmp);
    items.truncate(limit);
    items
}

/// Builds the entry for one response from its feedback (in creation order); `None` when no
/// feedback is negative.
pub fn summarize(response: &ResponseRecord, feedback: &[&Feedback]) -> Option<ProblematicResponse> {
    let negative = feedback
        .iter()
        .filter(|f| f.polarity() == crate::model::Polarity::Negative)
        .count() as u64;
    if negative == 0 {
        return None;
    }
    let positive = feedback
        .iter()
        .filter(|f| f.polarity() == crate::model::Polarity::Positive)
        .count() as u64;
    let score = feedback.iter().map(|f| f.score()).sum::<f64>() / feedback.len() as f64;
    let mut categories = BTreeMap::new();
    for f in feedback {
        for c in f.categories() {
            *categories.entry(c.as_str().to_string()).or_insert(0u64) += 1;
        }
    }
    let mut ordered: Vec<&&Feedback> = feedback.iter().collect();
    ordered.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let comments = ordered
        .iter()
        .filter_map(|f| f.comment.clone())
        .filter(|c| !c.trim().is_empty())
        .collect();
    Some(ProblematicResponse {
        response_id: response.id.clone(),
        model_id: response.model_id.clone(),
        query: response.query.clone(),
        response: response.response.clone(),
        created_at: response.created_at,
        feedback: feedback.len() as u64,
        positive,
        negative,
        negative_rate: negative as f64 / feedback.len() as f64,
        wilson_lower: wilson_lower(negative, feedback.len() as u64),
        score,
        categories,
        comments,
    })
}

/// Problematic responses over plain records: the reference every backend matches.
pub fn rank_problematic(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    query: &ProblematicQuery,
) -> Vec<ProblematicResponse> {
    let mut by_response: HashMap<&str, Vec<&Feedback>> = HashMap::new();
    for f in feedback {
        by_response.entry(&f.response_id).or_default().push(f);
    }
    let out: Vec<ProblematicResponse> = responses
        .iter()
        .filter(|r| query.model.as_deref().is_none_or(|m| m == r.model_id))
        .filter(|r| {
            query
                .since
                .is_none_or(|s| to_micros(&r.created_at) >= to_micros(&s))
        })
        .filter(|r| {
            query
                .until
                .is_none_or(|u| to_micros(&r.created_at) < to_micros(&u))
        })
        .filter_map(|r| summarize(r, by_response.get(r.id.as_str())?))
        .collect();
    top(out, figures_of, query.rank_by, query.limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(negative: u64, feedback: u64, id: &str) -> RankFigures<'_> {
        RankFigures {
            negative,
            feedback,
            score: 0.5,
            created_at: 0,
            response_id: id,
        }
    }

    #[test]
    fn twelve_of_twelve_outranks_twenty_of_sixty_by_rate_only() {
        let (a, b) = (fig(12, 12, "a"), fig(20, 60, "b"));
        assert!(a.wilson_lower() > 0.7 && b.wilson_lower() < 0.25);
        assert_eq!(compare(&a, &b, RankBy::Rate), Ordering::Less);
        assert_eq!(compare(&a, &b, RankBy::Count), Ordering::Greater);
        // One negative out of one rests on too little to outrank 12 of 12.
        assert_eq!(compare(&a, &fig(1, 1, "c"), RankBy::Rate), Ordering::Less);
    }

    #[test]
    fn rank_by_is_rate_by_default_and_named_in_options() {
        let q: ProblematicQuery = serde_json::from_str("{}").unwrap();
        assert_eq!(q.rank_by, RankBy::Rate);
        let q: ProblematicQuery = serde_json::from_str(r#"{"rank_by":"count"}"#).unwrap();
        assert_eq!(q.rank_by, RankBy::Count);
        assert!(serde_json::from_str::<ProblematicQuery>(r#"{"rank_by":"size"}"#).is_err());
        assert_eq!("rate".parse::<RankBy>().unwrap(), RankBy::Rate);
        assert!("Count".parse::<RankBy>().is_err());
        assert_eq!(RankBy::Count.as_str(), "count");
    }

    #[test]
    fn top_applies_the_limit_after_ranking() {
        let items: Vec<(u64, u64, String)> = (0..50)
            .map(|i| (1 + i % 7, 1 + i % 7 + i % 11, format!("r{i:02}")))
            .collect();
        fn f(t: &(u64, u64, String)) -> RankFigures<'_> {
            fig(t.0, t.1, &t.2)
        }
        for by in [RankBy::Rate, RankBy::Count] {
            let mut all = items.clone();
            all.sort_by(|a, b| compare(&f(a), &f(b), by));
            for limit in [0, 1, 5, 49, 50, 80] {
                let got = top(items.clone(), f, by, limit);
                assert_eq!(got, all[..limit.min(50)].to_vec(), "{by:?} {limit}");
            }
        }
    }
}
