//! Dataset settings: the `[dataset]` section of `tuneloop.toml` and the `dataset` command's flags.

use serde::{Deserialize, Serialize};

use super::dedup::DedupConfig;
use super::redact::RedactionConfig;
use crate::model::{format_timestamp, parse_timestamp, Timestamp};
use crate::{Error, Result};

/// The output format of a dataset (see `docs/formats.md`, "Datasets").
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetFormat {
    /// OpenAI supervised fine-tuning: `{"messages":[...]}`.
    #[default]
    OpenaiChat,
    /// OpenAI preference fine-tuning: `{"input":{"messages":[...]},"preferred_output":[...],"non_preferred_output":[...]}`.
    OpenaiDpo,
    /// Hugging Face TRL `SFTTrainer`, conversational: `{"messages":[...]}`.
    TrlSft,
    /// Hugging Face TRL `DPOTrainer`, conversational: `{"prompt":[...],"chosen":[...],"rejected":[...]}`.
    TrlDpo,
    /// Hugging Face TRL `KTOTrainer`, conversational: `{"prompt":[...],"completion":[...],"label":bool}`.
    TrlKto,
}

impl DatasetFormat {
    /// Every format, in documentation order.
    pub const ALL: [DatasetFormat; 5] = [
        DatasetFormat::OpenaiChat,
        DatasetFormat::OpenaiDpo,
        DatasetFormat::TrlSft,
        DatasetFormat::TrlDpo,
        DatasetFormat::TrlKto,
    ];

    /// The kebab-case name (`openai-chat`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetFormat::OpenaiChat => "openai-chat",
            DatasetFormat::OpenaiDpo => "openai-dpo",
            DatasetFormat::TrlSft => "trl-sft",
            DatasetFormat::TrlDpo => "trl-dpo",
            DatasetFormat::TrlKto => "trl-kto",
        }
    }

    /// Parses a kebab-case name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// The kind of example the format holds.
    pub fn kind(self) -> ExampleKind {
        match self {
            DatasetFormat::OpenaiChat | DatasetFormat::TrlSft => ExampleKind::Sft,
            DatasetFormat::OpenaiDpo | DatasetFormat::TrlDpo => ExampleKind::Preference,
            DatasetFormat::TrlKto => ExampleKind::Kto,
        }
    }
}

/// What a training example teaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExampleKind {
    /// A prompt and the answer to imitate.
    Sft,
    /// A prompt, a preferred and a non-preferred answer.
    Preference,
    /// A prompt, an answer and whether it was desirable.
    Kto,
}

/// Token encodings (tiktoken-compatible).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEncoding {
    /// GPT-4o, GPT-4.1 and later models.
    #[default]
    O200kBase,
    /// GPT-4, GPT-3.5-turbo.
    Cl100kBase,
}

impl TokenEncoding {
    /// The tiktoken name (`o200k_base`, `cl100k_base`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEncoding::O200kBase => "o200k_base",
            TokenEncoding::Cl100kBase => "cl100k_base",
        }
    }

    /// Parses a tiktoken name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "o200k_base" => Some(TokenEncoding::O200kBase),
            "cl100k_base" => Some(TokenEncoding::Cl100kBase),
            _ => None,
        }
    }
}

/// Which example sources are on. Each format uses the sources of its kind (SFT sources for
/// `openai-chat`/`trl-sft`, preference sources for `openai-dpo`/`trl-dpo`, thumbs for `trl-kto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sources {
    /// SFT: the user's query answered with the newest correction of a full feedback item.
    pub sft_corrections: bool,
    /// SFT: responses whose resolved polarity is positive, answered as they were.
    pub sft_positive: bool,
    /// Preference: the correction preferred over the original response.
    pub dpo_corrections: bool,
    /// Preference: a positive response preferred over a negative one to the same normalised query.
    pub dpo_pairs: bool,
    /// Preference: the winner of a comparison (pairwise feedback) preferred over the loser,
    /// for comparisons with a response of the dataset's model; ties make none. On by default:
    /// a store without comparisons simply yields none.
    pub dpo_comparisons: bool,
    /// KTO: responses with thumbs votes, labelled by the sign of their sum.
    pub kto_thumbs: bool,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            sft_corrections: true,
            sft_positive: true,
            dpo_corrections: true,
            dpo_pairs: true,
            dpo_comparisons: true,
            kto_thumbs: true,
        }
    }
}

/// Default limit of tokens per example: the context of the smallest fine-tunable model in the
/// OpenAI cookbook's checks (16,385).
pub const DEFAULT_MAX_TOKENS: u64 = 16_385;

/// How to build a dataset. Every field has a default, so a `[dataset]` section only names
/// what it changes; unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetConfig {
    /// Output format.
    pub format: DatasetFormat,
    /// Which sources make examples.
    pub sources: Sources,
    /// A system message put first in every prompt (redacted like everything else).
    pub system_prompt: Option<String>,
    /// Seed of the train/validation split.
    pub seed: u64,
    /// Share of query groups put in the validation file, in `[0, 0.5]`.
    pub validation_fraction: f64,
    /// Fewer examples than this (after filtering and deduplication) is an error.
    pub min_examples: usize,
    /// Examples with more tokens than this are dropped (`too_long`).
    pub max_tokens: u64,
    /// Token encoding used for counting.
    pub encoding: TokenEncoding,
    /// PII redaction.
    pub redaction: RedactionConfig,
    /// Deduplication.
    pub dedup: DedupConfig,
    /// Only responses created at or after this time.
    #[serde(with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Only responses created before this time.
    #[serde(with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        DatasetConfig {
            format: DatasetFormat::default(),
            sources: Sources::default(),
            system_prompt: None,
            seed: 42,
            validation_fraction: 0.1,
            min_examples: 10,
            max_tokens: DEFAULT_MAX_TOKENS,
            encoding: TokenEncoding::default(),
            redaction: RedactionConfig::default(),
            dedup: DedupConfig::default(),
            since: None,
            until: None,
        }
    }
}

impl DatasetConfig {
    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let f = self.validation_fraction;
        if !(0.0..=0.5).contains(&f) {
            return Err(Error::invalid(
                "validation_fraction",
                format!("{f} is not between 0 and 0.5"),
            ));
        }
        if self.min_examples == 0 {
            return Err(Error::invalid("min_examples", "must be at least 1"));
        }
        if self.max_tokens < 8 {
            return Err(Error::invalid(
                "max_tokens",
                format!("{} is too small for any example", self.max_tokens),
            ));
        }
        let d = &self.dedup;
        if !(d.threshold > 0.0 && d.threshold <= 1.0) {
            return Err(Error::invalid(
                "dedup.threshold",
                format!("{} is not in (0, 1]", d.threshold),
            ));
        }
        if d.num_perm == 0 || d.shingle_words == 0 {
            return Err(Error::invalid(
                "dedup",
                "num_perm and shingle_words must be at least 1",
            ));
        }
        if let (Some(s), Some(u)) = (self.since, self.until) {
            if s >= u {
                return Err(Error::invalid("since", "must be before until"));
            }
        }
        let s = &self.sources;
        let on = match self.format.kind() {
            ExampleKind::Sft => s.sft_corrections || s.sft_positive,
            ExampleKind::Preference => s.dpo_corrections || s.dpo_pairs || s.dpo_comparisons,
            ExampleKind::Kto => s.kto_thumbs,
        };
        if !on {
            return Err(Error::invalid(
                "sources",
                format!("no source of format {} is on", self.format.as_str()),
            ));
        }
        Ok(())
    }
}

/// `Option<Timestamp>` as an RFC 3339 string or absent.
mod serde_ts_opt {
    use super::{format_timestamp, parse_timestamp, Timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format_timestamp(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| parse_timestamp(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_field() {
        DatasetConfig::default().validate().unwrap();
        let c = DatasetConfig {
            validation_fraction: 0.9,
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("validation_fraction"), "{e}");
        let c = DatasetConfig {
            format: DatasetFormat::TrlKto,
            sources: Sources {
                kto_thumbs: false,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("sources"));
    }

    #[test]
    fn a_section_maps_with_defaults_and_rejects_unknown_keys() {
        let c: DatasetConfig =
            serde_json::from_str(r#"{"format":"trl-dpo","encoding":"cl100k_base"}"#).unwrap();
        assert_eq!(c.format, DatasetFormat::TrlDpo);
        assert_eq!(c.encoding, TokenEncoding::Cl100kBase);
        assert_eq!(c.seed, 42);
        assert!(serde_json::from_str::<DatasetConfig>(r#"{"fromat":"trl-dpo"}"#).is_err());
        for f in DatasetFormat::ALL {
            assert_eq!(DatasetFormat::parse(f.as_str()), Some(f));
        }
    }
}
