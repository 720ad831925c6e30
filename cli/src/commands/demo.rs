//! `tuneloop demo`: one facade call ([`tuneloop::Tuneloop::demo`]), then the report a
//! product team reads and the commands to try next.

use super::{day, print_json, Ctx};
use crate::args::DemoArgs;
use crate::output::{balance_table, metrics_table, pct, problematic_list, sparkline, thousands};
use crate::{CliError, CliResult};
use chrono::Duration;
use tuneloop::service::{DemoLoopReport, DemoReport, DemoRunOptions, WeeklyModel};

pub async fn run(ctx: &Ctx, a: DemoArgs) -> CliResult {
    let options = DemoRunOptions {
        seed: a.seed,
        weeks: a.weeks,
        dir: a.dir,
        show_pii: a.show_pii,
    };
    let tl = ctx.open().await?;
    let bar = crate::progress::spinner("generating the demo and running its loop", ctx.json);
    let report = tl.demo(&options).await;
    bar.finish_and_clear();
    let report = report.map_err(|e| match e {
        tuneloop::Error::InvalidInput { field, reason } if field == "dir" => {
            CliError::usage(format!("--dir: {reason}"))
        }
        other => {
            let conflict = matches!(other, tuneloop::Error::Conflict { .. });
            let mut err = CliError::from(other);
            if conflict {
                err.message
                    .push_str("\nhint: pass another --db (e.g. --db sqlite://demo.db)");
            }
            err
        }
    })?;
    if ctx.json {
        return print_json(&report);
    }
    print(&report);
    Ok(())
}

fn print(r: &DemoReport) {
    let last_day = r.until - Duration::days(1);
    outln!(
        "tuneloop demo · {} weeks of synthetic feedback (seed {}) · {} → {}",
        r.weeks,
        r.seed,
        day(&r.since),
        day(&last_day)
    );
    let s = &r.import;
    outln!(
        "Imported into {}: {} responses ({} new), {} feedback items ({} new)",
        r.database,
        thousands(s.responses_inserted + s.responses_unchanged),
        thousands(s.responses_inserted),
        thousands(s.feedback_inserted + s.feedback_unchanged),
        thousands(s.feedback_inserted),
    );
    outln!();
    outln!("Quality by model");
    outln!("{}", metrics_table(&r.metrics));
    outln!();
    outln!("Weekly positive rate, oldest → newest");
    out!("{}", weekly_series(&r.weekly));
    outln!();
    outln!(
        "Top 5 problematic responses{}",
        if r.redacted {
            " (personal data redacted; --show-pii shows it)"
        } else {
            ""
        }
    );
    out!("{}", problematic_list(&r.problematic));
    print_analysis(r);
    outln!("Planted issues (the ground truth an analysis should find)");
    for p in &r.planted {
        outln!(
            "  • {:<18} {:<14} {:<8} {:>4} responses  ({})",
            p.model_id,
            p.category,
            p.trend,
            p.response_ids.len(),
            p.name.replace('_', " ")
        );
    }
    outln!();
    outln!(
        "Fine-tuning dataset for {} (openai-chat) in {}",
        r.fine_tune.model_id,
        r.dataset.dir.display()
    );
    outln!("{}", crate::render::summary(&r.dataset.manifest));
    outln!();
    print_loop(&r.fine_tune);
    outln!();
    print_next(r);
}

/// The commands to try next: only ones that find the demo's data.
fn print_next(r: &DemoReport) {
    let validate = format!(
        "tuneloop validate {} --format openai-chat",
        r.dataset.dir.join("train.jsonl").display()
    );
    outln!(
        "The demo's files are in {} (settings: {})",
        r.dir.display(),
        r.settings_file.display()
    );
    outln!("Next:");
    if !r.persistent {
        // The data went with this process: only the files remain.
        rawln!("  {validate}");
        rawln!("  tuneloop --db sqlite://tuneloop-demo.db demo   (keeps the data to explore it)");
        return;
    }
    let base = format!(
        "tuneloop --config {} --db {}",
        r.settings_file.display(),
        r.database
    );
    let f = &r.fine_tune;
    for cmd in [
        "metrics --bucket week".to_string(),
        format!("problematic --model {} --limit 10", f.model_id),
        format!("analyze --model {}", f.model_id),
        format!("trends --model {}", f.model_id),
        "suggest".to_string(),
        "export --out feedback.jsonl".to_string(),
        "jobs list".to_string(),
        format!("credits balance --account {}", f.account),
    ] {
        rawln!("  {base} {cmd}");
    }
    if f.simulated {
        rawln!("  {base} check all   (the settings skip the MCP check: the provider is simulated)");
        rawln!(
            "  {base} fine-tune --model-id {} --dry-run   (decides now; --mcp-url URL starts a job)",
            f.model_id
        );
    } else {
        rawln!("  {base} check all");
        rawln!("  {base} fine-tune --model-id {}", f.model_id);
    }
    rawln!("  {validate}");
}

fn print_loop(r: &DemoLoopReport) {
    if r.simulated {
        outln!("Fine-tuning loop on a SIMULATED provider (in-process; nothing is trained — pass --mcp-url for a real server)");
    } else {
        outln!("Fine-tuning loop on {}", r.provider);
    }
    if r.earlier_job {
        outln!("An earlier demo run already made this job (run the demo on a fresh --db to see the loop again):");
    }
    if let Some(d) = &r.decision {
        crate::render::print_decision(d);
    }
    let Some(job) = &r.job else {
        outln!("No job started.");
        return;
    };
    if !r.statuses.is_empty() {
        let path: Vec<&str> = r.statuses.iter().map(|s| s.as_str()).collect();
        outln!("job {}: {}", job.id, path.join(" → "));
    }
    crate::render::print_job(job);
    if !r.earlier_job {
        let charged = r
            .balance_after
            .posted
            .saturating_sub(r.balance_before.posted);
        outln!(
            "Credits charged: {} (estimated {}); account {} now:",
            thousands(charged),
            thousands(job.details.estimated_cost),
            r.account
        );
        outln!("{}", balance_table(&r.balance_after));
    }
}

/// The error patterns, significant trends and top suggestions, briefly.
fn print_analysis(r: &DemoReport) {
    outln!("Error patterns (largest first)");
    for p in r.patterns.iter().take(6) {
        outln!(
            "  • {:<48} {:>4} responses ({:>4.1}% of negatives)  {}",
            p.label,
            p.size,
            p.share * 100.0,
            p.models.join(", ")
        );
    }
    outln!();
    outln!("Error trends (significant at α = 0.05, all models)");
    let significant: Vec<_> = r
        .trends
        .iter()
        .filter(|t| t.direction != tuneloop::model::TrendDirection::Stable)
        .collect();
    if significant.is_empty() {
        outln!("  none");
    }
    for t in significant {
        outln!(
            "  • {:<22} {:<8} {:+.2} pp/week  (p {})",
            t.category,
            t.direction.as_str(),
            t.slope * 100.0,
            if t.p_value < 0.001 {
                "< 0.001".to_string()
            } else {
                format!("= {:.3}", t.p_value)
            }
        );
    }
    outln!();
    outln!("Top suggestions");
    for s in r.suggestions.iter().take(3) {
        outln!(
            "  • [{:.1}] {} ({}) — {}",
            s.priority,
            s.title,
            s.category,
            s.action
        );
    }
    outln!();
}

/// One line per model: a sparkline on a shared scale, then first and last weeks.
fn weekly_series(models: &[WeeklyModel]) -> String {
    let rates: Vec<Vec<Option<f64>>> = models
        .iter()
        .map(|m| m.weeks.iter().map(|w| w.positive_rate).collect())
        .collect();
    let all: Vec<f64> = rates.iter().flatten().flatten().copied().collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = models.iter().map(|m| m.model_id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (m, rates) in models.iter().zip(&rates) {
        let change = match &m.change {
            Some(c) => format!(
                "first {k} wk {} → last {k} wk {}  ({:+.1} pts, {})",
                pct(c.first_rate),
                pct(c.last_rate),
                c.delta_points,
                c.verdict,
                k = c.weeks
            ),
            None => "no feedback".into(),
        };
        out.push_str(&format!(
            "  {:<width$}  {}  {change}\n",
            m.model_id,
            sparkline(rates, lo, hi)
        ));
    }
    if all.is_empty() {
        out.push_str("  (no feedback)\n");
    } else {
        out.push_str(&format!(
            "  {:<width$}  scale: ▁ = {}  █ = {}\n",
            "",
            pct(lo),
            pct(hi)
        ));
    }
    out
}
