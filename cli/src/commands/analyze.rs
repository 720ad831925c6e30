//! `tuneloop analyze`: error patterns over the negative responses.

use super::{check_range, day, open_store, print_json};
use crate::args::AnalyzeArgs;
use crate::CliResult;
use tuneloop::analysis::patterns::{find_patterns, PatternOptions};
use tuneloop::store::{FeedbackFilter, FeedbackStoreExt, ResponseFilter};

pub async fn run(db: &str, json: bool, a: AnalyzeArgs) -> CliResult {
    check_range(&a.range)?;
    let store = open_store(db).await?;
    let responses = store
        .all_responses(&ResponseFilter {
            model: a.range.model.clone(),
            since: a.range.since,
            until: a.range.until,
        })
        .await?;
    // Feedback on any response of the model: find_patterns keeps only what belongs to the
    // responses in range, whatever the feedback's own time.
    let feedback = store
        .all_feedback(&FeedbackFilter {
            model: a.range.model.clone(),
            ..Default::default()
        })
        .await?;
    // Pure CPU work: keep it off the async runtime's worker.
    let patterns = tokio::task::spawn_blocking(move || {
        find_patterns(&responses, &feedback, &PatternOptions::default())
    })
    .await
    .map_err(|e| crate::CliError::failure(format!("analysis failed: {e}")))?;
    if json {
        return print_json(&serde_json::json!({ "patterns": patterns }));
    }
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
        for e in &p.examples {
            match &e.comment {
                Some(c) => outln!("  - {}: {} — \"{}\"", e.response_id, e.query, c),
                None => outln!("  - {}: {}", e.response_id, e.query),
            }
        }
    }
    Ok(())
}
