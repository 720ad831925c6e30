//! End-to-end tests of the `tuneloop` binary.
//!
//! Tests that run several processes against one database use a file (`sqlite://`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GOOD: &str = include_str!("good.jsonl");

/// A persistent database in `dir`, shared by the processes of one test.
fn db_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("tuneloop.db").display())
}

fn tuneloop(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .args(args)
        .current_dir(dir)
        .env_remove("TUNELOOP_DATABASE_URL")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn ok(o: &Output) -> &Output {
    assert_eq!(code(o), 0, "stdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
    o
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Each case: the bad line (inserted as line 3 after two good lines) and words the error
/// must contain.
fn bad_cases() -> Vec<(&'static str, String, &'static str)> {
    let big = format!(
        r#"{{"type":"response","id":"big","model_id":"m","query":"{}","response":"r","created_at":"2026-09-01T10:00:00Z"}}"#,
        "x".repeat(10 << 20)
    );
    vec![
        ("broken_json", r#"{"type":"response","id":"#.into(), "not valid JSON"),
        ("unknown_type", r#"{"type":"comment","id":"x"}"#.into(), "not a record type"),
        (
            "rating_7",
            r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":7,"created_at":"2026-09-01T11:00:00Z"}"#.into(),
            "7 is out of range",
        ),
        (
            "thumbs_without_thumbs_up",
            r#"{"type":"feedback","response_id":"r1","variant":"thumbs","created_at":"2026-09-01T11:00:00Z"}"#.into(),
            "thumbs_up",
        ),
        (
            "unknown_response",
            r#"{"type":"feedback","response_id":"nope","variant":"thumbs","thumbs_up":true,"created_at":"2026-09-01T11:00:00Z"}"#.into(),
            "no response with id `nope`",
        ),
        (
            "duplicate_id_other_content",
            r#"{"type":"response","id":"r1","model_id":"support-bot-v2","query":"What is your refund policy?","response":"30 days.","created_at":"2026-09-01T10:00:00Z"}"#.into(),
            "already stored with a different",
        ),
        ("ten_megabyte_field", big, "the limit is"),
    ]
}

fn with_bad_line(bad: &str) -> String {
    let mut lines: Vec<&str> = GOOD.lines().take(2).collect();
    lines.push(bad);
    lines.join("\n") + "\n"
}

#[test]
fn demo_prints_a_quality_report() {
    let dir = tmp();
    let o = tuneloop(dir.path(), &["--db", "memory://", "demo", "--weeks", "4"]);
    let out = stdout(ok(&o));
    for needle in [
        "Quality by model",
        "support-bot-v2",
        "code-assistant-v1",
        "Weekly positive rate",
        "Top 5 problematic responses",
        "Planted issues",
    ] {
        assert!(out.contains(needle), "missing {needle}:\n{out}");
    }
}

#[test]
fn demo_json_has_metrics_in_design_shape() {
    let dir = tmp();
    let o = tuneloop(
        dir.path(),
        &["--db", "memory://", "--json", "demo", "--weeks", "2"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_design_metrics(&v["metrics"]);
    assert_eq!(v["planted"].as_array().map(|a| a.len() >= 4), Some(true));
    assert_eq!(v["problematic"].as_array().map(|a| a.len()), Some(5));
}

fn assert_design_metrics(v: &serde_json::Value) {
    let models = v["models"].as_array().expect("models array");
    assert!(!models.is_empty());
    for m in models {
        for key in [
            "model_id",
            "responses",
            "feedback",
            "positive",
            "negative",
            "neutral",
            "positive_rate",
            "positive_rate_ci",
            "negative_rate",
            "average_rating",
            "categories",
        ] {
            assert!(m.get(key).is_some(), "missing {key} in {m}");
        }
    }
}

#[test]
fn bad_inputs_exit_2_naming_line_and_reason() {
    let dir = tmp();
    for (name, bad, reason) in bad_cases() {
        let file = write(dir.path(), &format!("{name}.jsonl"), &with_bad_line(&bad));
        let file = file.to_string_lossy();
        let o = tuneloop(dir.path(), &["--db", "memory://", "import", &file]);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{name}: {err}");
        assert!(err.starts_with("error: "), "{name}: {err}");
        assert!(err.contains("line 3"), "{name}: {err}");
        assert!(err.contains(reason), "{name}: {err}");
        assert!(err.contains("nothing was imported"), "{name}: {err}");
    }
    let empty = write(dir.path(), "empty.jsonl", "");
    let o = tuneloop(
        dir.path(),
        &["--db", "memory://", "import", &empty.to_string_lossy()],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
}

#[test]
fn reject_file_imports_good_lines_and_keeps_bad_ones() {
    let dir = tmp();
    let mut text = GOOD.to_string();
    text.push_str(r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":7,"created_at":"2026-09-01T11:00:00Z"}"#);
    text.push('\n');
    text.push_str("not json\n");
    let file = write(dir.path(), "mixed.jsonl", &text);
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            "memory://",
            "--json",
            "import",
            &file.to_string_lossy(),
            "--reject-file",
            "rejects.jsonl",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(report["rejected"], 2);
    assert_eq!(report["responses_inserted"], 2);
    assert_eq!(report["feedback_inserted"], 4);
    let rejects = std::fs::read_to_string(dir.path().join("rejects.jsonl")).expect("rejects");
    let lines: Vec<serde_json::Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).expect("reject line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 6);
    assert_eq!(lines[1]["line"], 7);
    assert_eq!(lines[1]["input"], "not json");
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let dir = tmp();
    let o = tuneloop(
        dir.path(),
        &["--db", "memory://", "metrics", "--since", "yesterday"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--since"), "{}", stderr(&o));

    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            "memory://",
            "export",
            "--since",
            "2026-10-01",
            "--until",
            "2026-09-01",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--since"), "{}", stderr(&o));

    let o = tuneloop(
        dir.path(),
        &["--db", "memory://", "metrics", "--bucket", "year"],
    );
    assert_eq!(code(&o), 2);

    let o = tuneloop(
        dir.path(),
        &["--db", "memory://", "import", "missing.jsonl"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing.jsonl"), "{}", stderr(&o));

    let o = tuneloop(dir.path(), &["--db", "mysql://x", "metrics"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("sqlite://"), "{}", stderr(&o));

    let o = tuneloop(
        dir.path(),
        &["--db", "memory://", "metrics", "--since", "2026-09-01"],
    );
    assert_eq!(code(ok(&o)), 0);
}

#[test]
fn check_db_on_a_missing_file_fails_and_creates_nothing() {
    let dir = tmp();
    let url = db_url(dir.path());
    let o = tuneloop(dir.path(), &["--db", &url, "check", "db"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert!(!dir.path().join("tuneloop.db").exists());
}

// ---- multi-process tests: need a persistent backend ----

fn export(dir: &Path, url: &str) -> Vec<u8> {
    ok(&tuneloop(dir, &["--db", url, "export"])).stdout.clone()
}

#[test]
fn import_then_reimport_changes_nothing() {
    let dir = tmp();
    let url = db_url(dir.path());
    let file = write(dir.path(), "good.jsonl", GOOD);
    let file = file.to_string_lossy();
    let o = tuneloop(dir.path(), &["--db", &url, "--json", "import", &file]);
    let first: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(first["responses_inserted"], 2);
    assert_eq!(first["feedback_inserted"], 4);
    let before = export(dir.path(), &url);

    let o = tuneloop(dir.path(), &["--db", &url, "--json", "import", &file]);
    let second: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(second["responses_inserted"], 0);
    assert_eq!(second["feedback_inserted"], 0);
    assert_eq!(second["responses_unchanged"], 2);
    assert_eq!(second["feedback_unchanged"], 4);
    assert_eq!(before, export(dir.path(), &url));
}

#[test]
fn bad_inputs_leave_the_database_unchanged() {
    let dir = tmp();
    let url = db_url(dir.path());
    let seed = write(dir.path(), "seed.jsonl", GOOD);
    ok(&tuneloop(
        dir.path(),
        &["--db", &url, "import", &seed.to_string_lossy()],
    ));
    let before = export(dir.path(), &url);
    assert!(!before.is_empty());
    for (name, bad, reason) in bad_cases() {
        // New ids on the good lines, so only the bad line stops the import.
        let text = with_bad_line(&bad).replace("\"r2\"", "\"r2b\"");
        let file = write(dir.path(), &format!("{name}.jsonl"), &text);
        let o = tuneloop(
            dir.path(),
            &["--db", &url, "import", &file.to_string_lossy()],
        );
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(reason), "{name}: {}", stderr(&o));
        assert_eq!(
            before,
            export(dir.path(), &url),
            "{name} changed the database"
        );
    }
}

#[test]
fn export_import_export_is_lossless() {
    let dir = tmp();
    let a = db_url(&dir.path().join("a"));
    let b = db_url(&dir.path().join("b"));
    std::fs::create_dir_all(dir.path().join("a")).expect("dir");
    std::fs::create_dir_all(dir.path().join("b")).expect("dir");
    ok(&tuneloop(dir.path(), &["--db", &a, "demo", "--weeks", "3"]));
    let file = write(dir.path(), "good.jsonl", GOOD);
    ok(&tuneloop(
        dir.path(),
        &["--db", &a, "import", &file.to_string_lossy()],
    ));
    ok(&tuneloop(
        dir.path(),
        &["--db", &a, "export", "--out", "one.jsonl"],
    ));
    ok(&tuneloop(dir.path(), &["--db", &b, "import", "one.jsonl"]));
    ok(&tuneloop(
        dir.path(),
        &["--db", &b, "export", "--out", "two.jsonl"],
    ));
    let one = std::fs::read(dir.path().join("one.jsonl")).expect("one");
    let two = std::fs::read(dir.path().join("two.jsonl")).expect("two");
    assert!(one.len() > 100_000);
    assert!(one == two, "export → import → export changed the bytes");
}

#[test]
fn metrics_and_problematic_json_after_import() {
    let dir = tmp();
    let url = db_url(dir.path());
    let file = write(dir.path(), "good.jsonl", GOOD);
    ok(&tuneloop(
        dir.path(),
        &["--db", &url, "import", &file.to_string_lossy()],
    ));
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "metrics", "--bucket", "week"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_design_metrics(&v);
    let v2 = v["models"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["model_id"] == "support-bot-v2"))
        .expect("support-bot-v2");
    assert_eq!(v2["negative"], 3);
    assert!(v2["buckets"].is_array());
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "problematic", "--limit", "5"],
    );
    let p: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(p["responses"][0]["response_id"], "r1");
    assert_eq!(p["responses"][0]["negative"], 3);
    ok(&tuneloop(dir.path(), &["--db", &url, "metrics"]));
    ok(&tuneloop(dir.path(), &["--db", &url, "problematic"]));
}

#[test]
fn demo_twice_is_idempotent_and_migrate_check_pass() {
    let dir = tmp();
    let url = db_url(dir.path());
    ok(&tuneloop(dir.path(), &["--db", &url, "migrate"]));
    ok(&tuneloop(dir.path(), &["--db", &url, "check", "db"]));
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "demo", "--weeks", "2"],
    );
    let first: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    let before = export(dir.path(), &url);
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "demo", "--weeks", "2"],
    );
    let second: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(second["import"]["responses_inserted"], 0);
    assert_eq!(
        second["import"]["responses_unchanged"],
        first["import"]["responses_inserted"]
    );
    assert_eq!(first["metrics"], second["metrics"]);
    assert_eq!(before, export(dir.path(), &url));
    let o = tuneloop(dir.path(), &["--db", &url, "--json", "check", "db"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(v["ok"], true);
    assert!(v["health"]["schema_version"].is_i64());
    assert_eq!(v["health"]["aggregate_mismatches"], 0);
    // Nothing to repair after two imports (the second inserted nothing), and the repair
    // leaves metrics as they were.
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "repair", "aggregates"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(v["mismatched"], 0);
    assert!(v["rows"].as_u64().is_some_and(|n| n > 0), "{v}");
    let o = tuneloop(dir.path(), &["--db", &url, "--json", "metrics"]);
    let after: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(after, first["metrics"]);
}

/// On PostgreSQL (`TUNELOOP_TEST_POSTGRES_URL`, skipped without it), in a schema of its
/// own: `migrate`, `check db`, then `demo` and `metrics --json` give exactly the numbers
/// SQLite gives for the same seed.
#[test]
fn postgres_demo_metrics_equal_sqlite() {
    let Some(server) = tuneloop::testing::postgres::test_url() else {
        return;
    };
    let guard = tuneloop::testing::postgres::SchemaGuard::new(&server);
    let pg = guard.url();
    let dir = tmp();
    let sqlite = db_url(dir.path());
    ok(&tuneloop(dir.path(), &["--db", &pg, "migrate"]));
    ok(&tuneloop(dir.path(), &["--db", &pg, "check", "db"]));
    let mut outputs = Vec::new();
    for url in [&pg, &sqlite] {
        let args = ["--db", url, "demo", "--seed", "7", "--weeks", "3"];
        ok(&tuneloop(dir.path(), &args));
        let mut json = Vec::new();
        for cmd in [
            &["metrics"][..],
            &["metrics", "--bucket", "week"],
            &["problematic"],
        ] {
            let mut args = vec!["--db", url.as_str(), "--json"];
            args.extend_from_slice(cmd);
            let o = tuneloop(dir.path(), &args);
            let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
            json.push(v);
        }
        outputs.push(json);
    }
    assert!(!outputs[0][0]["models"]
        .as_array()
        .expect("models")
        .is_empty());
    assert_eq!(outputs[0], outputs[1]);
    let o = tuneloop(dir.path(), &["--db", &pg, "--json", "check", "db"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    let health = &v["health"];
    assert_eq!(health["backend"], "postgres");
    assert_eq!(health["orphaned_feedback"], 0);
}

#[test]
fn trends_find_the_demo_world_planted_trends() {
    let dir = tmp();
    let url = db_url(dir.path());
    ok(&tuneloop(dir.path(), &["--db", &url, "--json", "demo"]));
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            &url,
            "--json",
            "trends",
            "--model",
            "support-bot-v2",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    let trends = v["trends"].as_array().expect("trends");
    let find = |c: &str| trends.iter().find(|t| t["category"] == c).expect(c);
    for c in ["hallucination", "too_verbose"] {
        let t = find(c);
        assert_eq!(t["direction"], "rising", "{t}");
        assert!(t["slope"].as_f64().unwrap() > 0.0);
        assert!(t["p_value"].as_f64().unwrap() < 0.05);
        assert!(t["emerging"].is_boolean());
        assert!(t.get("change_point").is_some());
        let w = &t["weekly"][0];
        assert!(w["week"].as_str().unwrap().contains("-W"));
        for k in ["negatives", "responses", "rate"] {
            assert!(w[k].is_number(), "{k}");
        }
    }
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "trends", "--model", "support-bot-v1"],
    );
    let out = stdout(ok(&o));
    assert!(
        out.contains("outdated") && out.contains("↓ falling"),
        "{out}"
    );
    let o = tuneloop(dir.path(), &["--db", &url, "trends", "--alpha", "0"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn suggest_and_saved_runs() {
    let dir = tmp();
    let url = db_url(dir.path());
    ok(&tuneloop(dir.path(), &["--db", &url, "--json", "demo"]));
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            &url,
            "--json",
            "suggest",
            "--model",
            "support-bot-v2",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    let s = v["suggestions"].as_array().expect("suggestions");
    assert_eq!(s[0]["category"], "hallucination", "{v}");
    for k in [
        "id",
        "title",
        "action",
        "category",
        "pattern_id",
        "priority",
        "rationale",
        "evidence",
    ] {
        assert!(s[0].get(k).is_some(), "{k}");
    }
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "suggest", "--model", "support-bot-v1"],
    );
    assert!(stdout(ok(&o)).contains("Refresh"), "{}", stdout(&o));

    let save = |model: &str| {
        let o = tuneloop(
            dir.path(),
            &[
                "--db", &url, "--json", "analyze", "--save", "--model", model,
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
        v["run_id"].as_str().expect("run_id").to_string()
    };
    let a = save("support-bot-v1");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let b = save("support-bot-v2");
    let o = tuneloop(dir.path(), &["--db", &url, "--json", "runs", "list"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    let ids: Vec<&str> = v["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [b.as_str(), a.as_str()]);
    let o = tuneloop(dir.path(), &["--db", &url, "runs", "show", &a]);
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert_eq!(v["kind"], "analysis");
    assert_eq!(v["params"]["model"], "support-bot-v1");
    for k in ["patterns", "trends", "suggestions"] {
        assert!(v["result"][k].is_array(), "{k}");
    }
    // The same run against itself: nothing changes.
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "runs", "diff", &a, &a],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert!(v["unchanged"].as_array().is_some_and(|u| !u.is_empty()));
    for k in ["new", "grown", "shrunk", "resolved"] {
        assert_eq!(v[k].as_array().map(Vec::len), Some(0), "{k}");
    }
    // Different models share no responses: everything is resolved or new.
    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "runs", "diff", &a, &b],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    assert!(!v["new"].as_array().expect("new").is_empty());
    assert!(!v["resolved"].as_array().expect("resolved").is_empty());
    let o = tuneloop(dir.path(), &["--db", &url, "runs", "show", "r-missing"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn custom_rule_tables_from_files() {
    let dir = tmp();
    let url = db_url(dir.path());
    ok(&tuneloop(dir.path(), &["--db", &url, "--json", "demo"]));
    let rules = write(
        dir.path(),
        "rules.json",
        r#"{"extends_default": false, "rules": [
            {"category": "hallucination", "when": {"min_size": 10},
             "title": "Escalate invented answers to the docs team",
             "action": "Send the pattern's examples to the docs team weekly.",
             "base_priority": 3}]}"#,
    );
    let rules_arg = rules.to_str().expect("utf-8 path");
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            &url,
            "--json",
            "suggest",
            "--model",
            "support-bot-v2",
            "--rules",
            rules_arg,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    let s = v["suggestions"].as_array().expect("suggestions");
    assert!(!s.is_empty(), "{v}");
    assert!(
        s.iter()
            .all(|x| x["title"] == "Escalate invented answers to the docs team"),
        "{v}"
    );

    // The demo has negatives without categories whose comments say the bot answered
    // something else; a lexicon naming that complaint puts them in a custom category.
    let lexicon = write(
        dir.path(),
        "lexicon.json",
        r#"{"extends_default": false, "rules": [{"category": "off_topic",
            "any_of": ["not what i asked", "didn't answer", "something else"]}]}"#,
    );
    let lex_arg = lexicon.to_str().expect("utf-8 path");
    let base = tuneloop(dir.path(), &["--db", &url, "--json", "analyze"]);
    let custom = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "analyze", "--lexicon", lex_arg],
    );
    assert!(!stdout(ok(&base)).contains("\"off_topic\""));
    // Those comments are scattered over background patterns, so off_topic reaches no
    // pattern's majority (a pattern's category needs half of its members); the lexicon
    // shows in the category shares of the patterns it touches.
    let shares = |o: &std::process::Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&stdout(ok(o))).expect("JSON");
        let mut s: Vec<String> = v["patterns"]
            .as_array()
            .expect("patterns")
            .iter()
            .map(|p| format!("{} {}", p["category"], p["category_share"]))
            .collect();
        s.sort();
        s
    };
    assert_ne!(shares(&base), shares(&custom));

    // A bad file: exit 2 naming the file and the field, before the database is touched.
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"rules": [{"category": "hallucination", "title": "t", "action": "a", "base_priority": -3}]}"#,
    );
    let fresh = format!("sqlite://{}", dir.path().join("untouched.db").display());
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            &fresh,
            "suggest",
            "--rules",
            bad.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.json"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rules[0].base_priority"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("untouched.db").exists());
    let o = tuneloop(
        dir.path(),
        &["--db", &fresh, "analyze", "--lexicon", "nope.json"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("nope.json"), "{}", stderr(&o));
}

/// `analyze --json` and `suggest --json` print exactly the facade's result for the same
/// call: the JSON is the schema, shared by every front.
#[test]
fn analysis_json_is_the_facades_result() {
    use tuneloop::service::{AnalyzeOptions, RulesFile};
    let dir = tmp();
    let url = db_url(dir.path());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let open = || {
        rt.block_on(tuneloop::Tuneloop::open(tuneloop::Options::database(
            url.clone(),
        )))
        .expect("open")
    };
    let world = tuneloop::demo::generate(&tuneloop::demo::DemoOptions {
        responses_per_week: 30,
        ..Default::default()
    });
    let tl = open();
    rt.block_on(tl.record(&world.batch)).expect("record");
    rt.block_on(tl.close()).expect("close");

    let rules_text = r#"{"rules": [{"category": "*", "when": {"min_size": 3},
        "title": "Review the pattern", "action": "Read the examples.", "base_priority": 2}]}"#;
    let rules = write(dir.path(), "rules.json", rules_text);
    let rules_arg = rules.to_str().expect("utf-8 path");
    let flags = ["--model", "support-bot-v2", "--until", "2026-11-16"];
    let cli = |command: &str, extra: &[&str]| {
        let mut args = vec!["--db", url.as_str(), "--json", command];
        args.extend_from_slice(&flags);
        args.extend_from_slice(extra);
        let text = stdout(ok(&tuneloop(dir.path(), &args)));
        assert_eq!(text.lines().count(), 1, "one compact line: {text}");
        serde_json::from_str::<serde_json::Value>(&text).expect("JSON")
    };
    let analyze = cli("analyze", &[]);
    let suggest = cli("suggest", &["--rules", rules_arg]);

    let options = AnalyzeOptions {
        model: Some("support-bot-v2".into()),
        until: Some(tuneloop::model::parse_timestamp("2026-11-16T00:00:00Z").expect("date")),
        ..Default::default()
    };
    let tl = open();
    let facade_analyze = rt.block_on(tl.analyze(&options)).expect("analyze");
    let facade_suggest = rt
        .block_on(tl.suggest(&AnalyzeOptions {
            rules: Some(RulesFile::from_json(rules_text).expect("rules")),
            ..options.clone()
        }))
        .expect("suggest");
    rt.block_on(tl.close()).expect("close");
    let value = |text: String| serde_json::from_str::<serde_json::Value>(&text).expect("JSON");
    assert!(!facade_analyze.patterns.is_empty());
    assert_eq!(
        analyze,
        value(serde_json::to_string(&facade_analyze).expect("serialise"))
    );
    assert!(facade_suggest
        .suggestions
        .iter()
        .any(|s| s.title == "Review the pattern"));
    assert_eq!(
        suggest,
        value(serde_json::to_string(&facade_suggest).expect("serialise"))
    );
}

fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o)).expect("JSON on stdout")
}

#[test]
fn credits_grant_balance_and_check() {
    let dir = tmp();
    let url = db_url(dir.path());
    let t = |args: &[&str]| {
        let mut all = vec!["--db", url.as_str()];
        all.extend_from_slice(args);
        tuneloop(dir.path(), &all)
    };
    // An unknown account: balance fails, the check says why.
    let o = t(&["credits", "balance", "--account", "acme"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("acme"), "{}", stderr(&o));
    let o = t(&["check", "credits", "--account", "acme"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("✗ account"), "{}", stdout(&o));

    // A grant with a key, repeated: counted once. Another amount with the key: refused.
    ok(&t(&[
        "credits",
        "grant",
        "--account",
        "acme",
        "--amount",
        "100",
        "--key",
        "k1",
    ]));
    ok(&t(&[
        "credits",
        "grant",
        "--account",
        "acme",
        "--amount",
        "100",
        "--key",
        "k1",
    ]));
    let o = t(&[
        "credits",
        "grant",
        "--account",
        "acme",
        "--amount",
        "7",
        "--key",
        "k1",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("k1"), "{}", stderr(&o));

    // Without a key, one is made up and printed; repeating with it is a no-op.
    let o = ok(&t(&[
        "--json",
        "credits",
        "grant",
        "--account",
        "acme",
        "--amount",
        "5",
    ]))
    .clone();
    let v = json_of(&o);
    let key = v["key"].as_str().expect("key").to_string();
    assert_eq!(v["granted"], 105);
    let v = json_of(ok(&t(&[
        "--json",
        "credits",
        "grant",
        "--account",
        "acme",
        "--amount",
        "5",
        "--key",
        &key,
    ])));
    assert_eq!(v["granted"], 105);

    let v = json_of(ok(&t(&[
        "credits",
        "balance",
        "--account",
        "acme",
        "--json",
    ])));
    assert_eq!(
        v,
        serde_json::json!({"account":"acme","granted":105,"pending":0,"posted":0,"available":105})
    );
    let o = ok(&t(&["credits", "balance", "--account", "acme"])).clone();
    assert!(stdout(&o).contains("105"), "{}", stdout(&o));

    let o = ok(&t(&["check", "credits", "--account", "acme"])).clone();
    let text = stdout(&o);
    for line in ["✓ ledger", "✓ account", "✓ round trip"] {
        assert!(text.contains(line), "{text}");
    }
    let v = json_of(ok(&t(&["--json", "check", "credits", "--account", "acme"])));
    assert_eq!(v["ok"], true);
    assert_eq!(v["checks"].as_array().map(|a| a.len()), Some(3));
    // The round trip held nothing.
    let v = json_of(ok(&t(&[
        "credits",
        "balance",
        "--account",
        "acme",
        "--json",
    ])));
    assert_eq!(
        (v["available"].as_u64(), v["pending"].as_u64()),
        (Some(105), Some(0))
    );

    // A database that does not exist is not created by the check.
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            "sqlite://missing.db",
            "check",
            "credits",
            "--account",
            "acme",
        ],
    );
    assert_eq!(code(&o), 1);
    assert!(!dir.path().join("missing.db").exists());
}

#[test]
fn credits_grant_says_no_op_and_refuses_amounts_below_one() {
    let dir = tmp();
    let url = db_url(dir.path());
    let t = |args: &[&str]| {
        let mut all = vec![
            "--db",
            url.as_str(),
            "credits",
            "grant",
            "--account",
            "acme",
        ];
        all.extend_from_slice(args);
        tuneloop(dir.path(), &all)
    };
    let o = ok(&t(&["--amount", "40", "--key", "k9"])).clone();
    assert!(stdout(&o).contains("granted 40 credits"), "{}", stdout(&o));
    let o = ok(&t(&["--amount", "40", "--key", "k9"])).clone();
    assert!(
        stdout(&o).contains("no-op: a grant with key k9 was already applied"),
        "{}",
        stdout(&o)
    );
    let v = json_of(ok(&t(&["--amount", "40", "--key", "k9", "--json"])));
    assert_eq!(
        (v["applied"].as_bool(), v["granted"].as_u64()),
        (Some(false), Some(40))
    );
    // 0 and negatives: our message (exit 2), not clap's, and nothing granted.
    for amount in ["0", "-5"] {
        let o = t(&["--amount", amount]);
        assert_eq!(code(&o), 2, "{amount}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("--amount") && err.contains(amount) && err.contains("positive"),
            "{amount}: {err}"
        );
    }
    let o = ok(&tuneloop(
        dir.path(),
        &[
            "--db",
            &url,
            "--json",
            "credits",
            "balance",
            "--account",
            "acme",
        ],
    ))
    .clone();
    assert_eq!(json_of(&o)["granted"], 40);
}

#[test]
fn check_feedback_reports_each_model() {
    let dir = tmp();
    let url = db_url(dir.path());
    // Nothing recorded yet (and the database missing): a failure, nothing created.
    let o = tuneloop(dir.path(), &["--db", &url, "check", "feedback"]);
    assert_eq!(code(&o), 1);
    assert!(!dir.path().join("tuneloop.db").exists());
    ok(&tuneloop(dir.path(), &["--db", &url, "--json", "demo"]));
    // The demo history ends on 2026-11-23: a window reaching back to 2026-11-16 holds its
    // last week, whatever today's date.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-16T00:00:00Z").expect("date");
    let hours = (chrono::Utc::now() - start.with_timezone(&chrono::Utc)).num_hours() + 1;
    let hours = hours.to_string();
    let o = tuneloop(
        dir.path(),
        &[
            "--db", &url, "--json", "check", "feedback", "--hours", &hours,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(ok(&o))).expect("JSON");
    let checks = v["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 3, "{v}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{v}");
    // More than the demo gives per week: every model fails, exit 1, one line each.
    let o = tuneloop(
        dir.path(),
        &[
            "--db", &url, "check", "feedback", "--hours", &hours, "--min", "100000",
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(
        stdout(&o).matches("✗ feedback").count(),
        3,
        "{}",
        stdout(&o)
    );
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            &url,
            "check",
            "feedback",
            "--model",
            "support-bot-v1",
            "--hours",
            &hours,
        ],
    );
    assert!(stdout(ok(&o)).contains("support-bot-v1:"), "{}", stdout(&o));
}

/// Issue 12: `problematic` hides personal data by default (text and JSON); `--show-pii`
/// shows what users wrote.
#[test]
fn problematic_hides_personal_data_unless_asked() {
    let dir = tmp();
    let url = db_url(dir.path());
    let data = r#"{"type":"response","id":"p1","model_id":"m","query":"My card 4111 1111 1111 1111 was charged twice","response":"Write to billing@example.com","created_at":"2026-09-01T10:00:00Z"}
{"type":"feedback","response_id":"p1","variant":"thumbs","thumbs_up":false,"comment":"useless, mail me at jane.doe@example.org","created_at":"2026-09-01T10:05:00Z"}
"#;
    let file = write(dir.path(), "pii.jsonl", data);
    ok(&tuneloop(
        dir.path(),
        &["--db", &url, "import", &file.to_string_lossy()],
    ));
    for args in [
        vec!["--db", url.as_str(), "problematic"],
        vec!["--db", url.as_str(), "--json", "problematic"],
    ] {
        let out = stdout(ok(&tuneloop(dir.path(), &args)));
        for secret in ["4111 1111", "billing@example.com", "jane.doe@example.org"] {
            assert!(!out.contains(secret), "{args:?} shows {secret}:\n{out}");
        }
        assert!(
            out.contains("[EMAIL]") && out.contains("[CREDIT_CARD]"),
            "{out}"
        );
    }
    let out = stdout(ok(&tuneloop(
        dir.path(),
        &["--db", &url, "problematic", "--show-pii"],
    )));
    assert!(out.contains("jane.doe@example.org"), "{out}");
}

/// Issue 12: with `--json`, errors are `{"error":{"code","message","causes"}}` on stderr,
/// with the library's stable code; stdout stays empty.
#[test]
fn json_errors_have_a_code_a_message_and_causes() {
    let dir = tmp();
    let url = db_url(dir.path());
    let o = tuneloop(
        dir.path(),
        &[
            "--db",
            &url,
            "--json",
            "metrics",
            "--since",
            "2026-09-02",
            "--until",
            "2026-09-01",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let e: serde_json::Value = serde_json::from_str(stderr(&o).trim()).expect("one JSON value");
    assert_eq!(e["error"]["code"], "invalid_input", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("--since"),
        "{e}"
    );
    assert!(e["error"]["causes"].is_array(), "{e}");

    let o = tuneloop(
        dir.path(),
        &["--db", &url, "--json", "runs", "show", "no-such-run"],
    );
    assert_ne!(code(&o), 0);
    let e: serde_json::Value = serde_json::from_str(stderr(&o).trim()).expect("one JSON value");
    assert_eq!(e["error"]["code"], "not_found", "{e}");
}

/// Issue 13: `problematic` ranks by the lower bound of the negative share by default (12 of
/// 12 before 20 of 60), by the count with `--rank-by count`; the limit applies after ranking.
#[test]
fn problematic_ranks_by_rate_unless_asked_for_count() {
    let dir = tmp();
    let url = db_url(dir.path());
    let mut lines = String::new();
    let mut fid = 0;
    for (id, negative, total) in [("always-bad", 12, 12), ("often-rated", 20, 60)] {
        lines.push_str(&format!(
            "{{\"type\":\"response\",\"id\":\"{id}\",\"model_id\":\"m\",\"query\":\"q {id}\",\
             \"response\":\"a {id}\",\"created_at\":\"2026-09-01T10:00:00Z\"}}\n"
        ));
        for i in 0..total {
            fid += 1;
            lines.push_str(&format!(
                "{{\"type\":\"feedback\",\"id\":\"f{fid}\",\"response_id\":\"{id}\",\
                 \"variant\":\"thumbs\",\"thumbs_up\":{},\"created_at\":\"2026-09-02T10:00:00Z\"}}\n",
                i >= negative
            ));
        }
    }
    let file = write(dir.path(), "rank.jsonl", &lines);
    ok(&tuneloop(
        dir.path(),
        &["--db", &url, "import", &file.to_string_lossy()],
    ));
    let first = |extra: &[&str]| {
        let mut args = vec![
            "--db",
            url.as_str(),
            "--json",
            "problematic",
            "--limit",
            "1",
        ];
        args.extend_from_slice(extra);
        let v: serde_json::Value =
            serde_json::from_str(&stdout(ok(&tuneloop(dir.path(), &args)))).expect("JSON");
        assert_eq!(v["responses"].as_array().map(Vec::len), Some(1), "{v}");
        v["responses"][0].clone()
    };
    let top = first(&[]);
    assert_eq!(top["response_id"], "always-bad");
    assert_eq!(top["negative_rate"], 1.0);
    let lower = top["wilson_lower"].as_f64().expect("wilson_lower");
    assert!((lower - 0.7575).abs() < 1e-3, "{lower}");
    assert_eq!(first(&["--rank-by", "rate"])["response_id"], "always-bad");
    assert_eq!(first(&["--rank-by", "count"])["response_id"], "often-rated");
    let text = stdout(ok(&tuneloop(
        dir.path(),
        &["--db", &url, "problematic", "--rank-by", "count"],
    )))
    .to_string();
    assert!(text.contains("20 negative of 60 feedback (33 %"), "{text}");
    let bad = tuneloop(
        dir.path(),
        &["--db", &url, "problematic", "--rank-by", "size"],
    );
    assert!(!bad.status.success());
}
