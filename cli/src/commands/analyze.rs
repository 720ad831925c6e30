//! `tuneloop analyze`: error patterns over the negative responses.

use super::suggest::{compute, Analysis, RuleTables};
use super::{check_range, day, open_store, print_json};
use crate::args::{AnalyzeArgs, RangeArgs};
use crate::output::omitted_note;
use crate::{CliError, CliResult};
use tuneloop::model::{format_timestamp, PatternTrend};
use tuneloop::store::{FeedbackStore, RunRecord};

pub async fn run(db: &str, json: bool, a: AnalyzeArgs) -> CliResult {
    check_range(&a.range)?;
    let tables = RuleTables::load(&a.rules)?;
    let store = open_store(db).await?;
    let analysis = compute(store.as_ref(), &a.range, tables).await?;
    let run_id = if a.save {
        Some(save(store.as_ref(), &a.range, &analysis).await?)
    } else {
        None
    };
    if json {
        let mut out = serde_json::json!({
            "patterns": analysis.patterns,
            "trends": analysis.trends,
        });
        if analysis.omitted_responses > 0 {
            out["omitted_responses"] = analysis.omitted_responses.into();
        }
        if let Some(id) = &run_id {
            out["run_id"] = serde_json::Value::String(id.clone());
        }
        return print_json(&out);
    }
    if let Some(id) = &run_id {
        outln!("Saved run {id}.");
    }
    let patterns = &analysis.patterns;
    if patterns.is_empty() {
        outln!("No responses with negative feedback in range.");
        return Ok(());
    }
    for (i, p) in patterns.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        outln!(
            "{}  {}  ({} responses, {:.1}% of negatives)",
            p.id,
            p.label,
            p.size,
            p.share * 100.0
        );
        outln!(
            "  category {}; models {}; seen {} .. {}",
            p.category,
            p.models.join(", "),
            day(&p.first_seen),
            day(&p.last_seen)
        );
        outln!("  terms: {}", p.top_terms.join(", "));
        if let Some(t) = &p.trend {
            outln!("  trend: {}", describe_trend(t));
        }
        for e in &p.examples {
            match &e.comment {
                Some(c) => outln!("  - {}: {} — \"{}\"", e.response_id, e.query, c),
                None => outln!("  - {}: {}", e.response_id, e.query),
            }
        }
    }
    let note = omitted_note(
        analysis.omitted_responses,
        "trends' weekly series",
        "520 weeks",
    );
    if let Some(note) = note {
        outln!("\n{note}");
    }
    Ok(())
}

/// `rising (p < 0.001)`, `stable (p = 0.420)`, with `, emerging` when it is.
fn describe_trend(t: &PatternTrend) -> String {
    let p = if t.p_value < 0.001 {
        "p < 0.001".to_string()
    } else {
        format!("p = {:.3}", t.p_value)
    };
    let emerging = if t.emerging { ", emerging" } else { "" };
    format!("{} ({p}{emerging})", t.direction.as_str())
}

/// Saves `analysis` as a run of kind `analysis`; returns its id, `r-` and the creation time
/// in UTC to the millisecond (`r-20261123-101500-123`).
async fn save(
    store: &dyn FeedbackStore,
    range: &RangeArgs,
    analysis: &Analysis,
) -> CliResult<String> {
    let created_at = chrono::Utc::now();
    let params = serde_json::json!({
        "model": range.model,
        "since": range.since.as_ref().map(format_timestamp),
        "until": range.until.as_ref().map(format_timestamp),
    });
    let result = serde_json::to_value(analysis)
        .map_err(|e| CliError::failure(format!("cannot serialise the run: {e}")))?;
    let id = format!("r-{}", created_at.format("%Y%m%d-%H%M%S-%3f"));
    store
        .save_run(&RunRecord {
            id: id.clone(),
            kind: "analysis".into(),
            created_at,
            params,
            result,
        })
        .await?;
    Ok(id)
}
