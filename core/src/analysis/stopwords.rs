//! Stop words of pattern labels: the maintained stopwords-iso lists (the `stop-words` crate)
//! of English, German, French, Spanish, Italian, Portuguese and Dutch, so a label's terms
//! say what a failure is about rather than "don't", "that's" or "not".
//!
//! The lists are aggressive (English alone has ~1,300 words, "long" and "old" among them),
//! which suits labels but not clustering: the clustering features keep their own short list
//! of function words ([`super::cluster::is_stop_word`]) and let IDF weigh the rest.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The stopwords-iso languages whose lists are merged (ISO 639-1 codes).
pub const LABEL_LANGUAGES: &[&str] = &["en", "de", "fr", "es", "it", "pt", "nl"];

fn label_set() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set = HashSet::new();
        for code in LABEL_LANGUAGES {
            for w in stop_words::lookup(code).unwrap_or_default() {
                let w = w.to_lowercase().replace('’', "'");
                // A typographic apostrophe splits "don’t" into "don" and "t": the stem of
                // a contraction is a stop word too.
                if let Some((stem, _)) = w.split_once('\'') {
                    if stem.chars().count() > 1 {
                        set.insert(stem.to_string());
                    }
                }
                set.insert(w);
            }
        }
        set
    })
}

/// Whether `word` (lower-case, as [`super::cluster::words`] gives it) is a stop word of
/// labels in any of [`LABEL_LANGUAGES`].
///
/// ```
/// use tuneloop::analysis::stopwords::is_label_stop_word;
/// assert!(is_label_stop_word("don't") && is_label_stop_word("that's"));
/// assert!(is_label_stop_word("not") && is_label_stop_word("nicht"));
/// assert!(!is_label_stop_word("refund"));
/// ```
pub fn is_label_stop_word(word: &str) -> bool {
    label_set().contains(word)
}

/// The words of `text` a label may use: [`super::cluster::words`] without label stop words.
pub fn label_words(text: &str) -> Vec<String> {
    super::cluster::words(text)
        .into_iter()
        .filter(|w| !is_label_stop_word(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contractions_negations_and_other_languages_are_dropped() {
        let w = label_words("Don’t say that's not the refund policy; das ist nicht la politique");
        assert_eq!(w, vec!["refund", "policy", "politique"]);
    }
}
