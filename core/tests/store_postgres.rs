//! The PostgreSQL store against a real server named by `TUNELOOP_TEST_POSTGRES_URL`
//! (skipped, with a message, when it is not set): the shared conformance suite, each case
//! in its own schema, plus checks specific to PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

tuneloop::store_conformance_tests!(optional tuneloop::testing::postgres::fresh_store);

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tuneloop::model::{
    parse_timestamp, Bucket, Feedback, FeedbackKind, MetricsQuery, ProblematicQuery, RankBy,
    ResponseRecord,
};
use tuneloop::store::{
    FeedbackStore, FeedbackStoreExt, ItemOutcome, MemoryStore, OpenOptions, PgStore, RecordBatch,
    Rejection,
};
use tuneloop::testing::postgres::{fresh_pg, test_url, SchemaGuard};
use tuneloop::Error;

fn ts(s: &str) -> tuneloop::model::Timestamp {
    parse_timestamp(s).unwrap()
}

fn response(id: &str) -> ResponseRecord {
    ResponseRecord::new(id, "m1", "q?", "a", ts("2026-09-01T10:00:00Z"))
}

/// The part of `b` whose responses are `responses`, with their feedback.
fn part_of(b: &RecordBatch, responses: &[ResponseRecord]) -> RecordBatch {
    let ids: HashSet<&str> = responses.iter().map(|r| r.id.as_str()).collect();
    RecordBatch {
        responses: responses.to_vec(),
        feedback: b
            .feedback
            .iter()
            .filter(|f| ids.contains(f.response_id.as_str()))
            .cloned()
            .collect(),
    }
}

#[tokio::test]
async fn open_by_url_and_health() {
    let Some(url) = test_url() else { return };
    let guard = SchemaGuard::new(&url);
    let store = tuneloop::store::open(&guard.url(), &OpenOptions::default())
        .await
        .unwrap();
    assert_eq!(store.backend(), "postgres");
    store
        .record(&tuneloop::testing::sample_batch(20))
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert!(health.ok(), "{health:?}");
    assert_eq!(health.orphaned_feedback, Some(0));
    store.close().await.unwrap();

    let err = tuneloop::store::open(
        &tuneloop::testing::postgres::with_schema(&url, "Bad-Name"),
        &OpenOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

#[tokio::test]
async fn unmigrated_schema_reports_and_refuses_writes_then_migrates() {
    let Some(url) = test_url() else { return };
    let guard = SchemaGuard::new(&url);
    let opts = OpenOptions {
        migrate: false,
        ..OpenOptions::default()
    };
    let store = PgStore::open(&guard.url(), &opts).await.unwrap();
    let health = store.health().await.unwrap();
    assert!(!health.ok());
    assert_eq!(health.schema_version, None);
    assert!(health.missing_tables.contains(&"feedback".to_string()));
    let err = store.begin_write().await.err().expect("writes refused");
    assert!(err.to_string().contains("migrate the database"), "{err}");
    store.close().await;

    let store = PgStore::open(&guard.url(), &OpenOptions::default())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE my_notes (x int)")
        .execute(store.pool())
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert!(health.ok(), "{health:?}");
    assert_eq!(health.extra_tables, vec!["my_notes".to_string()]);

    // A newer tuneloop's schema is refused, migrating or not.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', true, '\\x00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    for migrate in [true, false] {
        let opts = OpenOptions {
            migrate,
            ..OpenOptions::default()
        };
        let err = PgStore::open(&guard.url(), &opts).await.unwrap_err();
        assert!(
            matches!(err, Error::SchemaTooNew { found: 9999, .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn health_counts_orphaned_feedback() {
    let Some((store, _guard)) = fresh_pg().await else {
        return;
    };
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
    assert_eq!(store.health().await.unwrap().orphaned_feedback, Some(0));
    sqlx::query("DELETE FROM responses WHERE id = 'r1'")
        .execute(store.pool())
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert_eq!(health.orphaned_feedback, Some(1));
    assert!(!health.ok());
}

#[tokio::test]
async fn outcomes_conflicts_and_unknown_responses_match_memory() {
    let Some((pg, _guard)) = fresh_pg().await else {
        return;
    };
    let pg: Arc<dyn FeedbackStore> = Arc::new(pg);
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
    for store in [&pg, &memory] {
        for b in &batches {
            let mut tx = store.begin_write().await.unwrap();
            tx.write(b).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
    let mut outcomes = Vec::new();
    for store in [&pg, &memory] {
        let mut tx = store.begin_write().await.unwrap();
        outcomes.push(tx.write(&batches[1]).await.unwrap());
        tx.rollback().await.unwrap();
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(matches!(
        &outcomes[0].responses[0],
        ItemOutcome::Rejected(Rejection::Conflict { reason }) if reason.contains("model_id, query")
    ));
    assert_eq!(pg.stats().await.unwrap(), memory.stats().await.unwrap());
    assert_eq!(
        pg.get_feedback("f1").await.unwrap(),
        memory.get_feedback("f1").await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_problematic_equal_memory_on_larger_data() {
    let Some((pg, _guard)) = fresh_pg().await else {
        return;
    };
    let memory = MemoryStore::new();
    let b = tuneloop::testing::sample_batch(3_000);
    // Several transactions, so keys continue across them.
    for chunk in b.responses.chunks(1_001) {
        let part = part_of(&b, chunk);
        pg.record(&part).await.unwrap();
        memory.record(&part).await.unwrap();
    }
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
    ];
    for q in &queries {
        assert_eq!(
            pg.metrics(q).await.unwrap(),
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
    ];
    for q in &problematic {
        assert_eq!(
            pg.problematic(q).await.unwrap(),
            memory.problematic(q).await.unwrap(),
            "{q:?}"
        );
    }
}

/// Eight writers, each with its own `PgStore` (its own pool, like separate processes),
/// write overlapping batches of the same ids at once, several rounds: nothing is lost,
/// nothing is stored twice, no writer fails, nobody deadlocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_writers_lose_nothing_and_never_deadlock() {
    let Some((first, guard)) = fresh_pg().await else {
        return;
    };
    let url = guard.url();
    let b = tuneloop::testing::sample_batch(2_000);
    let writers = 8;
    let rounds = 4;
    let mut handles = Vec::new();
    for w in 0..writers {
        let url = url.clone();
        let b = b.clone();
        handles.push(tokio::spawn(async move {
            let store = PgStore::open(&url, &OpenOptions::default()).await?;
            let mut inserted = 0u64;
            for round in 0..rounds {
                // Overlapping windows that differ per writer and round, in shuffled
                // orders (reversed for odd writers), so writers collide on the same ids.
                let n = b.responses.len();
                let start = (w * 250 + round * 300) % n;
                let mut part: Vec<ResponseRecord> = (0..1_000)
                    .map(|k| b.responses[(start + k) % n].clone())
                    .collect();
                if w % 2 == 1 {
                    part.reverse();
                }
                let batch = part_of(&b, &part);
                let s = store.record(&batch).await?;
                inserted += s.responses_inserted;
            }
            // A final full re-import: idempotent under concurrent writers.
            let s = store.record(&b).await?;
            inserted += s.responses_inserted;
            store.close().await;
            Ok::<u64, Error>(inserted)
        }));
    }
    let mut inserted = 0;
    for h in handles {
        let r = tokio::time::timeout(Duration::from_secs(120), h)
            .await
            .expect("a writer hung (deadlock?)")
            .unwrap();
        inserted += r.unwrap();
    }
    let stats = first.stats().await.unwrap();
    assert_eq!(stats.responses, 2_000);
    assert_eq!(stats.feedback as usize, b.feedback.len());
    assert_eq!(inserted, 2_000, "each response inserted exactly once");
    // The stored data equals a single writer's.
    let memory = MemoryStore::new();
    memory.record(&b).await.unwrap();
    assert_eq!(
        first.metrics(&MetricsQuery::default()).await.unwrap(),
        memory.metrics(&MetricsQuery::default()).await.unwrap()
    );
}

/// Needs no server: a refused connection fails at once, retryable, with the cause.
#[tokio::test]
async fn unreachable_server_fails_fast_and_retryable() {
    let start = std::time::Instant::now();
    let err = tuneloop::store::open(
        "postgres://postgres@127.0.0.1:1/test",
        &OpenOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
}

/// PostgreSQL text cannot hold U+0000: such an item is rejected alone, as invalid, and the
/// rest of the batch is stored.
#[tokio::test]
async fn nul_characters_are_rejected_per_item() {
    let Some((store, _guard)) = fresh_pg().await else {
        return;
    };
    let mut bad = response("r-bad");
    bad.response = "a\0b".into();
    let mut fb = Feedback::new(
        "f1",
        "r1",
        FeedbackKind::Stars { rating: 4 },
        ts("2026-09-01"),
    );
    fb.comment = Some("nul \0 here".into());
    let mut tx = store.begin_write().await.unwrap();
    let out = tx
        .write(&RecordBatch {
            responses: vec![response("r1"), bad],
            feedback: vec![fb],
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(out.responses[0], ItemOutcome::Inserted);
    assert!(matches!(
        &out.responses[1],
        ItemOutcome::Rejected(Rejection::Invalid { field, .. }) if field == "response"
    ));
    assert!(matches!(
        &out.feedback[0],
        ItemOutcome::Rejected(Rejection::Invalid { field, .. }) if field == "comment"
    ));
    assert_eq!(store.stats().await.unwrap().responses, 1);
}

/// Leases are exclusive across stores sharing a schema (as separate processes would), not
/// only within one store; job files and events written by one store are read by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_and_job_history_are_shared_between_stores() {
    let Some(url) = test_url() else { return };
    let guard = SchemaGuard::new(&url);
    let a = Arc::new(
        PgStore::open(&guard.url(), &OpenOptions::default())
            .await
            .unwrap(),
    );
    let b = Arc::new(
        PgStore::open(&guard.url(), &OpenOptions::default())
            .await
            .unwrap(),
    );
    let mut handles = Vec::new();
    for i in 0..12 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            store
                .try_lease("weekly", &format!("instance-{i}"), Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    for h in handles {
        winners.extend(h.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let holder = &winners[0].holder;
    assert!(b.release_lease("weekly", holder).await.unwrap());

    let file = tuneloop::store::JobFile::new("train.jsonl", "{}\n");
    a.put_job_file("j1", &file).await.unwrap();
    b.put_job_file("j1", &file).await.unwrap();
    assert_eq!(
        b.get_job_file("j1", "train.jsonl").await.unwrap(),
        Some(file)
    );
}

#[tokio::test]
async fn nul_characters_in_job_data_are_invalid_input() {
    let Some((store, _guard)) = fresh_pg().await else {
        return;
    };
    let file = tuneloop::store::JobFile::new("train.jsonl", "a\0b");
    match store.put_job_file("j1", &file).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "file.content"),
        other => panic!("{other:?}"),
    }
    let event = tuneloop::store::JobEventRecord {
        seq: 0,
        id: "e1".into(),
        source: "provider".into(),
        level: "info".into(),
        message: "nul \0 here".into(),
        created_at: ts("2026-09-01"),
    };
    match store.append_job_events("j1", &[event]).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "events[0].message"),
        other => panic!("{other:?}"),
    }
    // Lookups by a key no row can have find nothing rather than failing.
    assert_eq!(store.get_job_file("j\0", "x").await.unwrap(), None);
    assert!(store.list_job_events("j\0").await.unwrap().is_empty());
    assert!(!store.release_lease("l\0", "a").await.unwrap());
}

/// Issue 11, item 6: imports of the same lines in different orders, at once, in batches of
/// 200. Rows were ordered only within a batch, so two imports could each hold a row the
/// other needed (3 of 12 processes died of deadlocks in 2 of 3 trials); the importer now
/// writes every record of an import in one global order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_imports_in_different_orders_do_not_deadlock() {
    let Some(url) = test_url() else { return };
    let mut lines = Vec::new();
    for i in 0..600 {
        lines.push(format!(
            r#"{{"type":"response","id":"r{i}","model_id":"m{}","query":"q{i}","response":"a{i}","created_at":"2026-09-01T10:00:00Z"}}"#,
            i % 3
        ));
        lines.push(format!(
            r#"{{"type":"feedback","id":"f{i}","response_id":"r{i}","variant":"thumbs","thumbs_up":{},"created_at":"2026-09-01T11:00:00Z"}}"#,
            i % 2 == 0
        ));
    }
    for trial in 0..3 {
        let guard = SchemaGuard::new(&url);
        let mut tasks = Vec::new();
        for p in 0..12u64 {
            let mut mine = lines.clone();
            // Each importer sees the lines in its own order (responses still before their
            // feedback would not matter: the importer writes all responses first).
            let mut next = tuneloop::testing::xorshift(trial * 100 + p + 1);
            for i in (1..mine.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                mine.swap(i, j);
            }
            let text = mine.join("\n");
            let u = guard.url();
            tasks.push(tokio::spawn(async move {
                let store = tuneloop::store::open(&u, &OpenOptions::default()).await?;
                let options = tuneloop::io::ImportOptions {
                    batch_size: 200,
                    ..Default::default()
                };
                let r = tuneloop::io::import_jsonl(
                    store.as_ref(),
                    std::io::Cursor::new(text.into_bytes()),
                    &options,
                    None,
                    &|_| {},
                )
                .await;
                store.close().await?;
                r
            }));
        }
        let mut inserted = 0;
        for (p, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(r) => inserted += r.summary.responses_inserted + r.summary.feedback_inserted,
                Err(e) => panic!("trial {trial}, importer {p}: {}", e.with_causes()),
            }
        }
        assert_eq!(inserted, 1_200, "every row inserted exactly once");
        let store = tuneloop::store::open(&guard.url(), &OpenOptions::default())
            .await
            .unwrap();
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.responses, stats.feedback), (600, 600));
        store.close().await.unwrap();
    }
}

/// Damaged aggregates are counted by `check db`, visible in metrics, and rebuilt (the
/// shared check in `tuneloop::testing`).
#[tokio::test]
async fn corrupted_aggregates_are_reported_and_rebuilt() {
    let Some((store, _guard)) = fresh_pg().await else {
        return;
    };
    let pool = store.pool().clone();
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
}

/// The migration that adds the aggregates fills them from the rows already stored: undo it
/// on a schema with data and open it again.
#[tokio::test]
async fn migration_fills_aggregates_from_existing_rows() {
    let Some((store, guard)) = fresh_pg().await else {
        return;
    };
    let b = tuneloop::testing::sample_batch(80);
    store.record(&b).await.unwrap();
    for sql in [
        "DROP TABLE agg_responses",
        "DROP TABLE agg_feedback",
        "DROP TABLE agg_categories",
        "DROP TABLE agg_negatives",
        "DELETE FROM _sqlx_migrations WHERE version = 5",
    ] {
        sqlx::query(sql).execute(store.pool()).await.unwrap();
    }
    store.close().await;
    let store = PgStore::open(&guard.url(), &OpenOptions::default())
        .await
        .unwrap();
    let health = store.health().await.unwrap();
    assert_eq!(health.aggregate_mismatches, Some(0));
    assert!(health.ok(), "{health:?}");
    let q = MetricsQuery {
        bucket: Some(Bucket::Week),
        ..Default::default()
    };
    let want = tuneloop::analysis::metrics::compute_metrics(&b.responses, &b.feedback, &q);
    assert_eq!(store.metrics(&q).await.unwrap(), want);
    store.close().await;
}
