//! End-to-end tests of `tuneloop dataset` and `tuneloop validate`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn tuneloop(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .args(args)
        .current_dir(dir)
        .env_remove("TUNELOOP_DATABASE_URL")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn vectors() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/validate"
    ))
}

/// Entries of `dir` (names), sorted; SQLite's own side files (`-wal`, `-shm`) left out.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .collect();
    v.sort();
    v
}

#[test]
fn demo_builds_a_dataset_and_dataset_errors_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("demo.db").display());
    let demo = tuneloop(dir, &["--db", &db, "demo"]);
    assert_eq!(code(&demo), 0, "{}", text(&demo));
    let out = String::from_utf8_lossy(&demo.stdout).into_owned();
    assert!(
        out.contains("Fine-tuning dataset for support-bot-v2"),
        "{out}"
    );
    assert!(out.contains("train,"), "{out}");
    let demo_ds = dir.join("tuneloop-demo").join("dataset");
    assert_eq!(
        entries(&demo_ds),
        [
            "lineage.jsonl",
            "manifest.json",
            "train.jsonl",
            "validation.jsonl"
        ]
    );

    // A build, as JSON, twice into two directories: same bytes.
    let build = |out: &str| {
        tuneloop(
            dir,
            &[
                "--db",
                &db,
                "--json",
                "dataset",
                "--model",
                "support-bot-v1",
                "--format",
                "openai-dpo",
                "--out",
                out,
                "--seed",
                "3",
                "--validation-fraction",
                "0.2",
            ],
        )
    };
    let a = build("a");
    assert_eq!(code(&a), 0, "{}", text(&a));
    let manifest: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(manifest["format"], "openai-dpo");
    assert!(manifest["counts"]["train"].as_u64().unwrap() >= 10);
    assert!(manifest["counts"]["validation"].as_u64().unwrap() >= 1);
    assert_eq!(code(&build("b")), 0);
    for f in entries(&dir.join("a")) {
        assert_eq!(
            std::fs::read(dir.join("a").join(&f)).unwrap(),
            std::fs::read(dir.join("b").join(&f)).unwrap(),
            "{f}"
        );
    }
    // Our own output passes the validator.
    for f in ["a/train.jsonl", "a/validation.jsonl"] {
        let v = tuneloop(dir, &["validate", f, "--format", "openai-dpo"]);
        assert_eq!(code(&v), 0, "{}", text(&v));
        assert!(String::from_utf8_lossy(&v.stdout).contains("errors: none"));
    }

    // A non-empty directory is refused without --force and left as it was.
    let again = build("a");
    assert_eq!(code(&again), 2, "{}", text(&again));
    assert!(text(&again).contains("--force"));
    let forced = tuneloop(
        dir,
        &[
            "--db",
            &db,
            "dataset",
            "--model",
            "support-bot-v1",
            "--format",
            "trl-kto",
            "--out",
            "a",
            "--force",
        ],
    );
    assert_eq!(code(&forced), 0, "{}", text(&forced));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "trl-kto");

    let before = entries(dir);
    let cases: [(&[&str], &str); 4] = [
        (
            &["--model", "no-such-model", "--out", "x1"],
            "unknown model no-such-model",
        ),
        (
            &[
                "--model",
                "support-bot-v2",
                "--out",
                "x2",
                "--min-examples",
                "100000",
            ],
            "too few examples",
        ),
        (
            &["--model", "support-bot-v2", "--out", "demo.db/x3"],
            "demo.db",
        ),
        (
            &[
                "--model",
                "support-bot-v2",
                "--out",
                "x4",
                "--validation-fraction",
                "0.9",
            ],
            "--validation-fraction",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["--db", db.as_str(), "dataset", "--format", "openai-chat"];
        full.extend_from_slice(args);
        let o = tuneloop(dir, &full);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
        assert_eq!(entries(dir), before, "{args:?} left something behind");
    }
}

#[test]
fn validate_flags_bad_files_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = vectors().join("openai-chat__unrecognized_role.jsonl");
    let o = tuneloop(
        dir.path(),
        &["validate", bad.to_str().unwrap(), "--format", "openai-chat"],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("unrecognized_role: 1"), "{}", text(&o));
    assert!(
        text(&o).contains("1 of 1 lines have errors"),
        "{}",
        text(&o)
    );

    let good = vectors().join("openai-chat__valid.jsonl");
    let o = tuneloop(
        dir.path(),
        &[
            "--json",
            "validate",
            good.to_str().unwrap(),
            "--format",
            "openai-chat",
            "--encoding",
            "cl100k_base",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["lines"], 2);
    assert!(v["tokens"]["total"].as_u64().unwrap() > 0);
    assert_eq!(v["estimated_epochs"], 25);

    let o = tuneloop(
        dir.path(),
        &["validate", "missing.jsonl", "--format", "openai-dpo"],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("missing.jsonl"));
}

#[test]
fn dataset_settings_come_from_tuneloop_toml_and_flags_win() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("demo.db").display());
    assert_eq!(code(&tuneloop(dir, &["--db", &db, "demo"])), 0);
    // A custom kind over a word the demo's support texts surely hold.
    std::fs::write(
        dir.join("tuneloop.toml"),
        "[dataset]\nvalidation_fraction = 0.0\nseed = 7\n\n\
         [[redaction.extra_patterns]]\nkind = \"REFUND_WORD\"\npattern = \"(?i)refund\"\n",
    )
    .unwrap();
    let out = tuneloop(
        dir,
        &[
            "--db",
            &db,
            "--json",
            "dataset",
            "--model",
            "support-bot-v2",
            "--format",
            "openai-chat",
            "--out",
            "from-file",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["seed"], 7);
    assert_eq!(m["counts"]["validation"], 0);
    assert!(
        m["redactions"]["REFUND_WORD"].as_u64().unwrap() > 0,
        "{m:#}"
    );
    let train = std::fs::read_to_string(dir.join("from-file/train.jsonl")).unwrap();
    assert!(train.contains("[REFUND_WORD]"));
    assert!(!train
        .replace("[REFUND_WORD]", "")
        .to_lowercase()
        .contains("refund"));
    // A flag wins over the file.
    let out = tuneloop(
        dir,
        &[
            "--db",
            &db,
            "--json",
            "dataset",
            "--model",
            "support-bot-v2",
            "--format",
            "openai-chat",
            "--out",
            "flagged",
            "--seed",
            "9",
            "--validation-fraction",
            "0.2",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["seed"], 9);
    assert!(m["counts"]["validation"].as_u64().unwrap() > 0);
    // A pattern that does not compile stops the command, naming the file and field.
    std::fs::write(
        dir.join("tuneloop.toml"),
        "[[redaction.extra_patterns]]\nkind = \"X\"\npattern = \"(unclosed\"\n",
    )
    .unwrap();
    let out = tuneloop(
        dir,
        &[
            "--db",
            &db,
            "dataset",
            "--model",
            "support-bot-v2",
            "--format",
            "openai-chat",
            "--out",
            "bad",
        ],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("tuneloop.toml") && text(&out).contains("redaction"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("bad").exists());
}
