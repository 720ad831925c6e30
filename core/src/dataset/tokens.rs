//! Token counting with tiktoken's encodings and the OpenAI cookbook's estimates.
//!
//! Text is encoded as ordinary text: strings that look like special tokens (`<|endoftext|>`)
//! count as the characters they are, as user data is never meant to contain control tokens.
//!
//! The encoder is `bpe-openai` (the same vocabularies and split patterns as tiktoken, a
//! pre-tokenizer without a backtracking regex, a byte-pair encoder that equals tiktoken's
//! merges), fronted by a hand-written splitter for ASCII text and a lookup of pieces that are
//! one token. Ids and counts equal tiktoken's: tests/dataset_tokens.rs checks them against
//! Python tiktoken's vectors and against tiktoken-rs over a generated corpus, and
//! bench/tokens_vs_tiktoken.sh on the benchmark corpus.

mod ascii_split;
mod encoder;

use serde::{Deserialize, Serialize};

use super::config::TokenEncoding;
use crate::model::Message;

/// Default epochs of a fine-tuning job (the cookbook's `TARGET_EPOCHS`).
pub const TARGET_EPOCHS: u64 = 3;
const MIN_TARGET_EXAMPLES: u64 = 100;
const MAX_TARGET_EXAMPLES: u64 = 25_000;
const MIN_DEFAULT_EPOCHS: u64 = 1;
const MAX_DEFAULT_EPOCHS: u64 = 25;

/// Tokens of `text` as ordinary text (what Python's `encoding.encode_ordinary` returns).
pub fn count_text(encoding: TokenEncoding, text: &str) -> u64 {
    encoder::encoder(encoding).count(text) as u64
}

/// The token ids of `text` as ordinary text.
pub fn encode(encoding: TokenEncoding, text: &str) -> Vec<u32> {
    encoder::encoder(encoding).encode(text)
}

/// The cookbook's count for one chat example: 3 per message, plus its encoded content (and
/// 1 more for a `name`), plus 3 that prime the reply.
pub fn count_messages(encoding: TokenEncoding, messages: &[Message]) -> u64 {
    count_parts(
        encoding,
        messages
            .iter()
            .map(|m| (m.role.as_str(), m.content.as_str(), None)),
    )
}

/// Like [`count_messages`] over `(role, content, name)` triples, for messages that are not
/// [`Message`]s (the validator reads any JSON).
pub fn count_parts<'a>(
    encoding: TokenEncoding,
    parts: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) -> u64 {
    let mut n = 3;
    for (role, content, name) in parts {
        n += 3 + count_text(encoding, role) + count_text(encoding, content);
        if let Some(name) = name {
            n += 1 + count_text(encoding, name);
        }
    }
    n
}

/// Epochs the cookbook expects for `n` examples: 3, raised so that small sets see at least
/// 100 examples (at most 25 epochs), lowered so that large ones see at most 25,000.
pub fn estimated_epochs(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES {
        MAX_DEFAULT_EPOCHS.min(MIN_TARGET_EXAMPLES / n)
    } else if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES {
        MIN_DEFAULT_EPOCHS.max(MAX_TARGET_EXAMPLES / n)
    } else {
        TARGET_EPOCHS
    }
}

/// Tokens billed per epoch: each example counts at most `limit` tokens.
pub fn billing_tokens(tokens: &[u64], limit: u64) -> u64 {
    tokens.iter().map(|&t| t.min(limit)).sum()
}

/// Minimum, median, maximum and total of per-example token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenStats {
    /// Examples counted.
    pub examples: u64,
    /// Smallest count (0 without examples).
    pub min: u64,
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Largest count.
    pub max: u64,
    /// Sum.
    pub total: u64,
}

impl TokenStats {
    /// Statistics of `tokens` (any order).
    pub fn of(tokens: &[u64]) -> Self {
        if tokens.is_empty() {
            return TokenStats::default();
        }
        let mut sorted = tokens.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2] as f64
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
        };
        TokenStats {
            examples: n as u64,
            min: sorted[0],
            median,
            max: sorted[n - 1],
            total: sorted.iter().sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    #[test]
    fn epochs_follow_the_cookbook() {
        assert_eq!(estimated_epochs(0), 0);
        assert_eq!(estimated_epochs(1), 25);
        assert_eq!(estimated_epochs(10), 10);
        assert_eq!(estimated_epochs(33), 3);
        assert_eq!(estimated_epochs(34), 3);
        assert_eq!(estimated_epochs(8_333), 3);
        assert_eq!(estimated_epochs(8_334), 2);
        assert_eq!(estimated_epochs(30_000), 1);
    }

    #[test]
    fn billing_caps_each_example() {
        assert_eq!(billing_tokens(&[10, 20, 50], 30), 60);
    }

    #[test]
    fn message_count_adds_the_framing() {
        let e = TokenEncoding::O200kBase;
        let msgs = vec![
            Message {
                role: Role::User,
                content: "hello world".into(),
            },
            Message {
                role: Role::Assistant,
                content: "hi".into(),
            },
        ];
        let expected = 3 + 2 * 3 + 2 + count_text(e, "hello world") + count_text(e, "hi");
        assert_eq!(count_messages(e, &msgs), expected);
        assert_eq!(
            count_parts(e, [("user", "x", Some("bob"))]),
            3 + 3 + 1 + count_text(e, "x") + 1 + count_text(e, "bob")
        );
    }

    #[test]
    fn stats_median_of_even_count() {
        let s = TokenStats::of(&[4, 1, 3, 2]);
        assert_eq!((s.min, s.max, s.total), (1, 4, 10));
        assert_eq!(s.median, 2.5);
    }
}
