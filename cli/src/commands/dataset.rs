//! `tuneloop dataset`: build a fine-tuning dataset from a model's feedback.

use super::{open_store, print_json};
use crate::args::DatasetArgs;
use crate::output::thousands;
use crate::progress::spinner;
use crate::{CliError, CliResult};
use std::path::Path;
use tuneloop::dataset::{build_from_store, DatasetConfig, Manifest};
use tuneloop::Error;

/// `[dataset]` of tuneloop.toml with the flags given on top.
pub fn config_from(base: &DatasetConfig, a: &DatasetArgs) -> DatasetConfig {
    let mut c = base.clone();
    c.format = a.format.into();
    if let Some(p) = &a.system_prompt {
        c.system_prompt = Some(p.clone());
    }
    c.seed = a.seed.unwrap_or(c.seed);
    c.validation_fraction = a.validation_fraction.unwrap_or(c.validation_fraction);
    c.min_examples = a.min_examples.unwrap_or(c.min_examples);
    c.max_tokens = a.max_tokens.unwrap_or(c.max_tokens);
    if let Some(e) = a.encoding {
        c.encoding = e.into();
    }
    c.since = a.since.or(c.since);
    c.until = a.until.or(c.until);
    c
}

pub async fn run(db: &str, json: bool, base: &DatasetConfig, a: DatasetArgs) -> CliResult {
    let config = config_from(base, &a);
    config.validate().map_err(flag_error)?;
    check_out(&a.out, a.force)?;
    let store = open_store(db).await?;
    let bar = spinner(&format!("building a dataset for {}", a.model), json);
    let built = build_from_store(store.as_ref(), &a.model, &config).await;
    bar.finish_and_clear();
    let dataset = built.map_err(|e| match e {
        Error::InvalidInput { field, reason } if field == "min_examples" => CliError::usage(
            format!("too few examples: {reason} (lower --min-examples or collect more feedback)"),
        ),
        other => super::unknown_model_hint(other),
    })?;
    dataset
        .write_to(&a.out, a.force)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", a.out.display())))?;
    if json {
        return print_json(dataset.manifest());
    }
    outln!("Wrote {}:", a.out.display());
    outln!("{}", summary(dataset.manifest()));
    Ok(())
}

/// Refuses an output path that cannot take a dataset before any work is done.
fn check_out(out: &Path, force: bool) -> CliResult {
    if let Ok(m) = std::fs::metadata(out) {
        if !m.is_dir() {
            return Err(CliError::usage(format!(
                "--out {} exists and is not a directory",
                out.display()
            )));
        }
        let non_empty = std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
        if non_empty && !force {
            return Err(CliError::usage(format!(
                "--out {} is not empty; choose another directory or pass --force to replace it",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Config errors name the command-line flag rather than the config field.
fn flag_error(e: Error) -> CliError {
    match e {
        Error::InvalidInput { field, reason } => {
            CliError::usage(format!("--{}: {reason}", field.replace('_', "-")))
        }
        other => other.into(),
    }
}

fn pairs(map: &std::collections::BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".to_string();
    }
    map.iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A few lines that say what a dataset holds.
pub fn summary(m: &Manifest) -> String {
    let t = &m.tokens;
    [
        format!(
            "  format {}, model {}, encoding {}, seed {}",
            m.config.format.as_str(),
            m.model,
            m.encoding.as_str(),
            m.seed
        ),
        format!(
            "  examples: {} train, {} validation (from {} responses, {} candidates)",
            thousands(m.counts.train),
            thousands(m.counts.validation),
            thousands(m.counts.responses),
            thousands(m.counts.candidates)
        ),
        format!("  sources: {}", pairs(&m.sources)),
        format!("  dropped: {}", pairs(&m.dropped)),
        format!("  redactions: {}", pairs(&m.redactions.0)),
        format!(
            "  tokens per example (train): min {}, median {}, max {}; total {} train, {} validation",
            t.train.min,
            t.train.median,
            t.train.max,
            thousands(t.train.total),
            thousands(t.validation.total)
        ),
        format!(
            "  estimate: {} epochs x {} billing tokens = {} trained tokens",
            m.estimated_epochs,
            thousands(m.billing_tokens),
            thousands(m.estimated_trained_tokens)
        ),
    ]
    .join("\n")
}
