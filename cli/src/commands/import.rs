//! `tuneloop import`.

use super::{open_store, print_json};
use crate::args::ImportArgs;
use crate::output::thousands;
use crate::progress::bytes_bar;
use crate::{CliError, CliResult};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use tuneloop::io::{check_output_path, import_jsonl, ImportOptions, Protected};

pub async fn run(db: &str, json: bool, a: ImportArgs) -> CliResult {
    let from_stdin = a.file.as_os_str() == "-";
    let name = if from_stdin {
        "standard input".to_string()
    } else {
        a.file.display().to_string()
    };
    let (reader, total): (Box<dyn BufRead + Send>, Option<u64>) = if from_stdin {
        (Box::new(BufReader::new(std::io::stdin())), None)
    } else {
        let file =
            File::open(&a.file).map_err(|e| CliError::usage(format!("cannot read {name}: {e}")))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 16, file)), size)
    };
    if let Some(path) = &a.reject_file {
        let db_file = tuneloop::io::sqlite_file(db);
        let mut protected = Vec::new();
        if !from_stdin {
            protected.push(Protected {
                path: &a.file,
                what: "the input",
            });
        }
        if let Some(f) = &db_file {
            protected.push(Protected {
                path: f,
                what: tuneloop::io::DATABASE,
            });
        }
        check_output_path("--reject-file", path, &protected)?;
    }
    let mut rejects = match &a.reject_file {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
            CliError::usage(format!("cannot create reject file {}: {e}", path.display()))
        })?)),
        None => None,
    };

    let store = open_store(db).await?;
    let options = ImportOptions {
        batch_size: usize::try_from(a.batch_size).unwrap_or(1_000),
        keep_going: rejects.is_some(),
        commit_every: usize::try_from(a.commit_every).unwrap_or(10_000),
        ..Default::default()
    };
    let bar = bytes_bar(total, json);
    let progress = |bytes: u64| bar.set_position(bytes);
    let result = import_jsonl(
        store.as_ref(),
        reader,
        &options,
        rejects.as_mut().map(|w| w as &mut (dyn Write + Send)),
        &progress,
    )
    .await;
    bar.finish_and_clear();
    if let Some(w) = rejects.as_mut() {
        w.flush()
            .map_err(|e| CliError::failure(format!("cannot write the reject file: {e}")))?;
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let hint = matches!(e, tuneloop::Error::InvalidImport { .. });
            let mut err = CliError::from(e);
            err.message = format!("{name}: {}", err.message);
            if hint {
                err.message.push_str(
                    "\nhint: fix these lines, or pass --reject-file F to import the valid lines and set the invalid ones aside",
                );
            }
            return Err(err);
        }
    };

    if json {
        return print_json(&report);
    }
    let s = &report.summary;
    outln!(
        "Imported {name} into {}: {} lines",
        super::shown(db),
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
