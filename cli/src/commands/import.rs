//! `tuneloop import`.

use super::{print_json, Ctx};
use crate::args::ImportArgs;
use crate::output::thousands;
use crate::progress::bytes_bar;
use crate::CliResult;
use tuneloop::service::ImportInput;
use tuneloop::service::ImportOptions;

pub async fn run(ctx: &Ctx, a: ImportArgs) -> CliResult {
    let input = ImportInput::from_arg(&a.file);
    let options = ImportOptions {
        batch_size: usize::try_from(a.batch_size).unwrap_or(1_000),
        commit_every: usize::try_from(a.commit_every).unwrap_or(10_000),
        ..Default::default()
    };
    let tl = ctx.open().await?;
    let bar = std::sync::OnceLock::new();
    let progress = |bytes: u64, total: Option<u64>| {
        bar.get_or_init(|| bytes_bar(total, ctx.json))
            .set_position(bytes);
    };
    let result = tl
        .import_file(&input, a.reject_file.as_deref(), &options, &progress)
        .await;
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let hint = matches!(e, tuneloop::Error::InvalidImport { .. });
            let mut err = super::flag_hint(e);
            err.message = format!("{}: {}", input.name(), err.full_message());
            err.causes.clear();
            if hint {
                err.message.push_str(
                    "\nhint: fix these lines, or pass --reject-file F to import the valid lines and set the invalid ones aside",
                );
            }
            return Err(err);
        }
    };
    if ctx.json {
        return print_json(&report);
    }
    let s = &report.summary;
    outln!(
        "Imported {} into {}: {} lines",
        input.name(),
        tl.database(),
        thousands(report.lines)
    );
    outln!(
        "  responses: {} inserted, {} unchanged",
        thousands(s.responses_inserted),
        thousands(s.responses_unchanged)
    );
    outln!(
        "  feedback:  {} inserted, {} unchanged",
        thousands(s.feedback_inserted),
        thousands(s.feedback_unchanged)
    );
    if s.comparisons_inserted + s.comparisons_unchanged > 0 {
        outln!(
            "  comparisons: {} inserted, {} unchanged",
            thousands(s.comparisons_inserted),
            thousands(s.comparisons_unchanged)
        );
    }
    match &a.reject_file {
        Some(path) => outln!(
            "  rejected:  {} lines, written to {}",
            thousands(report.rejected),
            path.display()
        ),
        None => outln!("  rejected:  0 lines"),
    }
    Ok(())
}
