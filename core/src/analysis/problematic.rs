//! Problematic responses: those with negative feedback, worst first.

use crate::model::time::to_micros;
use crate::model::{Feedback, ProblematicQuery, ProblematicResponse, ResponseRecord};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// The ranking: most negative feedback, then lowest mean score, then newest, then id.
pub fn worst_first(a: &ProblematicResponse, b: &ProblematicResponse) -> Ordering {
    b.negative
        .cmp(&a.negative)
        .then(a.score.total_cmp(&b.score))
        .then(b.created_at.cmp(&a.created_at))
        .then(a.response_id.cmp(&b.response_id))
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
    let mut out: Vec<ProblematicResponse> = responses
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
    out.sort_by(worst_first);
    out.truncate(query.limit);
    out
}
