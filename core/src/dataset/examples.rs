//! Training examples and the rules that turn one response and its feedback into them.
//!
//! # Resolving several feedback items on one response
//! - **Correction**: the newest full feedback item with a non-blank correction wins (ties on
//!   `created_at`: the greatest feedback id). A correction equal to the response after
//!   normalisation is no correction. A response with a correction never serves as a positive
//!   example of its original answer.
//! - **Polarity**: the sign of the sum of its feedback polarities (positive +1, neutral 0,
//!   negative −1, over thumbs, stars and full items). A zero sum with some non-neutral item is
//!   `conflicting_feedback` and makes no example; all-neutral feedback is `neutral`.
//! - **Thumbs** (KTO): the same rule over thumbs items only.
//! - **Category** (for the stratified split): the first category of the newest item that has
//!   categories, else `none`.
//! - **Rank** (for deduplication, best first): mean feedback score (thumbs up 1, down 0,
//!   stars (r − 1) / 4), then newest, then response id.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::dedup::normalize;
use super::redact::{RedactionCounts, Redactor};
use crate::model::{Feedback, Message, ResponseRecord, Role, Timestamp, Variant};

/// Where an example comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExampleSource {
    /// SFT: query answered with a correction.
    Correction,
    /// SFT: a positively rated response.
    Positive,
    /// Preference: correction preferred over the original response.
    CorrectionPair,
    /// Preference: a positive response preferred over a negative one to the same conversation
    /// context (same prior turns and query).
    PreferencePair,
    /// KTO: a response labelled by its thumbs.
    Thumbs,
}

impl ExampleSource {
    /// The snake_case name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ExampleSource::Correction => "correction",
            ExampleSource::Positive => "positive",
            ExampleSource::CorrectionPair => "correction_pair",
            ExampleSource::PreferencePair => "preference_pair",
            ExampleSource::Thumbs => "thumbs",
        }
    }
}

/// One training example, already redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Its source.
    pub source: ExampleSource,
    /// System prompt (if any), prior conversation turns, then the user's query.
    pub prompt: Vec<Message>,
    /// The answer to learn (SFT), the preferred answer, or the KTO completion.
    pub chosen: String,
    /// The non-preferred answer (preference examples).
    pub rejected: Option<String>,
    /// Whether the completion was desirable (KTO examples).
    pub label: Option<bool>,
    /// Responses the example comes from.
    pub response_ids: Vec<String>,
    /// Feedback items on those responses, sorted.
    pub feedback_ids: Vec<String>,
    /// Category used to stratify the split.
    pub category: String,
    /// Mean feedback score in `[0, 1]` (higher is better).
    pub score: f64,
    /// Creation time of the newest response involved.
    pub created_at: Timestamp,
    /// The normalised user query: examples sharing it (and so every example sharing a
    /// conversation context) stay on one side of the split.
    pub query_key: String,
    /// The conversation context ([`ResponseRecord::context_key`]) the example answers: the
    /// prompt written is that context, and a pair joins only answers to it.
    pub context_key: String,
    /// Redactions made in the texts of the responses involved.
    pub redactions: RedactionCounts,
    /// Tokens by the cookbook's count (set by the builder).
    pub tokens: u64,
}

impl Example {
    /// The messages of an SFT example: the prompt then the assistant's answer.
    pub fn sft_messages(&self) -> Vec<Message> {
        let mut m = self.prompt.clone();
        m.push(assistant(&self.chosen));
        m
    }

    /// Text compared by deduplication: every written text, in order.
    pub fn dedup_text(&self) -> String {
        let mut parts: Vec<&str> = self.prompt.iter().map(|m| m.content.as_str()).collect();
        parts.push(&self.chosen);
        if let Some(r) = &self.rejected {
            parts.push(r);
        }
        let mut text = parts.join("\n");
        if let Some(l) = self.label {
            text.push_str(if l { "\n#label:true" } else { "\n#label:false" });
        }
        text
    }

    /// Best first: higher score, then newer, then smaller response id.
    pub fn rank_cmp(&self, other: &Example) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(other.created_at.cmp(&self.created_at))
            .then(self.response_ids.cmp(&other.response_ids))
    }
}

/// An assistant message.
pub fn assistant(content: &str) -> Message {
    Message {
        role: Role::Assistant,
        content: content.to_string(),
    }
}

/// Sign of a sum of polarities: `Some(true)` positive, `Some(false)` negative, `None` zero.
fn sign(sum: i64) -> Option<bool> {
    match sum.cmp(&0) {
        Ordering::Greater => Some(true),
        Ordering::Less => Some(false),
        Ordering::Equal => None,
    }
}

/// The verdict of a set of votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The sum is positive.
    Positive,
    /// The sum is negative.
    Negative,
    /// The sum is zero with some non-neutral vote.
    Conflicting,
    /// Only neutral votes.
    Neutral,
    /// No votes.
    None,
}

fn verdict<'a>(items: impl Iterator<Item = &'a Feedback>) -> Verdict {
    let (mut sum, mut any, mut nonzero) = (0i64, false, false);
    for f in items {
        let c = i64::from(f.polarity().code());
        any = true;
        nonzero |= c != 0;
        sum += c;
    }
    match (any, sign(sum)) {
        (false, _) => Verdict::None,
        (_, Some(true)) => Verdict::Positive,
        (_, Some(false)) => Verdict::Negative,
        (_, None) if nonzero => Verdict::Conflicting,
        _ => Verdict::Neutral,
    }
}

/// One response with its feedback resolved and every text redacted.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The response id.
    pub response_id: String,
    /// System prompt, prior turns, user query (redacted).
    pub prompt: Vec<Message>,
    /// The response as given (redacted).
    pub answer: String,
    /// The winning correction (redacted) and its feedback id.
    pub correction: Option<(String, String)>,
    /// Verdict over all feedback.
    pub polarity: Verdict,
    /// Verdict over thumbs only.
    pub thumbs: Verdict,
    /// Sorted feedback ids.
    pub feedback_ids: Vec<String>,
    /// Mean feedback score.
    pub score: f64,
    /// Response creation time.
    pub created_at: Timestamp,
    /// Stratification category.
    pub category: String,
    /// Normalised (redacted) query.
    pub query_key: String,
    /// The response's conversation context ([`ResponseRecord::context_key`]: prior turns and
    /// query): preference pairs join only candidates with equal keys.
    pub context_key: String,
    /// Redactions made in this candidate's texts.
    pub redactions: RedactionCounts,
}

/// Resolves `feedback` (all on `response`) and redacts every text that may be written.
pub fn candidate(
    response: &ResponseRecord,
    feedback: &[&Feedback],
    system_prompt: Option<&str>,
    redactor: &Redactor,
) -> Candidate {
    let mut counts = RedactionCounts::default();
    let mut prompt = Vec::with_capacity(response.conversation.len() + 2);
    if let Some(s) = system_prompt {
        prompt.push(Message {
            role: Role::System,
            content: redactor.redact(s, &mut counts).into_owned(),
        });
    }
    for m in &response.conversation {
        // A stored system turn yields to the configured system prompt, so a prompt has one.
        if system_prompt.is_some() && m.role == Role::System {
            continue;
        }
        prompt.push(Message {
            role: m.role,
            content: redactor.redact(&m.content, &mut counts).into_owned(),
        });
    }
    let query = redactor.redact(&response.query, &mut counts).into_owned();
    let query_key = normalize(&query);
    prompt.push(Message {
        role: Role::User,
        content: query,
    });
    let answer = redactor
        .redact(&response.response, &mut counts)
        .into_owned();

    let correction = feedback
        .iter()
        .filter_map(|f| {
            f.correction()
                .filter(|c| !c.trim().is_empty())
                .map(|c| (f, c))
        })
        .max_by(|(a, _), (b, _)| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)))
        .filter(|(_, c)| normalize(c) != normalize(&response.response))
        .map(|(f, c)| (redactor.redact(c, &mut counts).into_owned(), f.id.clone()));

    let category = feedback
        .iter()
        .filter(|f| !f.categories().is_empty())
        .max_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)))
        .map(|f| f.categories()[0].as_str().to_string())
        .unwrap_or_else(|| "none".to_string());

    let mut feedback_ids: Vec<String> = feedback.iter().map(|f| f.id.clone()).collect();
    feedback_ids.sort();
    let score = if feedback.is_empty() {
        0.0
    } else {
        feedback.iter().map(|f| f.score()).sum::<f64>() / feedback.len() as f64
    };
    Candidate {
        response_id: response.id.clone(),
        prompt,
        answer,
        correction,
        polarity: verdict(feedback.iter().copied()),
        thumbs: verdict(
            feedback
                .iter()
                .copied()
                .filter(|f| f.variant() == Variant::Thumbs),
        ),
        feedback_ids,
        score,
        created_at: response.created_at,
        category,
        query_key,
        context_key: response.context_key(),
        redactions: counts,
    }
}

impl Candidate {
    /// An example of `source` from this candidate alone.
    pub fn example(
        &self,
        source: ExampleSource,
        chosen: String,
        rejected: Option<String>,
        label: Option<bool>,
    ) -> Example {
        Example {
            source,
            prompt: self.prompt.clone(),
            chosen,
            rejected,
            label,
            response_ids: vec![self.response_id.clone()],
            feedback_ids: self.feedback_ids.clone(),
            category: self.category.clone(),
            score: self.score,
            created_at: self.created_at,
            query_key: self.query_key.clone(),
            context_key: self.context_key.clone(),
            redactions: self.redactions.clone(),
            tokens: 0,
        }
    }

    /// The reason this candidate makes no example of its polarity.
    pub fn polarity_reason(v: Verdict) -> &'static str {
        match v {
            Verdict::Positive => "positive",
            Verdict::Negative => "negative_without_correction",
            Verdict::Conflicting => "conflicting_feedback",
            Verdict::Neutral => "neutral",
            Verdict::None => "no_feedback",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_timestamp, Category, FeedbackKind};

    fn t(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    fn thumbs(id: &str, up: bool, at: &str) -> Feedback {
        Feedback::new(id, "r1", FeedbackKind::Thumbs { up }, t(at))
    }

    fn full(id: &str, rating: u8, correction: &str, at: &str) -> Feedback {
        Feedback::new(
            id,
            "r1",
            FeedbackKind::Full {
                rating,
                categories: vec![Category::new("factual_error").unwrap()],
                correction: Some(correction.to_string()),
            },
            t(at),
        )
    }

    fn resp() -> ResponseRecord {
        ResponseRecord::new("r1", "m", "Refund window?", "90 days", t("2026-09-01"))
    }

    #[test]
    fn newest_correction_wins_and_echo_is_no_correction() {
        let r = resp();
        let red = Redactor::new(&Default::default()).unwrap();
        let fb = [
            full("f1", 1, "30 days", "2026-09-02"),
            full("f2", 1, "Thirty days.", "2026-09-03"),
            full("f3", 1, "90  DAYS", "2026-09-04"),
        ];
        let refs: Vec<&Feedback> = fb.iter().collect();
        let c = candidate(&r, &refs[..2], None, &red);
        assert_eq!(c.correction.as_ref().unwrap().0, "Thirty days.");
        assert_eq!(c.category, "factual_error");
        let c = candidate(&r, &refs, None, &red);
        assert!(
            c.correction.is_none(),
            "the newest merely repeats the answer"
        );
    }

    #[test]
    fn votes_sum_and_ties_conflict() {
        let r = resp();
        let red = Redactor::new(&Default::default()).unwrap();
        let up = thumbs("a", true, "2026-09-02");
        let down = thumbs("b", false, "2026-09-02");
        let up2 = thumbs("c", true, "2026-09-03");
        let c = candidate(&r, &[&up, &down], None, &red);
        assert_eq!(c.polarity, Verdict::Conflicting);
        assert_eq!(c.thumbs, Verdict::Conflicting);
        let c = candidate(&r, &[&up, &down, &up2], Some("Be brief."), &red);
        assert_eq!(c.polarity, Verdict::Positive);
        assert_eq!(c.prompt[0].role, Role::System);
        assert_eq!(c.feedback_ids, vec!["a", "b", "c"]);
        assert!((c.score - 2.0 / 3.0).abs() < 1e-12);
    }
}
