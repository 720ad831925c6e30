//! The golden API vectors (`tests/vectors/api/*.json`): for one fixed world, each read
//! operation's options and the exact JSON of the facade's result. Every front checks the
//! same files; this is the Rust facade's check. A difference is a change of the schema or of
//! the analysis: regenerate deliberately with
//! `TUNELOOP_UPDATE_VECTORS=1 cargo test -p tuneloop --test api_vectors` and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use tuneloop::config::Config;
use tuneloop::demo::{comparisons, generate, DemoOptions};
use tuneloop::service::{CheckOptions, DatasetRequest, FineTuneOptions, GrantOptions};
use tuneloop::{Options, Tuneloop};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/api")
}

/// The world of tests/vectors/api/README.md, in an SQLite file (the embedded default).
async fn world(file: &Path) -> Tuneloop {
    let settings = std::fs::read_to_string(dir().join("settings.toml")).expect("settings");
    let config = Config::parse(&settings, "tests/vectors/api/settings.toml").expect("settings");
    let tl = Tuneloop::open(Options {
        database_url: Some(format!("sqlite://{}", file.display())),
        config,
        ..Default::default()
    })
    .await
    .expect("opens");
    let world = generate(&DemoOptions {
        seed: 7,
        weeks: 8,
        ..Default::default()
    });
    tl.record(&world.batch).await.expect("records the world");
    tl.record_comparisons(&comparisons(&world, COMPARISONS, 7))
        .await
        .expect("records the comparisons");
    tl.grant(&GrantOptions {
        account: "acme".into(),
        amount: 1_000,
        key: Some("vectors".into()),
    })
    .await
    .expect("grants");
    tl
}

/// Comparisons in the world (`tuneloop::demo::comparisons` with seed 7).
const COMPARISONS: usize = 150; // at most; the world has 37 shared contexts

fn parse<T: serde::de::DeserializeOwned>(op: &str, options: &Value) -> T {
    serde_json::from_value(options.clone())
        .unwrap_or_else(|e| panic!("{op}: options do not parse: {e}"))
}

/// Runs one vectored operation on the facade.
async fn run(tl: &Tuneloop, op: &str, options: &Value) -> Value {
    let to = |v: Result<Value, serde_json::Error>| v.expect("serialises");
    match op {
        "metrics" => to(serde_json::to_value(
            tl.metrics(&parse(op, options)).await.expect(op),
        )),
        "problematic" => to(serde_json::to_value(
            tl.problematic(&parse(op, options)).await.expect(op),
        )),
        "trends" => to(serde_json::to_value(
            tl.trends(&parse(op, options)).await.expect(op),
        )),
        "analyze" => to(serde_json::to_value(
            tl.analyze(&parse(op, options)).await.expect(op),
        )),
        "suggest" => to(serde_json::to_value(
            tl.suggest(&parse(op, options)).await.expect(op),
        )),
        "should_fine_tune" => {
            let o: FineTuneOptions = parse(op, options);
            to(serde_json::to_value(
                tl.should_fine_tune(&o).await.expect(op),
            ))
        }
        "dataset_manifest" => {
            let r: DatasetRequest = parse(op, options);
            to(serde_json::to_value(
                tl.build_dataset(&r).await.expect(op).manifest,
            ))
        }
        "validate_dataset" => to(serde_json::to_value(
            Tuneloop::validate_dataset(&parse(op, options))
                .await
                .expect(op),
        )),
        "rank" => to(serde_json::to_value(
            tl.rank(&parse(op, options)).await.expect(op),
        )),
        "credits_balance" => {
            let account = options["account"].as_str().expect("options.account");
            to(serde_json::to_value(tl.balance(account).await.expect(op)))
        }
        "check" => {
            let o: CheckOptions = parse(op, options);
            let mut v = to(serde_json::to_value(tl.check(&o).await.expect(op)));
            mask_database(&mut v);
            v
        }
        other => panic!("unknown operation `{other}` in tests/vectors/api"),
    }
}

/// The operations the vectors must cover (issue 12): a missing file is a failure.
const REQUIRED: [&str; 11] = [
    "metrics",
    "rank",
    "problematic",
    "trends",
    "analyze",
    "suggest",
    "should_fine_tune",
    "dataset_manifest",
    "validate_dataset",
    "credits_balance",
    "check",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facade_results_equal_the_vectors() {
    let update = std::env::var("TUNELOOP_UPDATE_VECTORS").is_ok_and(|v| v == "1");
    let db = tempfile::tempdir().expect("temp dir");
    let tl = world(&db.path().join("vectors.db")).await;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/vectors/api")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut seen = Vec::new();
    let mut mismatches = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable vector");
        let mut vector: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
        let op = vector["operation"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no operation", file.display()))
            .to_string();
        let got = run(&tl, &op, &vector["options"]).await;
        if update {
            vector["result"] = got;
            let mut out = serde_json::to_string_pretty(&vector).expect("serialises");
            out.push('\n');
            std::fs::write(file, out).expect("writes the vector");
        } else if vector["result"] != got {
            mismatches.push(format!(
                "{}: the facade's result differs from the vector\n  want: {}\n  got:  {}",
                file.display(),
                truncated(&vector["result"]),
                truncated(&got)
            ));
        }
        seen.push(op);
    }
    for op in REQUIRED {
        assert!(seen.iter().any(|s| s == op), "no vector for `{op}`");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    tl.close().await.expect("closes");
}

/// The vectors are not vacuous: each read operation found something on the world.
#[test]
fn vectors_hold_real_results() {
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir().join(name)).expect("vector"))
            .expect("JSON")
    };
    let len = |v: &Value| v.as_array().map_or(0, Vec::len);
    assert_eq!(len(&read("metrics.json")["result"]["models"]), 3);
    assert!(len(&read("problematic.json")["result"]["responses"]) >= 5);
    assert!(len(&read("trends.json")["result"]["trends"]) >= 3);
    assert!(len(&read("analyze.json")["result"]["patterns"]) >= 3);
    assert!(len(&read("suggest.json")["result"]["suggestions"]) >= 3);
    assert!(len(&read("should_fine_tune.json")["result"]["checks"]) >= 5);
    assert!(read("dataset_manifest.json")["result"]["counts"].is_object());
    assert_eq!(read("credits_balance.json")["result"]["available"], 1_000);
    assert_eq!(read("check.json")["result"]["ok"], true);
    let ranked = read("rank.json");
    assert_eq!(len(&ranked["result"]["models"]), 2);
    assert!(ranked["result"]["comparisons_used"].as_u64().unwrap_or(0) >= 30);
}

/// The `database` line of a check names the database file, which differs between runs.
pub fn mask_database(report: &mut Value) {
    if let Some(lines) = report["checks"].as_array_mut() {
        for l in lines.iter_mut().filter(|l| l["name"] == "database") {
            l["detail"] = Value::String("<the database>".into());
        }
    }
}

fn truncated(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 400 {
        s
    } else {
        let mut end = 400;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// The HTTP API answers the vectors' results too: the same world, each vectored read through
/// its endpoint (the router the server runs, without a socket: `Api::handle`).
#[cfg(feature = "http")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_answers_equal_the_vectors() {
    use tuneloop::http::{Api, HttpRequest, HttpSettings};
    if std::env::var("TUNELOOP_UPDATE_VECTORS").is_ok_and(|v| v == "1") {
        return; // the files are being rewritten by the test above
    }
    let db = tempfile::tempdir().expect("temp dir");
    let tl = world(&db.path().join("vectors.db")).await;
    let api = Api::new(
        tl.clone(),
        HttpSettings {
            admin_token: Some("vectors-admin-token".into()),
            ..Default::default()
        },
    );
    let read = |op: &str| -> Value {
        let text = std::fs::read_to_string(dir().join(format!("{op}.json"))).expect("vector");
        serde_json::from_str(&text).expect("JSON")
    };
    let q = "/api/analytics/response-quality";
    let m = "/api/analytics/model-improvement";
    let cases: [(&str, HttpRequest); 7] = [
        (
            "metrics",
            HttpRequest::get(format!("{q}/metrics?bucket=week")),
        ),
        (
            "problematic",
            HttpRequest::get(format!("{q}/problematic?limit=5")),
        ),
        ("trends", HttpRequest::get(format!("{m}/error-trends"))),
        ("analyze", HttpRequest::get(format!("{m}/error-patterns"))),
        ("rank", HttpRequest::get(format!("{m}/model-ranking"))),
        (
            "suggest",
            HttpRequest::post_json(
                format!("{m}/improvement-suggestions"),
                read("suggest")["options"].to_string(),
            ),
        ),
        (
            "should_fine_tune",
            HttpRequest::post_json(
                format!("{m}/fine-tuning/check"),
                read("should_fine_tune")["options"].to_string(),
            ),
        ),
    ];
    let mut mismatches = Vec::new();
    for (op, request) in cases {
        let answer = api
            .handle(request.header("authorization", "Bearer vectors-admin-token"))
            .await;
        let got: Value = serde_json::from_slice(&answer.body).expect("JSON answer");
        assert_eq!(answer.status, 200, "{op}: {got}");
        if got != read(op)["result"] {
            mismatches.push(format!(
                "{op}: the HTTP answer differs from the vector\n  got: {}",
                truncated(&got)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    tl.close().await.expect("closes");
}
