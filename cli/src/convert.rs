//! Flags to the facade's options, and the facade's errors in the command line's words,
//! shared by several commands.

use crate::args::{JobTargetArgs, RangeArgs, RuleFileArgs};
use crate::commands::{flag_hint, unknown_model_hint};
use crate::{CliError, CliResult};
use std::path::Path;
use tuneloop::service::{AnalyzeOptions, FineTuneTarget, LexiconFile, RulesFile};

/// The facade's target from `--model-id`, `--base-model`, `--account`, `--method`,
/// `--n-epochs` (what is not given comes from `[fine_tune]`, in the facade).
pub fn target(t: &JobTargetArgs) -> FineTuneTarget {
    FineTuneTarget {
        model_id: t.model_id.clone(),
        base_model: t.base_model.clone(),
        account: t.account.clone(),
        method: t.method.map(Into::into),
        n_epochs: t.n_epochs,
    }
}

/// A fine-tuning error in the command line's words: the flag that sets the field, how to
/// configure the server, what an unknown model means.
pub fn job_hint(e: tuneloop::Error) -> CliError {
    match e {
        tuneloop::Error::InvalidInput { field, reason } if field == "mcp.url" => {
            CliError::usage(format!(
                "{reason}\nhint: pass --mcp-url URL, set TUNELOOP_MCP_URL or [mcp] url in tuneloop.toml"
            ))
        }
        tuneloop::Error::InvalidInput { field, reason }
            if matches!(
                field.as_str(),
                "model_id" | "base_model" | "account" | "method" | "n_epochs" | "status"
            ) =>
        {
            CliError::usage(format!("--{}: {reason}", field.replace('_', "-")))
        }
        other => unknown_model_hint(other),
    }
}

/// The facade's options from the flags, with the `--lexicon`/`--rules` files read and
/// parsed. Checked here, so a bad file or range fails before the database is opened (or
/// created).
pub fn analyze_options(
    range: RangeArgs,
    files: &RuleFileArgs,
    save: bool,
) -> CliResult<AnalyzeOptions> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))
    };
    let in_file =
        |path: &Path, e: tuneloop::Error| CliError::usage(format!("{}: {e}", path.display()));
    let lexicon = match &files.lexicon {
        Some(p) => Some(LexiconFile::from_json(&read(p)?).map_err(|e| in_file(p, e))?),
        None => None,
    };
    let rules = match &files.rules {
        Some(p) => Some(RulesFile::from_json(&read(p)?).map_err(|e| in_file(p, e))?),
        None => None,
    };
    let options = AnalyzeOptions {
        model: range.model,
        since: range.since,
        until: range.until,
        lexicon,
        rules,
        save,
    };
    options.validate().map_err(|e| table_hint(files, e))?;
    Ok(options)
}

/// A facade error with the command line's words: a field of a rule table
/// (`rules.rules[0].title`) is said as the file and the field in it
/// (`my-rules.json: invalid rules[0].title: ...`), other fields as their flags.
pub fn table_hint(files: &RuleFileArgs, e: tuneloop::Error) -> CliError {
    if let tuneloop::Error::InvalidInput { field, reason } = &e {
        let tables = [("lexicon.", &files.lexicon), ("rules.", &files.rules)];
        for (prefix, file) in tables {
            if let (Some(inner), Some(path)) = (field.strip_prefix(prefix), file) {
                let e = tuneloop::Error::invalid(inner, reason.clone());
                return CliError::usage(format!("{}: {e}", path.display()));
            }
        }
    }
    flag_hint(e)
}
