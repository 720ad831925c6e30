//! The OpenAI cookbook's checks of a fine-tuning JSONL file, for any file (ours or not).
//!
//! Streams the file line by line. Errors are counted per key; the keys are the cookbook's
//! (`data_type`, `missing_messages_list`, `message_missing_key`, `message_unrecognized_key`,
//! `unrecognized_role`, `missing_content`, `example_missing_assistant_message`) plus
//! `json_parse` for a line that is not JSON, and for preference files
//! `missing_preferred_output` / `missing_non_preferred_output` (absent or not a list),
//! `output_not_one_assistant_message` and `identical_outputs`. Warnings (which do not make
//! a file invalid): `missing_system_message`, `missing_user_message`, `over_token_limit`.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::config::{TokenEncoding, DEFAULT_MAX_TOKENS};
use super::tokens::{self, TokenStats};
use crate::{Error, Result};

/// Which layout to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValidateFormat {
    /// `{"messages":[...]}`.
    OpenaiChat,
    /// `{"input":{"messages":[...]},"preferred_output":[...],"non_preferred_output":[...]}`.
    OpenaiDpo,
}

impl ValidateFormat {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidateFormat::OpenaiChat => "openai-chat",
            ValidateFormat::OpenaiDpo => "openai-dpo",
        }
    }
}

/// Settings of a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Layout.
    pub format: ValidateFormat,
    /// Encoding for token counts.
    pub encoding: TokenEncoding,
    /// Per-example limit (warning above it; billing caps at it).
    pub max_tokens: u64,
}

impl ValidationOptions {
    /// Defaults for `format`: o200k_base, 16,385 tokens.
    pub fn new(format: ValidateFormat) -> Self {
        ValidationOptions {
            format,
            encoding: TokenEncoding::default(),
            max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// One problem on one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// 1-based line number.
    pub line: u64,
    /// The error or warning key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// At most this many findings are kept with their line (counts cover all).
pub const MAX_FINDINGS: usize = 100;

/// The outcome of a validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Lines read.
    pub lines: u64,
    /// Lines without errors.
    pub valid_examples: u64,
    /// Error counts by key (each key counted once per line).
    pub errors: BTreeMap<String, u64>,
    /// Warning counts by key.
    pub warnings: BTreeMap<String, u64>,
    /// The first errors, with their lines.
    pub first_errors: Vec<Finding>,
    /// Token statistics of the lines without errors.
    pub tokens: TokenStats,
    /// Epochs the cookbook's defaults would run.
    pub estimated_epochs: u64,
    /// Σ min(max_tokens, tokens) over the valid lines.
    pub billing_tokens: u64,
    /// `billing_tokens × estimated_epochs`.
    pub estimated_trained_tokens: u64,
    /// Whether the file passed: at least one line and no errors ([`ValidationReport::is_valid`]
    /// when the report was made).
    #[serde(default)]
    pub valid: bool,
}

impl ValidationReport {
    /// No errors and at least one line.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty() && self.lines > 0
    }
}

const ALLOWED_KEYS: &[&str] = &[
    "role",
    "content",
    "name",
    "function_call",
    "weight",
    "tool_calls",
    "tool_call_id",
];
const ROLES: &[&str] = &["system", "user", "assistant", "function", "tool"];

#[derive(Default)]
struct LineCheck {
    errors: Vec<(&'static str, String)>,
    warnings: Vec<&'static str>,
}

impl LineCheck {
    fn err(&mut self, key: &'static str, message: impl Into<String>) {
        if !self.errors.iter().any(|(k, _)| *k == key) {
            self.errors.push((key, message.into()));
        }
    }
}

/// Checks one message as the cookbook does; returns its role if it is a string.
fn check_message<'a>(m: &'a Value, i: usize, c: &mut LineCheck) -> Option<&'a str> {
    let Some(obj) = m.as_object() else {
        c.err("data_type", format!("message {i} is not an object"));
        return None;
    };
    if !obj.contains_key("role") || !obj.contains_key("content") {
        c.err(
            "message_missing_key",
            format!("message {i} lacks `role` or `content`"),
        );
    }
    if let Some(k) = obj.keys().find(|k| !ALLOWED_KEYS.contains(&k.as_str())) {
        c.err(
            "message_unrecognized_key",
            format!("message {i} has key `{k}`"),
        );
    }
    let role = obj.get("role").and_then(Value::as_str);
    if !role.is_some_and(|r| ROLES.contains(&r)) {
        c.err(
            "unrecognized_role",
            format!(
                "message {i} has role {}",
                obj.get("role").unwrap_or(&Value::Null)
            ),
        );
    }
    let content = obj.get("content");
    let has_call = obj.contains_key("function_call") || obj.contains_key("tool_calls");
    let ok = match content {
        Some(Value::String(s)) => !s.is_empty() || has_call,
        None | Some(Value::Null) => has_call,
        _ => false,
    };
    if !ok {
        c.err(
            "missing_content",
            format!("message {i} has no text content"),
        );
    }
    role
}

fn messages_of<'a>(v: &'a Map<String, Value>, c: &mut LineCheck) -> Option<&'a Vec<Value>> {
    match v.get("messages").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => Some(list),
        _ => {
            c.err("missing_messages_list", "no non-empty `messages` list");
            None
        }
    }
}

fn parts(list: &[Value]) -> Vec<(&str, &str, Option<&str>)> {
    list.iter()
        .filter_map(Value::as_object)
        .map(|m| {
            (
                m.get("role").and_then(Value::as_str).unwrap_or(""),
                m.get("content").and_then(Value::as_str).unwrap_or(""),
                m.get("name").and_then(Value::as_str),
            )
        })
        .collect()
}

fn role_warnings(roles: &[Option<&str>], c: &mut LineCheck) {
    if !roles.contains(&Some("system")) {
        c.warnings.push("missing_system_message");
    }
    if !roles.contains(&Some("user")) {
        c.warnings.push("missing_user_message");
    }
}

/// Checks one parsed line; returns its token count when it has no errors.
fn check_line(v: &Value, o: &ValidationOptions, c: &mut LineCheck) -> Option<u64> {
    let Some(obj) = v.as_object() else {
        c.err("data_type", "the line is not a JSON object");
        return None;
    };
    match o.format {
        ValidateFormat::OpenaiChat => {
            let list = messages_of(obj, c)?;
            let roles: Vec<Option<&str>> = list
                .iter()
                .enumerate()
                .map(|(i, m)| check_message(m, i, c))
                .collect();
            if !roles.contains(&Some("assistant")) {
                c.err("example_missing_assistant_message", "no assistant message");
            }
            role_warnings(&roles, c);
            c.errors
                .is_empty()
                .then(|| tokens::count_parts(o.encoding, parts(list)))
        }
        ValidateFormat::OpenaiDpo => {
            let input = obj.get("input").and_then(Value::as_object);
            let list = match input {
                Some(i) => messages_of(i, c),
                None => {
                    c.err("missing_messages_list", "no `input` object with `messages`");
                    None
                }
            };
            if let Some(list) = list {
                let roles: Vec<Option<&str>> = list
                    .iter()
                    .enumerate()
                    .map(|(i, m)| check_message(m, i, c))
                    .collect();
                role_warnings(&roles, c);
            }
            let mut outputs = Vec::new();
            for (key, missing) in [
                ("preferred_output", "missing_preferred_output"),
                ("non_preferred_output", "missing_non_preferred_output"),
            ] {
                match obj.get(key).and_then(Value::as_array) {
                    None => c.err(missing, format!("no `{key}` list")),
                    Some(out) => {
                        for (i, m) in out.iter().enumerate() {
                            check_message(m, i, c);
                        }
                        let assistants = out
                            .iter()
                            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
                            .count();
                        if out.len() != 1 || assistants != 1 {
                            c.err(
                                "output_not_one_assistant_message",
                                format!("`{key}` must hold exactly one assistant message"),
                            );
                        }
                        outputs.push(out);
                    }
                }
            }
            if let [p, n] = outputs.as_slice() {
                if p == n {
                    c.err(
                        "identical_outputs",
                        "preferred and non-preferred outputs are the same",
                    );
                }
            }
            if !c.errors.is_empty() {
                return None;
            }
            let list = list?;
            let with = |out: &Vec<Value>| {
                let mut p = parts(list);
                p.extend(parts(out));
                tokens::count_parts(o.encoding, p)
            };
            outputs.iter().map(|out| with(out)).max()
        }
    }
}

/// Validates the JSONL read from `reader`, line by line. Only reading the input can fail.
pub fn validate_jsonl(
    reader: impl BufRead,
    options: &ValidationOptions,
) -> Result<ValidationReport> {
    let mut report = ValidationReport::default();
    let mut token_counts = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::Io {
            path: format!("line {}", i + 1),
            source: e,
        })?;
        let n = i as u64 + 1;
        report.lines = n;
        let mut c = LineCheck::default();
        let tokens = match serde_json::from_str::<Value>(&line) {
            Ok(v) => check_line(&v, options, &mut c),
            Err(e) => {
                c.err("json_parse", e.to_string());
                None
            }
        };
        if let Some(t) = tokens {
            if t > options.max_tokens {
                c.warnings.push("over_token_limit");
            }
            token_counts.push(t);
            report.valid_examples += 1;
        }
        for w in c.warnings {
            *report.warnings.entry(w.to_string()).or_insert(0) += 1;
        }
        for (key, message) in c.errors {
            *report.errors.entry(key.to_string()).or_insert(0) += 1;
            if report.first_errors.len() < MAX_FINDINGS {
                report.first_errors.push(Finding {
                    line: n,
                    key: key.to_string(),
                    message,
                });
            }
        }
    }
    report.tokens = TokenStats::of(&token_counts);
    report.estimated_epochs = tokens::estimated_epochs(token_counts.len() as u64);
    report.billing_tokens = tokens::billing_tokens(&token_counts, options.max_tokens);
    report.estimated_trained_tokens = report.billing_tokens * report.estimated_epochs;
    report.valid = report.is_valid();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: ValidateFormat, text: &str) -> ValidationReport {
        validate_jsonl(text.as_bytes(), &ValidationOptions::new(format)).unwrap()
    }

    #[test]
    fn a_good_chat_line_passes_with_a_warning() {
        let r = run(
            ValidateFormat::OpenaiChat,
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#,
        );
        assert!(r.is_valid(), "{r:?}");
        assert_eq!(r.warnings.get("missing_system_message"), Some(&1));
        assert_eq!(r.tokens.total, r.billing_tokens);
        assert_eq!(r.estimated_epochs, 25);
    }

    #[test]
    fn each_line_counts_a_key_once() {
        let r = run(
            ValidateFormat::OpenaiChat,
            "{\"messages\":[{\"role\":\"bot\"},{\"role\":\"bot\"}]}\nnot json\n[1]\n",
        );
        assert!(!r.is_valid());
        assert_eq!(r.errors["unrecognized_role"], 1);
        assert_eq!(r.errors["message_missing_key"], 1);
        assert_eq!(r.errors["json_parse"], 1);
        assert_eq!(r.errors["data_type"], 1);
        assert_eq!(r.first_errors[0].line, 1);
        assert_eq!(r.valid_examples, 0);
    }

    #[test]
    fn dpo_outputs_are_checked() {
        let same = r#"{"input":{"messages":[{"role":"user","content":"q"}]},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"a"}]}"#;
        let r = run(ValidateFormat::OpenaiDpo, same);
        assert_eq!(r.errors.get("identical_outputs"), Some(&1));
        let ok = same.replace(r#""content":"a"}]}"#, r#""content":"b"}]}"#);
        let r = run(ValidateFormat::OpenaiDpo, &ok);
        assert!(r.is_valid(), "{r:?}");
    }
}
