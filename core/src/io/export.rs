//! Export in the import format, so export → import is lossless.

use crate::error::{Error, Result};
use crate::store::{ComparisonFilter, FeedbackFilter, FeedbackStore, PageRequest, ResponseFilter};
use serde::Serialize;
use std::collections::HashSet;
use std::io::Write;

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExportReport {
    /// Response lines.
    pub responses: u64,
    /// Feedback lines.
    pub feedback: u64,
    /// Comparison lines.
    #[serde(default)]
    pub comparisons: u64,
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

fn write_line<W: Write, T: Serialize>(w: &mut W, kind: &'static str, inner: &T) -> Result<()> {
    let io = |source| Error::Io {
        path: "output".into(),
        source,
    };
    serde_json::to_writer(&mut *w, &Tagged { kind, inner })
        .map_err(|e| io(std::io::Error::other(e)))?;
    w.write_all(b"\n").map_err(io)
}

/// Writes the responses matching `filter` (in insertion order), then their feedback, then
/// the comparisons between two exported responses, one JSON object per line.
pub async fn export_jsonl<W: Write + Send>(
    store: &dyn FeedbackStore,
    mut writer: W,
    filter: &ResponseFilter,
) -> Result<ExportReport> {
    let mut report = ExportReport::default();
    let restrict = filter.since.is_some() || filter.until.is_some();
    // A comparison goes out only with both of its responses, so the export imports back.
    let partial = restrict || filter.model.is_some();
    let mut ids: HashSet<String> = HashSet::new();
    let mut page = PageRequest::first(5_000);
    loop {
        let p = store.list_responses(filter, &page).await?;
        for r in &p.items {
            write_line(&mut writer, "response", r)?;
            report.responses += 1;
            if partial {
                ids.insert(r.id.clone());
            }
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let fb_filter = FeedbackFilter {
        model: filter.model.clone(),
        ..FeedbackFilter::default()
    };
    let mut page = PageRequest::first(5_000);
    loop {
        let p = store.list_feedback(&fb_filter, &page).await?;
        for f in &p.items {
            if restrict && !ids.contains(&f.response_id) {
                continue;
            }
            write_line(&mut writer, "feedback", f)?;
            report.feedback += 1;
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let cmp_filter = ComparisonFilter {
        model: filter.model.clone(),
        ..ComparisonFilter::default()
    };
    let mut page = PageRequest::first(5_000);
    loop {
        let p = store.list_comparisons(&cmp_filter, &page).await?;
        for c in &p.items {
            let c = &c.comparison;
            if partial && !(ids.contains(&c.response_a) && ids.contains(&c.response_b)) {
                continue;
            }
            write_line(&mut writer, "comparison", c)?;
            report.comparisons += 1;
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    writer.flush().map_err(|source| Error::Io {
        path: "output".into(),
        source,
    })?;
    Ok(report)
}
