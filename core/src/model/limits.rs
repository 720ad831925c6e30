//! Size limits on stored fields, so one bad record cannot bloat a database or a dataset.

/// Maximum sizes (in bytes unless noted) accepted for records. The defaults suit chat
/// products; raise them for long-document use cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Ids: response, feedback, model and user ids.
    pub max_id_bytes: usize,
    /// Query, response, correction and each conversation turn.
    pub max_text_bytes: usize,
    /// Feedback comments.
    pub max_comment_bytes: usize,
    /// Response metadata, serialised as JSON.
    pub max_metadata_bytes: usize,
    /// Prior conversation turns per response (count).
    pub max_conversation_turns: usize,
    /// Categories per feedback item (count).
    pub max_categories: usize,
    /// One input line of an import.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_id_bytes: 256,
            max_text_bytes: 1 << 20,
            max_comment_bytes: 64 << 10,
            max_metadata_bytes: 64 << 10,
            max_conversation_turns: 1_000,
            max_categories: 32,
            max_line_bytes: 16 << 20,
        }
    }
}
