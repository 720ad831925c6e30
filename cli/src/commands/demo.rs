//! `tuneloop demo`: a synthetic history, imported, then the report a product team reads.

use super::{day, open_store, print_json};
use crate::args::DemoArgs;
use crate::output::{metrics_table, pct, problematic_list, sparkline, thousands};
use crate::{CliError, CliResult};
use chrono::Duration;
use serde_json::json;
use std::path::{Path, PathBuf};
use tuneloop::dataset::{Dataset, DatasetConfig};
use tuneloop::demo::{generate, DemoOptions, DemoWorld};
use tuneloop::jobs::build_from_store;
use tuneloop::model::{Bucket, MetricsQuery, MetricsReport, ProblematicQuery};
use tuneloop::store::{FeedbackStore, RecordBatch, WriteSummary};

/// Items per write call: keeps each statement well inside database limits.
const CHUNK: usize = 1_000;

pub async fn run(ctx: &super::Ctx, a: DemoArgs) -> CliResult {
    let (db, json) = (ctx.db.as_str(), ctx.json);
    let options = DemoOptions {
        seed: a.seed,
        weeks: a.weeks,
        ..Default::default()
    };
    let world = generate(&options);
    let store = open_store(db).await?;
    let summary = write_world(store.as_ref(), &world).await?;

    let since = options.end - Duration::weeks(i64::from(options.weeks));
    let until = options.end;
    let metrics = store
        .metrics(&MetricsQuery {
            model: None,
            since: Some(since),
            until: Some(until),
            bucket: Some(Bucket::Week),
        })
        .await?;
    let problematic = store
        .problematic(&ProblematicQuery {
            model: None,
            since: Some(since),
            until: Some(until),
            limit: 5,
        })
        .await?;

    let analysis = super::suggest::compute(
        store.as_ref(),
        &crate::args::RangeArgs {
            model: None,
            since: Some(since),
            until: Some(until),
        },
        super::suggest::RuleTables::default(),
    )
    .await?;

    let dataset_dir = demo_dataset_dir(db);
    let dataset = build_dataset(store.as_ref(), &dataset_dir, since, until).await?;
    let fine_tune = super::demo_loop::run(ctx, store.clone(), &options, json).await?;

    if json {
        let mut metrics_json = serde_json::to_value(&metrics)
            .map_err(|e| CliError::failure(format!("cannot serialise metrics: {e}")))?;
        // The weekly series is what the demo shows; keep it under its own key too.
        if let Some(models) = metrics_json
            .get_mut("models")
            .and_then(|m| m.as_array_mut())
        {
            for m in models {
                if let Some(obj) = m.as_object_mut() {
                    obj.remove("buckets");
                }
            }
        }
        return print_json(&json!({
            "seed": options.seed,
            "weeks": options.weeks,
            "since": tuneloop::model::format_timestamp(&since),
            "until": tuneloop::model::format_timestamp(&until),
            "import": summary,
            "metrics": metrics_json,
            "weekly": weekly_json(&metrics),
            "problematic": problematic,
            "patterns": analysis.patterns,
            "trends": analysis.trends,
            "suggestions": analysis.suggestions,
            "planted": world.planted,
            "dataset": {
                "dir": dataset_dir.display().to_string(),
                "manifest": dataset.manifest(),
            },
            "fine_tune": fine_tune,
        }));
    }

    let last_day = until - Duration::days(1);
    outln!(
        "tuneloop demo · {} weeks of synthetic feedback (seed {}) · {} → {}",
        options.weeks,
        options.seed,
        day(&since),
        day(&last_day)
    );
    outln!(
        "Imported into {}: {} responses ({} new), {} feedback items ({} new)",
        super::shown(db),
        thousands(summary.responses_inserted + summary.responses_unchanged),
        thousands(summary.responses_inserted),
        thousands(summary.feedback_inserted + summary.feedback_unchanged),
        thousands(summary.feedback_inserted),
    );
    outln!();
    outln!("Quality by model");
    outln!("{}", metrics_table(&metrics));
    outln!();
    outln!("Weekly positive rate, oldest → newest");
    out!("{}", weekly_series(&metrics));
    outln!();
    outln!("Top 5 problematic responses");
    out!("{}", problematic_list(&problematic));
    print_analysis(&analysis);
    outln!("Planted issues (the ground truth an analysis should find)");
    for p in &world.planted {
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
        "Fine-tuning dataset for {DATASET_MODEL} (openai-chat) in {}",
        dataset_dir.display()
    );
    outln!("{}", super::dataset::summary(dataset.manifest()));
    outln!();
    super::demo_loop::print(&fine_tune);
    outln!();
    outln!("Next:");
    let shown_db = super::shown(db);
    outln!("  tuneloop --db {shown_db} metrics --bucket week");
    outln!("  tuneloop --db {shown_db} problematic --model support-bot-v2 --limit 10");
    outln!("  tuneloop --db {shown_db} analyze --model support-bot-v2");
    outln!("  tuneloop --db {shown_db} trends --model support-bot-v2");
    outln!("  tuneloop --db {shown_db} suggest");
    outln!("  tuneloop --db {shown_db} export --out feedback.jsonl");
    outln!("  tuneloop --db {shown_db} jobs list");
    outln!(
        "  tuneloop --db {shown_db} credits balance --account {}",
        super::demo_loop::ACCOUNT
    );
    outln!(
        "  tuneloop validate {} --format openai-chat",
        dataset_dir.join("train.jsonl").display()
    );
    Ok(())
}

/// The model the demo builds a dataset for.
const DATASET_MODEL: &str = "support-bot-v2";

/// `tuneloop-demo-dataset/` next to an embedded database file, else in the temp directory.
fn demo_dataset_dir(db: &str) -> PathBuf {
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .filter(|p| !p.starts_with(':'))
        .map(|p| p.split('?').next().unwrap_or(p));
    let parent = path
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p
            }
        })
        .unwrap_or_else(std::env::temp_dir);
    parent.join("tuneloop-demo-dataset")
}

/// Builds the demo's dataset and writes it, replacing the one a previous run left (a
/// directory with a `manifest.json`), never a directory of something else.
async fn build_dataset(
    store: &dyn FeedbackStore,
    dir: &Path,
    since: tuneloop::model::Timestamp,
    until: tuneloop::model::Timestamp,
) -> CliResult<Dataset> {
    let config = DatasetConfig {
        since: Some(since),
        until: Some(until),
        ..Default::default()
    };
    let dataset = build_from_store(store, DATASET_MODEL, &config).await?;
    let previous_run = dir.join("manifest.json").is_file();
    dataset
        .write_to(dir, previous_run)
        .map_err(|e| CliError::failure(format!("cannot write the demo dataset: {e}")))?;
    Ok(dataset)
}

/// The error patterns, significant trends and top suggestions, briefly.
fn print_analysis(analysis: &super::suggest::Analysis) {
    outln!("Error patterns (largest first)");
    for p in analysis.patterns.iter().take(6) {
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
    let significant: Vec<_> = analysis
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
    for s in analysis.suggestions.iter().take(3) {
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

/// Writes the world in one transaction, so a failed demo leaves nothing half-written.
async fn write_world(store: &dyn FeedbackStore, world: &DemoWorld) -> CliResult<WriteSummary> {
    let mut tx = store.begin_write().await?;
    let batches = world
        .batch
        .responses
        .chunks(CHUNK)
        .map(|r| RecordBatch {
            responses: r.to_vec(),
            feedback: vec![],
        })
        .chain(world.batch.feedback.chunks(CHUNK).map(|f| RecordBatch {
            responses: vec![],
            feedback: f.to_vec(),
        }));
    for batch in batches {
        let outcome = tx.write(&batch).await?;
        if let Some(err) = outcome.first_rejection(&batch) {
            tx.rollback().await?;
            let conflict = matches!(err, tuneloop::Error::Conflict { .. });
            let mut e = CliError::from(err);
            if conflict {
                e.message.push_str(
                    "\nhint: this database holds a demo generated with another --seed or --weeks; \
                     use another --db (e.g. --db sqlite://demo.db)",
                );
            }
            return Err(e);
        }
    }
    Ok(tx.commit().await?)
}

fn weekly_rates(metrics: &MetricsReport) -> Vec<(&str, Vec<Option<f64>>)> {
    metrics
        .models
        .iter()
        .map(|m| {
            let rates = m
                .buckets
                .iter()
                .flatten()
                .map(|b| b.figures.positive_rate)
                .collect();
            (m.model_id.as_str(), rates)
        })
        .collect()
}

fn weekly_json(metrics: &MetricsReport) -> serde_json::Value {
    let models: Vec<serde_json::Value> = metrics
        .models
        .iter()
        .map(|m| {
            let weeks: Vec<serde_json::Value> = m
                .buckets
                .iter()
                .flatten()
                .map(|b| {
                    json!({
                        "start": tuneloop::model::format_timestamp(&b.start),
                        "feedback": b.figures.feedback,
                        "positive_rate": b.figures.positive_rate,
                    })
                })
                .collect();
            json!({ "model_id": m.model_id, "weeks": weeks })
        })
        .collect();
    serde_json::Value::Array(models)
}

/// One line per model: a sparkline on a shared scale, then first and last week.
fn weekly_series(metrics: &MetricsReport) -> String {
    let series = weekly_rates(metrics);
    let all: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = series.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (m, (model, rates)) in metrics.models.iter().zip(&series) {
        let buckets = m.buckets.as_deref().unwrap_or_default();
        // Pooled over a quarter of the range at each end: single weeks are too noisy to
        // call a trend on.
        let k = (buckets.len() / 4).max(1);
        let pooled = |part: &[tuneloop::model::BucketMetrics]| {
            let (pos, n) = part.iter().fold((0u64, 0u64), |(p, n), b| {
                (p + b.figures.positive, n + b.figures.feedback)
            });
            (n > 0).then_some((pos as f64, n as f64))
        };
        let head = pooled(&buckets[..k.min(buckets.len())]);
        let tail = pooled(&buckets[buckets.len().saturating_sub(k)..]);
        let change = match (head, tail) {
            (Some((x1, n1)), Some((x2, n2))) => {
                let (a, b) = (x1 / n1, x2 / n2);
                let delta = (b - a) * 100.0;
                // Two-proportion z-test: only call a change what noise is unlikely to make.
                let p = (x1 + x2) / (n1 + n2);
                let se = (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
                let z = if se > 0.0 { (b - a) / se } else { 0.0 };
                let word = if z >= 1.96 {
                    "improving"
                } else if z <= -1.96 {
                    "getting worse"
                } else {
                    "no significant change"
                };
                format!(
                    "first {k} wk {} → last {k} wk {}  ({delta:+.1} pts, {word})",
                    pct(a),
                    pct(b)
                )
            }
            _ => "no feedback".into(),
        };
        out.push_str(&format!(
            "  {model:<width$}  {}  {change}\n",
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
