//! `tuneloop.toml`: one file for every front (CLI, bindings, a host service).
//!
//! ```toml
//! [database]
//! url = "sqlite://tuneloop.db"          # env TUNELOOP_DATABASE_URL wins over this
//!
//! [mcp]
//! url = "http://127.0.0.1:8765/mcp"     # env TUNELOOP_MCP_URL; the token only from TUNELOOP_MCP_TOKEN
//! request_timeout_secs = 30
//!
//! [fine_tune]
//! base_model = "gpt-4.1-mini"           # per model: [fine_tune.base_models] "support-bot-v2" = "..."
//! account = "default"
//! method = "supervised"
//!
//! [prices]                              # credits per 1M training tokens
//! "gpt-4.1-mini" = 5
//!
//! [policy]                              # see docs/policy.md
//! cooldown_days = 14
//!
//! [schedule]
//! cron = "0 3 * * MON"                  # UTC
//!
//! [checks]
//! as_of = "2026-11-23T00:00:00Z"        # judge feedback recency as of then (default: now)
//!
//! [dataset]                             # see docs/formats.md, "Datasets"
//! validation_fraction = 0.1
//!
//! [[redaction.extra_patterns]]
//! kind = "TICKET"
//! pattern = "TCK-[0-9]{6}"
//! ```
//!
//! Every section and key is optional; unknown keys are rejected, naming the file, line and
//! key, so a typo never silently falls back to a default.

use crate::dataset::redact::RedactionConfig;
use crate::dataset::DatasetConfig;
use crate::model::FineTuneMethod;
use crate::policy::{PolicyConfig, Prices};
use crate::schedule::ScheduleConfig;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file looked for in the working directory when no path is given.
pub const DEFAULT_FILE: &str = "tuneloop.toml";
/// The database used when neither the environment nor the file names one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tuneloop.db";
/// The credit account used when neither a flag nor the file names one.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Everything `tuneloop.toml` can say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[database]`.
    pub database: DatabaseSection,
    /// `[mcp]`.
    pub mcp: McpSection,
    /// `[fine_tune]`.
    pub fine_tune: FineTuneSection,
    /// `[prices]`: base model → credits per 1M training tokens.
    pub prices: Prices,
    /// `[policy]`: the trigger thresholds.
    pub policy: PolicyConfig,
    /// `[schedule]`: when the weekly job runs.
    pub schedule: ScheduleConfig,
    /// `[dataset]`: how datasets are built.
    pub dataset: DatasetConfig,
    /// `[redaction]`: extra patterns, added to `[dataset.redaction]`'s.
    pub redaction: RedactionConfig,
    /// `[checks]`: how `check feedback` / `check all` judge.
    pub checks: ChecksSection,
    /// Where the settings came from (not a key of the file).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[database]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://PATH`, `postgres://...` or `memory://`.
    pub url: Option<String>,
}

/// `[mcp]`. The bearer token is never read from a file: it comes from `TUNELOOP_MCP_TOKEN`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpSection {
    /// The Streamable HTTP endpoint of the fine-tuning server.
    pub url: Option<String>,
    /// Longest wait for one answer, in seconds (default 30).
    pub request_timeout_secs: Option<u64>,
    /// Retries of retry-safe calls (default 3).
    pub max_retries: Option<u32>,
}

/// `[checks]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksSection {
    /// The time feedback recency is judged at (an RFC 3339 string). `None`: now. A demo or
    /// replayed history has its own clock: its feedback is "recent" relative to its end, not
    /// to today (`tuneloop demo` writes its end here).
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub as_of: Option<crate::model::Timestamp>,
    /// Parts of `check all` left out on purpose, each shown as a passing `skipped` line:
    /// only `"mcp"` (a deployment without a fine-tuning server yet, or the demo, whose
    /// provider is simulated in-process). Unset, a missing MCP server fails `check all`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
}

/// What `[checks] skip` may name.
pub const SKIPPABLE_CHECKS: [&str; 1] = ["mcp"];

/// `[fine_tune]`: what `fine-tune` and the weekly job train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FineTuneSection {
    /// The base model for every model without its own entry in `base_models`.
    pub base_model: Option<String>,
    /// Model id → base model.
    pub base_models: BTreeMap<String, String>,
    /// The credit account that pays (default `default`).
    pub account: String,
    /// `supervised` (default) or `dpo`.
    pub method: FineTuneMethod,
    /// Epochs to ask for (default: the cookbook's estimate for the dataset size).
    pub n_epochs: Option<u32>,
    /// Added to fine-tuned model names.
    pub suffix: Option<String>,
}

impl Default for FineTuneSection {
    fn default() -> Self {
        FineTuneSection {
            base_model: None,
            base_models: BTreeMap::new(),
            account: DEFAULT_ACCOUNT.to_string(),
            method: FineTuneMethod::Supervised,
            n_epochs: None,
            suffix: None,
        }
    }
}

impl FineTuneSection {
    /// The base model of `model_id`: its own entry, else the default one.
    pub fn base_model_for(&self, model_id: &str) -> Option<&str> {
        self.base_models
            .get(model_id)
            .or(self.base_model.as_ref())
            .map(String::as_str)
    }
}

impl Config {
    /// Parses TOML text; `origin` (a file name) prefixes every error.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            let place = if line > 0 {
                format!("{origin}:{line}:{column}")
            } else {
                origin.to_string()
            };
            Error::invalid(place, e.message().trim().to_string())
        })?;
        config.merge_redaction();
        config.validate().map_err(|e| prefix(e, origin))?;
        Ok(config)
    }

    /// Reads `path`, or `./tuneloop.toml` when `path` is `None` and that file exists, or
    /// returns the defaults. A named file that cannot be read is an error.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_FILE), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut c = Config::parse(&text, &path.display().to_string())?;
                c.source = Some(path);
                Ok(c)
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(Error::Io {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }

    /// Applies `TUNELOOP_DATABASE_URL` and `TUNELOOP_MCP_URL` from `env` (a lookup such as
    /// `|k| std::env::var(k).ok()`), which win over the file. Empty values are ignored.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) {
        let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        if let Some(url) = set(env("TUNELOOP_DATABASE_URL")) {
            self.database.url = Some(url);
        }
        if let Some(url) = set(env("TUNELOOP_MCP_URL")) {
            self.mcp.url = Some(url);
        }
    }

    /// The database URL: the file's (or the environment's), else [`DEFAULT_DATABASE_URL`].
    pub fn database_url(&self) -> &str {
        self.database.url.as_deref().unwrap_or(DEFAULT_DATABASE_URL)
    }

    /// Checks every section; the error names the section and field.
    pub fn validate(&self) -> Result<()> {
        let within = |section: &str, r: Result<()>| {
            r.map_err(|e| match e {
                Error::InvalidInput { field, reason } => {
                    Error::invalid(format!("{section}.{field}"), reason)
                }
                other => other,
            })
        };
        within("policy", self.policy.validate())?;
        self.prices.validate()?;
        within("dataset", self.dataset.validate())?;
        // Extra redaction patterns must compile here, not when the first dataset is built.
        // (its errors already name `redaction.extra_patterns[i]`).
        crate::dataset::redact::Redactor::new(&self.dataset.redaction)?;
        within("schedule", self.schedule.validate())?;
        for (i, s) in self.checks.skip.iter().enumerate() {
            if !SKIPPABLE_CHECKS.contains(&s.as_str()) {
                return Err(Error::invalid(
                    format!("checks.skip[{i}]"),
                    format!(
                        "`{s}` cannot be skipped; only {}",
                        SKIPPABLE_CHECKS.join(", ")
                    ),
                ));
            }
        }
        if self.fine_tune.account.trim().is_empty() {
            return Err(Error::invalid("fine_tune.account", "must not be empty"));
        }
        if self.fine_tune.n_epochs == Some(0) {
            return Err(Error::invalid("fine_tune.n_epochs", "must be at least 1"));
        }
        if let Some(url) = &self.mcp.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::invalid(
                    "mcp.url",
                    format!("`{url}` is not an http:// or https:// URL"),
                ));
            }
        }
        if self.mcp.request_timeout_secs == Some(0) {
            return Err(Error::invalid(
                "mcp.request_timeout_secs",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// `[redaction]` patterns join `[dataset.redaction]`'s, so either place works.
    fn merge_redaction(&mut self) {
        let extra = std::mem::take(&mut self.redaction.extra_patterns);
        self.dataset.redaction.extra_patterns.extend(extra);
    }
}

fn prefix(e: Error, origin: &str) -> Error {
    match e {
        Error::InvalidInput { field, reason } => {
            Error::invalid(format!("{origin}: {field}"), reason)
        }
        other => other,
    }
}

/// 1-based line and column of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_mcp_check_can_be_skipped() {
        let c = Config::parse("[checks]\nskip = [\"mcp\"]\n", "t").expect("valid");
        assert_eq!(c.checks.skip, vec!["mcp".to_string()]);
        let e = Config::parse("[checks]\nskip = [\"feedback\"]\n", "t").expect_err("invalid");
        assert!(e.to_string().contains("checks.skip[0]"), "{e}");
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let c = Config::parse("", "t.toml").unwrap();
        assert_eq!(c.database_url(), DEFAULT_DATABASE_URL);
        assert_eq!(c.schedule.cron, crate::schedule::DEFAULT_CRON);
        assert_eq!(c.fine_tune.account, "default");
        assert_eq!(c.policy, PolicyConfig::default());
    }

    #[test]
    fn every_section_is_read() {
        let text = r#"
[database]
url = "sqlite://x.db"
[mcp]
url = "http://127.0.0.1:9/mcp"
request_timeout_secs = 5
[fine_tune]
base_model = "base-a"
account = "acme"
method = "dpo"
[fine_tune.base_models]
"support-bot-v2" = "base-b"
[prices]
"base-a" = 5
"base-b" = 7
[policy]
cooldown_days = 14
[schedule]
cron = "30 4 * * SUN"
models = ["support-bot-v2"]
[dataset]
validation_fraction = 0.2
[[dataset.redaction.extra_patterns]]
kind = "TICKET"
pattern = "TCK-[0-9]{6}"
[[redaction.extra_patterns]]
kind = "ORDER"
pattern = "ORD-[0-9]{8}"
"#;
        let c = Config::parse(text, "t.toml").unwrap();
        assert_eq!(c.database_url(), "sqlite://x.db");
        assert_eq!(c.mcp.request_timeout_secs, Some(5));
        assert_eq!(c.fine_tune.method, FineTuneMethod::Dpo);
        assert_eq!(c.fine_tune.base_model_for("support-bot-v2"), Some("base-b"));
        assert_eq!(c.fine_tune.base_model_for("other"), Some("base-a"));
        assert_eq!(c.prices.get("base-b"), Some(7));
        assert_eq!(c.policy.cooldown_days, 14);
        assert_eq!(c.schedule.models, ["support-bot-v2"]);
        assert_eq!(c.dataset.validation_fraction, 0.2);
        let kinds: Vec<&str> = c
            .dataset
            .redaction
            .extra_patterns
            .iter()
            .map(|p| p.kind.as_str())
            .collect();
        assert_eq!(kinds, ["TICKET", "ORDER"]);
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let e = Config::parse("[policy]\ncooldown = 3\n", "conf/t.toml").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("conf/t.toml:2"), "{text}");
        assert!(text.contains("cooldown"), "{text}");
        let e = Config::parse("[policy]\nmin_negative_rate = 2.0\n", "t.toml").unwrap_err();
        match e {
            Error::InvalidInput { field, .. } => {
                assert_eq!(field, "t.toml: policy.min_negative_rate")
            }
            other => panic!("{other:?}"),
        }
        let e = Config::parse("[schedule]\ncron = \"every monday\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("schedule.cron"), "{e}");
        let e = Config::parse("[mcp]\nurl = \"ftp://x\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("mcp.url"), "{e}");
        let e = Config::parse("[mcp]\ntoken = \"sk-1\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
        let e = Config::parse(
            "[[redaction.extra_patterns]]\nkind = \"T\"\npattern = \"(unclosed\"\n",
            "t.toml",
        )
        .unwrap_err();
        match &e {
            Error::InvalidInput { field, .. } => {
                assert_eq!(field, "t.toml: redaction.extra_patterns[0].pattern")
            }
            other => panic!("{other:?}"),
        }
        let e = Config::parse("[prices]\n\"m\" = -1\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("t.toml:2"), "{e}");
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let mut c = Config::parse("[database]\nurl = \"sqlite://file.db\"\n", "t").unwrap();
        c.apply_env(|k| match k {
            "TUNELOOP_DATABASE_URL" => Some("sqlite://env.db".into()),
            "TUNELOOP_MCP_URL" => Some(" ".into()),
            _ => None,
        });
        assert_eq!(c.database_url(), "sqlite://env.db");
        assert_eq!(c.mcp.url, None);
    }

    #[test]
    fn a_missing_default_file_is_fine_but_a_named_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            Config::load(Some(&missing)),
            Err(Error::Io { .. })
        ));
        let present = dir.path().join("t.toml");
        std::fs::write(&present, "[fine_tune]\naccount = \"acme\"\n").unwrap();
        let c = Config::load(Some(&present)).unwrap();
        assert_eq!(c.fine_tune.account, "acme");
        assert_eq!(c.source.as_deref(), Some(present.as_path()));
    }
}
