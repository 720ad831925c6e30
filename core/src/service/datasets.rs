//! Fine-tuning datasets: building one from a model's feedback, writing it to a directory,
//! validating any JSONL file with the OpenAI cookbook's checks.

use super::Tuneloop;
use crate::dataset::{
    validate_jsonl, Dataset, DatasetConfig, DatasetFormat, Manifest, TokenEncoding, ValidateFormat,
    ValidationOptions, ValidationReport,
};
use crate::error::{Error, Result};
use crate::model::time::serde_ts;
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Which dataset to build. Every setting left `None` comes from the `[dataset]` section of
/// the handle's settings (then the built-in defaults); a value given here wins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetRequest {
    /// The model whose responses and feedback make the examples.
    pub model: String,
    /// Output format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<DatasetFormat>,
    /// Seed of the train/validation split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Share of queries put in the validation file, 0 to 0.5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,
    /// Fewer examples than this (after filtering and deduplication) is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_examples: Option<usize>,
    /// Examples longer than this many tokens are dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Token encoding for counts and limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TokenEncoding>,
    /// A system message put first in every example.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Only responses created at or after this time.
    #[serde(with = "serde_ts::option", skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Only responses created before this time.
    #[serde(with = "serde_ts::option", skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl DatasetRequest {
    /// The dataset of `model`, everything else from the settings.
    pub fn new(model: impl Into<String>) -> Self {
        DatasetRequest {
            model: model.into(),
            ..Default::default()
        }
    }
}

/// A built dataset: its manifest and the text of its files, as
/// [`Tuneloop::write_dataset`] would write them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltDataset {
    /// What the dataset holds (`manifest.json`).
    pub manifest: Manifest,
    /// `train.jsonl`.
    pub train_jsonl: String,
    /// `validation.jsonl` (empty when the validation fraction is 0).
    pub validation_jsonl: String,
    /// `lineage.jsonl`: where each line of the two files came from.
    pub lineage_jsonl: String,
}

impl BuiltDataset {
    fn of(dataset: &Dataset) -> Result<Self> {
        let text = |name: &str, bytes: &[u8]| {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| Error::invalid(format!("dataset.{name}"), "is not UTF-8"))
        };
        Ok(BuiltDataset {
            manifest: dataset.manifest().clone(),
            train_jsonl: text(crate::dataset::TRAIN_FILE, dataset.train_jsonl())?,
            validation_jsonl: text(crate::dataset::VALIDATION_FILE, dataset.validation_jsonl())?,
            lineage_jsonl: text(crate::dataset::LINEAGE_FILE, dataset.lineage_jsonl())?,
        })
    }
}

/// The file a validation reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidateInput {
    /// A file (`-` is not special: see [`ValidateInput::Stdin`]).
    Path(PathBuf),
    /// The JSONL text itself.
    Text(String),
    /// The process's standard input.
    Stdin,
}

impl ValidateInput {
    /// `-` means standard input, anything else a file.
    pub fn from_arg(arg: &Path) -> Self {
        if arg.as_os_str() == "-" {
            ValidateInput::Stdin
        } else {
            ValidateInput::Path(arg.to_path_buf())
        }
    }

    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            ValidateInput::Path(p) => p.display().to_string(),
            ValidateInput::Text(_) => "the text".into(),
            ValidateInput::Stdin => "standard input".into(),
        }
    }
}

/// What [`Tuneloop::validate_dataset`] checks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The file: `{"path": ...}`, `{"text": ...}` or `"stdin"`.
    pub input: ValidateInput,
    /// Its layout.
    pub format: ValidateFormat,
    /// Token encoding for counts (default `o200k_base`).
    #[serde(default)]
    pub encoding: TokenEncoding,
    /// Warn above this many tokens per example; billing counts at most this many (default
    /// 16,385).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u64,
}

fn default_max_tokens() -> u64 {
    crate::dataset::config::DEFAULT_MAX_TOKENS
}

impl ValidateRequest {
    /// A request with the default encoding and token limit.
    pub fn new(input: ValidateInput, format: ValidateFormat) -> Self {
        ValidateRequest {
            input,
            format,
            encoding: TokenEncoding::default(),
            max_tokens: default_max_tokens(),
        }
    }
}

impl Tuneloop {
    /// The dataset settings of `request`: `[dataset]` of the handle's settings with the
    /// request's values on top, checked ([`Error::InvalidInput`] naming the field).
    pub fn dataset_config(&self, request: &DatasetRequest) -> Result<DatasetConfig> {
        let mut c = self.config().dataset.clone();
        if let Some(f) = request.format {
            c.format = f;
        }
        if let Some(p) = &request.system_prompt {
            c.system_prompt = Some(p.clone());
        }
        c.seed = request.seed.unwrap_or(c.seed);
        c.validation_fraction = request.validation_fraction.unwrap_or(c.validation_fraction);
        c.min_examples = request.min_examples.unwrap_or(c.min_examples);
        c.max_tokens = request.max_tokens.unwrap_or(c.max_tokens);
        c.encoding = request.encoding.unwrap_or(c.encoding);
        c.since = request.since.or(c.since);
        c.until = request.until.or(c.until);
        c.validate()?;
        Ok(c)
    }

    /// Builds the dataset of `request.model` from the store (redaction, deduplication,
    /// split, token counts; the CPU work on a blocking thread). An unknown model is
    /// [`Error::NotFound`] of kind `model`; too few examples is [`Error::InvalidInput`] on
    /// `min_examples`, saying how many were found.
    pub async fn build_dataset(&self, request: &DatasetRequest) -> Result<BuiltDataset> {
        let dataset = self.dataset(request).await?;
        BuiltDataset::of(&dataset)
    }

    /// Builds the dataset of `request` and writes it into `dir` (`train.jsonl`,
    /// `validation.jsonl`, `lineage.jsonl`, `manifest.json`), all or nothing: through a
    /// temporary directory renamed at the end. A `dir` that exists and is not empty is
    /// refused unless `replace` (then it is replaced as a whole), as is a directory holding
    /// the handle's database. The output path is checked before anything is built; every
    /// refusal is [`Error::InvalidInput`] on `out`.
    pub async fn write_dataset(
        &self,
        request: &DatasetRequest,
        dir: &Path,
        replace: bool,
    ) -> Result<Manifest> {
        let config = self.dataset_config(request)?;
        self.check_dataset_dir(dir, replace)?;
        let dataset = self.dataset_with(&request.model, &config).await?;
        let owned = dir.to_path_buf();
        // Writing and syncing four files is blocking I/O.
        super::blocking("the dataset write", move || {
            dataset.write_to(&owned, replace)?;
            Ok(dataset.manifest().clone())
        })
        .await?
        .map_err(|e| match e {
            // Where the files cannot go is the caller's to fix, like the checks above.
            Error::Io { source, .. } => {
                Error::invalid("out", format!("cannot write {}: {source}", dir.display()))
            }
            other => other,
        })
    }

    /// Runs the OpenAI cookbook's checks on a fine-tuning JSONL file, ours or not (see
    /// [`crate::dataset::validate`]); the report says whether it is `valid`. A file that
    /// cannot be opened is [`Error::InvalidInput`] on `path`. Needs no handle: validating a
    /// file reads no database, so a front can validate without opening one.
    pub async fn validate_dataset(request: &ValidateRequest) -> Result<ValidationReport> {
        let options = ValidationOptions {
            format: request.format,
            encoding: request.encoding,
            max_tokens: request.max_tokens,
        };
        let input = request.input.clone();
        // Token counting is CPU work, and reading a file or stdin blocks.
        super::blocking("the validation", move || match &input {
            ValidateInput::Text(text) => validate_jsonl(text.as_bytes(), &options),
            ValidateInput::Stdin => validate_jsonl(std::io::stdin().lock(), &options),
            ValidateInput::Path(p) => {
                let file = std::fs::File::open(p).map_err(|e| {
                    Error::invalid("path", format!("cannot open {}: {e}", p.display()))
                })?;
                validate_jsonl(BufReader::with_capacity(1 << 16, file), &options)
            }
        })
        .await?
    }

    async fn dataset(&self, request: &DatasetRequest) -> Result<Dataset> {
        let config = self.dataset_config(request)?;
        self.dataset_with(&request.model, &config).await
    }

    async fn dataset_with(&self, model: &str, config: &DatasetConfig) -> Result<Dataset> {
        crate::jobs::build_from_store(self.store().as_ref(), model, config).await
    }

    /// Refuses an output directory before any work is done: a path under a file, a file, a
    /// non-empty directory without `replace`, or a directory holding the database.
    fn check_dataset_dir(&self, dir: &Path, replace: bool) -> Result<()> {
        let refuse = |reason: String| Err(Error::invalid("out", reason));
        // The nearest existing ancestor must be a directory, or nothing can be created.
        for ancestor in dir.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                break;
            }
            if let Ok(m) = std::fs::metadata(ancestor) {
                if !m.is_dir() {
                    return refuse(format!(
                        "cannot create {}: {} is not a directory",
                        dir.display(),
                        ancestor.display()
                    ));
                }
                break;
            }
        }
        let Ok(m) = std::fs::metadata(dir) else {
            return Ok(());
        };
        if !m.is_dir() {
            return refuse(format!("{} exists and is not a directory", dir.display()));
        }
        let non_empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
        if non_empty && !replace {
            return refuse(format!(
                "{} is not empty; choose another directory or replace it",
                dir.display()
            ));
        }
        if let (Some(db), Ok(d)) = (self.database_file(), dir.canonicalize()) {
            let db = db.canonicalize().unwrap_or(db);
            if db.starts_with(&d) {
                return refuse(format!(
                    "{} holds the database ({}); replacing it would destroy it: choose another \
                     directory",
                    dir.display(),
                    db.display()
                ));
            }
        }
        Ok(())
    }
}
