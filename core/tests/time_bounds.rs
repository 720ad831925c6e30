//! Timestamps outside the supported range (2000-01-01 ..< 2100-01-01): refused on the way in,
//! and harmless when a database written by an older version already holds them — the
//! analysis stays bounded in memory and time whatever the data (issue 11).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use tuneloop::analysis::metrics::compute_metrics;
use tuneloop::analysis::pipeline::{analyze, AnalysisOptions};
use tuneloop::analysis::weekly::category_trends;
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::model::{
    parse_timestamp, Bucket, Category, Feedback, FeedbackKind, MetricsQuery, MetricsReport,
    ResponseRecord, Timestamp, TrendQuery,
};
use tuneloop::store::{
    FeedbackFilter, FeedbackStore, FeedbackStoreExt, OpenOptions, RecordBatch, ResponseFilter,
    SqliteStore,
};

/// The caps the docs promise (docs/formats.md): 520 weeks, 3,660 days.
const WEEKS: usize = 520;
const DAYS: usize = 3_660;

fn ts(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

/// A response and its negative, categorised feedback, at `at`.
fn ancient(at: Timestamp) -> (ResponseRecord, Feedback) {
    let r = ResponseRecord::new(
        "ancient",
        "support-bot-v2",
        "What is your refund policy?",
        "Refunds within 300 days.",
        at,
    );
    let f = Feedback::new(
        "ancient-fb",
        "ancient",
        FeedbackKind::Full {
            rating: 1,
            categories: vec![Category::new("hallucination").unwrap()],
            correction: Some("Refunds within 30 days.".into()),
        },
        at,
    );
    (r, f)
}

/// The demo world plus one response (and its negative feedback) at year 1.
fn world_with_year_one() -> RecordBatch {
    let mut b = generate(&DemoOptions::default()).batch;
    let (r, f) = ancient(ts("0001-01-01T00:00:00Z"));
    b.responses.push(r);
    b.feedback.push(f);
    b
}

fn assert_metrics_bounded(report: &MetricsReport, cap: usize, total_responses: u64) {
    assert!(!report.models.is_empty());
    let mut counted = 0;
    let bot = report
        .model("support-bot-v2")
        .expect("the year-1 response's model");
    // Only the year-1 response falls before the capped series, and the report says so.
    assert_eq!(bot.omitted_from_buckets, 1);
    for m in &report.models {
        let buckets = m.buckets.as_ref().expect("buckets asked for");
        assert!(!buckets.is_empty(), "{}", m.model_id);
        assert!(
            buckets.len() <= cap,
            "{}: {} buckets",
            m.model_id,
            buckets.len()
        );
        counted += m.figures.responses;
    }
    // The totals still count every response in range; only the series is capped.
    assert_eq!(counted, total_responses);
}

#[test]
fn analysis_of_records_with_a_year_one_response_is_bounded() {
    let b = world_with_year_one();
    let report = category_trends(&b.responses, &b.feedback, &TrendQuery::default());
    assert!(!report.trends.is_empty());
    for t in &report.trends {
        assert!(
            t.weekly.len() <= WEEKS,
            "{}: {}",
            t.category,
            t.weekly.len()
        );
        // The series is the demo's 12 weeks (to 2026-11-23): the year-1 week is left out and
        // costs no run of empty weeks.
        assert_eq!(t.weekly.len(), 12, "{}", t.category);
        assert_eq!(t.weekly.last().map(|w| w.week.as_str()), Some("2026-W47"));
    }
    assert_eq!(report.omitted_responses, 1);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["omitted_responses"], 1);
    let analysis = analyze(&b.responses, &b.feedback, &AnalysisOptions::default());
    assert_eq!(analysis.omitted_responses, 1);
    assert!(!analysis.patterns.is_empty());
    assert!(analysis.patterns.iter().all(|p| p.trend.is_some()));
    assert!(!analysis.suggestions.is_empty());
    for t in &analysis.trends {
        assert!(
            t.weekly.len() <= WEEKS,
            "{}: {}",
            t.category,
            t.weekly.len()
        );
    }
}

#[test]
fn metrics_buckets_of_records_with_a_year_one_response_are_bounded() {
    let b = world_with_year_one();
    let n = b.responses.len() as u64;
    for (bucket, cap) in [(Bucket::Day, DAYS), (Bucket::Week, WEEKS)] {
        let q = MetricsQuery {
            bucket: Some(bucket),
            ..Default::default()
        };
        assert_metrics_bounded(&compute_metrics(&b.responses, &b.feedback, &q), cap, n);
    }
}

/// A SQLite database as an older version could leave it: the demo world plus a response (and
/// its feedback) moved to year 1 behind the store's back, since no write path accepts it now.
async fn sqlite_with_year_one(dir: &std::path::Path) -> Arc<dyn FeedbackStore> {
    let url = format!("sqlite://{}", dir.join("old.db").display());
    let store: Arc<dyn FeedbackStore> = Arc::new(
        SqliteStore::open(&url, &OpenOptions::default())
            .await
            .unwrap(),
    );
    let mut b = generate(&DemoOptions::default()).batch;
    let (r, f) = ancient(ts("2026-09-01T10:00:00Z"));
    b.responses.push(r);
    b.feedback.push(f);
    store.record(&b).await.unwrap();
    store.close().await.unwrap();
    let micros = ts("0001-01-01T00:00:00Z").timestamp_micros();
    let day = micros.div_euclid(86_400_000_000);
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE responses SET created_at = ?1, day = ?2 WHERE id = 'ancient'")
        .bind(micros)
        .bind(day)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE feedback SET response_created_at = ?1, response_day = ?2, created_at = ?1 \
         WHERE id = 'ancient-fb'",
    )
    .bind(micros)
    .bind(day)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store: Arc<dyn FeedbackStore> = Arc::new(
        SqliteStore::open(&url, &OpenOptions::default())
            .await
            .unwrap(),
    );
    // The daily aggregates do not follow an edit behind the store's back (an older version's
    // database gets them from the migration instead); the repair brings them in line.
    assert!(store.health().await.unwrap().aggregate_mismatches > Some(0));
    assert!(store.rebuild_aggregates().await.unwrap().mismatched > 0);
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_year_one_response_keeps_the_store_analysis_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_with_year_one(dir.path()).await;
    // Reading old data back still works: the range is a write rule.
    let old = store.get_response("ancient").await.unwrap().unwrap();
    assert_eq!(old.created_at, ts("0001-01-01T00:00:00Z"));
    let n = store.stats().await.unwrap().responses;

    for (bucket, cap) in [(Bucket::Day, DAYS), (Bucket::Week, WEEKS)] {
        let q = MetricsQuery {
            bucket: Some(bucket),
            ..Default::default()
        };
        assert_metrics_bounded(&store.metrics(&q).await.unwrap(), cap, n);
    }

    let responses = store
        .all_responses(&ResponseFilter::default())
        .await
        .unwrap();
    let feedback = store
        .all_feedback(&FeedbackFilter::default())
        .await
        .unwrap();
    let report = category_trends(&responses, &feedback, &TrendQuery::default());
    assert!(!report.trends.is_empty());
    assert!(report.trends.iter().all(|t| t.weekly.len() <= WEEKS));

    let tl = tuneloop::Tuneloop::with_store(store.clone(), tuneloop::Options::default()).unwrap();
    let options = tuneloop::service::AnalyzeOptions::default();
    let analysis = tl.analyze(&options).await.unwrap();
    assert!(analysis.trends.iter().all(|t| t.weekly.len() <= WEEKS));
    assert_eq!(analysis.omitted_responses, 1);
    let suggested = tl.suggest(&options).await.unwrap();
    assert!(!suggested.suggestions.is_empty());
    assert_eq!(suggested.omitted_responses, 1);
    store.close().await.unwrap();
}

#[tokio::test]
async fn import_names_the_field_of_an_out_of_range_time() {
    use tuneloop::io::{import_jsonl, ImportOptions};
    let text = r#"{"type":"response","id":"r1","model_id":"m","query":"q?","response":"a","created_at":"0001-01-01T00:00:00Z"}
{"type":"response","id":"r2","model_id":"m","query":"q?","response":"a","created_at":"2026-09-01T10:00:00Z"}
{"type":"feedback","response_id":"r2","variant":"thumbs","thumbs_up":false,"created_at":"2100-01-01T00:00:00Z"}
{"type":"response","id":"r3","model_id":"m","query":"q?","response":"a","created_at":"2016-12-31T23:59:60Z"}
"#;
    let store: Arc<dyn FeedbackStore> = Arc::new(tuneloop::store::MemoryStore::new());
    let err = import_jsonl(
        &*store,
        std::io::Cursor::new(text.as_bytes()),
        &ImportOptions::default(),
        None,
        &|_| {},
    )
    .await
    .expect_err("rejected");
    let message = err.to_string();
    for needle in [
        "line 1: created_at: `0001-01-01T00:00:00Z` is outside the supported range \
         2000-01-01..2100-01-01",
        "line 3: created_at: `2100-01-01T00:00:00Z` is outside the supported range",
        "line 4: created_at:",
        "leap second",
    ] {
        assert!(message.contains(needle), "{needle}\n{message}");
    }
    assert_eq!(store.stats().await.unwrap().responses, 0);
}
