//! Pairwise feedback end to end: `comparison` lines through import, export and `rank`.

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

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Three models answer one question; `strong` beats `weak` most of the time, `mid` is in
/// between. Comparisons come first in the file: they are written after every response.
fn input() -> String {
    let mut lines = Vec::new();
    let mut n = 0;
    let mut cmp = |a: &str, b: &str, w: &str, lines: &mut Vec<String>| {
        n += 1;
        lines.push(format!(
            r#"{{"type":"comparison","response_a":"{a}","response_b":"{b}","winner":"{w}","user_id":"u{n}","created_at":"2026-09-02T10:{:02}:00Z"}}"#,
            n % 60
        ));
    };
    for _ in 0..8 {
        cmp("r-strong", "r-weak", "a", &mut lines);
        cmp("r-mid", "r-weak", "a", &mut lines);
        cmp("r-strong", "r-mid", "a", &mut lines);
    }
    cmp("r-weak", "r-strong", "a", &mut lines);
    cmp("r-mid", "r-strong", "tie", &mut lines);
    cmp("r-weak", "r-weak2", "a", &mut lines);
    for (id, model) in [
        ("r-strong", "strong"),
        ("r-mid", "mid"),
        ("r-weak", "weak"),
        ("r-weak2", "weak"),
    ] {
        lines.push(format!(
            r#"{{"type":"response","id":"{id}","model_id":"{model}","query":"Refund policy?","response":"answer of {id}","created_at":"2026-09-01T10:00:00Z"}}"#
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn comparisons_import_export_and_rank() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let file = dir.path().join("pairs.jsonl");
    std::fs::write(&file, input()).expect("writes");
    let file = file.to_string_lossy().into_owned();

    let report: serde_json::Value = serde_json::from_str(&ok(&tuneloop(
        dir.path(),
        &["--db", &url, "--json", "import", &file],
    )))
    .expect("JSON");
    assert_eq!(report["comparisons_inserted"], 27);
    let again: serde_json::Value = serde_json::from_str(&ok(&tuneloop(
        dir.path(),
        &["--db", &url, "--json", "import", &file],
    )))
    .expect("JSON");
    assert_eq!(again["comparisons_inserted"], 0);
    assert_eq!(again["comparisons_unchanged"], 27);

    let exported = ok(&tuneloop(dir.path(), &["--db", &url, "export"]));
    let kinds: Vec<String> = exported
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("JSON line")["type"].to_string()
        })
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| k.contains("comparison")).count(),
        27
    );
    assert!(
        kinds.last().is_some_and(|k| k.contains("comparison")),
        "comparisons come last"
    );

    let ranking: serde_json::Value = serde_json::from_str(&ok(&tuneloop(
        dir.path(),
        &["--db", &url, "--json", "rank"],
    )))
    .expect("JSON");
    let order: Vec<&str> = ranking["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m["model"].as_str().expect("model"))
        .collect();
    assert_eq!(order, ["strong", "mid", "weak"]);
    assert_eq!(ranking["comparisons_used"], 26);
    assert_eq!(ranking["skipped_same_model"], 1);
    assert_eq!(ranking["ties"], 1);
    let top = &ranking["models"][0];
    assert!(top["ci_low"].as_f64() < top["score"].as_f64());
    assert_eq!(top["wins"], 16);

    let text = ok(&tuneloop(
        dir.path(),
        &["--db", &url, "rank", "--model", "mid", "--model", "weak"],
    ));
    assert!(text.contains("mid") && !text.contains("strong"), "{text}");
    assert!(text.contains("8 comparisons, 0 of them ties"), "{text}");
}

#[test]
fn comparisons_across_contexts_are_rejected_with_their_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let text = [
        r#"{"type":"response","id":"r1","model_id":"m1","query":"Refund policy?","response":"a","created_at":"2026-09-01T10:00:00Z"}"#,
        r#"{"type":"response","id":"r2","model_id":"m2","query":"Refund policy?","response":"b","created_at":"2026-09-01T10:00:00Z","conversation":[{"role":"user","content":"I bought shoes"}]}"#,
        r#"{"type":"comparison","id":"c1","response_a":"r1","response_b":"r2","winner":"a","created_at":"2026-09-02T10:00:00Z"}"#,
        r#"{"type":"comparison","id":"c2","response_a":"r1","response_b":"r1","winner":"a","created_at":"2026-09-02T10:00:00Z"}"#,
        r#"{"type":"comparison","id":"c3","response_a":"r1","response_b":"r9","winner":"b","created_at":"2026-09-02T10:00:00Z"}"#,
        r#"{"type":"comparison","id":"c4","response_a":"r1","response_b":"r2","winner":"maybe","created_at":"2026-09-02T10:00:00Z"}"#,
    ];
    // Line-level errors are found while reading; references once the lines are valid (as
    // for feedback on an unknown response).
    let check = |name: &str, lines: &[&str], wants: &[&str]| {
        let file = dir.path().join(name);
        std::fs::write(&file, lines.join("\n")).expect("writes");
        let o = tuneloop(
            dir.path(),
            &["--db", &url, "import", &file.to_string_lossy()],
        );
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        for want in wants {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
    };
    check(
        "syntax.jsonl",
        &[text[0], text[1], text[3], text[5]],
        &["line 3: response_b: is the same response", "line 4: winner"],
    );
    check(
        "refs.jsonl",
        &[text[0], text[1], text[2], text[4]],
        &[
            "line 3: response_b: answers a different conversation context",
            "line 4: response_b: no response with id `r9`",
        ],
    );
    let stats = ok(&tuneloop(dir.path(), &["--db", &url, "--json", "rank"]));
    assert!(stats.contains("\"comparisons_used\":0"), "{stats}");
}
