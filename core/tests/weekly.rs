//! The weekly job on the demo world: analysis saved, one decision per model, jobs started
//! and synced, once per slot and by one instance at a time.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;
use tuneloop::config::FineTuneSection;
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::jobs::{JobManager, JobStatus};
use tuneloop::mcp::SimulatedProvider;
use tuneloop::model::parse_timestamp;
use tuneloop::policy::{PolicyConfig, Prices};
use tuneloop::schedule::weekly::{run_weekly, WeeklyOptions, LEASE};
use tuneloop::store::{FeedbackStore, FeedbackStoreExt, LeaseHolder, MemoryStore};

async fn setup() -> (Arc<MemoryStore>, Arc<SimulatedProvider>, JobManager) {
    let store = Arc::new(MemoryStore::new());
    store
        .record(&generate(&DemoOptions::default()).batch)
        .await
        .unwrap();
    let ledger = store.ledger().unwrap();
    ledger.grant("acme", 10_000_000, "g").await.unwrap();
    let sim = Arc::new(SimulatedProvider::manual());
    let prices: Prices = serde_json::from_str(r#"{"base-a": 100}"#).unwrap();
    let jobs = JobManager::new(store.clone(), ledger, sim.clone(), prices);
    (store, sim, jobs)
}

fn options(slot: &str) -> WeeklyOptions {
    WeeklyOptions {
        slot: parse_timestamp(slot).unwrap(),
        rerun: false,
        models: vec![],
        fine_tune: FineTuneSection {
            base_model: Some("base-a".into()),
            account: "acme".into(),
            ..Default::default()
        },
        policy: PolicyConfig {
            // The demo's history ends 2026-11-23; measure over all of it.
            min_negative_rate: 0.0,
            min_feedback_since_last_job: 1,
            ..Default::default()
        },
        dataset: Default::default(),
        dry_run: false,
        holder: "instance-a".into(),
        lease_ttl: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_runs_once_and_starts_then_syncs_jobs() {
    let (store, sim, jobs) = setup().await;
    let report = run_weekly(&jobs, &options("2026-11-30T03:00:00Z"))
        .await
        .unwrap();
    assert_eq!(report.run_id, "weekly-20261130T0300Z");
    assert_eq!(report.skipped, None);
    assert!(report.patterns >= 4, "{report:?}");
    assert!(!report.top_suggestions.is_empty());
    assert_eq!(report.decisions.len(), 3, "one per demo model");
    let started: Vec<_> = report
        .decisions
        .iter()
        .filter_map(|d| d.outcome.as_ref()?.job.as_ref())
        .collect();
    assert!(!started.is_empty(), "{:#?}", report.decisions);
    for d in &report.decisions {
        let o = d.outcome.as_ref().unwrap();
        assert_eq!(o.decision.fine_tune, o.job.is_some(), "{d:?}");
    }
    // Saved: the weekly run and its analysis.
    let saved = store.get_run(&report.run_id).await.unwrap().unwrap();
    assert_eq!(saved.kind, "weekly");
    let analysis = report.analysis_run_id.clone().unwrap();
    assert_eq!(
        store.get_run(&analysis).await.unwrap().unwrap().kind,
        "analysis"
    );

    // The same slot again: nothing happens.
    let again = run_weekly(&jobs, &options("2026-11-30T03:00:00Z"))
        .await
        .unwrap();
    assert!(again.skipped.unwrap().contains("already done"));
    assert_eq!(
        jobs.list(&Default::default()).await.unwrap().len(),
        started.len()
    );

    // Next week: the jobs in flight are synced to the end; no second job for a model
    // with one in flight (cooldown and no_active_job hold).
    sim.advance(3);
    let next = run_weekly(&jobs, &options("2026-12-07T03:00:00Z"))
        .await
        .unwrap();
    assert_eq!(next.synced.len(), started.len(), "{next:?}");
    assert!(next.synced.iter().all(|s| s.after == JobStatus::Succeeded));
    assert_eq!(
        jobs.list(&Default::default()).await.unwrap().len(),
        started.len()
    );
    let b = jobs.ledger().balance("acme").await.unwrap();
    assert_eq!(b.pending, 0);
    assert!(b.posted > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_at_a_time() {
    let (store, _sim, jobs) = setup().await;
    store
        .try_lease(LEASE, "instance-b", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let report = run_weekly(&jobs, &options("2026-11-30T03:00:00Z"))
        .await
        .unwrap();
    assert!(report.skipped.unwrap().contains("another instance"));
    assert!(store
        .get_run("weekly-20261130T0300Z")
        .await
        .unwrap()
        .is_none());
    // Concurrent runs of one slot: one runs, the others skip.
    store.release_lease(LEASE, "instance-b").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let jobs = jobs.clone();
        tasks.push(tokio::spawn(async move {
            let mut o = options("2026-11-30T03:00:00Z");
            o.holder = format!("instance-{i}");
            o.dry_run = true;
            run_weekly(&jobs, &o).await.unwrap()
        }));
    }
    let mut ran = 0;
    for t in tasks {
        if t.await.unwrap().skipped.is_none() {
            ran += 1;
        }
    }
    assert_eq!(ran, 1);
    // A dry run creates no job.
    assert!(jobs.list(&Default::default()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_run_names_the_holder_and_a_dead_holder_is_replaced() {
    let (store, _sim, jobs) = setup().await;
    let me = LeaseHolder::this_process();
    let mut o = options("2026-11-30T03:00:00Z");
    o.holder = me.encode();
    o.dry_run = true;
    // Another live instance of this host (this process, started earlier) holds it.
    let other = LeaseHolder {
        started: me.started - chrono::Duration::minutes(5),
        ..me.clone()
    };
    store
        .try_lease(LEASE, &other.encode(), Duration::from_secs(3_600))
        .await
        .unwrap()
        .unwrap();
    let report = run_weekly(&jobs, &o).await.unwrap();
    let why = report.skipped.clone().unwrap();
    assert!(
        why.starts_with("another instance is running the weekly job: "),
        "{why}"
    );
    assert!(
        why.contains(&format!("pid {} on {}", me.pid, me.host)),
        "{why}"
    );
    assert!(why.contains(", since "), "{why}");
    assert_eq!(
        report.held_by.as_ref().map(|l| l.holder.clone()),
        Some(other.encode())
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["held_by"]["holder"], other.encode());

    // Its process is gone (a child that exited): the next run takes the lease over, runs,
    // and releases it.
    if me.pid_ns.is_none() {
        return;
    }
    store.release_lease(LEASE, &other.encode()).await.unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = LeaseHolder {
        pid: child.id(),
        pid_start: None,
        ..me.clone()
    };
    child.wait().unwrap();
    store
        .try_lease(LEASE, &dead.encode(), Duration::from_secs(3_600))
        .await
        .unwrap()
        .unwrap();
    let report = run_weekly(&jobs, &o).await.unwrap();
    assert_eq!(report.skipped, None, "{report:?}");
    assert_eq!(report.took_over_from.map(|l| l.holder), Some(dead.encode()));
    assert!(store.get_run(&report.run_id).await.unwrap().is_some());
    assert_eq!(store.get_lease(LEASE).await.unwrap(), None, "released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_loses_its_lease_stops() {
    let (store, _sim, jobs) = setup().await;
    let mut o = options("2026-11-30T03:00:00Z");
    o.dry_run = true;
    o.lease_ttl = Duration::from_millis(300);
    // As soon as the run holds the lease, another holder takes it from under it.
    let thief = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                if let Some(l) = store.get_lease(LEASE).await.unwrap() {
                    if l.holder == "instance-a" {
                        let taken = store
                            .take_over_lease(LEASE, "instance-a", "thief", Duration::from_secs(60))
                            .await
                            .unwrap();
                        return taken.is_some();
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let result = run_weekly(&jobs, &o).await;
    let stolen = thief.await.unwrap();
    assert!(stolen);
    // The analysis alone takes far longer than the keeper's 100 ms between renewals.
    match result {
        Err(tuneloop::Error::Conflict { kind, reason, .. }) => {
            assert_eq!(kind, "lease");
            assert!(
                reason.contains("lease was lost (taken by `thief`"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(store
        .get_run("weekly-20261130T0300Z")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.get_lease(LEASE).await.unwrap().unwrap().holder,
        "thief"
    );
}
