//! PII redaction with typed placeholders (`[EMAIL]`, `[PHONE]`, ...).
//!
//! Skeleton of the public contract; the detectors are filled in by the redaction work.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Result;

/// An extra, user-supplied pattern (from `[redaction]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraPattern {
    /// Placeholder kind, upper-case (`EMPLOYEE_ID` → `[EMPLOYEE_ID]`).
    pub kind: String,
    /// A Rust `regex` pattern.
    pub pattern: String,
}

/// What to redact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionConfig {
    /// Patterns added to the built-in detectors.
    #[serde(default)]
    pub extra_patterns: Vec<ExtraPattern>,
}

/// Redactions made, by kind (`EMAIL`, `PHONE`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedactionCounts(pub BTreeMap<String, u64>);

impl RedactionCounts {
    /// Adds `n` redactions of `kind`.
    pub fn add(&mut self, kind: &str, n: u64) {
        *self.0.entry(kind.to_string()).or_insert(0) += n;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &RedactionCounts) {
        for (k, n) in &other.0 {
            self.add(k, *n);
        }
    }

    /// All redactions.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// A compiled set of detectors. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Redactor {
    config: RedactionConfig,
}

impl Redactor {
    /// Compiles the built-in detectors plus `config`'s extra patterns; an invalid extra pattern
    /// is an `InvalidInput` naming it.
    pub fn new(config: &RedactionConfig) -> Result<Self> {
        Ok(Self {
            config: config.clone(),
        })
    }

    /// Returns `text` with every detected item replaced by its placeholder, counting each
    /// replacement in `counts`. Borrowed when nothing was found.
    pub fn redact<'a>(&self, text: &'a str, counts: &mut RedactionCounts) -> Cow<'a, str> {
        let _ = (&self.config, counts);
        Cow::Borrowed(text)
    }
}
