//! `tuneloop suggest`: improvement suggestions from error patterns, trends and corrections.

use super::{print_json, Ctx};
use crate::args::{RangeArgs, RuleFileArgs, SuggestArgs};
use crate::output::omitted_note;
use crate::{CliError, CliResult};
use std::path::Path;
use tuneloop::model::Suggestion;
use tuneloop::service::{AnalyzeOptions, LexiconFile, RulesFile};

pub async fn run(ctx: &Ctx, a: SuggestArgs) -> CliResult {
    let options = analyze_options(a.range, &a.rules, false)?;
    let report = ctx
        .open()
        .await?
        .suggest(&options)
        .await
        .map_err(|e| table_hint(&a.rules, e))?;
    if ctx.json {
        return print_json(&report);
    }
    print_suggestions(&report.suggestions, usize::MAX);
    let note = omitted_note(
        report.omitted_responses,
        "trends' weekly series",
        "520 weeks",
    );
    if let Some(note) = note {
        outln!("\n{note}");
    }
    Ok(())
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
    super::flag_hint(e)
}

/// Prints up to `limit` suggestions, readable.
pub fn print_suggestions(suggestions: &[Suggestion], limit: usize) {
    if suggestions.is_empty() {
        outln!("No suggestions: no rule matched the feedback in range.");
        return;
    }
    for (i, s) in suggestions.iter().take(limit).enumerate() {
        if i > 0 {
            outln!();
        }
        outln!(
            "{}. [{:.1}] {} ({}{})",
            i + 1,
            s.priority,
            s.title,
            s.category,
            s.pattern_id
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default()
        );
        outln!("   {}", s.action);
        outln!("   Why: {}", s.rationale);
        outln!("   id {}", s.id);
    }
}
