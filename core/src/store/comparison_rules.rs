//! What every backend checks before it stores a comparison: both responses exist (stored,
//! or written earlier in the same transaction), and they answer the same conversation
//! context. Written once here so every backend gives the same reasons.

use super::{precheck_comparison, Rejection};
use crate::model::{Comparison, Limits, ResponseRecord};

/// What a comparison needs to know about one of its responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseFacts {
    /// The model that answered.
    pub model_id: String,
    /// [`ResponseRecord::context_key`].
    pub context_key: String,
}

impl ResponseFacts {
    pub(crate) fn of(r: &ResponseRecord) -> Self {
        ResponseFacts {
            model_id: r.model_id.clone(),
            context_key: r.context_key(),
        }
    }

    /// From the stored columns (a SQL row): the context key needs only the prior turns and
    /// the query.
    pub(crate) fn from_parts(
        model_id: String,
        query: &str,
        conversation: Vec<crate::model::Message>,
    ) -> Self {
        let mut r = ResponseRecord::new("", model_id, query, "", chrono::DateTime::UNIX_EPOCH);
        r.conversation = conversation;
        ResponseFacts::of(&r)
    }
}

/// Checks `c` against its responses' facts (`None`: no such response); returns the two
/// models on success.
pub(crate) fn judge_refs(
    c: &Comparison,
    a: Option<&ResponseFacts>,
    b: Option<&ResponseFacts>,
) -> Result<(String, String), Rejection> {
    let unknown = |field: &str, id: &str| Rejection::Invalid {
        field: field.to_string(),
        reason: format!("no response with id `{id}` is stored or in this import"),
    };
    let a = a.ok_or_else(|| unknown("response_a", &c.response_a))?;
    let b = b.ok_or_else(|| unknown("response_b", &c.response_b))?;
    if a.context_key != b.context_key {
        return Err(Rejection::Invalid {
            field: "response_b".into(),
            reason: format!(
                "answers a different conversation context than response_a `{}`; a comparison \
                 joins two answers to the same prior turns and query",
                c.response_a
            ),
        });
    }
    Ok((a.model_id.clone(), b.model_id.clone()))
}

/// Validation and references together: the rejection to report, or the two models.
pub(crate) fn check(
    c: &Comparison,
    limits: &Limits,
    a: Option<&ResponseFacts>,
    b: Option<&ResponseFacts>,
) -> Result<(String, String), Rejection> {
    if let Some(rej) = precheck_comparison(c, limits) {
        return Err(rej);
    }
    judge_refs(c, a, b)
}
