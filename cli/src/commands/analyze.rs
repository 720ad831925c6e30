//! `tuneloop analyze`: error patterns over the negative responses.

use super::{day, print_json, Ctx};
use crate::args::AnalyzeArgs;
use crate::convert::{analyze_options, table_hint};
use crate::output::omitted_note;
use crate::CliResult;
use tuneloop::model::PatternTrend;

pub async fn run(ctx: &Ctx, a: AnalyzeArgs) -> CliResult {
    let options = analyze_options(a.range, &a.rules, a.save)?;
    let result = ctx
        .open()
        .await?
        .analyze(&options)
        .await
        .map_err(|e| table_hint(&a.rules, e))?;
    if ctx.json {
        return print_json(&result);
    }
    if let Some(id) = &result.run_id {
        outln!("Saved run {id}.");
    }
    let patterns = &result.patterns;
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
            "  category {} ({:.0}% of members); corrections {}; models {}; seen {} .. {}",
            p.category,
            p.category_share * 100.0,
            p.corrections,
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
        result.omitted_responses,
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
