//! `tuneloop export`.

use super::{print_json, Ctx};
use crate::args::ExportArgs;
use crate::CliResult;
use std::io::{BufWriter, Write};
use tuneloop::service::ExportOptions;

pub async fn run(ctx: &Ctx, a: ExportArgs) -> CliResult {
    let options = ExportOptions {
        model: a.range.model,
        since: a.range.since,
        until: a.range.until,
    };
    let tl = ctx.open().await?;
    let Some(out) = a.out else {
        let mut w = BufWriter::new(std::io::stdout());
        let result = tl.export_jsonl(&mut w, &options).await.and_then(|r| {
            w.flush().map_err(|source| tuneloop::Error::Io {
                path: "standard output".into(),
                source,
            })?;
            Ok(r)
        });
        return match result {
            Ok(_) => Ok(()),
            // `tuneloop export | head` is fine: the reader has what it wanted.
            Err(tuneloop::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                Ok(())
            }
            Err(e) => Err(super::flag_hint(e)),
        };
    };
    let report = tl
        .export_file(&out, &options)
        .await
        .map_err(super::flag_hint)?;
    if ctx.json {
        return print_json(&report);
    }
    outln!(
        "Exported {} responses and {} feedback items to {}",
        report.responses,
        report.feedback,
        out.display()
    );
    Ok(())
}
