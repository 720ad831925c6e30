//! Recording responses and feedback; importing and exporting JSONL.

use super::Tuneloop;
use crate::error::{Error, Result};
use crate::io::{self, check_output_path, ExportReport, ImportOptions, ImportReport, Protected};
use crate::model::{Feedback, ResponseRecord, Timestamp};
use crate::store::{FeedbackStoreExt, RecordBatch, ResponseFilter, WriteSummary};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where an import reads from.
#[derive(Debug)]
pub enum ImportInput {
    /// A file; `-` is not special here (see [`ImportInput::Stdin`]).
    File(PathBuf),
    /// The process's standard input.
    Stdin,
}

impl ImportInput {
    /// `-` means standard input, anything else a file.
    pub fn from_arg(arg: &Path) -> Self {
        if arg.as_os_str() == "-" {
            ImportInput::Stdin
        } else {
            ImportInput::File(arg.to_path_buf())
        }
    }

    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            ImportInput::File(p) => p.display().to_string(),
            ImportInput::Stdin => "standard input".into(),
        }
    }
}

/// Which responses an export writes (with their feedback).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportOptions {
    /// Only this model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Responses created at or after this time.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<Timestamp>,
    /// Responses created before this time.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Timestamp>,
}

impl ExportOptions {
    fn filter(&self) -> Result<ResponseFilter> {
        check_range(self.since, self.until)?;
        Ok(ResponseFilter {
            model: self.model.clone(),
            since: self.since,
            until: self.until,
        })
    }
}

pub(crate) use crate::model::time::check_range;

impl Tuneloop {
    /// Records responses and feedback atomically: if any item is rejected nothing is
    /// written and the first rejection is the error. Idempotent: identical items are
    /// *unchanged*.
    pub async fn record(&self, batch: &RecordBatch) -> Result<WriteSummary> {
        self.store().record(batch).await
    }

    /// Records one response.
    pub async fn record_response(&self, response: ResponseRecord) -> Result<WriteSummary> {
        self.store().record_response(response).await
    }

    /// Records one feedback item on a stored response.
    pub async fn record_feedback(&self, feedback: Feedback) -> Result<WriteSummary> {
        self.store().record_feedback(feedback).await
    }

    /// Imports JSONL from any reader (see [`io::import_jsonl`]): every line is checked
    /// before anything is written; rejected lines go to `rejects` when given (and the
    /// valid ones are imported), otherwise any invalid line aborts the import.
    pub async fn import_jsonl<R: BufRead + Send>(
        &self,
        reader: R,
        options: &ImportOptions,
        rejects: Option<&mut (dyn Write + Send)>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportReport> {
        io::import_jsonl(self.store().as_ref(), reader, options, rejects, progress).await
    }

    /// Imports a file (or standard input), writing rejected lines to `reject_file` when
    /// given. The reject file may be neither the input nor the database; it is created only
    /// once that is checked. `progress` gets `(bytes read, total bytes if known)`.
    pub async fn import_file(
        &self,
        input: &ImportInput,
        reject_file: Option<&Path>,
        options: &ImportOptions,
        progress: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<ImportReport> {
        if let Some(path) = reject_file {
            let mut protected = Vec::new();
            if let ImportInput::File(input) = input {
                protected.push(Protected {
                    path: input,
                    what: "the input",
                });
            }
            let db_file = self.database_file();
            if let Some(f) = &db_file {
                protected.push(Protected {
                    path: f,
                    what: io::DATABASE,
                });
            }
            check_output_path("reject_file", path, &protected)?;
        }
        let (reader, total): (Box<dyn BufRead + Send>, Option<u64>) = match input {
            ImportInput::Stdin => (Box::new(BufReader::new(std::io::stdin())), None),
            ImportInput::File(p) => {
                let file = File::open(p).map_err(|e| {
                    Error::invalid("input", format!("cannot read {}: {e}", p.display()))
                })?;
                let size = file.metadata().ok().map(|m| m.len());
                (Box::new(BufReader::with_capacity(1 << 16, file)), size)
            }
        };
        let mut rejects = match reject_file {
            Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
                Error::invalid(
                    "reject_file",
                    format!("cannot create {}: {e}", path.display()),
                )
            })?)),
            None => None,
        };
        let options = ImportOptions {
            keep_going: rejects.is_some(),
            ..options.clone()
        };
        let report = self
            .import_jsonl(
                reader,
                &options,
                rejects.as_mut().map(|w| w as &mut (dyn Write + Send)),
                &|bytes| progress(bytes, total),
            )
            .await;
        if let Some(w) = rejects.as_mut() {
            w.flush().map_err(|source| Error::Io {
                path: reject_file
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                source,
            })?;
        }
        report
    }

    /// Writes the matching responses and then their feedback as JSONL to `writer`, in
    /// insertion order (the import format: export → import is lossless).
    pub async fn export_jsonl<W: Write + Send>(
        &self,
        writer: &mut W,
        options: &ExportOptions,
    ) -> Result<ExportReport> {
        let filter = options.filter()?;
        io::export_jsonl(self.store().as_ref(), writer, &filter).await
    }

    /// Exports to a file, atomically: written beside it and renamed, so a failed export
    /// leaves no partial file. The file may not be the database (or its `-wal`/`-shm`).
    pub async fn export_file(&self, out: &Path, options: &ExportOptions) -> Result<ExportReport> {
        let filter = options.filter()?;
        if let Some(db) = self.database_file() {
            check_output_path(
                "out",
                out,
                &[Protected {
                    path: &db,
                    what: io::DATABASE,
                }],
            )?;
        }
        let file_name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let tmp = out.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
        let io_err = |source| Error::Io {
            path: out.display().to_string(),
            source,
        };
        let file = File::create(&tmp)
            .map_err(|e| Error::invalid("out", format!("cannot create {}: {e}", out.display())))?;
        let mut w = BufWriter::new(file);
        let result = async {
            let report = io::export_jsonl(self.store().as_ref(), &mut w, &filter).await?;
            w.flush().map_err(io_err)?;
            w.get_ref().sync_all().map_err(io_err)?;
            std::fs::rename(&tmp, out).map_err(io_err)?;
            Ok(report)
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// The file of an embedded SQLite database, which outputs must not overwrite.
    pub(crate) fn database_file(&self) -> Option<PathBuf> {
        self.inner.database_file.clone()
    }
}
