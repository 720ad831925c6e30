//! The trigger policy on the demo world: `gather_inputs` on a MemoryStore and a MemoryLedger,
//! checked against figures computed directly from the generated records.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use chrono::Duration;
use serde_json::json;
use tuneloop::credits::{CreditLedger, MemoryLedger};
use tuneloop::dataset::{build, DatasetConfig, Manifest};
use tuneloop::demo::{generate, DemoOptions, DemoWorld};
use tuneloop::jobs::gather_inputs;
use tuneloop::model::{Polarity, Timestamp};
use tuneloop::policy::{decide, estimate_cost, CheckName, PolicyConfig};
use tuneloop::store::{FeedbackStore, FeedbackStoreExt, JobRecord, MemoryStore};

const MODEL: &str = "support-bot-v2";

async fn world_store() -> (DemoWorld, MemoryStore) {
    let world = generate(&DemoOptions::default());
    let store = MemoryStore::new();
    store.record(&world.batch).await.unwrap();
    (world, store)
}

fn manifest(world: &DemoWorld) -> Manifest {
    let b = &world.batch;
    let ds = build(&b.responses, &b.feedback, MODEL, &DatasetConfig::default()).unwrap();
    ds.manifest().clone()
}

fn job(id: &str, model: &str, status: &str, at: Timestamp, data: serde_json::Value) -> JobRecord {
    JobRecord {
        id: id.into(),
        model_id: model.into(),
        status: status.into(),
        version: 0,
        created_at: at - Duration::hours(2),
        updated_at: at,
        data,
    }
}

/// (feedback, negative) on MODEL's responses created in [since, until), from the records.
fn direct(world: &DemoWorld, since: Option<Timestamp>, until: Timestamp) -> (u64, u64) {
    let created: HashMap<&str, Timestamp> = world
        .batch
        .responses
        .iter()
        .filter(|r| r.model_id == MODEL)
        .map(|r| (r.id.as_str(), r.created_at))
        .collect();
    let mut n = (0, 0);
    for f in &world.batch.feedback {
        let Some(&t) = created.get(f.response_id.as_str()) else {
            continue;
        };
        if since.is_none_or(|s| t >= s) && t < until {
            n.0 += 1;
            if f.polarity() == Polarity::Negative {
                n.1 += 1;
            }
        }
    }
    n
}

#[tokio::test]
async fn gathered_inputs_match_the_records_and_drive_the_decision() {
    let (world, store) = world_store().await;
    let now = DemoOptions::default().end;
    let config = PolicyConfig::default();
    let m = manifest(&world);

    // A finished job ten days ago (finished_at in the data, as Unix seconds), an older one,
    // and a running job of another model that must not count.
    let finished = now - Duration::days(10);
    store
        .put_job(
            &job(
                "j-old",
                MODEL,
                "failed",
                now - Duration::days(40),
                json!({}),
            ),
            None,
        )
        .await
        .unwrap();
    store
        .put_job(
            &job(
                "j-done",
                MODEL,
                "succeeded",
                now - Duration::days(9),
                json!({"finished_at": finished.timestamp()}),
            ),
            None,
        )
        .await
        .unwrap();
    store
        .put_job(
            &job("j-other", "support-bot-v1", "running", now, json!({})),
            None,
        )
        .await
        .unwrap();

    let ledger = MemoryLedger::new();
    ledger.grant("acme", 10_000, "topup-1").await.unwrap();
    let price = 25;

    let inputs = gather_inputs(
        &store,
        Some(&ledger),
        "acme",
        MODEL,
        Some(&m),
        Some(price),
        &config,
        now,
    )
    .await
    .unwrap();

    assert_eq!(inputs.now, now);
    assert_eq!(inputs.last_job_finished_at, Some(finished));
    assert_eq!(inputs.active_job_id, None);
    let (since_job, _) = direct(&world, Some(finished), now);
    assert!(since_job > 0);
    assert_eq!(inputs.feedback_since_last_job, since_job);

    let window_start = now - Duration::weeks(2);
    let (wf, wn) = direct(&world, Some(window_start), now);
    let (bf, bn) = direct(
        &world,
        Some(window_start - Duration::weeks(6)),
        window_start,
    );
    assert!(wf > 0 && bf > 0);
    let rate = inputs.negative_rate.unwrap();
    let baseline = inputs.baseline_negative_rate.unwrap();
    assert!((rate - wn as f64 / wf as f64).abs() < 1e-12, "{rate}");
    assert!(
        (baseline - bn as f64 / bf as f64).abs() < 1e-12,
        "{baseline}"
    );

    assert_eq!(inputs.usable_examples, m.counts.train + m.counts.validation);
    assert!(inputs.usable_examples > 0 && m.billing_tokens > 0);
    let cost = estimate_cost(m.billing_tokens, m.estimated_epochs as u32, price);
    assert_eq!(inputs.estimated_cost, Some(cost));
    assert_eq!(inputs.available_credits, Some(10_000));

    let d = decide(&inputs, &config);
    eprintln!("{}", serde_json::to_string_pretty(&d).unwrap());
    assert_eq!(d.fine_tune, d.checks.iter().all(|c| c.passed), "{d:#?}");
    let cooldown = d.check(CheckName::Cooldown).unwrap();
    assert!(cooldown.passed, "{cooldown:?}");
    let fb = d.check(CheckName::FeedbackSinceLastJob).unwrap();
    assert_eq!(fb.observed, json!(since_job));
    assert_eq!(fb.passed, since_job >= 200);
    let credits = d.check(CheckName::Credits).unwrap();
    assert_eq!(credits.passed, cost <= 10_000);

    // A price that makes the job unaffordable: the credits check fails, and force keeps it.
    let dear = gather_inputs(
        &store,
        Some(&ledger),
        "acme",
        MODEL,
        Some(&m),
        Some(10_000_000_000),
        &config,
        now,
    )
    .await
    .unwrap();
    assert!(dear.estimated_cost.unwrap() > 10_000);
    let d = decide(&dear, &config).forced();
    assert!(!d.check(CheckName::Credits).unwrap().passed);
    assert!(!d.fine_tune);
}

#[tokio::test]
async fn an_active_job_an_unknown_account_and_no_ledger() {
    let (world, store) = world_store().await;
    let now = DemoOptions::default().end;
    let config = PolicyConfig::default();
    let m = manifest(&world);
    store
        .put_job(
            &job("j-q", MODEL, "queued", now - Duration::days(1), json!({})),
            None,
        )
        .await
        .unwrap();
    let ledger = MemoryLedger::new();

    let inputs = gather_inputs(
        &store,
        Some(&ledger),
        "nobody",
        MODEL,
        Some(&m),
        Some(8),
        &config,
        now,
    )
    .await
    .unwrap();
    assert_eq!(inputs.active_job_id.as_deref(), Some("j-q"));
    assert_eq!(inputs.last_job_finished_at, None);
    // No finished job: all the model's feedback before now counts.
    assert_eq!(inputs.feedback_since_last_job, direct(&world, None, now).0);
    assert_eq!(inputs.available_credits, Some(0));

    let d = decide(&inputs, &config);
    assert!(!d.check(CheckName::NoActiveJob).unwrap().passed);
    assert!(d.check(CheckName::Cooldown).unwrap().passed);
    assert!(
        !d.clone().forced().fine_tune,
        "force never overrides an active job"
    );

    let no_ledger = gather_inputs(&store, None, "acme", MODEL, None, Some(8), &config, now)
        .await
        .unwrap();
    assert_eq!(no_ledger.available_credits, None);
    assert_eq!(no_ledger.estimated_cost, None);
    assert_eq!(no_ledger.usable_examples, 0);
    let d = decide(&no_ledger, &config);
    assert!(!d.check(CheckName::Credits).unwrap().passed);
    assert!(!d.check(CheckName::TrainingExamples).unwrap().passed);
}

#[tokio::test]
async fn a_model_without_data_and_a_bad_config() {
    let (_world, store) = world_store().await;
    let now = DemoOptions::default().end;
    let inputs = gather_inputs(
        &store,
        None,
        "acme",
        "no-such-model",
        None,
        None,
        &PolicyConfig::default(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(inputs.feedback_since_last_job, 0);
    assert_eq!(inputs.negative_rate, None);
    assert_eq!(inputs.baseline_negative_rate, None);

    let bad = PolicyConfig {
        window_weeks: 0,
        ..Default::default()
    };
    let e = gather_inputs(&store, None, "acme", MODEL, None, None, &bad, now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("window_weeks"), "{e}");
}
