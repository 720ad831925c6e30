//! The SQLite store: the shared conformance suite on file-backed databases, plus checks
//! specific to SQLite (persistence, schema versions, in-memory URLs, equality with the
//! in-memory store on larger data).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tuneloop::model::{
    parse_timestamp, Bucket, Feedback, FeedbackKind, MetricsQuery, ProblematicQuery, RankBy,
    ResponseRecord,
};
use tuneloop::store::{
    FeedbackStore, FeedbackStoreExt, ItemOutcome, MemoryStore, OpenOptions, RecordBatch, Rejection,
    SqliteStore,
};
use tuneloop::Error;

/// A directory under the target dir, emptied once per test run, holding one file per store.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store_sqlite");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fn fresh_path() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    scratch().join(format!("db-{}.sqlite", N.fetch_add(1, Ordering::Relaxed)))
}

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn fresh() -> Arc<dyn FeedbackStore> {
    Arc::new(
        SqliteStore::open(&url(&fresh_path()), &OpenOptions::default())
            .await
            .unwrap(),
    )
}

tuneloop::store_conformance_tests!(fresh);

mod in_memory_url {
    use super::*;

    async fn fresh_memory() -> Arc<dyn FeedbackStore> {
        tuneloop::store::open("sqlite::memory:", &OpenOptions::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn memory_url_round_trip_and_persists_across_queries() {
        let store = fresh_memory().await;
        assert_eq!(store.backend(), "sqlite");
        let b = tuneloop::testing::sample_batch(50);
        store.record(&b).await.unwrap();
        let s = store.stats().await.unwrap();
        assert_eq!(s.responses, 50);
        assert_eq!(s.feedback as usize, b.feedback.len());
        assert!(store.health().await.unwrap().ok());
    }
}

fn ts(s: &str) -> tuneloop::model::Timestamp {
    parse_timestamp(s).unwrap()
}

fn response(id: &str) -> ResponseRecord {
    ResponseRecord::new(id, "m1", "q?", "a", ts("2026-09-01T10:00:00Z"))
}

#[tokio::test]
async fn reopen_persists() {
    let path = fresh_path();
    {
        let store = SqliteStore::open(&url(&path), &OpenOptions::default())
            .await
            .unwrap();
        store
            .record(&tuneloop::testing::sample_batch(30))
            .await
            .unwrap();
        store.close().await;
    }
    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    assert_eq!(store.stats().await.unwrap().responses, 30);
    // Re-writing the same data after reopening is a no-op.
    let s = store
        .record(&tuneloop::testing::sample_batch(30))
        .await
        .unwrap();
    assert_eq!((s.responses_inserted, s.responses_unchanged), (0, 30));
}

#[tokio::test]
async fn missing_file_without_create_is_not_found() {
    let path = fresh_path();
    let opts = OpenOptions {
        create_if_missing: false,
        ..OpenOptions::default()
    };
    let err = SqliteStore::open(&url(&path), &opts).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                kind: "database",
                ..
            }
        ),
        "{err}"
    );
    assert!(!path.exists());
    // `sqlite:PATH` form works too.
    let store = SqliteStore::open(
        &format!("sqlite:{}", path.display()),
        &OpenOptions::default(),
    )
    .await
    .unwrap();
    assert!(store.health().await.unwrap().ok());
}

#[tokio::test]
async fn schema_too_new_is_refused() {
    let path = fresh_path();
    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert!(health.ok(), "{health:?}");
    assert_eq!(health.schema_version, health.supported_version);
    store.close().await;
    drop(store);

    let pool = sqlx::SqlitePool::connect(&url(&path)).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    for migrate in [true, false] {
        let opts = OpenOptions {
            migrate,
            ..OpenOptions::default()
        };
        let err = SqliteStore::open(&url(&path), &opts).await.unwrap_err();
        assert!(
            matches!(err, Error::SchemaTooNew { found: 9999, .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn unmigrated_database_reports_and_refuses_writes() {
    let path = fresh_path();
    let opts = OpenOptions {
        migrate: false,
        ..OpenOptions::default()
    };
    let store = SqliteStore::open(&url(&path), &opts).await.unwrap();
    let health = store.health().await.unwrap();
    assert!(!health.ok());
    assert_eq!(health.schema_version, None);
    assert!(health.missing_tables.contains(&"feedback".to_string()));
    let err = store.begin_write().await.err().expect("writes refused");
    assert!(err.to_string().contains("migrate the database"), "{err}");
    store.close().await;

    // Migrating later makes it usable; unknown tables are reported, not errors.
    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE my_notes (x)")
        .execute(&sqlx::SqlitePool::connect(&url(&path)).await.unwrap())
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert!(health.ok(), "{health:?}");
    assert_eq!(health.extra_tables, vec!["my_notes".to_string()]);
}

#[tokio::test]
async fn outcomes_conflicts_and_unknown_responses_match_memory() {
    let sqlite = fresh().await;
    let memory: Arc<dyn FeedbackStore> = Arc::new(MemoryStore::new());
    let t = ts("2026-09-01T10:00:00Z");
    let mut changed = response("r1");
    changed.query = "other".into();
    changed.model_id = "m2".into();
    let fb = Feedback::new("f1", "r1", FeedbackKind::Stars { rating: 2 }, t);
    let mut fb_changed = fb.clone();
    fb_changed.comment = Some("hm".into());
    let batches = [
        RecordBatch {
            responses: vec![response("r1"), response("r1"), response("")],
            feedback: vec![fb.clone(), fb.clone(), fb_changed.clone()],
        },
        RecordBatch {
            responses: vec![changed, response("r1"), response("r2")],
            feedback: vec![
                fb_changed,
                fb.clone(),
                Feedback::new("f9", "nope", FeedbackKind::Thumbs { up: true }, t),
                Feedback::new("f1", "nope", FeedbackKind::Thumbs { up: true }, t),
            ],
        },
    ];
    for store in [&sqlite, &memory] {
        for b in &batches {
            let mut tx = store.begin_write().await.unwrap();
            tx.write(b).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
    let mut outcomes = Vec::new();
    for store in [&sqlite, &memory] {
        let mut tx = store.begin_write().await.unwrap();
        outcomes.push(tx.write(&batches[1]).await.unwrap());
        tx.rollback().await.unwrap();
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(matches!(
        &outcomes[0].responses[0],
        ItemOutcome::Rejected(Rejection::Conflict { reason }) if reason.contains("model_id, query")
    ));
    assert!(matches!(
        &outcomes[0].feedback[2],
        ItemOutcome::Rejected(Rejection::UnknownResponse { .. })
    ));
    assert_eq!(sqlite.stats().await.unwrap(), memory.stats().await.unwrap());
    assert_eq!(
        sqlite.get_feedback("f1").await.unwrap(),
        memory.get_feedback("f1").await.unwrap()
    );
}

async fn both_with(n: usize) -> (Arc<dyn FeedbackStore>, Arc<dyn FeedbackStore>) {
    let sqlite = fresh().await;
    let memory: Arc<dyn FeedbackStore> = Arc::new(MemoryStore::new());
    let b = tuneloop::testing::sample_batch(n);
    // Several transactions and batches, so keys continue across them.
    for chunk in b.responses.chunks(n / 3 + 1) {
        let ids: std::collections::HashSet<&str> = chunk.iter().map(|r| r.id.as_str()).collect();
        let part = RecordBatch {
            responses: chunk.to_vec(),
            feedback: b
                .feedback
                .iter()
                .filter(|f| ids.contains(f.response_id.as_str()))
                .cloned()
                .collect(),
        };
        sqlite.record(&part).await.unwrap();
        memory.record(&part).await.unwrap();
    }
    (sqlite, memory)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_problematic_equal_memory_on_larger_data() {
    let (sqlite, memory) = both_with(3_000).await;
    let queries = [
        MetricsQuery::default(),
        MetricsQuery {
            bucket: Some(Bucket::Day),
            ..Default::default()
        },
        MetricsQuery {
            bucket: Some(Bucket::Week),
            model: Some("beta".into()),
            since: Some(ts("2026-09-03T12:34:56.5Z")),
            until: Some(ts("2026-09-20T00:00:00Z")),
        },
        MetricsQuery {
            model: Some("nobody".into()),
            ..Default::default()
        },
        MetricsQuery {
            since: Some(ts("2026-09-10T00:00:00Z")),
            until: Some(ts("2026-09-10T00:00:00Z")),
            ..Default::default()
        },
    ];
    for q in &queries {
        assert_eq!(
            sqlite.metrics(q).await.unwrap(),
            memory.metrics(q).await.unwrap(),
            "{q:?}"
        );
    }
    let problematic = [
        ProblematicQuery::default(),
        ProblematicQuery {
            limit: 500,
            model: Some("alpha".into()),
            since: Some(ts("2026-09-05T00:00:00Z")),
            until: None,
            redact_pii: false,
            rank_by: RankBy::Count,
        },
        ProblematicQuery {
            limit: 7,
            rank_by: RankBy::Rate,
            ..Default::default()
        },
        ProblematicQuery {
            limit: 0,
            ..Default::default()
        },
    ];
    for q in &problematic {
        assert_eq!(
            sqlite.problematic(q).await.unwrap(),
            memory.problematic(q).await.unwrap(),
            "{q:?}"
        );
    }
}

/// Feedback rows carry no foreign-key clause (it cost ~20 % of ingest); `health()` (the
/// CLI's `check db`) is what finds a response deleted behind tuneloop's back.
#[tokio::test]
async fn health_counts_orphaned_feedback() {
    let path = fresh_path();
    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    store
        .record(&RecordBatch {
            responses: vec![response("r1"), response("r2")],
            feedback: vec![
                Feedback::new(
                    "f1",
                    "r1",
                    FeedbackKind::Thumbs { up: false },
                    ts("2026-09-01"),
                ),
                Feedback::new(
                    "f2",
                    "r2",
                    FeedbackKind::Thumbs { up: true },
                    ts("2026-09-01"),
                ),
            ],
        })
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert_eq!(health.orphaned_feedback, Some(0));
    assert!(health.ok(), "{health:?}");
    store.close().await;

    let pool = sqlx::SqlitePool::connect(&url(&path)).await.unwrap();
    sqlx::query("DELETE FROM responses WHERE id = 'r1'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert_eq!(health.orphaned_feedback, Some(1));
    assert!(!health.ok());
}

/// Leases are exclusive across stores sharing a file (as separate processes would), not
/// only within one store; job events written by one store are read by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_and_job_history_are_shared_between_stores() {
    let path = fresh_path();
    let a = Arc::new(
        SqliteStore::open(&url(&path), &OpenOptions::default())
            .await
            .unwrap(),
    );
    let b = Arc::new(
        SqliteStore::open(&url(&path), &OpenOptions::default())
            .await
            .unwrap(),
    );
    let mut handles = Vec::new();
    for i in 0..12 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            store
                .try_lease(
                    "weekly",
                    &format!("instance-{i}"),
                    std::time::Duration::from_secs(60),
                )
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    for h in handles {
        winners.extend(h.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(b.release_lease("weekly", &winners[0].holder).await.unwrap());

    let event = tuneloop::store::JobEventRecord {
        seq: 0,
        id: "e1".into(),
        source: "provider".into(),
        level: "info".into(),
        message: "queued".into(),
        created_at: ts("2026-09-01T10:00:00Z"),
    };
    assert_eq!(
        a.append_job_events("j1", std::slice::from_ref(&event))
            .await
            .unwrap(),
        1
    );
    assert_eq!(b.append_job_events("j1", &[event]).await.unwrap(), 0);
    assert_eq!(b.list_job_events("j1").await.unwrap().len(), 1);
}

/// A database behind this build's schema can be read but not written: the job methods
/// refuse writes like every other write path, after checking their arguments.
#[tokio::test]
async fn job_writes_are_refused_when_not_migrated() {
    let path = fresh_path();
    let opts = OpenOptions {
        migrate: false,
        ..OpenOptions::default()
    };
    let store = SqliteStore::open(&url(&path), &opts).await.unwrap();
    let file = tuneloop::store::JobFile::new("train.jsonl", "{}\n");
    let err = store.put_job_file("j1", &file).await.unwrap_err();
    assert!(err.to_string().contains("migrate the database"), "{err}");
    let err = store
        .try_lease("weekly", "a", std::time::Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("migrate the database"), "{err}");
    // Bad arguments are still reported as such.
    assert!(matches!(
        store
            .try_lease("", "a", std::time::Duration::from_secs(60))
            .await,
        Err(Error::InvalidInput { .. })
    ));
}

/// Issue 11, item 4: processes importing into a file that does not exist yet all open it at
/// once. Every open must succeed and find one migrated schema ("table models already
/// exists" failed 1-7 of 8 before the migrator ran under the write lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_opens_all_migrate_once() {
    for round in 0..6 {
        let path = fresh_path();
        let opens = (0..8).map(|i| {
            let url = url(&path);
            tokio::spawn(async move {
                let store = SqliteStore::open(&url, &OpenOptions::default()).await?;
                let r = response(&format!("r{i}"));
                store
                    .record(&RecordBatch {
                        responses: vec![r],
                        feedback: vec![],
                    })
                    .await?;
                store.close().await;
                Ok::<_, Error>(())
            })
        });
        for (i, joined) in futures_join_all(opens).await.into_iter().enumerate() {
            if let Err(e) = joined.unwrap() {
                panic!("round {round}, open {i}: {}", e.with_causes());
            }
        }
        let store = SqliteStore::open(&url(&path), &OpenOptions::default())
            .await
            .unwrap();
        let health = store.health().await.unwrap();
        assert!(health.missing_tables.is_empty(), "{health:?}");
        assert_eq!(health.schema_version, health.supported_version);
        assert_eq!(store.stats().await.unwrap().responses, 8);
        store.close().await;
    }
}

async fn futures_join_all<T>(
    handles: impl IntoIterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await);
    }
    out
}

/// Issue 11, item 5: a write that meets another process's write lock waits, retries, and
/// when the wait gives up says what holds the lock and what to do; nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_wait_for_the_lock_then_give_up_with_advice() {
    let path = fresh_path();
    let holder = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    let impatient = SqliteStore::open(
        &url(&path),
        &OpenOptions {
            busy_wait: std::time::Duration::from_millis(800),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let patient = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    // Another "process" holds the write lock (a separate pool: SQLite arbitrates).
    let mut tx = holder.begin_write().await.unwrap();
    tx.write(&RecordBatch {
        responses: vec![response("held")],
        feedback: vec![],
    })
    .await
    .unwrap();

    let started = std::time::Instant::now();
    let err = impatient
        .record(&RecordBatch {
            responses: vec![response("r-impatient")],
            feedback: vec![],
        })
        .await
        .unwrap_err();
    let msg = err.with_causes();
    assert!(err.is_retryable(), "{msg}");
    assert!(msg.contains("locked by another writer"), "{msg}");
    assert!(msg.contains("run this again"), "{msg}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let ledger = impatient.ledger();
    let err = tuneloop::credits::CreditLedger::grant(&ledger, "acme", 10, "g1")
        .await
        .unwrap_err();
    assert!(
        err.with_causes().contains("run this again"),
        "{}",
        err.with_causes()
    );

    // A patient writer gets through once the holder commits.
    let waiting = tokio::spawn({
        let patient = patient.clone();
        async move {
            patient
                .record(&RecordBatch {
                    responses: vec![response("r-patient")],
                    feedback: vec![],
                })
                .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    tx.commit().await.unwrap();
    waiting.await.unwrap().unwrap();
    assert!(patient.get_response("r-patient").await.unwrap().is_some());
    assert!(patient.get_response("r-impatient").await.unwrap().is_none());
    for s in [holder, impatient, patient] {
        s.close().await;
    }
}

/// Damaged aggregates are counted by `check db`, visible in metrics, and rebuilt (the
/// shared check in `tuneloop::testing`), written through a second connection.
#[tokio::test]
async fn corrupted_aggregates_are_reported_and_rebuilt() {
    let path = fresh_path();
    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    let pool = sqlx::SqlitePool::connect(&url(&path)).await.unwrap();
    tuneloop::testing::corrupted_aggregates_are_reported_and_rebuilt(&store, |sql| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected()
        }
    })
    .await;
    pool.close().await;
    store.close().await;
}

/// The migration that adds the aggregates fills them from the rows already stored: undo it
/// on a database with data and open it again.
#[tokio::test]
async fn migration_fills_aggregates_from_existing_rows() {
    let path = fresh_path();
    let b = tuneloop::testing::sample_batch(80);
    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    store.record(&b).await.unwrap();
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&url(&path)).await.unwrap();
    for sql in [
        "DROP TABLE agg_responses",
        "DROP TABLE agg_feedback",
        "DROP TABLE agg_categories",
        "DROP TABLE agg_negatives",
        "DELETE FROM _sqlx_migrations WHERE version = 5",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let q = MetricsQuery {
        bucket: Some(Bucket::Week),
        ..Default::default()
    };
    let want = tuneloop::analysis::metrics::compute_metrics(&b.responses, &b.feedback, &q);
    // Opened without migrating, the older schema has no aggregates: metrics read the rows.
    let old = SqliteStore::open(
        &url(&path),
        &OpenOptions {
            migrate: false,
            ..OpenOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(old.metrics(&q).await.unwrap(), want);
    assert!(matches!(
        old.daily_trend_counts(None, None, None).await,
        Err(Error::Unsupported { .. })
    ));
    old.close().await;
    let store = SqliteStore::open(&url(&path), &OpenOptions::default())
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert_eq!(health.aggregate_mismatches, Some(0));
    assert!(health.ok(), "{health:?}");
    assert_eq!(store.metrics(&q).await.unwrap(), want);
    store.close().await;
}
