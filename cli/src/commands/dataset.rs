//! `tuneloop dataset`: build a fine-tuning dataset from a model's feedback.

use super::{print_json, Ctx};
use crate::args::DatasetArgs;
use crate::progress::spinner;
use crate::render::summary;
use crate::{CliError, CliResult};
use tuneloop::service::DatasetRequest;
use tuneloop::Error;

pub async fn run(ctx: &Ctx, a: DatasetArgs) -> CliResult {
    let request = DatasetRequest {
        model: a.model.clone(),
        format: Some(a.format.into()),
        seed: a.seed,
        validation_fraction: a.validation_fraction,
        min_examples: a.min_examples,
        max_tokens: a.max_tokens,
        encoding: a.encoding.map(Into::into),
        system_prompt: a.system_prompt.clone(),
        since: a.since,
        until: a.until,
    };
    let tl = ctx.open().await?;
    let bar = spinner(&format!("building a dataset for {}", a.model), ctx.json);
    let written = tl.write_dataset(&request, &a.out, a.force).await;
    bar.finish_and_clear();
    let manifest = written.map_err(|e| hint(e, a.force))?;
    if ctx.json {
        return print_json(&manifest);
    }
    outln!("Wrote {}:", a.out.display());
    outln!("{}", summary(&manifest));
    Ok(())
}

/// A dataset error in the command line's words: the flag that sets the field, and what to
/// do about too few examples, a non-empty directory or an unknown model.
fn hint(e: Error, force: bool) -> CliError {
    match e {
        Error::InvalidInput { field, reason }
            if field == "min_examples" && reason.contains("found") =>
        {
            CliError::usage(format!(
                "too few examples: {reason} (lower --min-examples or collect more feedback)"
            ))
        }
        Error::InvalidInput { field, reason }
            if field == "out" && !force && reason.contains("not empty") =>
        {
            CliError::usage(format!("--out: {reason} with --force"))
        }
        Error::InvalidInput { field, reason }
            if matches!(
                field.as_str(),
                "format"
                    | "seed"
                    | "validation_fraction"
                    | "min_examples"
                    | "max_tokens"
                    | "encoding"
                    | "system_prompt"
                    | "since"
                    | "until"
                    | "out"
                    | "model"
            ) =>
        {
            CliError::usage(format!("--{}: {reason}", field.replace('_', "-")))
        }
        other => super::unknown_model_hint(other),
    }
}
