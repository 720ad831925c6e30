//! Error categories: a canonical set plus custom, lower-case identifiers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The categories tuneloop knows the meaning of; analysis and suggestions key on them.
pub const CANONICAL_CATEGORIES: &[&str] = &[
    "factual_error",
    "hallucination",
    "irrelevant",
    "incomplete",
    "instruction_following",
    "code_error",
    "outdated",
    "unsafe",
    "refusal",
    "too_verbose",
    "formatting",
    "tone",
    "other",
];

const MAX_CATEGORY_LEN: usize = 64;

/// An error category: one of [`CANONICAL_CATEGORIES`] or a custom `[a-z0-9_]+` name.
///
/// Input is trimmed and lower-cased; anything else outside `[a-z0-9_]` is rejected.
///
/// ```
/// use tuneloop::model::Category;
/// let c = Category::new("Hallucination").unwrap();
/// assert_eq!(c.as_str(), "hallucination");
/// assert!(c.is_canonical());
/// assert!(Category::new("billing_errors").is_ok());
/// assert!(Category::new("not ok!").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    /// Validates and normalises a category name.
    pub fn new(name: &str) -> Result<Self, String> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err("category must not be empty".into());
        }
        if name.len() > MAX_CATEGORY_LEN {
            return Err(format!(
                "category is {} bytes long; the limit is {MAX_CATEGORY_LEN}",
                name.len()
            ));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(format!(
                "category `{name}` contains `{bad}`; use lower-case letters, digits and `_`"
            ));
        }
        Ok(Category(name))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of [`CANONICAL_CATEGORIES`].
    pub fn is_canonical(&self) -> bool {
        CANONICAL_CATEGORIES.contains(&self.0.as_str())
    }
}

impl TryFrom<String> for Category {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Category::new(&value)
    }
}

impl From<Category> for String {
    fn from(value: Category) -> Self {
        value.0
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
