//! The dataset builder: responses and feedback in, rendered files and a manifest out.
//!
//! Pure: the records come as values. Reading them from a store is
//! `tuneloop::jobs::build_from_store` (and the facade's `build_dataset`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::config::{DatasetConfig, ExampleKind, TokenEncoding};
use super::dedup::{find_duplicates, DuplicateKind};
use super::examples::{candidate, Candidate, Example, ExampleSource, Verdict};
use super::manifest::{Counts, FileInfo, FileTokens, LineageEntry, Manifest};
use super::redact::{RedactionCounts, Redactor};
use super::split::{seeded_hash, split};
use super::tokens::{self, TokenStats};
use super::write::{render_line, write_dir};
use crate::model::{Feedback, Message, ResponseRecord};
use crate::{Error, Result};

/// Names of the files of a dataset directory.
pub const TRAIN_FILE: &str = "train.jsonl";
/// See [`TRAIN_FILE`].
pub const VALIDATION_FILE: &str = "validation.jsonl";
/// See [`TRAIN_FILE`].
pub const LINEAGE_FILE: &str = "lineage.jsonl";
/// See [`TRAIN_FILE`].
pub const MANIFEST_FILE: &str = "manifest.json";

/// A built dataset: rendered files and their manifest, ready to write or upload.
#[derive(Debug, Clone)]
pub struct Dataset {
    manifest: Manifest,
    train: Vec<u8>,
    validation: Vec<u8>,
    lineage: Vec<u8>,
    manifest_json: Vec<u8>,
}

impl Dataset {
    /// What the dataset holds.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// `train.jsonl` as written.
    pub fn train_jsonl(&self) -> &[u8] {
        &self.train
    }

    /// `validation.jsonl` as written (empty when the validation fraction is 0).
    pub fn validation_jsonl(&self) -> &[u8] {
        &self.validation
    }

    /// `lineage.jsonl` as written.
    pub fn lineage_jsonl(&self) -> &[u8] {
        &self.lineage
    }

    /// `manifest.json` as written (pretty JSON, newline-terminated).
    pub fn manifest_json(&self) -> &[u8] {
        &self.manifest_json
    }

    /// Writes the four files into `dir`, all or nothing (see [`super::write::write_dir`]):
    /// a non-empty `dir` is refused unless `force`.
    pub fn write_to(&self, dir: &Path, force: bool) -> Result<()> {
        write_dir(
            dir,
            &[
                (TRAIN_FILE, &self.train),
                (VALIDATION_FILE, &self.validation),
                (LINEAGE_FILE, &self.lineage),
                (MANIFEST_FILE, &self.manifest_json),
            ],
            force,
        )
    }
}

/// Builds a dataset incrementally: [`Builder::add`] each response with its feedback, then
/// [`Builder::finish`]. [`build`] uses it.
#[derive(Debug)]
pub struct Builder {
    model_id: String,
    config: DatasetConfig,
    redactor: Redactor,
    examples: Vec<Example>,
    /// Preference candidates waiting for a partner, by conversation context
    /// ([`ResponseRecord::context_key`]): answers to different conversations that merely end
    /// in the same query are never paired.
    pool: BTreeMap<String, Vec<Candidate>>,
    dropped: BTreeMap<String, u64>,
    responses: u64,
}

impl Builder {
    /// A builder for `model_id`; checks the config and compiles the redactor.
    pub fn new(model_id: &str, config: &DatasetConfig) -> Result<Self> {
        config.validate()?;
        if model_id.trim().is_empty() {
            return Err(Error::invalid("model", "must not be empty"));
        }
        Ok(Builder {
            model_id: model_id.to_string(),
            config: config.clone(),
            redactor: Redactor::new(&config.redaction)?,
            examples: Vec::new(),
            pool: BTreeMap::new(),
            dropped: BTreeMap::new(),
            responses: 0,
        })
    }

    fn drop_one(&mut self, reason: &str) {
        *self.dropped.entry(reason.to_string()).or_insert(0) += 1;
    }

    /// Adds one response and its feedback (items on other responses are ignored). Responses
    /// of other models or outside the configured time range are skipped.
    pub fn add(&mut self, response: &ResponseRecord, feedback: &[Feedback]) {
        let refs: Vec<&Feedback> = feedback.iter().collect();
        self.add_refs(response, &refs);
    }

    /// [`Builder::add`] over borrowed feedback, so callers need not copy it.
    pub fn add_refs(&mut self, response: &ResponseRecord, feedback: &[&Feedback]) {
        if response.model_id != self.model_id {
            return;
        }
        if self.config.since.is_some_and(|s| response.created_at < s)
            || self.config.until.is_some_and(|u| response.created_at >= u)
        {
            return;
        }
        self.responses += 1;
        let own: Vec<&Feedback>;
        let feedback = if feedback.iter().all(|f| f.response_id == response.id) {
            feedback
        } else {
            own = feedback
                .iter()
                .copied()
                .filter(|f| f.response_id == response.id)
                .collect();
            &own
        };
        if feedback.is_empty() {
            return self.drop_one("no_feedback");
        }
        let c = candidate(
            response,
            feedback,
            self.config.system_prompt.as_deref(),
            &self.redactor,
        );
        let s = &self.config.sources;
        match self.config.format.kind() {
            ExampleKind::Sft => match (&c.correction, c.polarity) {
                (Some((fix, _)), _) if s.sft_corrections => {
                    let e = c.example(ExampleSource::Correction, fix.clone(), None, None);
                    self.examples.push(e);
                }
                (Some(_), _) => self.drop_one("source_off"),
                (None, Verdict::Positive) if s.sft_positive => {
                    let e = c.example(ExampleSource::Positive, c.answer.clone(), None, None);
                    self.examples.push(e);
                }
                (None, Verdict::Positive) => self.drop_one("source_off"),
                (None, v) => self.drop_one(Candidate::polarity_reason(v)),
            },
            ExampleKind::Preference => match (&c.correction, c.polarity) {
                (Some((fix, _)), _) if s.dpo_corrections => {
                    let e = c.example(
                        ExampleSource::CorrectionPair,
                        fix.clone(),
                        Some(c.answer.clone()),
                        None,
                    );
                    self.examples.push(e);
                }
                (Some(_), _) => self.drop_one("source_off"),
                (None, Verdict::Positive | Verdict::Negative) if s.dpo_pairs => {
                    self.pool.entry(c.context_key.clone()).or_default().push(c);
                }
                (None, Verdict::Positive | Verdict::Negative) => self.drop_one("source_off"),
                (None, v) => self.drop_one(Candidate::polarity_reason(v)),
            },
            ExampleKind::Kto => match c.thumbs {
                Verdict::Positive | Verdict::Negative => {
                    let label = c.thumbs == Verdict::Positive;
                    let e = c.example(ExampleSource::Thumbs, c.answer.clone(), None, Some(label));
                    self.examples.push(e);
                }
                Verdict::None => self.drop_one("no_thumbs"),
                v => self.drop_one(Candidate::polarity_reason(v)),
            },
        }
    }

    /// Pairs the best positive with the worst negative response of each conversation context,
    /// the second best with the second worst, and so on; the rest are `unpaired`. The pair's
    /// prompt is the positive's, which is the shared context (the keys are equal).
    fn pair_pool(&mut self) {
        let pool = std::mem::take(&mut self.pool);
        for (_, group) in pool {
            let by_rank = |a: &&Candidate, b: &&Candidate| {
                b.score
                    .total_cmp(&a.score)
                    .then(b.created_at.cmp(&a.created_at))
                    .then(a.response_id.cmp(&b.response_id))
            };
            let mut pos: Vec<&Candidate> = group
                .iter()
                .filter(|c| c.polarity == Verdict::Positive)
                .collect();
            let mut neg: Vec<&Candidate> = group
                .iter()
                .filter(|c| c.polarity == Verdict::Negative)
                .collect();
            pos.sort_by(by_rank);
            neg.sort_by(by_rank);
            neg.reverse();
            let pairs = pos.len().min(neg.len());
            for (p, n) in pos.iter().zip(&neg) {
                if super::dedup::normalize(&p.answer) == super::dedup::normalize(&n.answer) {
                    self.drop_one("identical_pair");
                    continue;
                }
                let mut e = p.example(
                    ExampleSource::PreferencePair,
                    p.answer.clone(),
                    Some(n.answer.clone()),
                    None,
                );
                e.response_ids.push(n.response_id.clone());
                e.feedback_ids.extend(n.feedback_ids.iter().cloned());
                e.feedback_ids.sort();
                e.score = (p.score + (1.0 - n.score)) / 2.0;
                e.created_at = e.created_at.max(n.created_at);
                e.redactions.merge(&n.redactions);
                self.examples.push(e);
            }
            let unpaired = (pos.len() + neg.len() - 2 * pairs) as u64;
            if unpaired > 0 {
                *self.dropped.entry("unpaired".to_string()).or_insert(0) += unpaired;
            }
        }
    }

    /// Filters, deduplicates, splits and renders. Fewer examples than `min_examples` is an
    /// `InvalidInput` on `min_examples` that says how many were found.
    pub fn finish(mut self) -> Result<Dataset> {
        self.pair_pool();
        let cfg = self.config.clone();
        let candidates = self.examples.len() as u64;
        let mut examples = std::mem::take(&mut self.examples);
        for e in &mut examples {
            e.tokens = example_tokens(cfg.encoding, e);
        }
        let before = examples.len();
        examples.retain(|e| e.tokens <= cfg.max_tokens);
        let too_long = (before - examples.len()) as u64;
        if too_long > 0 {
            self.dropped.insert("too_long".to_string(), too_long);
        }

        // Best first, so each duplicate group keeps its best-rated, most recent example.
        examples.sort_by(Example::rank_cmp);
        let texts: Vec<String> = examples.iter().map(Example::dedup_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let dups = find_duplicates(&refs, &cfg.dedup);
        drop(texts);
        let mut kept = Vec::with_capacity(examples.len());
        for (e, d) in examples.into_iter().zip(dups) {
            match d {
                None => kept.push(e),
                Some(d) => self.drop_one(match d.kind {
                    DuplicateKind::Exact => "duplicate_exact",
                    DuplicateKind::Near => "duplicate_near",
                }),
            }
        }
        let examples = kept;
        if examples.len() < cfg.min_examples {
            return Err(Error::invalid(
                "min_examples",
                format!(
                    "found {} usable examples for model {} in format {}; at least {} are needed",
                    examples.len(),
                    self.model_id,
                    cfg.format.as_str(),
                    cfg.min_examples
                ),
            ));
        }

        let keys: Vec<(&str, &str)> = examples
            .iter()
            .map(|e| (e.query_key.as_str(), e.category.as_str()))
            .collect();
        let is_val = split(&keys, cfg.validation_fraction, cfg.seed);
        let (mut train, mut val): (Vec<&Example>, Vec<&Example>) = (Vec::new(), Vec::new());
        for (e, v) in examples.iter().zip(is_val) {
            if v {
                val.push(e)
            } else {
                train.push(e)
            }
        }
        // A seeded shuffle, so a file is not ordered by rank or by category.
        let order = |e: &&Example| seeded_hash(cfg.seed, &e.response_ids.join("\u{1f}"));
        train.sort_by_cached_key(order);
        val.sort_by_cached_key(order);

        let mut sources: BTreeMap<String, u64> = BTreeMap::new();
        let mut redactions = RedactionCounts::default();
        let mut lineage = Vec::new();
        let mut render = |name: &str, list: &[&Example]| -> Result<(Vec<u8>, Vec<u64>)> {
            let mut bytes = Vec::new();
            let mut toks = Vec::with_capacity(list.len());
            for (i, e) in list.iter().enumerate() {
                bytes.extend(render_line(cfg.format, e)?);
                toks.push(e.tokens);
                *sources.entry(e.source.as_str().to_string()).or_insert(0) += 1;
                redactions.merge(&e.redactions);
                let entry = LineageEntry {
                    file: name.to_string(),
                    line: i as u64 + 1,
                    source: e.source.as_str().to_string(),
                    response_ids: e.response_ids.clone(),
                    feedback_ids: e.feedback_ids.clone(),
                };
                serde_json::to_writer(&mut lineage, &entry)
                    .map_err(|err| Error::invalid("lineage", err.to_string()))?;
                lineage.push(b'\n');
            }
            Ok((bytes, toks))
        };
        let (train_bytes, train_tokens) = render(TRAIN_FILE, &train)?;
        let (val_bytes, val_tokens) = render(VALIDATION_FILE, &val)?;

        let epochs = tokens::estimated_epochs(train.len() as u64);
        let billing = tokens::billing_tokens(&train_tokens, cfg.max_tokens);
        let mut files = BTreeMap::new();
        files.insert(TRAIN_FILE.to_string(), FileInfo::of(&train_bytes));
        files.insert(VALIDATION_FILE.to_string(), FileInfo::of(&val_bytes));
        files.insert(LINEAGE_FILE.to_string(), FileInfo::of(&lineage));
        let manifest = Manifest {
            format: cfg.format,
            model: self.model_id.clone(),
            encoding: cfg.encoding,
            seed: cfg.seed,
            counts: Counts {
                responses: self.responses,
                candidates,
                train: train.len() as u64,
                validation: val.len() as u64,
            },
            sources,
            dropped: self.dropped,
            redactions,
            tokens: FileTokens {
                train: TokenStats::of(&train_tokens),
                validation: TokenStats::of(&val_tokens),
            },
            estimated_epochs: epochs,
            billing_tokens: billing,
            estimated_trained_tokens: billing * epochs,
            files,
            config: DatasetConfig {
                // The manifest is written too: its copy of the system prompt is redacted like
                // the examples' (counted there already).
                system_prompt: cfg.system_prompt.as_deref().map(|p| {
                    self.redactor
                        .redact(p, &mut RedactionCounts::default())
                        .into_owned()
                }),
                ..cfg
            },
        };
        let mut manifest_json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::invalid("manifest", e.to_string()))?;
        manifest_json.push(b'\n');
        Ok(Dataset {
            manifest,
            train: train_bytes,
            validation: val_bytes,
            lineage,
            manifest_json,
        })
    }
}

/// The cookbook's token count of an example as written: prompt plus answer; for preference
/// examples the larger of the two completions.
pub fn example_tokens(encoding: TokenEncoding, e: &Example) -> u64 {
    let with = |answer: &str| {
        let mut m: Vec<Message> = e.prompt.clone();
        m.push(super::examples::assistant(answer));
        tokens::count_messages(encoding, &m)
    };
    let chosen = with(&e.chosen);
    match &e.rejected {
        Some(r) => chosen.max(with(r)),
        None => chosen,
    }
}

/// Builds a dataset for `model_id` from in-memory records (feedback may cover other
/// responses; each response gets its own).
pub fn build(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    model_id: &str,
    config: &DatasetConfig,
) -> Result<Dataset> {
    let mut builder = Builder::new(model_id, config)?;
    let mut by_response: HashMap<&str, Vec<&Feedback>> = HashMap::new();
    for f in feedback {
        by_response
            .entry(f.response_id.as_str())
            .or_default()
            .push(f);
    }
    for r in responses {
        let fb = by_response.remove(r.id.as_str()).unwrap_or_default();
        builder.add_refs(r, &fb);
    }
    builder.finish()
}
