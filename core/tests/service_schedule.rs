//! `Tuneloop::run_weekly_once` and `Tuneloop::run_schedule`: one holder at a time (the
//! lease), a failed run does not stop the loop, cancellation returns at once. Memory and
//! SQLite; PostgreSQL too when `TUNELOOP_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tuneloop::schedule::weekly::{WeeklyReport, LEASE};
use tuneloop::service::{CancellationToken, ScheduleEvent, ScheduleOptions, WeeklyRunOptions};
use tuneloop::store::{open, OpenOptions};
use tuneloop::testing::sample_batch;
use tuneloop::{Error, Options, Tuneloop};

async fn filled(options: Options) -> Tuneloop {
    let tl = Tuneloop::open(options).await.unwrap();
    tl.record(&sample_batch(30)).await.unwrap();
    tl
}

async fn once_and_lease(url: &str) {
    let tl = filled(Options::database(url)).await;
    // No provider: decisions only, one per model, saved as a weekly run.
    let r = tl
        .run_weekly_once(&WeeklyRunOptions {
            rerun: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(r.skipped.is_none(), "{r:?}");
    assert_eq!(r.decisions.len(), 3, "{r:?}");
    assert!(r
        .decisions
        .iter()
        .all(|d| d.outcome.is_none() || d.outcome.as_ref().is_some_and(|o| o.job.is_none())));
    assert!(tl.store().get_run(&r.run_id).await.unwrap().is_some());
    let json = serde_json::to_string(&r).unwrap();
    let back: WeeklyReport = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);

    // Another instance holds the lease: nothing runs, the report names it.
    assert!(tl
        .store()
        .try_lease(LEASE, "instance-b", Duration::from_secs(600))
        .await
        .unwrap()
        .is_some());
    let r = tl
        .run_weekly_once(&WeeklyRunOptions::default())
        .await
        .unwrap();
    assert_eq!(r.held_by.as_ref().unwrap().holder, "instance-b", "{r:?}");
    assert!(r.skipped.unwrap().contains("instance-b"));
    tl.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_and_the_lease_on_memory() {
    once_and_lease("memory://").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_and_the_lease_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    once_and_lease(&format!("sqlite://{}", dir.path().join("s.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_and_the_lease_on_postgres() {
    let Some(server) = tuneloop::testing::postgres::test_url() else {
        return;
    };
    let guard = tuneloop::testing::postgres::SchemaGuard::new(&server);
    once_and_lease(&guard.url()).await;
}

#[tokio::test]
async fn a_bad_cron_is_invalid_input_on_cron() {
    let tl = Tuneloop::open(Options::memory()).await.unwrap();
    let e = tl
        .run_schedule(
            &ScheduleOptions {
                cron: Some("every monday".into()),
                ..Default::default()
            },
            CancellationToken::new(),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref field, .. } if field == "cron"),
        "{e}"
    );
}

/// Runs the loop every second in a task; events arrive on the channel.
fn every_second(
    tl: &Tuneloop,
) -> (
    mpsc::UnboundedReceiver<ScheduleEvent>,
    CancellationToken,
    tokio::task::JoinHandle<tuneloop::Result<()>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let (tl, token) = (tl.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let options = ScheduleOptions {
            cron: Some("* * * * * *".into()),
            ..Default::default()
        };
        tl.run_schedule(&options, token, move |e| {
            let _ = tx.send(e);
        })
        .await
    });
    (rx, stop, task)
}

/// Cancels and checks the loop returns promptly and cleanly.
async fn stop_within_a_second(
    stop: CancellationToken,
    task: tokio::task::JoinHandle<tuneloop::Result<()>>,
) {
    let at = Instant::now();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("the loop returns within a second")
        .unwrap()
        .unwrap();
    assert!(at.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_runs_each_slot_and_stops_when_cancelled() {
    loop_runs_each_slot("memory://").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_on_postgres() {
    let Some(server) = tuneloop::testing::postgres::test_url() else {
        return;
    };
    let guard = tuneloop::testing::postgres::SchemaGuard::new(&server);
    loop_runs_each_slot(&guard.url()).await;
}

async fn loop_runs_each_slot(url: &str) {
    let tl = filled(Options::database(url)).await;
    let (mut rx, stop, task) = every_second(&tl);
    let mut ran: Vec<WeeklyReport> = Vec::new();
    let mut started = false;
    while ran.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(ScheduleEvent::Started { dry_run, .. })) => {
                assert!(dry_run, "no provider: decisions only");
                started = true;
            }
            Ok(Some(ScheduleEvent::Ran { report })) => ran.push(*report),
            Ok(Some(ScheduleEvent::Failed { error, .. })) => panic!("{error}"),
            Ok(Some(ScheduleEvent::Waiting { .. })) => {}
            other => panic!("no event: {other:?}"),
        }
    }
    stop_within_a_second(stop, task).await;
    assert!(started);
    // Two slots, two runs, each saved under its own id (slots a second apart).
    assert_ne!(ran[0].run_id, ran[1].run_id);
    assert!(ran[1].slot > ran[0].slot);
    for r in &ran {
        assert!(r.skipped.is_none(), "{r:?}");
        assert!(tl.store().get_run(&r.run_id).await.unwrap().is_some());
    }
    // The lease is free again: another instance can run.
    assert!(tl
        .store()
        .try_lease(LEASE, "instance-b", Duration::from_secs(5))
        .await
        .unwrap()
        .is_some());
    tl.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_does_not_stop_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let mut options = Options::database(&url);
    // A blocked write fails fast instead of waiting the default half minute.
    options.open.busy_wait = Duration::from_millis(300);
    let tl = filled(options).await;
    // Another process writing the whole time: the first slot cannot take its lease.
    let other = open(&url, &OpenOptions::default()).await.unwrap();
    let mut blocking = Some(other.begin_write().await.unwrap());

    let (mut rx, stop, task) = every_second(&tl);
    let (mut failed, mut ran) = (0, 0);
    while ran == 0 {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(ScheduleEvent::Failed { error, .. })) => {
                assert_eq!(ran, 0);
                assert!(!error.is_empty());
                failed += 1;
                // The writer is done: the next slot can run.
                if let Some(tx) = blocking.take() {
                    tx.rollback().await.unwrap();
                }
            }
            Ok(Some(ScheduleEvent::Ran { report })) => {
                assert!(report.skipped.is_none(), "{report:?}");
                ran += 1;
            }
            Ok(Some(_)) => {}
            other => panic!("no event: {other:?}"),
        }
    }
    stop_within_a_second(stop, task).await;
    assert!(failed >= 1, "the blocked slot failed");
    assert_eq!(ran, 1);
    other.close().await.unwrap();
    tl.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_run_returns_at_once_and_frees_the_lease() {
    let tl = Tuneloop::open(Options::memory()).await.unwrap();
    // A large history: a run takes a while.
    tl.record(&tuneloop::demo::generate(&Default::default()).batch)
        .await
        .unwrap();
    let (mut rx, stop, task) = every_second(&tl);
    // Wait for the first slot to come due, then cancel while it runs.
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(ScheduleEvent::Waiting { next })) => {
                let due = (next - chrono::Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(due + Duration::from_millis(50)).await;
                break;
            }
            Ok(Some(_)) => {}
            other => panic!("no event: {other:?}"),
        }
    }
    stop_within_a_second(stop, task).await;
    assert!(tl
        .store()
        .try_lease(LEASE, "instance-b", Duration::from_secs(5))
        .await
        .unwrap()
        .is_some());
}
