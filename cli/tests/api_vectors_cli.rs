//! The golden API vectors (`tests/vectors/api/`) from the command line: the vectors' world
//! is imported into an SQLite file with `tuneloop import`, and each vectored operation is run
//! as the binary with `--json`. Its output must equal the vector's result, which is the
//! facade's (`core/tests/api_vectors.rs` checks that side): one schema, whatever the front
//! and whatever the store.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tuneloop::demo::{comparisons, generate, DemoOptions};
use tuneloop::service::ExportOptions;
use tuneloop::{Options, Tuneloop};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/api")
}

fn vector(op: &str) -> Value {
    let text = std::fs::read_to_string(vectors().join(format!("{op}.json"))).expect("vector");
    serde_json::from_str(&text).expect("vector JSON")
}

struct World {
    dir: tempfile::TempDir,
    db: String,
    settings: PathBuf,
}

impl World {
    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_tuneloop"))
            .arg("--config")
            .arg(&self.settings)
            .args(["--db", &self.db, "--json"])
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("TUNELOOP_DATABASE_URL")
            .env_remove("TUNELOOP_MCP_URL")
            .output()
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!("{args:?}: stdout is not one JSON value ({e}):\n{stdout}\n{stderr}")
        });
        assert_eq!(
            stdout.trim().lines().count(),
            1,
            "{args:?}: --json prints serde_json::to_string of the result, one line"
        );
        (o.status.code().unwrap_or(-1), value, stderr)
    }
}

/// The vectors' world, written as JSONL by the library and imported by the binary.
async fn world() -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = dir.path().join("tuneloop.toml");
    std::fs::copy(vectors().join("settings.toml"), &settings).expect("settings");
    let tl = Tuneloop::open(Options::memory()).await.expect("opens");
    let world = generate(&DemoOptions {
        seed: 7,
        weeks: 8,
        ..Default::default()
    });
    tl.record(&world.batch).await.expect("records");
    // As core/tests/api_vectors.rs records them (150 comparisons, seed 7).
    tl.record_comparisons(&comparisons(&world, 150, 7))
        .await
        .expect("records the comparisons");
    let jsonl = dir.path().join("world.jsonl");
    tl.export_file(&jsonl, &ExportOptions::default())
        .await
        .expect("exports");
    let db = format!("sqlite://{}", dir.path().join("world.db").display());
    let w = World { dir, db, settings };
    let (code, _, err) = w.run(&["import", &jsonl.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = w.run(&[
        "credits",
        "grant",
        "--account",
        "acme",
        "--amount",
        "1000",
        "--key",
        "vectors",
    ]);
    assert_eq!(code, 0, "{err}");
    w
}

fn same(op: &str, got: &Value, want: &Value) {
    assert!(
        got == want,
        "{op}: the CLI's --json differs from the vector\n  want: {want}\n  got:  {got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_json_equals_the_vectors() {
    let w = world().await;
    let simple: [(&str, Vec<&str>); 6] = [
        ("metrics", vec!["metrics", "--bucket", "week"]),
        // The facade's default, as the CLI's: personal data hidden.
        ("problematic", vec!["problematic", "--limit", "5"]),
        ("trends", vec!["trends"]),
        ("rank", vec!["rank"]),
        ("analyze", vec!["analyze"]),
        ("suggest", vec!["suggest", "--model", "support-bot-v2"]),
    ];
    for (op, args) in simple {
        let (code, got, err) = w.run(&args);
        assert_eq!(code, 0, "{op}: {err}");
        same(op, &got, &vector(op)["result"]);
    }

    let (code, got, err) = w.run(&["credits", "balance", "--account", "acme"]);
    assert_eq!(code, 0, "{err}");
    same(
        "credits_balance",
        &got,
        &vector("credits_balance")["result"],
    );

    // `fine-tune --dry-run` prints the outcome; its decision is should_fine_tune's.
    let v = vector("should_fine_tune");
    let as_of = v["options"]["as_of"].as_str().expect("as_of");
    let (code, got, err) = w.run(&[
        "fine-tune",
        "--model-id",
        "support-bot-v2",
        "--dry-run",
        "--as-of",
        as_of,
    ]);
    assert_eq!(code, 0, "{err}");
    same("should_fine_tune", &got["decision"], &v["result"]);
    assert_eq!(got["job"], Value::Null);

    let out = w.dir.path().join("dataset");
    let (code, got, err) = w.run(&[
        "dataset",
        "--model",
        "support-bot-v2",
        "--format",
        "openai-chat",
        "--seed",
        "7",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{err}");
    same(
        "dataset_manifest",
        &got,
        &vector("dataset_manifest")["result"],
    );

    // The vector's file has errors: `validate` exits 2 and still prints the report.
    let v = vector("validate_dataset");
    let file = w.dir.path().join("check.jsonl");
    std::fs::write(&file, v["options"]["input"]["text"].as_str().expect("text")).expect("w");
    let (code, got, _) = w.run(&[
        "validate",
        &file.to_string_lossy(),
        "--format",
        "openai-chat",
    ]);
    assert_eq!(code, if v["result"]["valid"] == true { 0 } else { 2 });
    same("validate_dataset", &got, &v["result"]);

    // The `database` line names the database file; the vector has it masked.
    let (code, mut got, err) = w.run(&["check", "db"]);
    assert_eq!(code, 0, "{err}");
    if let Some(lines) = got["checks"].as_array_mut() {
        for l in lines.iter_mut().filter(|l| l["name"] == "database") {
            l["detail"] = Value::String("<the database>".into());
        }
    }
    same("check", &got, &vector("check")["result"]);
}
