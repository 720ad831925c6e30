//! The store conformance suite: one set of behaviour checks every [`FeedbackStore`] backend
//! must pass (memory, SQLite, and any backend a host writes).
//!
//! ```text
//! async fn fresh() -> std::sync::Arc<dyn tuneloop::store::FeedbackStore> { /* empty store */ }
//! tuneloop::store_conformance_tests!(fresh);
//! ```
//! expands to one `#[tokio::test]` per case. Each case panics with a message on failure.

#![allow(clippy::unwrap_used, missing_docs)]

use crate::analysis::metrics::compute_metrics;
use crate::analysis::problematic::rank_problematic;
use crate::error::Error;
use crate::model::*;
use crate::store::*;
use std::sync::Arc;

mod comparisons;
mod faulty_ledger;
mod faulty_provider;
mod ledger;
mod provider;

pub use comparisons::*;
pub use faulty_ledger::{FaultPoint, FaultyLedger, LedgerOp};
pub use faulty_provider::{FaultyProvider, ProviderFault, ProviderOp};
pub use ledger::*;
pub use provider::*;

/// Generates one `#[tokio::test]` per conformance case for a store factory: an `async fn()`
/// (path) returning a fresh, empty `Arc<dyn FeedbackStore>`.
///
/// `store_conformance_tests!(optional factory)` is for backends that need an external
/// server: the factory returns `Option<(Arc<dyn FeedbackStore>, guard)>`; `None` makes the
/// case return at once (the factory says why it skips), and the guard (any type) is
/// dropped when the case ends, even when it fails, to clean up after it.
#[macro_export]
macro_rules! store_conformance_tests {
    (optional $factory:path) => {
        $crate::__store_conformance_list!(optional $factory);
    };
    ($factory:path) => {
        $crate::__store_conformance_list!(plain $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_list {
    ($mode:ident $factory:path) => {
        $crate::__store_conformance_cases!(
            $mode $factory;
            round_trip,
            idempotent_rewrite,
            conflict_keeps_original,
            mixed_batches_across_write_modes,
            record_is_atomic,
            unknown_response_rejected,
            feedback_may_follow_response_in_same_tx,
            uncommitted_writes_are_invisible,
            rollback_and_drop_discard,
            duplicate_ids_within_a_batch,
            invalid_items_rejected,
            out_of_range_timestamps_rejected,
            list_filters_and_paging,
            metrics_match_reference,
            metrics_over_random_ranges_match_reference,
            aggregates_agree_after_reimport_and_rebuild,
            trend_counts_match_rows,
            problematic_match_reference,
            problematic_ranks_by_rate_then_limits,
            stats_counts_and_models,
            runs_save_get_list,
            jobs_optimistic_concurrency,
            job_files_are_kept_once,
            job_events_append_in_order_without_repeats,
            leases_are_exclusive_and_renewable,
            leases_under_concurrency,
            leases_of_dead_holders_are_taken_over,
            lease_keeper_renews_and_reports_loss,
            concurrent_writers,
            timestamps_keep_microseconds,
            comparisons_round_trip_and_idempotent,
            comparisons_reference_checks,
            comparisons_filter_and_paging
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    (plain $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $factory().await;
                $crate::testing::$case(store).await;
            }
        )*
    };
    (optional $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((store, _guard)) = $factory().await else {
                    return;
                };
                $crate::testing::$case(store).await;
            }
        )*
    };
}

type Store = Arc<dyn FeedbackStore>;

fn ts(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

fn response(id: &str, model: &str, at: &str) -> ResponseRecord {
    ResponseRecord::new(
        id,
        model,
        format!("question {id}?"),
        format!("answer {id}"),
        ts(at),
    )
}

fn thumbs(id: &str, rid: &str, up: bool, at: &str) -> Feedback {
    Feedback::new(id, rid, FeedbackKind::Thumbs { up }, ts(at))
}

fn stars(id: &str, rid: &str, rating: u8, at: &str) -> Feedback {
    Feedback::new(id, rid, FeedbackKind::Stars { rating }, ts(at))
}

fn full(id: &str, rid: &str, rating: u8, cats: &[&str], at: &str) -> Feedback {
    let mut f = Feedback::new(
        id,
        rid,
        FeedbackKind::Full {
            rating,
            categories: cats.iter().map(|c| Category::new(c).unwrap()).collect(),
            correction: Some(format!("corrected {rid}")),
        },
        ts(at),
    );
    f.comment = Some(format!("comment on {rid}"));
    f.user_id = Some("u1".into());
    f
}

fn rich_response() -> ResponseRecord {
    let mut r = response("r-rich", "m1", "2026-09-01T10:00:00.123456Z");
    r.conversation = vec![
        Message {
            role: Role::System,
            content: "You are helpful.".into(),
        },
        Message {
            role: Role::User,
            content: "Hi — ünïcode ✓".into(),
        },
    ];
    r.metadata
        .insert("channel".into(), serde_json::json!("web"));
    r.metadata.insert(
        "nested".into(),
        serde_json::json!({"a": [1, 2.5, null, true]}),
    );
    r
}

fn batch(responses: Vec<ResponseRecord>, feedback: Vec<Feedback>) -> RecordBatch {
    RecordBatch {
        responses,
        feedback,
    }
}

/// A tiny deterministic pseudo-random generator (xorshift64) for test and benchmark data;
/// `seed` must not be 0.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.max(1);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Statements that damage a SQL store's daily aggregates (schema 5 on SQLite and
/// PostgreSQL) behind its back: a changed count, a deleted day of categories, an invented day.
pub const AGGREGATE_DAMAGE: [&str; 3] = [
    "UPDATE agg_feedback SET n = n + 7 WHERE day = (SELECT MIN(day) FROM agg_feedback)",
    "DELETE FROM agg_categories WHERE day = (SELECT MAX(day) FROM agg_categories)",
    "INSERT INTO agg_responses (model_key, day, n) SELECT MIN(key), 3, 5 FROM models",
];

/// Records [`sample_batch`] in an empty SQL `store`, damages its aggregates with `damage`
/// (which runs one of [`AGGREGATE_DAMAGE`] on the store's database and returns the rows it
/// changed), then checks that the health report (`check db`) counts exactly the rows
/// touched, that metrics show the damage (so they do read the aggregates), and that the
/// rebuild restores figures equal to the reference computation.
pub async fn corrupted_aggregates_are_reported_and_rebuilt<F, Fut>(
    store: &dyn FeedbackStore,
    damage: F,
) where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let b = sample_batch(80);
    let q = MetricsQuery {
        bucket: Some(Bucket::Day),
        ..Default::default()
    };
    let want = compute_metrics(&b.responses, &b.feedback, &q);
    store.record(&b).await.expect("record");
    let health = store.health().await.expect("health");
    assert_eq!(health.aggregate_mismatches, Some(0));
    let mut touched = 0;
    for sql in AGGREGATE_DAMAGE {
        let n = damage(sql).await;
        assert!(n > 0, "{sql} changed nothing");
        touched += n;
    }
    let health = store.health().await.expect("health");
    assert_eq!(health.aggregate_mismatches, Some(touched));
    assert!(!health.ok());
    assert_ne!(store.metrics(&q).await.expect("metrics"), want);
    let done = store.rebuild_aggregates().await.expect("rebuild");
    assert_eq!(done.mismatched, touched);
    let health = store.health().await.expect("health");
    assert_eq!(health.aggregate_mismatches, Some(0));
    assert_eq!(store.metrics(&q).await.expect("metrics"), want);
}

/// A deterministic mixed data set: 3 models, 4 weeks, every variant.
pub fn sample_batch(n_responses: usize) -> RecordBatch {
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
    let models = ["alpha", "beta", "gamma"];
    let cats = ["hallucination", "incomplete", "tone", "custom_billing"];
    let start = ts("2026-09-01T00:00:00Z");
    let mut b = RecordBatch::default();
    for i in 0..n_responses {
        let model = models[(next() % 3) as usize];
        let at = start + chrono::Duration::seconds((next() % (28 * 86_400)) as i64);
        let rid = format!("r{i}");
        b.responses.push(ResponseRecord::new(
            &rid,
            model,
            format!("q{i}"),
            format!("a{i}"),
            at,
        ));
        let n_fb = next() % 4;
        for j in 0..n_fb {
            let fat = at + chrono::Duration::seconds((next() % 3600) as i64);
            let kind = match next() % 3 {
                0 => FeedbackKind::Thumbs {
                    up: next() % 2 == 0,
                },
                1 => FeedbackKind::Stars {
                    rating: (next() % 5 + 1) as u8,
                },
                _ => {
                    let n_c = next() % 3;
                    let categories = (0..n_c)
                        .map(|_| Category::new(cats[(next() % 4) as usize]).unwrap())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    FeedbackKind::Full {
                        rating: (next() % 5 + 1) as u8,
                        categories,
                        correction: (next() % 2 == 0).then(|| format!("fix {i}")),
                    }
                }
            };
            let mut f = Feedback::new(format!("f{i}-{j}"), &rid, kind, fat);
            if next() % 2 == 0 {
                f.comment = Some(format!("comment {i}-{j}"));
            }
            b.feedback.push(f);
        }
    }
    b
}

pub async fn round_trip(store: Store) {
    let r = rich_response();
    let fs = vec![
        thumbs("f1", "r-rich", false, "2026-09-01T10:05:00Z"),
        stars("f2", "r-rich", 3, "2026-09-01T10:06:00Z"),
        full(
            "f3",
            "r-rich",
            1,
            &["hallucination", "custom_cat"],
            "2026-09-01T10:07:00Z",
        ),
    ];
    let s = store
        .record(&batch(vec![r.clone()], fs.clone()))
        .await
        .unwrap();
    assert_eq!((s.responses_inserted, s.feedback_inserted), (1, 3));
    assert_eq!(store.get_response("r-rich").await.unwrap(), Some(r));
    for f in fs {
        assert_eq!(store.get_feedback(&f.id).await.unwrap(), Some(f));
    }
    assert_eq!(store.get_response("nope").await.unwrap(), None);
    assert_eq!(store.get_feedback("nope").await.unwrap(), None);
}

pub async fn idempotent_rewrite(store: Store) {
    let b = sample_batch(50);
    let first = store.record(&b).await.unwrap();
    assert_eq!(first.responses_inserted, 50);
    assert_eq!(first.feedback_inserted as usize, b.feedback.len());
    let before = store.stats().await.unwrap();
    let second = store.record(&b).await.unwrap();
    assert_eq!(second.responses_inserted + second.feedback_inserted, 0);
    assert_eq!(second.responses_unchanged, 50);
    assert_eq!(second.feedback_unchanged as usize, b.feedback.len());
    assert_eq!(store.stats().await.unwrap(), before);
}

/// Batches that move between all-new ids and ids already stored (PostgreSQL switches
/// between `COPY` and `INSERT … ON CONFLICT` on exactly these transitions): every item's
/// outcome is right in each, and everything reads back.
pub async fn mixed_batches_across_write_modes(store: Store) {
    let b = sample_batch(90);
    let (r, f) = (b.responses.len(), b.feedback.len());
    let part = |rs: std::ops::Range<usize>, fs: std::ops::Range<usize>| RecordBatch {
        responses: b.responses[rs].to_vec(),
        feedback: b.feedback[fs].to_vec(),
    };
    // All new.
    let first = store.record(&part(0..r / 2, 0..0)).await.unwrap();
    assert_eq!(first.responses_inserted as usize, r / 2);
    // Half stored already, half new, and one stored id with other content.
    let mut mixed = part(r / 3..r, 0..f / 2);
    let changed = mixed.responses[0].id.clone();
    mixed.responses[0].response.push_str(" (edited)");
    let mut tx = store.begin_write().await.unwrap();
    let outcome = tx.write(&mixed).await.unwrap();
    tx.commit().await.unwrap();
    for (o, item) in outcome.responses.iter().zip(&mixed.responses) {
        let pos = b.responses.iter().position(|x| x.id == item.id).unwrap();
        let want_conflict = item.id == changed;
        match o {
            ItemOutcome::Rejected(Rejection::Conflict { .. }) => assert!(want_conflict),
            ItemOutcome::Unchanged => assert!(!want_conflict && pos < r / 2, "{}", item.id),
            ItemOutcome::Inserted => assert!(pos >= r / 2, "{}", item.id),
            other => panic!("{}: {other:?}", item.id),
        }
    }
    assert!(outcome
        .feedback
        .iter()
        .all(|o| matches!(o, ItemOutcome::Inserted)));
    // All new again, then the whole batch once more (all stored).
    let third = store.record(&part(0..0, f / 2..f)).await.unwrap();
    assert_eq!(third.feedback_inserted as usize, f - f / 2);
    let again = store.record(&part(0..r, 0..f)).await;
    // The edited response was refused, so the original is what the store keeps.
    assert!(again.is_ok(), "{again:?}");
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.responses as usize, stats.feedback as usize), (r, f));
    for item in &b.responses {
        assert_eq!(
            store.get_response(&item.id).await.unwrap().as_ref(),
            Some(item)
        );
    }
    for item in &b.feedback {
        assert_eq!(
            store.get_feedback(&item.id).await.unwrap().as_ref(),
            Some(item)
        );
    }
    assert_eq!(
        store
            .health()
            .await
            .unwrap()
            .aggregate_mismatches
            .unwrap_or(0),
        0
    );
}

pub async fn conflict_keeps_original(store: Store) {
    let r = response("r1", "m1", "2026-09-01T10:00:00Z");
    store.record_response(r.clone()).await.unwrap();
    let mut other = r.clone();
    other.response = "something else".into();
    let err = store.record_response(other).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("response"), "{err}");
    assert_eq!(store.get_response("r1").await.unwrap(), Some(r));

    let f = thumbs("f1", "r1", true, "2026-09-01T10:01:00Z");
    store.record_feedback(f.clone()).await.unwrap();
    let err = store
        .record_feedback(thumbs("f1", "r1", false, "2026-09-01T10:01:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(store.get_feedback("f1").await.unwrap(), Some(f));
}

pub async fn record_is_atomic(store: Store) {
    store
        .record_response(response("r1", "m1", "2026-09-01T10:00:00Z"))
        .await
        .unwrap();
    let mut conflicting = response("r1", "m1", "2026-09-01T10:00:00Z");
    conflicting.query = "changed".into();
    let b = batch(
        vec![response("r2", "m1", "2026-09-01T11:00:00Z"), conflicting],
        vec![thumbs("f2", "r2", true, "2026-09-01T11:00:00Z")],
    );
    assert!(store.record(&b).await.is_err());
    assert_eq!(store.get_response("r2").await.unwrap(), None);
    assert_eq!(store.get_feedback("f2").await.unwrap(), None);
    assert_eq!(store.stats().await.unwrap().responses, 1);
}

pub async fn unknown_response_rejected(store: Store) {
    let err = store
        .record_feedback(thumbs("f1", "ghost", true, "2026-09-01T10:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { kind: "response", ref id } if id == "ghost"),
        "{err:?}"
    );
    assert_eq!(store.stats().await.unwrap().feedback, 0);
}

pub async fn feedback_may_follow_response_in_same_tx(store: Store) {
    let mut tx = store.begin_write().await.unwrap();
    let o = tx
        .write(&batch(
            vec![response("r1", "m1", "2026-09-01T10:00:00Z")],
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(o.responses, vec![ItemOutcome::Inserted]);
    let o = tx
        .write(&batch(
            vec![],
            vec![
                thumbs("f1", "r1", true, "2026-09-01T10:00:00Z"),
                thumbs("f2", "ghost", true, "2026-09-01T10:00:00Z"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(o.feedback[0], ItemOutcome::Inserted);
    assert!(matches!(
        o.feedback[1],
        ItemOutcome::Rejected(Rejection::UnknownResponse { .. })
    ));
    let s = tx.commit().await.unwrap();
    assert_eq!((s.responses_inserted, s.feedback_inserted), (1, 1));
    assert!(store.get_feedback("f1").await.unwrap().is_some());
    assert!(store.get_feedback("f2").await.unwrap().is_none());
}

pub async fn uncommitted_writes_are_invisible(store: Store) {
    let mut tx = store.begin_write().await.unwrap();
    tx.write(&batch(
        vec![response("r1", "m1", "2026-09-01T10:00:00Z")],
        vec![thumbs("f1", "r1", true, "2026-09-01T10:00:00Z")],
    ))
    .await
    .unwrap();
    assert_eq!(store.get_response("r1").await.unwrap(), None);
    assert_eq!(store.stats().await.unwrap().responses, 0);
    tx.commit().await.unwrap();
    assert!(store.get_response("r1").await.unwrap().is_some());
}

pub async fn rollback_and_drop_discard(store: Store) {
    let mut tx = store.begin_write().await.unwrap();
    tx.write(&batch(
        vec![response("r1", "m1", "2026-09-01T10:00:00Z")],
        vec![],
    ))
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.get_response("r1").await.unwrap(), None);
    {
        let mut tx = store.begin_write().await.unwrap();
        tx.write(&batch(
            vec![response("r2", "m1", "2026-09-01T10:00:00Z")],
            vec![],
        ))
        .await
        .unwrap();
    }
    assert_eq!(store.get_response("r2").await.unwrap(), None);
    // The store is still writable after a dropped transaction.
    store
        .record_response(response("r3", "m1", "2026-09-01T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(store.stats().await.unwrap().responses, 1);
}

pub async fn duplicate_ids_within_a_batch(store: Store) {
    let r = response("r1", "m1", "2026-09-01T10:00:00Z");
    let mut r_other = r.clone();
    r_other.response = "different".into();
    let mut tx = store.begin_write().await.unwrap();
    let o = tx
        .write(&batch(vec![r.clone(), r.clone(), r_other], vec![]))
        .await
        .unwrap();
    assert_eq!(o.responses[0], ItemOutcome::Inserted);
    assert_eq!(o.responses[1], ItemOutcome::Unchanged);
    assert!(matches!(
        o.responses[2],
        ItemOutcome::Rejected(Rejection::Conflict { .. })
    ));
    let f = thumbs("f1", "r1", true, "2026-09-01T10:00:00Z");
    let o = tx
        .write(&batch(
            vec![],
            vec![
                f.clone(),
                f,
                thumbs("f1", "r1", false, "2026-09-01T10:00:00Z"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(o.feedback[0], ItemOutcome::Inserted);
    assert_eq!(o.feedback[1], ItemOutcome::Unchanged);
    assert!(matches!(
        o.feedback[2],
        ItemOutcome::Rejected(Rejection::Conflict { .. })
    ));
    let s = tx.commit().await.unwrap();
    assert_eq!(
        (
            s.responses_inserted,
            s.responses_unchanged,
            s.feedback_inserted
        ),
        (1, 1, 1)
    );
    assert_eq!(store.stats().await.unwrap().feedback, 1);
}

pub async fn invalid_items_rejected(store: Store) {
    let mut empty_id = response("", "m1", "2026-09-01T10:00:00Z");
    empty_id.id = "  ".into();
    let err = store.record_response(empty_id).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "response.id"),
        "{err:?}"
    );
    let mut huge = response("r1", "m1", "2026-09-01T10:00:00Z");
    huge.response = "x".repeat(Limits::default().max_text_bytes + 1);
    let err = store.record_response(huge).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "response.response"),
        "{err:?}"
    );
    assert_eq!(store.stats().await.unwrap().responses, 0);
}

/// Record times outside 2000-01-01 ..< 2100-01-01 are invalid on every write path (both
/// ends exact to the microsecond), and the rejection names the field and the range.
pub async fn out_of_range_timestamps_rejected(store: Store) {
    let expect_invalid = |got: crate::Result<WriteSummary>, field: &str, at: &str| match got {
        Err(Error::InvalidInput { field: f, reason }) => {
            assert_eq!(f, field, "{at}");
            assert!(
                reason.contains("outside the supported range 2000-01-01..2100-01-01"),
                "{at}: {reason}"
            );
        }
        other => panic!("{at}: {other:?}"),
    };
    for at in [
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "1999-12-31T23:59:59.999999Z",
        "2100-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        let got = store.record_response(response("r-out", "m1", at)).await;
        expect_invalid(got, "response.created_at", at);
    }
    store
        .record_response(response("r-first", "m1", "2000-01-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .record_response(response("r-last", "m1", "2099-12-31T23:59:59.999999Z"))
        .await
        .unwrap();
    for at in ["1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z"] {
        let got = store
            .record_feedback(thumbs("f-out", "r-first", false, at))
            .await;
        expect_invalid(got, "feedback.created_at", at);
    }
    // Inside a transaction the item is rejected and the others are written.
    let mut tx = store.begin_write().await.unwrap();
    let out = tx
        .write(&batch(
            vec![
                response("r-old", "m1", "0001-01-01T00:00:00Z"),
                response("r-ok", "m1", "2026-09-01T10:00:00Z"),
            ],
            vec![],
        ))
        .await
        .unwrap();
    assert!(
        matches!(
            &out.responses[0],
            ItemOutcome::Rejected(Rejection::Invalid { field, .. }) if field == "created_at"
        ),
        "{out:?}"
    );
    assert_eq!(out.responses[1], ItemOutcome::Inserted);
    tx.commit().await.unwrap();
    let s = store.stats().await.unwrap();
    assert_eq!((s.responses, s.feedback), (3, 0));
}

pub async fn list_filters_and_paging(store: Store) {
    let b = sample_batch(120);
    store.record(&b).await.unwrap();

    // Paging walks everything in insertion order.
    let mut seen = Vec::new();
    let mut page = PageRequest::first(7);
    loop {
        let p = store
            .list_responses(&ResponseFilter::default(), &page)
            .await
            .unwrap();
        assert!(p.items.len() <= 7);
        seen.extend(p.items.into_iter().map(|r| r.id));
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    let expected: Vec<String> = b.responses.iter().map(|r| r.id.clone()).collect();
    assert_eq!(seen, expected);

    let since = ts("2026-09-08T00:00:00Z");
    let until = ts("2026-09-20T00:00:00Z");
    let rf = ResponseFilter {
        model: Some("beta".into()),
        since: Some(since),
        until: Some(until),
    };
    let got: Vec<String> = store
        .all_responses(&rf)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let want: Vec<String> = b
        .responses
        .iter()
        .filter(|r| r.model_id == "beta" && r.created_at >= since && r.created_at < until)
        .map(|r| r.id.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    let model_of: std::collections::HashMap<&str, &str> = b
        .responses
        .iter()
        .map(|r| (r.id.as_str(), r.model_id.as_str()))
        .collect();
    let filters = vec![
        FeedbackFilter::default(),
        FeedbackFilter {
            model: Some("alpha".into()),
            ..Default::default()
        },
        FeedbackFilter {
            polarity: Some(Polarity::Negative),
            ..Default::default()
        },
        FeedbackFilter {
            category: Some(Category::new("hallucination").unwrap()),
            ..Default::default()
        },
        FeedbackFilter {
            variant: Some(Variant::Stars),
            since: Some(since),
            until: Some(until),
            ..Default::default()
        },
        FeedbackFilter {
            response_id: Some(b.feedback[0].response_id.clone()),
            ..Default::default()
        },
    ];
    for filter in filters {
        let got: Vec<String> = store
            .all_feedback(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        let want: Vec<String> = b
            .feedback
            .iter()
            .filter(|f| {
                filter
                    .model
                    .as_deref()
                    .is_none_or(|m| model_of[f.response_id.as_str()] == m)
                    && filter
                        .response_id
                        .as_deref()
                        .is_none_or(|r| r == f.response_id)
                    && filter.since.is_none_or(|s| f.created_at >= s)
                    && filter.until.is_none_or(|u| f.created_at < u)
                    && filter.polarity.is_none_or(|p| p == f.polarity())
                    && filter.variant.is_none_or(|v| v == f.variant())
                    && filter
                        .category
                        .as_ref()
                        .is_none_or(|c| f.categories().contains(c))
            })
            .map(|f| f.id.clone())
            .collect();
        assert!(!want.is_empty(), "filter {filter:?} matches nothing");
        assert_eq!(got, want, "filter {filter:?}");
    }
}

pub async fn metrics_match_reference(store: Store) {
    let b = sample_batch(400);
    store.record(&b).await.unwrap();
    let queries = vec![
        MetricsQuery::default(),
        MetricsQuery {
            model: Some("gamma".into()),
            ..Default::default()
        },
        MetricsQuery {
            since: Some(ts("2026-09-05T00:00:00Z")),
            until: Some(ts("2026-09-19T12:00:00Z")),
            bucket: Some(Bucket::Day),
            ..Default::default()
        },
        MetricsQuery {
            bucket: Some(Bucket::Week),
            ..Default::default()
        },
        MetricsQuery {
            model: Some("no-such-model".into()),
            ..Default::default()
        },
    ];
    for q in queries {
        let got = store.metrics(&q).await.unwrap();
        let want = compute_metrics(&b.responses, &b.feedback, &q);
        assert_eq!(got, want, "query {q:?}");
    }
    let all = store.metrics(&MetricsQuery::default()).await.unwrap();
    assert_eq!(all.models.len(), 3);
    assert!(all.models.iter().all(|m| m.figures.feedback > 0));
}

/// A random bound for metrics: none, midnight UTC of a day around the sample's four weeks,
/// or any second of those days (so partial first and last days are exercised).
fn random_bound(next: &mut impl FnMut() -> u64) -> Option<Timestamp> {
    let start = ts("2026-08-29T00:00:00Z");
    let day = chrono::Duration::days((next() % 34) as i64);
    match next() % 4 {
        0 => None,
        1 => Some(start + day),
        _ => Some(start + day + chrono::Duration::seconds((next() % 86_400) as i64)),
    }
}

pub async fn metrics_over_random_ranges_match_reference(store: Store) {
    let b = sample_batch(300);
    // Several transactions, then the whole batch again: the repeats must not count twice.
    let (r, f) = (b.responses.len(), b.feedback.len());
    for (rs, fs) in [(0..r / 3, 0..0), (r / 3..r, 0..f / 2), (0..0, f / 2..f)] {
        store
            .record(&RecordBatch {
                responses: b.responses[rs].to_vec(),
                feedback: b.feedback[fs].to_vec(),
            })
            .await
            .unwrap();
    }
    let again = store.record(&b).await.unwrap();
    assert_eq!(again.responses_inserted + again.feedback_inserted, 0);
    let mut next = xorshift(0x5EED_0016);
    let models = [None, Some("alpha"), Some("beta")];
    let buckets = [None, Some(Bucket::Day), Some(Bucket::Week)];
    let mut non_empty = 0;
    for _ in 0..60 {
        let q = MetricsQuery {
            model: models[(next() % 3) as usize].map(str::to_string),
            since: random_bound(&mut next),
            until: random_bound(&mut next),
            bucket: buckets[(next() % 3) as usize],
        };
        let got = store.metrics(&q).await.unwrap();
        let want = compute_metrics(&b.responses, &b.feedback, &q);
        if !want.models.is_empty() {
            non_empty += 1;
        }
        assert_eq!(got, want, "query {q:?}");
    }
    assert!(non_empty > 20, "only {non_empty} ranges held data");
    // Short ranges around stored responses, which random bounds seldom give: inside one
    // day, across one midnight, a whole day with cut edges, one microsecond, and reversed.
    let hour = chrono::Duration::hours(1);
    let mut short = 0;
    for r in b.responses.iter().step_by(37) {
        let t = r.created_at;
        let midnight = t.date_naive().and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        let Some(midnight) = midnight else { continue };
        for (since, until) in [
            (t - hour, t + hour),
            (midnight - hour, midnight + hour),
            (midnight - hour, midnight + chrono::Duration::hours(25)),
            (t, t + chrono::Duration::microseconds(1)),
            (t + hour, t - hour),
        ] {
            for bucket in buckets {
                let q = MetricsQuery {
                    model: Some(r.model_id.clone()),
                    since: Some(since),
                    until: Some(until),
                    bucket,
                };
                let got = store.metrics(&q).await.unwrap();
                let want = compute_metrics(&b.responses, &b.feedback, &q);
                short += usize::from(!want.models.is_empty());
                assert_eq!(got, want, "query {q:?}");
            }
        }
    }
    assert!(short > 20, "only {short} short ranges held data");
}

pub async fn aggregates_agree_after_reimport_and_rebuild(store: Store) {
    let b = sample_batch(120);
    store.record(&b).await.unwrap();
    store.record(&b).await.unwrap();
    let health = store.health().await.unwrap();
    match store.rebuild_aggregates().await {
        Err(Error::Unsupported { .. }) => {
            assert_eq!(health.aggregate_mismatches, None);
            return;
        }
        Err(e) => panic!("rebuild failed: {e}"),
        Ok(done) => {
            assert_eq!(health.aggregate_mismatches, Some(0));
            assert_eq!(
                done.mismatched, 0,
                "the written aggregates were already right"
            );
            assert!(done.rows > 0);
        }
    }
    let q = MetricsQuery {
        bucket: Some(Bucket::Week),
        ..Default::default()
    };
    let want = compute_metrics(&b.responses, &b.feedback, &q);
    assert_eq!(store.metrics(&q).await.unwrap(), want);
    assert_eq!(store.health().await.unwrap().aggregate_mismatches, Some(0));
}

pub async fn trend_counts_match_rows(store: Store) {
    use crate::analysis::weekly::{category_trends, category_trends_from_days};
    let mut b = sample_batch(200);
    // A stray old response (left out of the series, counted as omitted) and an item naming
    // a category twice (counted once by the series).
    b.responses
        .push(response("r-old", "alpha", "2020-01-06T10:00:00Z"));
    b.feedback
        .push(full("f-old", "r-old", 1, &["tone"], "2020-01-06T11:00:00Z"));
    b.feedback.push(full(
        "f-twice",
        "r3",
        1,
        &["tone", "tone", "incomplete"],
        "2026-09-10T11:00:00Z",
    ));
    store.record(&b).await.unwrap();
    store.record(&b).await.unwrap();
    let mut next = xorshift(0x7E4D_0016);
    let midnight = |next: &mut dyn FnMut() -> u64| match next() % 3 {
        0 => None,
        _ => Some(ts("2026-08-29T00:00:00Z") + chrono::Duration::days((next() % 34) as i64)),
    };
    let mut non_empty = 0;
    for i in 0..40 {
        let (since, until) = if i == 0 {
            (None, None)
        } else {
            (midnight(&mut next), midnight(&mut next))
        };
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                continue;
            }
        }
        let q = TrendQuery {
            model: [None, Some("alpha"), Some("gamma")][(next() % 3) as usize].map(str::to_string),
            since,
            until,
            ..Default::default()
        };
        let day = |t: Option<Timestamp>| {
            t.map(|t| crate::model::time::to_micros(&t).div_euclid(86_400_000_000))
        };
        let days = match store
            .daily_trend_counts(q.model.as_deref(), day(since), day(until))
            .await
        {
            Err(Error::Unsupported { .. }) => return,
            other => other.unwrap(),
        };
        let got = category_trends_from_days(&days, &q);
        let want = category_trends(&b.responses, &b.feedback, &q);
        if !want.trends.is_empty() {
            non_empty += 1;
        }
        assert_eq!(got, want, "query {q:?}");
    }
    assert!(non_empty > 10, "only {non_empty} ranges had trends");
}

pub async fn problematic_match_reference(store: Store) {
    let b = sample_batch(300);
    store.record(&b).await.unwrap();
    for q in [
        ProblematicQuery::default(),
        ProblematicQuery {
            model: Some("alpha".into()),
            limit: 5,
            ..Default::default()
        },
        ProblematicQuery {
            since: Some(ts("2026-09-10T00:00:00Z")),
            until: Some(ts("2026-09-20T00:00:00Z")),
            limit: 1000,
            ..Default::default()
        },
    ] {
        for rank_by in [RankBy::Rate, RankBy::Count] {
            let q = ProblematicQuery {
                rank_by,
                ..q.clone()
            };
            let got = store.problematic(&q).await.unwrap();
            let want = rank_problematic(&b.responses, &b.feedback, &q);
            assert!(!want.is_empty());
            assert_eq!(got, want, "query {q:?}");
            assert!(got.iter().all(|p| p.negative > 0));
        }
    }
}

/// 12 negatives out of 12 outrank 20 out of 60 by rate (the default), not by count; the
/// limit applies after ranking, so `limit: 1` by rate returns the 12/12 response although
/// more responses have more negatives than it.
pub async fn problematic_ranks_by_rate_then_limits(store: Store) {
    let mut b = RecordBatch::default();
    let mut fid = 0;
    let mut add = |b: &mut RecordBatch, id: &str, negative: usize, total: usize| {
        b.responses
            .push(response(id, "alpha", "2026-09-01T10:00:00Z"));
        for i in 0..total {
            fid += 1;
            b.feedback.push(Feedback::new(
                format!("f{fid:05}"),
                id,
                FeedbackKind::Thumbs { up: i >= negative },
                ts("2026-09-02T10:00:00Z"),
            ));
        }
    };
    add(&mut b, "always-bad", 12, 12);
    add(&mut b, "often-rated", 20, 60);
    for k in 0..5 {
        add(&mut b, &format!("mixed-{k}"), 14 + k, 80);
    }
    add(&mut b, "fine", 0, 10);
    store.record(&b).await.unwrap();
    let ids = |list: &[ProblematicResponse]| {
        list.iter()
            .map(|p| p.response_id.clone())
            .collect::<Vec<_>>()
    };
    let top1 = store
        .problematic(&ProblematicQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&top1), ["always-bad"]);
    assert_eq!(top1[0].negative_rate, 1.0);
    assert!(top1[0].wilson_lower > 0.7, "{}", top1[0].wilson_lower);
    let by_count = store
        .problematic(&ProblematicQuery {
            limit: 3,
            rank_by: RankBy::Count,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&by_count), ["often-rated", "mixed-4", "mixed-3"]);
    let all = store
        .problematic(&ProblematicQuery::default())
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        7,
        "every response with a negative item, not `fine`"
    );
    assert_eq!(all[0].response_id, "always-bad");
    for w in all.windows(2) {
        assert!(w[0].wilson_lower >= w[1].wilson_lower, "{:?}", ids(&all));
    }
    let want = rank_problematic(&b.responses, &b.feedback, &ProblematicQuery::default());
    assert_eq!(all, want);
}

pub async fn stats_counts_and_models(store: Store) {
    assert_eq!(store.stats().await.unwrap(), StoreStats::default());
    let b = sample_batch(30);
    store.record(&b).await.unwrap();
    let s = store.stats().await.unwrap();
    assert_eq!(s.responses, 30);
    assert_eq!(s.feedback as usize, b.feedback.len());
    assert_eq!(s.models, vec!["alpha", "beta", "gamma"]);
}

pub async fn runs_save_get_list(store: Store) {
    let run = |id: &str, kind: &str, at: &str| RunRecord {
        id: id.into(),
        kind: kind.into(),
        created_at: ts(at),
        params: serde_json::json!({"model": null, "k": 3}),
        result: serde_json::json!({"patterns": [{"id": "p1", "size": 4}]}),
    };
    store
        .save_run(&run("a", "analysis", "2026-09-01T00:00:00Z"))
        .await
        .unwrap();
    store
        .save_run(&run("b", "analysis", "2026-09-08T00:00:00Z"))
        .await
        .unwrap();
    store
        .save_run(&run("c", "other", "2026-09-09T00:00:00Z"))
        .await
        .unwrap();
    store
        .save_run(&run("a", "analysis", "2026-09-01T00:00:00Z"))
        .await
        .unwrap();
    let mut changed = run("a", "analysis", "2026-09-01T00:00:00Z");
    changed.result = serde_json::json!({});
    assert!(matches!(
        store.save_run(&changed).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        store.get_run("a").await.unwrap(),
        Some(run("a", "analysis", "2026-09-01T00:00:00Z"))
    );
    let ids: Vec<String> = store
        .list_runs(Some("analysis"), 0)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec!["b", "a"]);
    assert_eq!(store.list_runs(None, 1).await.unwrap()[0].id, "c");
}

pub async fn jobs_optimistic_concurrency(store: Store) {
    let job = JobRecord {
        id: "j1".into(),
        model_id: "m1".into(),
        status: "draft".into(),
        version: 0,
        created_at: ts("2026-09-01T00:00:00Z"),
        updated_at: ts("2026-09-01T00:00:00Z"),
        data: serde_json::json!({"estimated_cost": 120}),
    };
    assert_eq!(store.put_job(&job, None).await.unwrap(), 1);
    assert!(matches!(
        store.put_job(&job, None).await,
        Err(Error::Conflict { .. })
    ));
    let mut running = job.clone();
    running.status = "running".into();
    assert_eq!(store.put_job(&running, Some(1)).await.unwrap(), 2);
    assert!(matches!(
        store.put_job(&running, Some(1)).await,
        Err(Error::Conflict { .. })
    ));
    let mut ghost = job.clone();
    ghost.id = "ghost".into();
    assert!(matches!(
        store.put_job(&ghost, Some(1)).await,
        Err(Error::NotFound { .. })
    ));
    let stored = store.get_job("j1").await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.version), ("running", 2));
    let mut other = job.clone();
    other.id = "j2".into();
    other.model_id = "m2".into();
    other.created_at = ts("2026-09-02T00:00:00Z");
    store.put_job(&other, None).await.unwrap();
    let all = store.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        vec!["j2", "j1"]
    );
    let m1 = store
        .list_jobs(&JobFilter {
            model_id: Some("m1".into()),
            status: Some("running".into()),
            limit: 0,
        })
        .await
        .unwrap();
    assert_eq!(m1.len(), 1);
}

pub async fn job_files_are_kept_once(store: Store) {
    let file = JobFile::new("train.jsonl", "{\"messages\":[]}\n");
    assert_eq!(file.bytes, 16);
    assert_eq!(store.get_job_file("j1", "train.jsonl").await.unwrap(), None);
    store.put_job_file("j1", &file).await.unwrap();
    store.put_job_file("j1", &file).await.unwrap(); // same content: no-op
    assert_eq!(
        store.get_job_file("j1", "train.jsonl").await.unwrap(),
        Some(file.clone())
    );
    let other = JobFile::new("train.jsonl", "{}\n");
    assert!(matches!(
        store.put_job_file("j1", &other).await,
        Err(Error::Conflict { .. })
    ));
    // Files are per job and per name.
    store.put_job_file("j2", &other).await.unwrap();
    let v = JobFile::new("validation.jsonl", "");
    store.put_job_file("j1", &v).await.unwrap();
    assert_eq!(
        store.get_job_file("j1", "validation.jsonl").await.unwrap(),
        Some(v)
    );
    assert_eq!(
        store.get_job_file("j1", "train.jsonl").await.unwrap(),
        Some(file.clone())
    );
    // A digest that does not match the content is refused, naming the field.
    let mut forged = file.clone();
    forged.content.push('x');
    match store.put_job_file("j3", &forged).await {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "file.sha256"),
        other => panic!("{other:?}"),
    }
    // Large, non-ASCII content survives intact.
    let big = JobFile::new("big.jsonl", "é✓ line\n".repeat(50_000));
    store.put_job_file("j4", &big).await.unwrap();
    assert_eq!(
        store.get_job_file("j4", "big.jsonl").await.unwrap(),
        Some(big)
    );
}

fn event(id: &str, source: &str, message: &str, at: &str) -> JobEventRecord {
    JobEventRecord {
        seq: 0,
        id: id.into(),
        source: source.into(),
        level: "info".into(),
        message: message.into(),
        created_at: ts(at),
    }
}

pub async fn job_events_append_in_order_without_repeats(store: Store) {
    assert!(store.list_job_events("j1").await.unwrap().is_empty());
    let first = vec![
        event(
            "tuneloop-1",
            "tuneloop",
            "draft created",
            "2026-09-01T10:00:00Z",
        ),
        event(
            "ftevent-1",
            "provider",
            "validating",
            "2026-09-01T10:01:00.5Z",
        ),
    ];
    assert_eq!(store.append_job_events("j1", &first).await.unwrap(), 2);
    // Re-reading the provider's log adds only what is new.
    let again = vec![
        event(
            "ftevent-1",
            "provider",
            "validating",
            "2026-09-01T10:01:00.5Z",
        ),
        event("ftevent-2", "provider", "queued", "2026-09-01T10:02:00Z"),
    ];
    assert_eq!(store.append_job_events("j1", &again).await.unwrap(), 1);
    assert_eq!(store.append_job_events("j2", &again).await.unwrap(), 2);
    let got = store.list_job_events("j1").await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["tuneloop-1", "ftevent-1", "ftevent-2"]
    );
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq), "{got:?}");
    assert_eq!(got[1].created_at, ts("2026-09-01T10:01:00.5Z"));
    assert_eq!(
        (got[1].source.as_str(), got[1].message.as_str()),
        ("provider", "validating")
    );
    // A bad event refuses the whole batch.
    let bad = vec![
        event("ftevent-3", "provider", "running", "2026-09-01T10:03:00Z"),
        event("", "provider", "?", "2026-09-01T10:03:00Z"),
    ];
    assert!(matches!(
        store.append_job_events("j1", &bad).await,
        Err(Error::InvalidInput { .. })
    ));
    let wrong_source = vec![event("x", "someone", "?", "2026-09-01T10:03:00Z")];
    assert!(matches!(
        store.append_job_events("j1", &wrong_source).await,
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(store.list_job_events("j1").await.unwrap().len(), 3);
}

pub async fn leases_are_exclusive_and_renewable(store: Store) {
    use std::time::Duration;
    let long = Duration::from_secs(60);
    let a = store
        .try_lease("schedule", "a", long)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.name.as_str(), a.holder.as_str()), ("schedule", "a"));
    assert!(a.expires_at > a.acquired_at);
    assert_eq!(store.try_lease("schedule", "b", long).await.unwrap(), None);
    // Another name is another lease.
    assert!(store
        .try_lease("fine-tune/m1", "b", long)
        .await
        .unwrap()
        .is_some());
    // The holder renews: same acquired_at, later expiry.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let renewed = store
        .try_lease("schedule", "a", long)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renewed.acquired_at, a.acquired_at);
    assert!(renewed.expires_at > a.expires_at);
    // Only the holder releases it.
    assert!(!store.release_lease("schedule", "b").await.unwrap());
    assert!(store.release_lease("schedule", "a").await.unwrap());
    assert!(!store.release_lease("schedule", "a").await.unwrap());
    assert!(store
        .try_lease("schedule", "b", long)
        .await
        .unwrap()
        .is_some());
    // A lapsed lease can be taken over.
    let short = Duration::from_millis(30);
    store.try_lease("short", "a", short).await.unwrap().unwrap();
    assert_eq!(store.try_lease("short", "b", long).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(80)).await;
    let taken = store.try_lease("short", "b", long).await.unwrap().unwrap();
    assert_eq!(taken.holder, "b");
    // Bad arguments name their field.
    for (name, holder, ttl, field) in [
        ("", "a", long, "lease.name"),
        ("x", " ", long, "lease.holder"),
        ("x", "a", Duration::ZERO, "lease.ttl"),
        ("x", "a", Duration::from_secs(200_000), "lease.ttl"),
    ] {
        match store.try_lease(name, holder, ttl).await {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

pub async fn leases_under_concurrency(store: Store) {
    let mut handles = Vec::new();
    for i in 0..16 {
        let store = store.clone();
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
        if let Some(l) = h.await.unwrap() {
            winners.push(l.holder);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
}

/// A lease records its holder; one whose process is gone from this host is taken over at
/// once, a live one, another host's or an opaque holder's is not; a lapsed one is taken.
pub async fn leases_of_dead_holders_are_taken_over(store: Store) {
    use std::time::Duration;
    let ttl = Duration::from_secs(600);
    let me = LeaseHolder::this_process();
    let mine = me.encode();
    assert_eq!(store.get_lease("nothing").await.unwrap(), None);

    // An opaque holder (an older version's `host-pid`, a caller's id) is only waited out.
    store
        .try_lease("opaque", "web-1-4242", ttl)
        .await
        .unwrap()
        .unwrap();
    match claim_lease(&*store, "opaque", &mine, ttl).await.unwrap() {
        LeaseClaim::Busy(Some(l)) => assert_eq!(l.holder, "web-1-4242"),
        other => panic!("{other:?}"),
    }

    // A live process of this host (this one, as another instance) keeps its lease, and the
    // stored lease names it.
    let other_instance = LeaseHolder {
        started: me.started - chrono::Duration::seconds(1),
        ..me.clone()
    };
    let live = other_instance.encode();
    let held = store.try_lease("live", &live, ttl).await.unwrap().unwrap();
    match claim_lease(&*store, "live", &mine, ttl).await.unwrap() {
        LeaseClaim::Busy(Some(l)) => {
            assert_eq!(l, held);
            assert_eq!(l.holder_info(), Some(other_instance.clone()));
            let who = l.describe();
            assert!(
                who.contains(&format!("pid {} on {}", me.pid, me.host)),
                "{who}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.get_lease("live").await.unwrap(), Some(held));
    // A take-over replaces only the holder it names.
    assert_eq!(
        store
            .take_over_lease("live", "someone-else", &mine, ttl)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_over_lease("absent", "someone-else", &mine, ttl)
            .await
            .unwrap(),
        None
    );

    // A lapsed lease is taken, whoever held it.
    store
        .try_lease("lapsed", "web-1-4242", Duration::from_millis(30))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    match claim_lease(&*store, "lapsed", &mine, ttl).await.unwrap() {
        LeaseClaim::Held { lease, taken_from } => {
            assert_eq!(lease.holder, mine);
            assert_eq!(taken_from, None);
        }
        other => panic!("{other:?}"),
    }

    // A dead process needs /proc to be recognised; elsewhere it is only waited out.
    if me.pid_ns.is_none() {
        return;
    }
    let Ok(mut child) = std::process::Command::new("true").spawn() else {
        return;
    };
    let dead_pid = child.id();
    child.wait().unwrap();
    let dead = LeaseHolder {
        pid: dead_pid,
        pid_start: None,
        ..me.clone()
    };
    let before = store
        .try_lease("dead", &dead.encode(), ttl)
        .await
        .unwrap()
        .unwrap();
    match claim_lease(&*store, "dead", &mine, ttl).await.unwrap() {
        LeaseClaim::Held { lease, taken_from } => {
            assert_eq!(lease.holder, mine);
            assert!(lease.acquired_at >= before.acquired_at);
            assert_eq!(taken_from, Some(before));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.get_lease("dead").await.unwrap().unwrap().holder, mine);
    // The same pid on another host is that host's business.
    let far = LeaseHolder {
        host: format!("not-{}", me.host),
        ..dead
    };
    store
        .try_lease("far", &far.encode(), ttl)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        claim_lease(&*store, "far", &mine, ttl).await.unwrap(),
        LeaseClaim::Busy(Some(_))
    ));
}

/// A kept lease stays its holder's past its TTL; when another holder takes it, the keeper
/// says so; a stopped keeper renews nothing.
pub async fn lease_keeper_renews_and_reports_loss(store: Store) {
    use std::time::Duration;
    let ttl = Duration::from_secs(1);
    assert!(matches!(
        claim_lease(&*store, "kept", "a", ttl).await.unwrap(),
        LeaseClaim::Held { .. }
    ));
    let mut keeper = LeaseKeeper::start(store.clone(), "kept", "a", ttl);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(store.try_lease("kept", "b", ttl).await.unwrap(), None);
    let lease = store.get_lease("kept").await.unwrap().unwrap();
    assert_eq!(lease.holder, "a");
    assert!(lease.expires_at > crate::model::time::now());
    // Taken from under it (as from a holder judged dead): the keeper reports the loss.
    store
        .take_over_lease("kept", "a", "b", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let why = tokio::time::timeout(Duration::from_secs(10), keeper.lost())
        .await
        .expect("the loss is reported");
    assert!(why.contains("`b`"), "{why}");
    keeper.stop();
    assert_eq!(store.get_lease("kept").await.unwrap().unwrap().holder, "b");

    let short = Duration::from_millis(300);
    store
        .try_lease("stopped", "c", short)
        .await
        .unwrap()
        .unwrap();
    LeaseKeeper::start(store.clone(), "stopped", "c", short).stop();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(store
        .try_lease("stopped", "d", short)
        .await
        .unwrap()
        .is_some());
}

pub async fn concurrent_writers(store: Store) {
    let b = sample_batch(200);
    let (left, right) = b.responses.split_at(100);
    let mut handles = Vec::new();
    for part in [left.to_vec(), right.to_vec(), left.to_vec()] {
        let store = store.clone();
        let fb: Vec<Feedback> = b
            .feedback
            .iter()
            .filter(|f| part.iter().any(|r| r.id == f.response_id))
            .cloned()
            .collect();
        handles.push(tokio::spawn(
            async move { store.record(&batch(part, fb)).await },
        ));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let s = store.stats().await.unwrap();
    assert_eq!(s.responses, 200);
    assert_eq!(s.feedback as usize, b.feedback.len());
}

pub async fn timestamps_keep_microseconds(store: Store) {
    let r = response("r1", "m1", "2026-09-01T10:00:00.000001Z");
    store.record_response(r.clone()).await.unwrap();
    let got = store.get_response("r1").await.unwrap().unwrap();
    assert_eq!(
        format_timestamp(&got.created_at),
        "2026-09-01T10:00:00.000001Z"
    );
    let before = ResponseFilter {
        until: Some(ts("2026-09-01T10:00:00.000001Z")),
        ..Default::default()
    };
    assert!(store.all_responses(&before).await.unwrap().is_empty());
}

/// Test helpers for the PostgreSQL store: one isolated schema per store, dropped afterwards.
#[cfg(feature = "postgres")]
pub mod postgres {
    use crate::store::{FeedbackStore, OpenOptions, PgStore};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Once};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// The variable naming the test server, e.g. `postgres://postgres@127.0.0.1:5432/test`.
    pub const URL_VAR: &str = "TUNELOOP_TEST_POSTGRES_URL";

    /// The test server's URL, or `None` after printing a visible skip message.
    pub fn test_url() -> Option<String> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
            _ => {
                // Written to the real stderr, once per test binary: `eprintln!` output of a
                // passing test is captured by the test harness and never shown.
                static SAID: Once = Once::new();
                SAID.call_once(|| {
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stderr(),
                        "SKIPPED: {URL_VAR} not set (PostgreSQL tests in this binary are skipped)"
                    );
                });
                None
            }
        }
    }

    /// `url` with `?schema=NAME` (or `&schema=NAME`) appended.
    pub fn with_schema(url: &str, schema: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}schema={schema}")
    }

    /// Drops its schema (`DROP SCHEMA ... CASCADE`) when dropped, also when a test panics.
    #[derive(Debug)]
    pub struct SchemaGuard {
        url: String,
        /// The schema's name.
        pub schema: String,
    }

    impl SchemaGuard {
        /// A new unique schema name `tl_test_<unix seconds>_<pid>_<n>` on the server at
        /// `url` (not created yet: opening a store creates it). Sweeps schemas left over by
        /// crashed runs more than an hour ago, once per process.
        pub fn new(url: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            static SWEEP: Once = Once::new();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let url_owned = url.to_string();
            SWEEP.call_once(|| run_blocking(&url_owned, move |url| sweep(url, now)));
            SchemaGuard {
                url: url.to_string(),
                schema: format!(
                    "tl_test_{now}_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ),
            }
        }

        /// The server URL selecting this schema.
        pub fn url(&self) -> String {
            with_schema(&self.url, &self.schema)
        }
    }

    impl Drop for SchemaGuard {
        fn drop(&mut self) {
            let schema = self.schema.clone();
            run_blocking(&self.url, move |url| async move {
                let mut conn = connect(&url).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
            });
        }
    }

    async fn connect(url: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
        use sqlx::Connection;
        sqlx::PgConnection::connect(url).await
    }

    async fn sweep(url: String, now: u64) -> Result<(), sqlx::Error> {
        let mut conn = connect(&url).await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname LIKE 'tl\\_test\\_%'",
        )
        .fetch_all(&mut conn)
        .await?;
        for name in names {
            let born = name
                .split('_')
                .nth(2)
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(now);
            if now.saturating_sub(born) > 3_600 {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Runs database cleanup on its own thread and runtime: it is called from `Drop`, which
    /// may run inside or outside a runtime, and must finish before the test returns.
    fn run_blocking<F, Fut>(url: &str, f: F)
    where
        F: FnOnce(String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
    {
        let url = url.to_string();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), f(url)).await
                }),
                Err(e) => Ok(Err(sqlx::Error::Io(e))),
            }
        })
        .join();
        if let Ok(Ok(Err(e))) = done {
            eprintln!("warning: cleaning up a test schema failed: {e}");
        }
    }

    /// A fresh `PgStore` in its own schema, or `None` (with a skip message) when
    /// [`URL_VAR`] is not set.
    pub async fn fresh_pg() -> Option<(PgStore, SchemaGuard)> {
        let url = test_url()?;
        let guard = SchemaGuard::new(&url);
        let store = PgStore::open(&guard.url(), &OpenOptions::default())
            .await
            .unwrap_or_else(|e| panic!("opening PostgreSQL at {URL_VAR}: {e}"));
        Some((store, guard))
    }

    /// The ledger of a fresh `PgStore` in its own schema, as the factory
    /// `ledger_conformance_tests!(optional ...)` wants.
    pub async fn fresh_ledger() -> Option<(Arc<dyn crate::credits::CreditLedger>, SchemaGuard)> {
        let (store, guard) = fresh_pg().await?;
        Some((Arc::new(store.ledger()), guard))
    }

    /// [`fresh_pg`] as the factory `store_conformance_tests!(optional ...)` wants.
    pub async fn fresh_store() -> Option<(Arc<dyn FeedbackStore>, SchemaGuard)> {
        let (store, guard) = fresh_pg().await?;
        Some((Arc::new(store), guard))
    }
}
