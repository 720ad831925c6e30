//! `tuneloop export`.

use super::{check_range, open_store, print_json};
use crate::args::ExportArgs;
use crate::{CliError, CliResult};
use std::fs::File;
use std::io::{BufWriter, Write};
use tuneloop::io::export_jsonl;
use tuneloop::store::ResponseFilter;

pub async fn run(db: &str, json: bool, a: ExportArgs) -> CliResult {
    check_range(&a.range)?;
    let filter = ResponseFilter {
        model: a.range.model.clone(),
        since: a.range.since,
        until: a.range.until,
    };
    if let (Some(out), Some(db_file)) = (&a.out, tuneloop::io::sqlite_file(db)) {
        tuneloop::io::check_output_path(
            "--out",
            out,
            &[tuneloop::io::Protected {
                path: &db_file,
                what: tuneloop::io::DATABASE,
            }],
        )?;
    }
    let store = open_store(db).await?;
    let Some(out) = a.out else {
        let mut w = BufWriter::new(std::io::stdout());
        let result = export_jsonl(store.as_ref(), &mut w, &filter)
            .await
            .and_then(|r| {
                w.flush().map_err(|source| tuneloop::Error::Io {
                    path: "output".into(),
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
            Err(e) => Err(e.into()),
        };
    };

    // Write beside the target and rename, so a failed export never leaves half a file.
    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let tmp = out.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let file = File::create(&tmp)
        .map_err(|e| CliError::usage(format!("cannot create {}: {e}", out.display())))?;
    let mut w = BufWriter::new(file);
    let result = export_jsonl(store.as_ref(), &mut w, &filter).await;
    let result = result.and_then(|r| {
        w.flush()
            .and_then(|_| w.get_ref().sync_all())
            .map_err(|source| tuneloop::Error::Io {
                path: out.display().to_string(),
                source,
            })?;
        Ok(r)
    });
    drop(w);
    let report = match result.and_then(|r| {
        std::fs::rename(&tmp, &out).map_err(|source| tuneloop::Error::Io {
            path: out.display().to_string(),
            source,
        })?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    if json {
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
