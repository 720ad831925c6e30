//! Streaming, atomic import of the JSONL format.

use super::parse::{parse_line, ParsedLine};
use super::reader::{read_line_capped, LineRead};
use super::MAX_REPORTED_ERRORS;
use crate::error::{Error, LineError, Result};
use crate::model::{Feedback, Limits};
use crate::store::{FeedbackStore, ItemOutcome, RecordBatch, Rejection, WriteSummary, WriteTx};
use serde::Serialize;
use std::collections::BinaryHeap;
use std::io::{BufRead, Write};

/// How an import behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Lines per write batch.
    pub batch_size: usize,
    /// Import the valid lines even when some are invalid (the invalid ones go to the reject
    /// writer). Off: any invalid line aborts the import and nothing is written.
    pub keep_going: bool,
    /// Size limits for lines and fields.
    pub limits: Limits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 1_000,
            keep_going: false,
            limits: Limits::default(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: u64,
    /// What was written.
    #[serde(flatten)]
    pub summary: WriteSummary,
    /// Lines rejected (only non-zero with `keep_going`).
    pub rejected: u64,
}

/// A rejected line as written to the reject file.
#[derive(Serialize)]
struct RejectRecord<'a> {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    reason: &'a str,
    input: &'a str,
}

/// Collects errors, keeping the first [`MAX_REPORTED_ERRORS`] by line number and a count.
struct Errors<'w> {
    smallest: BinaryHeap<LineErrorByLine>,
    total: usize,
    /// Lines with an error: two bad feedback items on one line are one rejected line.
    lines: std::collections::HashSet<usize>,
    rejects: Option<&'w mut (dyn Write + Send)>,
}

#[derive(PartialEq, Eq)]
struct LineErrorByLine(LineError);
impl PartialOrd for LineErrorByLine {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for LineErrorByLine {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.line.cmp(&other.0.line)
    }
}

impl Errors<'_> {
    fn push(&mut self, e: LineError, input: Option<&str>) -> Result<()> {
        self.total += 1;
        self.lines.insert(e.line);
        if let Some(w) = self.rejects.as_deref_mut() {
            let rec = RejectRecord {
                line: e.line,
                field: e.field.as_deref(),
                reason: &e.reason,
                input: input.unwrap_or(""),
            };
            let mut bytes = serde_json::to_vec(&rec).map_err(|e| Error::Io {
                path: "reject file".into(),
                source: std::io::Error::other(e),
            })?;
            bytes.push(b'\n');
            w.write_all(&bytes).map_err(|source| Error::Io {
                path: "reject file".into(),
                source,
            })?;
        }
        self.smallest.push(LineErrorByLine(e));
        if self.smallest.len() > MAX_REPORTED_ERRORS {
            self.smallest.pop();
        }
        Ok(())
    }

    fn into_sorted(self) -> Vec<LineError> {
        let mut v: Vec<LineError> = self.smallest.into_iter().map(|e| e.0).collect();
        v.sort_by_key(|e| e.line);
        v
    }
}

/// Where each item of the pending batch came from.
struct Origin {
    line: usize,
    /// The verbatim line, kept only when rejected lines are written out.
    input: Option<String>,
    /// For feedback embedded in a response line: its index in the batch's responses.
    parent: Option<usize>,
    prefix: String,
}

#[derive(Default)]
struct Pending {
    batch: RecordBatch,
    response_origin: Vec<Origin>,
    feedback_origin: Vec<Origin>,
}

/// Imports JSONL from `reader` into `store`.
///
/// All lines go through one write transaction: without `keep_going`, any invalid line (bad
/// JSON, bad field, a conflicting id, feedback for an unknown response) rolls everything back
/// and returns [`Error::InvalidImport`] listing the first errors by line. With `keep_going`,
/// valid lines are committed and each rejected line is written to `rejects` as
/// `{"line","field","reason","input"}` with the verbatim input.
/// Re-importing the same data changes nothing. `progress` receives the bytes consumed so far.
pub async fn import_jsonl<R: BufRead + Send>(
    store: &dyn FeedbackStore,
    mut reader: R,
    options: &ImportOptions,
    rejects: Option<&mut (dyn Write + Send)>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ImportReport> {
    let keep_input = rejects.is_some();
    let mut errors = Errors {
        smallest: BinaryHeap::new(),
        total: 0,
        lines: Default::default(),
        rejects,
    };
    let mut tx = store.begin_write().await?;
    let mut pending = Pending::default();
    let mut deferred: Vec<(Feedback, Origin)> = Vec::new();
    let mut report = ImportReport::default();
    let mut summary = WriteSummary::default();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let mut consumed = 0u64;
    let batch_size = options.batch_size.max(1);
    let mut lines_in_batch = 0usize;
    loop {
        let read = read_line_capped(&mut reader, &mut buf, options.limits.max_line_bytes).map_err(
            |source| Error::Io {
                path: "input".into(),
                source,
            },
        )?;
        line_no += 1;
        match read {
            LineRead::Eof => break,
            LineRead::TooLong { bytes } => {
                consumed += bytes as u64;
                report.lines += 1;
                errors.push(
                    LineError {
                        line: line_no,
                        field: None,
                        reason: format!(
                            "line is longer than {} bytes; fields have smaller limits (see docs/formats.md)",
                            options.limits.max_line_bytes
                        ),
                    },
                    Some("<line too long to echo>"),
                )?;
            }
            LineRead::Line { bytes } => {
                consumed += bytes as u64;
                let text = match std::str::from_utf8(&buf) {
                    Ok(t) => t,
                    Err(e) => {
                        report.lines += 1;
                        errors.push(
                            LineError {
                                line: line_no,
                                field: None,
                                reason: format!("not valid UTF-8: {e}"),
                            },
                            Some(&String::from_utf8_lossy(&buf)),
                        )?;
                        continue;
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                report.lines += 1;
                match parse_line(text, line_no, &options.limits) {
                    Err(e) => errors.push(e, Some(text))?,
                    Ok(parsed) => {
                        let input = keep_input.then(|| text.to_string());
                        add_parsed(&mut pending, parsed, line_no, input);
                        lines_in_batch += 1;
                    }
                }
            }
        }
        if lines_in_batch >= batch_size {
            flush(
                &mut *tx,
                &mut pending,
                &mut deferred,
                &mut errors,
                &mut summary,
            )
            .await?;
            lines_in_batch = 0;
            progress(consumed);
        }
    }
    flush(
        &mut *tx,
        &mut pending,
        &mut deferred,
        &mut errors,
        &mut summary,
    )
    .await?;
    progress(consumed);
    // Feedback that arrived before its response: one more try now that every line is in.
    if !deferred.is_empty() {
        let mut retry = Pending::default();
        for (f, origin) in deferred.drain(..) {
            retry.batch.feedback.push(f);
            retry.feedback_origin.push(Origin {
                parent: None,
                ..origin
            });
        }
        let mut still_missing = Vec::new();
        flush(
            &mut *tx,
            &mut retry,
            &mut still_missing,
            &mut errors,
            &mut summary,
        )
        .await?;
        for (f, origin) in still_missing {
            let e = LineError {
                line: origin.line,
                field: Some(join_prefix(&origin.prefix, "response_id")),
                reason: Rejection::UnknownResponse {
                    response_id: f.response_id.clone(),
                }
                .reason(),
            };
            errors.push(e, origin.input.as_deref())?;
        }
    }
    if report.lines == 0 {
        tx.rollback().await?;
        return Err(Error::invalid(
            "input",
            "no records: the input is empty (expected one JSON object per line)",
        ));
    }
    if errors.total > 0 && !options.keep_going {
        tx.rollback().await?;
        let total = errors.total;
        return Err(Error::InvalidImport {
            errors: errors.into_sorted(),
            total,
        });
    }
    let committed = tx.commit().await?;
    report.summary = committed;
    report.rejected = distinct_rejected(errors);
    Ok(report)
}

fn distinct_rejected(errors: Errors<'_>) -> u64 {
    errors.lines.len() as u64
}

fn join_prefix(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

fn add_parsed(pending: &mut Pending, parsed: ParsedLine, line: usize, input: Option<String>) {
    match parsed {
        ParsedLine::Response(r, feedback) => {
            let parent = pending.batch.responses.len();
            pending.batch.responses.push(r);
            let many = feedback.len() > 1;
            for (i, f) in feedback.into_iter().enumerate() {
                pending.batch.feedback.push(f);
                pending.feedback_origin.push(Origin {
                    line,
                    input: input.clone(),
                    parent: Some(parent),
                    prefix: if many {
                        format!("feedback[{i}]")
                    } else {
                        "feedback".into()
                    },
                });
            }
            pending.response_origin.push(Origin {
                line,
                input,
                parent: None,
                prefix: String::new(),
            });
        }
        ParsedLine::Feedback(f) => {
            pending.batch.feedback.push(f);
            pending.feedback_origin.push(Origin {
                line,
                input,
                parent: None,
                prefix: String::new(),
            });
        }
    }
}

/// Writes the pending batch: responses first, then feedback whose line's response was not
/// rejected. Unknown-response feedback is deferred; other rejections become line errors.
async fn flush(
    tx: &mut dyn WriteTx,
    pending: &mut Pending,
    deferred: &mut Vec<(Feedback, Origin)>,
    errors: &mut Errors<'_>,
    summary: &mut WriteSummary,
) -> Result<()> {
    let Pending {
        batch,
        response_origin,
        feedback_origin,
    } = std::mem::take(pending);
    let mut rejected_parent = vec![false; batch.responses.len()];
    if !batch.responses.is_empty() {
        let responses = RecordBatch {
            responses: batch.responses,
            feedback: Vec::new(),
        };
        let outcome = tx.write(&responses).await?;
        summary.add(&outcome);
        for (i, (o, origin)) in outcome.responses.iter().zip(&response_origin).enumerate() {
            if let ItemOutcome::Rejected(rej) = o {
                rejected_parent[i] = true;
                errors.push(
                    LineError {
                        line: origin.line,
                        field: rej.field().map(str::to_string),
                        reason: rej.reason(),
                    },
                    origin.input.as_deref(),
                )?;
            }
        }
    }
    let mut feedback = Vec::with_capacity(batch.feedback.len());
    let mut origins = Vec::with_capacity(batch.feedback.len());
    for (f, origin) in batch.feedback.into_iter().zip(feedback_origin) {
        if origin.parent.is_some_and(|p| rejected_parent[p]) {
            continue; // the line is already reported through its response
        }
        feedback.push(f);
        origins.push(origin);
    }
    if feedback.is_empty() {
        return Ok(());
    }
    let fb_batch = RecordBatch {
        responses: Vec::new(),
        feedback,
    };
    let outcome = tx.write(&fb_batch).await?;
    summary.add(&outcome);
    for ((o, origin), f) in outcome
        .feedback
        .into_iter()
        .zip(origins)
        .zip(fb_batch.feedback)
    {
        match o {
            ItemOutcome::Rejected(Rejection::UnknownResponse { .. }) => deferred.push((f, origin)),
            ItemOutcome::Rejected(rej) => errors.push(
                LineError {
                    line: origin.line,
                    field: rej.field().map(|fl| join_prefix(&origin.prefix, fl)),
                    reason: rej.reason(),
                },
                origin.input.as_deref(),
            )?,
            _ => {}
        }
    }
    Ok(())
}
