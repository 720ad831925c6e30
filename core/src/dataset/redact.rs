//! PII redaction with typed placeholders (`[EMAIL]`, `[PHONE]`, ...).
//!
//! Built-in kinds: `API_KEY`, `EMAIL`, `IBAN`, `CREDIT_CARD`, `SSN`, `PHONE`, `IP_ADDRESS`,
//! `SECRET`, plus the kinds of [`RedactionConfig::extra_patterns`]. What each one matches,
//! and what is deliberately left alone, is in `docs/formats.md` ("Dataset cleaning").
//!
//! ```
//! use tuneloop::dataset::redact::{RedactionConfig, RedactionCounts, Redactor};
//!
//! let redactor = Redactor::new(&RedactionConfig::default()).unwrap();
//! let mut counts = RedactionCounts::default();
//! let out = redactor.redact("Mail jane.doe@example.com or call +44 20 7946 0958.", &mut counts);
//! assert_eq!(out, "Mail [EMAIL] or call [PHONE].");
//! assert_eq!(counts.total(), 2);
//! ```

mod checks;
mod detectors;
mod prefilter;

use std::borrow::Cow;
use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};
use detectors::{Builtins, Candidate, BUILTIN_KINDS};

pub use detectors::{
    SECRET_MAX_LOWER_RUN, SECRET_MIN_CLASS_CHANGES, SECRET_MIN_ENTROPY, SECRET_MIN_LEN,
};

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
        match self.0.get_mut(kind) {
            Some(v) => *v += n,
            None => {
                self.0.insert(kind.to_string(), n);
            }
        }
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
    builtins: Builtins,
    extras: Vec<Regex>,
    /// Kind names by candidate kind index: the built-ins, then the extra patterns'.
    kinds: Vec<String>,
    /// `[KIND]` for each entry of `kinds`.
    placeholders: Vec<String>,
    placeholder_re: Regex,
}

/// Kind index of an existing placeholder: it outranks every detector and is left as is.
const PROTECTED: u16 = u16::MAX;

fn valid_kind(kind: &str) -> bool {
    let mut b = kind.bytes();
    b.next().is_some_and(|c| c.is_ascii_uppercase())
        && b.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

impl Redactor {
    /// Compiles the built-in detectors plus `config`'s extra patterns; an invalid extra pattern
    /// (bad regex, a kind that is not `[A-Z][A-Z0-9_]*`, or a pattern matching only empty text)
    /// is an `InvalidInput` naming it (`redaction.extra_patterns[i]`).
    pub fn new(config: &RedactionConfig) -> Result<Self> {
        let mut kinds: Vec<String> = BUILTIN_KINDS.iter().map(|k| (*k).to_string()).collect();
        let mut extras = Vec::with_capacity(config.extra_patterns.len());
        if BUILTIN_KINDS.len() + config.extra_patterns.len() >= usize::from(PROTECTED) {
            return Err(Error::invalid(
                "redaction.extra_patterns",
                "too many patterns",
            ));
        }
        for (i, extra) in config.extra_patterns.iter().enumerate() {
            let field = format!("redaction.extra_patterns[{i}]");
            if !valid_kind(&extra.kind) {
                return Err(Error::invalid(
                    format!("{field}.kind"),
                    format!(
                        "kind {:?} must be upper-case letters, digits and '_', starting with a letter",
                        extra.kind
                    ),
                ));
            }
            let re = Regex::new(&extra.pattern).map_err(|e| {
                Error::invalid(format!("{field}.pattern"), format!("invalid regex: {e}"))
            })?;
            if re.is_match("") {
                return Err(Error::invalid(
                    format!("{field}.pattern"),
                    "the pattern matches the empty string",
                ));
            }
            extras.push(re);
            kinds.push(extra.kind.clone());
        }
        let placeholders = kinds.iter().map(|k| format!("[{k}]")).collect();
        #[allow(clippy::expect_used)]
        let placeholder_re =
            Regex::new(r"\[[A-Z][A-Z0-9_]*\]").expect("placeholder pattern compiles");
        Ok(Self {
            builtins: Builtins::new(),
            extras,
            kinds,
            placeholders,
            placeholder_re,
        })
    }

    /// The kinds this redactor can produce: the built-ins, then the extra patterns' kinds.
    pub fn kinds(&self) -> &[String] {
        &self.kinds
    }

    /// Returns `text` with every detected item replaced by its placeholder, counting each
    /// replacement in `counts`. Borrowed when nothing was found.
    ///
    /// Overlapping detections are resolved leftmost first, then longest, then by kind
    /// priority (the order of [`Redactor::kinds`]); an unlikely reading (a card number that
    /// starts inside a neighbouring number, say) gives way to a likely one it overlaps, and
    /// a detection that overlaps the chosen one only in part extends it, so that no
    /// character of a detected item is left in clear. Existing placeholders of known kinds
    /// are never matched again. A placeholder changes the word boundaries around it (`…1111sk-…`
    /// becomes `[CREDIT_CARD]sk-…`), so the text is scanned again until nothing new is found:
    /// redaction is idempotent. This ends because every pass turns at least one character
    /// into an untouchable placeholder.
    pub fn redact<'a>(&self, text: &'a str, counts: &mut RedactionCounts) -> Cow<'a, str> {
        let Some(mut out) = self.redact_once(text, counts) else {
            return Cow::Borrowed(text);
        };
        while let Some(next) = self.redact_once(&out, counts) {
            out = next;
        }
        Cow::Owned(out)
    }

    fn redact_once(&self, text: &str, counts: &mut RedactionCounts) -> Option<String> {
        let mut cands = Vec::new();
        self.builtins.scan(text, &mut cands);
        for (i, re) in self.extras.iter().enumerate() {
            let kind = (BUILTIN_KINDS.len() + i) as u16;
            detectors::push_all(re, text, kind, &mut cands);
        }
        if cands.is_empty() {
            return None;
        }
        if memchr::memchr(b'[', text.as_bytes()).is_some() {
            cands.extend(
                self.placeholder_re
                    .find_iter(text)
                    .filter(|m| self.placeholders.iter().any(|p| p == m.as_str()))
                    .map(|m| Candidate::new(m.start(), m.end(), PROTECTED)),
            );
        }
        let chosen = resolve(cands);
        if chosen.iter().all(|c| c.kind == PROTECTED) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for c in chosen.iter().filter(|c| c.kind != PROTECTED) {
            out.push_str(&text[at..c.start]);
            let k = usize::from(c.kind);
            out.push_str(&self.placeholders[k]);
            counts.add(&self.kinds[k], 1);
            at = c.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

/// Keeps non-overlapping candidates: leftmost, then longest, then lowest kind index; a
/// protected placeholder beats anything overlapping it, and a weak candidate anything
/// strong overlapping it. A candidate that overlaps the chosen one in part is merged into
/// it: leaving its other part in clear would leak part of what was detected.
fn resolve(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    cands.retain(|c| c.end > c.start);
    let protected: Vec<(usize, usize)> = cands
        .iter()
        .filter(|c| c.kind == PROTECTED)
        .map(|c| (c.start, c.end))
        .collect();
    if !protected.is_empty() {
        cands.retain(|c| {
            c.kind == PROTECTED || !protected.iter().any(|&(s, e)| c.start < e && s < c.end)
        });
    }
    if cands.iter().any(|c| c.weak) {
        drop_weak_overlaps(&mut cands);
    }
    cands.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.kind.cmp(&b.kind))
    });
    let mut chosen: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        match chosen.last_mut() {
            Some(last) if c.start < last.end => last.end = last.end.max(c.end),
            _ => chosen.push(c),
        }
    }
    chosen
}

/// Drops the weak candidates that overlap a strong one.
fn drop_weak_overlaps(cands: &mut Vec<Candidate>) {
    let mut strong: Vec<(usize, usize)> = cands
        .iter()
        .filter(|c| !c.weak)
        .map(|c| (c.start, c.end))
        .collect();
    strong.sort_unstable();
    // Furthest end among the strong candidates starting before each index: a weak one
    // overlaps a strong one exactly when one starting before its end ends after its start.
    let reach: Vec<usize> = strong
        .iter()
        .scan(0, |r, &(_, e)| {
            *r = e.max(*r);
            Some(*r)
        })
        .collect();
    cands.retain(|c| {
        let before_end = strong.partition_point(|&(s, _)| s < c.end);
        !c.weak || before_end == 0 || reach[before_end - 1] <= c.start
    });
}
