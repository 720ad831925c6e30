//! Shared test vectors: metrics on a hand-checked fixture must equal values computed
//! independently (tests/vectors/gen_metrics.py, statsmodels for the Wilson interval).

use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tuneloop::io::{import_jsonl, ImportOptions};
use tuneloop::model::{parse_timestamp, Bucket, MetricsQuery};
use tuneloop::store::{open, FeedbackStore, OpenOptions};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn query_from(v: &Value) -> MetricsQuery {
    let time = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(|s| parse_timestamp(s).expect("vector timestamps are valid"))
    };
    MetricsQuery {
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
        since: time("since"),
        until: time("until"),
        bucket: v.get("bucket").and_then(Value::as_str).map(|b| match b {
            "day" => Bucket::Day,
            _ => Bucket::Week,
        }),
    }
}

fn assert_close(got: &Value, want: &Value, path: &str) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().expect("number"), w.as_f64().expect("number"));
            assert!((g - w).abs() <= 1e-12, "{path}: got {g}, want {w}");
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{path}: length");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_close(g, w, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            let gk: Vec<_> = g.keys().collect();
            let wk: Vec<_> = w.keys().collect();
            assert_eq!(gk, wk, "{path}: keys");
            for (k, wv) in w {
                assert_close(&g[k], wv, &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}

async fn check_vectors(store: Arc<dyn FeedbackStore>) {
    let dir = vectors_dir();
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("metrics.json")).expect("vectors present"),
    )
    .expect("vectors are JSON");
    let fixture = std::fs::File::open(dir.join(spec["fixture"].as_str().expect("fixture name")))
        .expect("fixture present");
    let report = import_jsonl(
        &*store,
        std::io::BufReader::new(fixture),
        &ImportOptions::default(),
        None,
        &|_| {},
    )
    .await
    .expect("fixture imports");
    assert_eq!(report.summary.responses_inserted, 9);
    assert_eq!(report.summary.feedback_inserted, 16);
    let cases = spec["cases"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for case in cases {
        let q = query_from(&case["query"]);
        let got = serde_json::to_value(store.metrics(&q).await.expect("metrics")).expect("json");
        assert_close(&got, &case["expected"], &format!("query {}", case["query"]));
    }
}

#[tokio::test]
async fn metrics_vectors_memory() {
    check_vectors(
        open("memory://", &OpenOptions::default())
            .await
            .expect("open"),
    )
    .await;
}

#[tokio::test]
async fn metrics_vectors_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    check_vectors(open(&url, &OpenOptions::default()).await.expect("open")).await;
}
