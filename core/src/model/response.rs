//! A model response: what was asked, what the model answered, and when.

use super::time::{serde_ts, Timestamp};
use super::Limits;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The author of a conversation turn.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System prompt.
    System,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
}

impl Role {
    /// The lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One turn of the conversation that preceded a query.
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Who spoke.
    pub role: Role,
    /// What was said.
    pub content: String,
}

/// A response produced by a model for a query, the unit feedback attaches to.
///
/// ```
/// use tuneloop::model::{parse_timestamp, ResponseRecord};
/// let r = ResponseRecord::new("r1", "support-bot-v2", "What is your refund policy?",
///     "Refunds within 30 days.", parse_timestamp("2026-09-01T10:00:00Z").unwrap());
/// r.validate(&Default::default()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// Caller-chosen unique id.
    pub id: String,
    /// The model (and version) that answered.
    pub model_id: String,
    /// The user's query.
    pub query: String,
    /// The model's answer.
    pub response: String,
    /// Prior turns, oldest first (may include a system prompt).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversation: Vec<Message>,
    /// Free-form metadata (keys sorted).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// When the response was produced.
    #[serde(with = "serde_ts")]
    pub created_at: Timestamp,
}

impl ResponseRecord {
    /// A response without conversation or metadata.
    pub fn new(
        id: impl Into<String>,
        model_id: impl Into<String>,
        query: impl Into<String>,
        response: impl Into<String>,
        created_at: Timestamp,
    ) -> Self {
        ResponseRecord {
            id: id.into(),
            model_id: model_id.into(),
            query: query.into(),
            response: response.into(),
            conversation: Vec::new(),
            metadata: serde_json::Map::new(),
            created_at,
        }
    }

    /// Checks ids and sizes against `limits`, and that `created_at` is in the supported
    /// range ([`super::SUPPORTED_RANGE`]); the error names the field.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        check_id("id", &self.id, limits)?;
        check_id("model_id", &self.model_id, limits)?;
        check_time("created_at", &self.created_at)?;
        check_text("query", &self.query, limits.max_text_bytes, false)?;
        check_text("response", &self.response, limits.max_text_bytes, true)?;
        if self.conversation.len() > limits.max_conversation_turns {
            return Err(Error::invalid(
                "conversation",
                format!(
                    "{} turns; the limit is {}",
                    self.conversation.len(),
                    limits.max_conversation_turns
                ),
            ));
        }
        for (i, m) in self.conversation.iter().enumerate() {
            check_text(
                &format!("conversation[{i}].content"),
                &m.content,
                limits.max_text_bytes,
                true,
            )?;
        }
        if !self.metadata.is_empty() {
            let bytes = serde_json::to_vec(&self.metadata)
                .map(|v| v.len())
                .unwrap_or(0);
            if bytes > limits.max_metadata_bytes {
                return Err(Error::invalid(
                    "metadata",
                    format!(
                        "{bytes} bytes as JSON; the limit is {}",
                        limits.max_metadata_bytes
                    ),
                ));
            }
        }
        Ok(())
    }

    /// SHA-256 of the canonical JSON form: equal content gives an equal hash, which is how
    /// re-imports are recognised as unchanged.
    pub fn content_hash(&self) -> [u8; 32] {
        super::json_sha256(self)
    }

    /// The key of the conversation context this response answers: hex SHA-256 over the prior
    /// turns (role and text) and the query, each lower-cased with whitespace runs folded.
    ///
    /// Two responses answer the same context exactly when their keys are equal; preference
    /// pairs and comparisons join only such responses, so a chosen and a rejected answer are
    /// never taken from different conversations that merely end in the same query.
    ///
    /// ```
    /// use tuneloop::model::{parse_timestamp, Message, ResponseRecord, Role};
    /// let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
    /// let a = ResponseRecord::new("a", "m1", "yes", "Sure.", t);
    /// let mut b = ResponseRecord::new("b", "m2", "  YES ", "Okay.", t);
    /// assert_eq!(a.context_key(), b.context_key());
    /// b.conversation.push(Message { role: Role::User, content: "Cancel my order?".into() });
    /// assert_ne!(a.context_key(), b.context_key());
    /// ```
    pub fn context_key(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for m in &self.conversation {
            h.update(m.role.as_str().as_bytes());
            h.update([0]);
            h.update(fold(&m.content).as_bytes());
            h.update([0]);
        }
        h.update(b"query");
        h.update([0]);
        h.update(fold(&self.query).as_bytes());
        hex::encode(h.finalize())
    }
}

pub(crate) fn check_id(field: &str, value: &str, limits: &Limits) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > limits.max_id_bytes {
        return Err(Error::invalid(
            field,
            format!(
                "{} bytes long; the limit is {}",
                value.len(),
                limits.max_id_bytes
            ),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Every stored record time goes through here, so every backend refuses the same times.
pub(crate) fn check_time(field: &str, t: &Timestamp) -> Result<()> {
    super::time::check_supported(t).map_err(|reason| Error::invalid(field, reason))
}

pub(crate) fn check_text(field: &str, value: &str, max: usize, allow_empty: bool) -> Result<()> {
    if !allow_empty && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("{} bytes long; the limit is {max}", value.len()),
        ));
    }
    Ok(())
}

/// Lower-cases and folds whitespace runs to one space, trimming the ends.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}
