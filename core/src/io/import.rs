//! Importing the JSONL format: read and check everything first, then write.
//!
//! An import runs in two phases so that no database lock waits on the input:
//! 1. **Scan** (no store access): every line is read, parsed and validated; accepted lines
//!    are kept verbatim in a [`Spool`] (memory, or a temporary file past a size) with an
//!    index entry per record; rejected lines are reported. A slow pipe (`import -`) or a
//!    bad line costs nothing but time here.
//! 2. **Write**: responses, then feedback, then comparisons, in one transaction (atomic) or, with
//!    `keep_going`, in transactions of at most `commit_every` records. On a store that locks
//!    rows ([`FeedbackStore::locks_rows`], PostgreSQL) each kind goes in sorted by id across
//!    the whole import: concurrent imports of overlapping data then take row locks in one
//!    global order and cannot deadlock. Other stores keep the input order (listings follow
//!    it). Writing every response first means feedback never waits for a response that
//!    comes later in the input.

use super::parse::{parse_line, ParsedLine};
use super::reader::{read_line_capped, LineRead};
use super::spool::Spool;
use super::MAX_REPORTED_ERRORS;
use crate::error::{Error, LineError, Result};
use crate::model::{Comparison, Feedback, Limits, ResponseRecord};
use crate::store::{FeedbackStore, ItemOutcome, RecordBatch, WriteSummary, WriteTx};
use base64::Engine as _;
use serde::Serialize;
use std::collections::{BinaryHeap, HashSet};
use std::io::{BufRead, Write};

/// How an import behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Records per write call.
    pub batch_size: usize,
    /// Import the valid lines even when some are invalid (the invalid ones go to the reject
    /// writer). Off: any invalid line aborts the import and nothing is written.
    pub keep_going: bool,
    /// With `keep_going`, commit after at most this many records, so other writers get the
    /// database between transactions. Atomic imports commit once.
    pub commit_every: usize,
    /// Size limits for lines and fields.
    pub limits: Limits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 1_000,
            keep_going: false,
            commit_every: 10_000,
            limits: Limits::default(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Non-blank lines read.
    pub lines: u64,
    /// What was written.
    #[serde(flatten)]
    pub summary: WriteSummary,
    /// Lines rejected (only non-zero with `keep_going`).
    pub rejected: u64,
}

/// A rejected line as written to the reject file: where it was (`line`, byte `offset` of
/// its first byte and its length in `bytes`, without the newline), why, and the line
/// itself: `input` when it is UTF-8, `input_base64` (its exact bytes) when it is not,
/// neither when it is longer than the line limit.
#[derive(Serialize)]
struct RejectRecord<'a> {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    reason: &'a str,
    offset: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_base64: Option<String>,
}

/// Where a rejected line is, and its bytes when they are at hand.
struct LineRef<'a> {
    offset: u64,
    len: u64,
    bytes: Option<&'a [u8]>,
}

/// Collects errors, keeping the first [`MAX_REPORTED_ERRORS`] by line number and a count,
/// and writes each rejected line to the reject writer once.
struct Errors<'w> {
    smallest: BinaryHeap<LineErrorByLine>,
    total: usize,
    rejected_lines: HashSet<usize>,
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
    fn push(&mut self, e: LineError, at: LineRef<'_>) -> Result<()> {
        self.total += 1;
        self.rejected_lines.insert(e.line);
        if let Some(w) = self.rejects.as_deref_mut() {
            let (input, input_base64) = match at.bytes.map(std::str::from_utf8) {
                None => (None, None),
                Some(Ok(text)) => (Some(text), None),
                Some(Err(_)) => (
                    None,
                    at.bytes
                        .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                ),
            };
            let rec = RejectRecord {
                line: e.line,
                field: e.field.as_deref(),
                reason: &e.reason,
                offset: at.offset,
                bytes: at.len,
                input,
                input_base64,
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

/// Which record of its line an index entry is.
const WHOLE_LINE: u16 = u16::MAX;

/// One record of the spool: its id (the write order), its line and where the line's bytes
/// are kept. A response line with embedded feedback has one entry per record.
struct Entry {
    id: Box<str>,
    line: usize,
    offset: u64,
    len: u32,
    /// [`WHOLE_LINE`] for the line's own record, else the index of an embedded feedback.
    sub: u16,
    /// For embedded feedback: whether the line holds more than one (`feedback[i]` paths).
    many: bool,
    /// Byte offset of the line in the input, for the reject file.
    input_offset: u64,
}

/// What the scan kept.
struct Scanned {
    spool: Spool,
    responses: Vec<Entry>,
    feedback: Vec<Entry>,
    comparisons: Vec<Entry>,
    lines: u64,
}

/// Imports JSONL from `reader` into `store`.
///
/// Every line is read and validated before the store is touched. Without `keep_going`, any
/// invalid line (bad JSON, bad field, a conflicting id, feedback for an unknown response)
/// means nothing is written, and [`Error::InvalidImport`] lists the first errors by line;
/// the valid lines are written in one transaction. With `keep_going`, valid lines are
/// committed in transactions of at most `commit_every` records, and each rejected line is
/// written to `rejects` as `{"line","field","reason","offset","bytes","input"}` (see
/// docs/formats.md; `input_base64` instead of `input` for a line that is not UTF-8).
/// Re-importing the same data changes nothing. `progress` receives the bytes consumed so
/// far while reading.
pub async fn import_jsonl<R: BufRead + Send>(
    store: &dyn FeedbackStore,
    reader: R,
    options: &ImportOptions,
    rejects: Option<&mut (dyn Write + Send)>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ImportReport> {
    let mut errors = Errors {
        smallest: BinaryHeap::new(),
        total: 0,
        rejected_lines: HashSet::new(),
        rejects,
    };
    let mut scanned = scan(reader, options, &mut errors, progress)?;
    if scanned.lines == 0 {
        return Err(Error::invalid(
            "input",
            "no records: the input is empty (expected one JSON object per line)",
        ));
    }
    if errors.total > 0 && !options.keep_going {
        let total = errors.total;
        return Err(Error::InvalidImport {
            errors: errors.into_sorted(),
            total,
        });
    }
    let summary = write(store, &mut scanned, options, &mut errors).await?;
    Ok(ImportReport {
        lines: scanned.lines,
        summary,
        rejected: errors.rejected_lines.len() as u64,
    })
}

/// Phase 1: reads, parses and validates every line; keeps the accepted ones.
fn scan<R: BufRead>(
    mut reader: R,
    options: &ImportOptions,
    errors: &mut Errors<'_>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Scanned> {
    let mut out = Scanned {
        spool: Spool::new(),
        responses: Vec::new(),
        feedback: Vec::new(),
        comparisons: Vec::new(),
        lines: 0,
    };
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let mut consumed = 0u64;
    let mut since_progress = 0u64;
    loop {
        let read = read_line_capped(&mut reader, &mut buf, options.limits.max_line_bytes).map_err(
            |source| Error::Io {
                path: "input".into(),
                source,
            },
        )?;
        line_no += 1;
        let offset = consumed;
        match read {
            LineRead::Eof => break,
            LineRead::TooLong { bytes } => {
                consumed += bytes as u64;
                out.lines += 1;
                errors.push(
                    LineError {
                        line: line_no,
                        field: None,
                        reason: format!(
                            "line is longer than {} bytes; fields have smaller limits (see docs/formats.md)",
                            options.limits.max_line_bytes
                        ),
                    },
                    LineRef {
                        offset,
                        len: bytes as u64,
                        bytes: None,
                    },
                )?;
            }
            LineRead::Line { bytes } => {
                consumed += bytes as u64;
                let mut start = 0;
                // A byte order mark is how some editors start a UTF-8 file; it is not part
                // of the first record.
                if line_no == 1 && buf.starts_with(b"\xEF\xBB\xBF") {
                    start = 3;
                }
                let raw = &buf[start..];
                let at = LineRef {
                    offset: offset + start as u64,
                    len: raw.len() as u64,
                    bytes: Some(raw),
                };
                let text = match std::str::from_utf8(raw) {
                    Ok(t) => t,
                    Err(e) => {
                        out.lines += 1;
                        errors.push(
                            LineError {
                                line: line_no,
                                field: None,
                                reason: format!(
                                    "not valid UTF-8 (invalid byte at column {}); the file must be UTF-8 text",
                                    e.valid_up_to() + 1
                                ),
                            },
                            at,
                        )?;
                        continue;
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                out.lines += 1;
                match parse_line(text, line_no, &options.limits) {
                    Err(e) => errors.push(e, at)?,
                    Ok(parsed) => keep(&mut out, parsed, text, line_no, at.offset)?,
                }
            }
        }
        since_progress += 1;
        if since_progress >= 1_000 {
            since_progress = 0;
            progress(consumed);
        }
    }
    progress(consumed);
    out.spool.seal()?;
    Ok(out)
}

/// Spools an accepted line and indexes its records.
fn keep(
    out: &mut Scanned,
    parsed: ParsedLine,
    text: &str,
    line: usize,
    input_offset: u64,
) -> Result<()> {
    let len = u32::try_from(text.len()).map_err(|_| Error::invalid("input", "line too long"))?;
    let offset = out.spool.push(text.as_bytes())?;
    let entry = |id: &str, sub: u16, many: bool| Entry {
        id: id.into(),
        line,
        offset,
        len,
        sub,
        many,
        input_offset,
    };
    match parsed {
        ParsedLine::Response(r, feedback) => {
            out.responses.push(entry(&r.id, WHOLE_LINE, false));
            let many = feedback.len() > 1;
            for (i, f) in feedback.iter().enumerate() {
                let sub = u16::try_from(i).map_err(|_| {
                    Error::invalid("feedback", "too many feedback items on one response line")
                })?;
                out.feedback.push(entry(&f.id, sub, many));
            }
        }
        ParsedLine::Feedback(f) => out.feedback.push(entry(&f.id, WHOLE_LINE, false)),
        ParsedLine::Comparison(c) => out.comparisons.push(entry(&c.id, WHOLE_LINE, false)),
    }
    Ok(())
}

/// Phase 2: writes the spooled records in id order, responses first.
async fn write(
    store: &dyn FeedbackStore,
    scanned: &mut Scanned,
    options: &ImportOptions,
    errors: &mut Errors<'_>,
) -> Result<WriteSummary> {
    let mut late: Vec<LineError> = Vec::new();
    prejudge_embedded(store, scanned, &options.limits, errors, &mut late).await?;
    if store.locks_rows() {
        // Stable: the first line of a repeated id is written first, the others judged
        // against it.
        scanned.responses.sort_by(|a, b| a.id.cmp(&b.id));
        scanned.feedback.sort_by(|a, b| a.id.cmp(&b.id));
        scanned.comparisons.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let batch_size = options.batch_size.max(1);
    let commit_every = if options.keep_going {
        options.commit_every.max(batch_size)
    } else {
        usize::MAX
    };
    let mut writer = Writer {
        store,
        tx: None,
        in_tx: 0,
        commit_every,
        committed: WriteSummary::default(),
    };
    // Store rejections come in id order; they are written to the reject file in line order
    // once the store has judged everything.
    let result = async {
        for all in scanned.responses.chunks(batch_size) {
            // A line whose embedded feedback was already judged a conflict stores nothing.
            let chunk: Vec<&Entry> = all
                .iter()
                .filter(|e| !errors.rejected_lines.contains(&e.line))
                .collect();
            if chunk.is_empty() {
                continue;
            }
            let mut batch = Vec::with_capacity(chunk.len());
            for e in &chunk {
                batch.push(response_of(&scanned.spool, e, &options.limits)?);
            }
            let outcome = writer
                .write(RecordBatch {
                    responses: batch,
                    feedback: Vec::new(),
                })
                .await?;
            for (o, e) in outcome.responses.iter().zip(chunk.iter().copied()) {
                if let ItemOutcome::Rejected(rej) = o {
                    errors.rejected_lines.insert(e.line);
                    late.push(LineError {
                        line: e.line,
                        field: rej.field().map(str::to_string),
                        reason: rej.reason(),
                    });
                }
            }
        }
        for chunk in scanned.feedback.chunks(batch_size) {
            let mut batch = Vec::with_capacity(chunk.len());
            let mut kept = Vec::with_capacity(chunk.len());
            for e in chunk {
                // A line already rejected (its response, or its feedback judged before
                // writing) stores nothing more.
                if errors.rejected_lines.contains(&e.line) {
                    continue;
                }
                batch.push(feedback_of(&scanned.spool, e, &options.limits)?);
                kept.push(e);
            }
            if batch.is_empty() {
                continue;
            }
            let outcome = writer
                .write(RecordBatch {
                    responses: Vec::new(),
                    feedback: batch,
                })
                .await?;
            for (o, e) in outcome.feedback.iter().zip(kept) {
                if let ItemOutcome::Rejected(rej) = o {
                    errors.rejected_lines.insert(e.line);
                    let field = rej.field().map(|f| {
                        if e.sub == WHOLE_LINE {
                            f.to_string()
                        } else if e.many {
                            format!("feedback[{}].{f}", e.sub)
                        } else {
                            format!("feedback.{f}")
                        }
                    });
                    late.push(LineError {
                        line: e.line,
                        field,
                        reason: rej.reason(),
                    });
                }
            }
        }
        // Comparisons last: both of their responses are written by now, whatever the
        // order of the input.
        for chunk in scanned.comparisons.chunks(batch_size) {
            let mut batch = Vec::with_capacity(chunk.len());
            let mut kept = Vec::with_capacity(chunk.len());
            for e in chunk {
                if errors.rejected_lines.contains(&e.line) {
                    continue;
                }
                batch.push(comparison_of(&scanned.spool, e, &options.limits)?);
                kept.push(e);
            }
            if batch.is_empty() {
                continue;
            }
            let outcome = writer.write_comparisons(&batch).await?;
            for (o, e) in outcome.iter().zip(kept) {
                if let ItemOutcome::Rejected(rej) = o {
                    errors.rejected_lines.insert(e.line);
                    late.push(LineError {
                        line: e.line,
                        field: rej.field().map(str::to_string),
                        reason: rej.reason(),
                    });
                }
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = result {
        writer.abandon().await;
        return Err(e);
    }
    late.sort_by_key(|e| e.line);
    let mut by_line = std::collections::HashMap::new();
    for e in scanned
        .responses
        .iter()
        .chain(&scanned.feedback)
        .chain(&scanned.comparisons)
    {
        by_line
            .entry(e.line)
            .or_insert((e.offset, e.len, e.input_offset));
    }
    let any_late = !late.is_empty();
    for e in late {
        let (offset, len, input_offset) = by_line.get(&e.line).copied().unwrap_or((0, 0, 0));
        let bytes = scanned.spool.get(offset, len)?;
        if let Err(err) = errors.push(
            e,
            LineRef {
                offset: input_offset,
                len: u64::from(len),
                bytes: Some(&bytes),
            },
        ) {
            writer.abandon().await;
            return Err(err);
        }
    }
    if any_late && !options.keep_going {
        writer.abandon().await;
        let total = errors.total;
        return Err(Error::InvalidImport {
            errors: std::mem::take(&mut errors.smallest)
                .into_sorted_vec()
                .into_iter()
                .map(|e| e.0)
                .collect(),
            total,
        });
    }
    writer.finish().await
}

/// Judges the feedback embedded in response lines before anything is written, so that a
/// line whose feedback conflicts (with stored feedback, or with another line of this import)
/// is rejected whole: its response is not stored either. The store would find the same
/// conflicts, but only after the line's response had gone in.
async fn prejudge_embedded(
    store: &dyn FeedbackStore,
    scanned: &Scanned,
    limits: &Limits,
    errors: &mut Errors<'_>,
    late: &mut Vec<LineError>,
) -> Result<()> {
    if scanned.feedback.iter().all(|e| e.sub == WHOLE_LINE) {
        return Ok(());
    }
    let field_of = |e: &Entry| {
        if e.sub == WHOLE_LINE {
            "id".to_string()
        } else if e.many {
            format!("feedback[{}].id", e.sub)
        } else {
            "feedback.id".to_string()
        }
    };
    let mut reject = |errors: &mut Errors<'_>, e: &Entry, reason: String| {
        errors.rejected_lines.insert(e.line);
        late.push(LineError {
            line: e.line,
            field: Some(field_of(e)),
            reason,
        });
    };
    // Entries are in line order here: the first line with an id is the one that counts.
    let mut first: std::collections::HashMap<&str, &Entry> = std::collections::HashMap::new();
    for e in &scanned.feedback {
        match first.get(&*e.id) {
            None => {
                first.insert(&e.id, e);
            }
            Some(f) if f.sub != WHOLE_LINE || e.sub != WHOLE_LINE => {
                let (a, b) = (
                    feedback_of(&scanned.spool, f, limits)?,
                    feedback_of(&scanned.spool, e, limits)?,
                );
                if a.content_hash() != b.content_hash() {
                    let reason = crate::store::feedback_conflict(&a, &b).replace(
                        "is already stored with",
                        &format!("is already in this import (line {}) with", f.line),
                    );
                    reject(errors, e, reason);
                }
            }
            Some(_) => {}
        }
    }
    for e in scanned.feedback.iter().filter(|e| e.sub != WHOLE_LINE) {
        if errors.rejected_lines.contains(&e.line) {
            continue;
        }
        if let Some(stored) = store.get_feedback(&e.id).await? {
            let new = feedback_of(&scanned.spool, e, limits)?;
            if stored.content_hash() != new.content_hash() {
                reject(errors, e, crate::store::feedback_conflict(&stored, &new));
            }
        }
    }
    Ok(())
}

/// Writes batches, committing every `commit_every` records.
struct Writer<'s> {
    store: &'s dyn FeedbackStore,
    tx: Option<Box<dyn WriteTx>>,
    in_tx: usize,
    commit_every: usize,
    committed: WriteSummary,
}

impl Writer<'_> {
    async fn write(&mut self, batch: RecordBatch) -> Result<crate::store::BatchOutcome> {
        let n = batch.responses.len() + batch.feedback.len();
        if self.in_tx > 0 && self.in_tx + n > self.commit_every {
            self.commit().await?;
        }
        let tx = match &mut self.tx {
            Some(tx) => tx,
            None => self.tx.insert(self.store.begin_write().await?),
        };
        let outcome = tx.write(&batch).await?;
        self.in_tx += n;
        Ok(outcome)
    }

    async fn write_comparisons(&mut self, batch: &[Comparison]) -> Result<Vec<ItemOutcome>> {
        let n = batch.len();
        if self.in_tx > 0 && self.in_tx + n > self.commit_every {
            self.commit().await?;
        }
        let tx = match &mut self.tx {
            Some(tx) => tx,
            None => self.tx.insert(self.store.begin_write().await?),
        };
        let outcome = tx.write_comparisons(batch).await?;
        self.in_tx += n;
        Ok(outcome)
    }

    async fn commit(&mut self) -> Result<()> {
        if let Some(tx) = self.tx.take() {
            let s = tx.commit().await?;
            self.committed.merge(&s);
        }
        self.in_tx = 0;
        Ok(())
    }

    async fn abandon(&mut self) {
        if let Some(tx) = self.tx.take() {
            // The original error is what matters; a failed rollback leaves nothing behind
            // either (the transaction dies with its connection).
            let _ = tx.rollback().await;
        }
    }

    async fn finish(mut self) -> Result<WriteSummary> {
        self.commit().await?;
        Ok(self.committed)
    }
}

/// The response of a spooled response line. The line was accepted by the scan, so a parse
/// failure here means the spool was damaged.
fn response_of(spool: &Spool, e: &Entry, limits: &Limits) -> Result<ResponseRecord> {
    match reparse(spool, e, limits)? {
        ParsedLine::Response(r, _) => Ok(r),
        ParsedLine::Feedback(_) | ParsedLine::Comparison(_) => Err(spool_damaged(e.line)),
    }
}

/// The comparison of a spooled comparison line.
fn comparison_of(spool: &Spool, e: &Entry, limits: &Limits) -> Result<Comparison> {
    match reparse(spool, e, limits)? {
        ParsedLine::Comparison(c) => Ok(c),
        _ => Err(spool_damaged(e.line)),
    }
}

/// The feedback item an entry stands for.
fn feedback_of(spool: &Spool, e: &Entry, limits: &Limits) -> Result<Feedback> {
    match (reparse(spool, e, limits)?, e.sub) {
        (ParsedLine::Feedback(f), WHOLE_LINE) => Ok(f),
        (ParsedLine::Response(_, mut list), i) if usize::from(i) < list.len() => {
            Ok(list.swap_remove(usize::from(i)))
        }
        _ => Err(spool_damaged(e.line)),
    }
}

fn reparse(spool: &Spool, e: &Entry, limits: &Limits) -> Result<ParsedLine> {
    let bytes = spool.get(e.offset, e.len)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| spool_damaged(e.line))?;
    parse_line(text, e.line, limits).map_err(|_| spool_damaged(e.line))
}

fn spool_damaged(line: usize) -> Error {
    Error::Storage {
        message: format!(
            "the import's temporary copy of line {line} no longer parses (was the temporary file changed?); nothing from this transaction was committed"
        ),
        retryable: false,
        source: None,
    }
}
