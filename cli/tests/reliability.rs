//! Issue 11: the faults an operator found by probing the binary — concurrent first opens,
//! a slow pipe holding the write lock, output paths that destroy their input, secrets in
//! output, byte order marks and non-UTF-8 reject lines. Each test runs real processes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tuneloop"));
    c.env_remove("TUNELOOP_DATABASE_URL")
        .env_remove("TUNELOOP_MCP_URL")
        .env_remove("TUNELOOP_MCP_TOKEN");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> &Output {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    o
}

fn line(i: usize) -> String {
    format!(
        r#"{{"type":"response","id":"r{i}","model_id":"m","query":"q{i}","response":"a{i}","created_at":"2026-09-01T10:00:00Z"}}"#
    )
}

fn jsonl(range: std::ops::Range<usize>) -> String {
    range.map(|i| line(i) + "\n").collect()
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p
}

fn responses_in(dir: &Path, db: &str) -> u64 {
    let o = run(dir, &["--db", db, "--json", "metrics"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("metrics JSON");
    v["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| m["responses"].as_u64().unwrap_or(0))
        .sum()
}

/// Item 4: 8 imports at once into a file that does not exist yet (1-7 of 8 failed with
/// "table models already exists").
#[test]
fn concurrent_imports_into_a_new_file_all_succeed() {
    let dir = tempfile::tempdir().expect("dir");
    for round in 0..3 {
        let db = format!("sqlite://{}/cold-{round}.db", dir.path().display());
        let children: Vec<_> = (0..8)
            .map(|i| {
                let f = write(
                    dir.path(),
                    &format!("cold-{round}-{i}.jsonl"),
                    jsonl(i * 10..i * 10 + 10).as_bytes(),
                );
                bin()
                    .args(["--db", &db, "import", &f.to_string_lossy()])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let o = c.wait_with_output().expect("wait");
            assert_eq!(
                o.status.code(),
                Some(0),
                "round {round} import {i}: {}",
                text(&o)
            );
        }
        assert_eq!(responses_in(dir.path(), &db), 80);
    }
}

/// Item 5: `import -` from a slow pipe held SQLite's write lock before its first line, so
/// every other writer failed with SQLITE_BUSY after 5 s. Now the input is read first.
#[test]
fn a_slow_pipe_does_not_block_other_writers() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/slow.db", dir.path().display());
    ok(&run(dir.path(), &["--db", &db, "migrate"]));
    let mut slow = bin()
        .args(["--db", &db, "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = slow.stdin.take().expect("stdin");
    stdin.write_all(jsonl(0..5).as_bytes()).expect("feed");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));
    // Other writers while the pipe is open and idle: a grant and a whole second import.
    let started = Instant::now();
    ok(&run(
        dir.path(),
        &[
            "--db",
            &db,
            "credits",
            "grant",
            "--account",
            "acme",
            "--amount",
            "100",
            "--key",
            "g1",
        ],
    ));
    let f = write(dir.path(), "other.jsonl", jsonl(100..110).as_bytes());
    ok(&run(
        dir.path(),
        &["--db", &db, "import", &f.to_string_lossy()],
    ));
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(4),
        "writers waited {waited:?} for the idle pipe's import"
    );
    stdin.write_all(jsonl(5..10).as_bytes()).expect("feed");
    drop(stdin);
    let o = slow.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(responses_in(dir.path(), &db), 20);
}

/// Item 5: 8 imports at once into one existing file all succeed (1 of 8 failed with
/// SQLITE_BUSY in 1 of 3 trials). Overlapping lines too: the same ids in other orders.
#[test]
fn eight_concurrent_imports_into_one_file_all_succeed() {
    let dir = tempfile::tempdir().expect("dir");
    for trial in 0..3 {
        let db = format!("sqlite://{}/busy-{trial}.db", dir.path().display());
        ok(&run(dir.path(), &["--db", &db, "migrate"]));
        let children: Vec<_> = (0..8)
            .map(|i| {
                let mut lines: Vec<String> = (0..3_000).map(line).collect();
                lines.rotate_left(i * 300);
                let f = write(
                    dir.path(),
                    &format!("busy-{trial}-{i}.jsonl"),
                    (lines.join("\n") + "\n").as_bytes(),
                );
                bin()
                    .args([
                        "--db",
                        &db,
                        "import",
                        &f.to_string_lossy(),
                        "--batch-size",
                        "200",
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let o = c.wait_with_output().expect("wait");
            assert_eq!(
                o.status.code(),
                Some(0),
                "trial {trial} import {i}: {}",
                text(&o)
            );
        }
        assert_eq!(responses_in(dir.path(), &db), 3_000);
    }
}

/// Item 7: `import F --reject-file F` truncated F before reading it, then said "the input
/// is empty". Item 8: `export --out DB` replaced the database with JSONL, exit 0.
#[test]
fn output_paths_that_are_the_input_or_the_database_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db_path = dir.path().join("keep.db");
    let db = format!("sqlite://{}", db_path.display());
    let input = jsonl(0..3) + "{broken\n";
    let f = write(dir.path(), "in.jsonl", input.as_bytes());
    for reject in ["in.jsonl", "./in.jsonl"] {
        let o = run(
            dir.path(),
            &["--db", &db, "import", "in.jsonl", "--reject-file", reject],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("--reject-file"), "{}", text(&o));
        assert!(text(&o).contains("is the input"), "{}", text(&o));
        assert_eq!(
            std::fs::read_to_string(&f).expect("input"),
            input,
            "input kept"
        );
    }
    ok(&run(
        dir.path(),
        &[
            "--db",
            &db,
            "import",
            "in.jsonl",
            "--reject-file",
            "rej.jsonl",
        ],
    ));
    let before = std::fs::read(&db_path).expect("db");
    for out in ["keep.db", "./keep.db", "keep.db-wal"] {
        let o = run(dir.path(), &["--db", &db, "export", "--out", out]);
        assert_eq!(o.status.code(), Some(2), "{out}: {}", text(&o));
        assert!(text(&o).contains("is the database"), "{}", text(&o));
    }
    let o = run(
        dir.path(),
        &[
            "--db",
            &db,
            "import",
            "in.jsonl",
            "--reject-file",
            "keep.db",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        std::fs::read(&db_path).expect("db"),
        before,
        "database kept"
    );
    ok(&run(dir.path(), &["--db", &db, "check", "db"]));
    assert_eq!(responses_in(dir.path(), &db), 3);
}

/// Item 11: a UTF-8 byte order mark on line 1 was "expected value at line 1 column 1"; an
/// invalid-UTF-8 line went to the reject file with U+FFFD, its bytes lost.
#[test]
fn byte_order_mark_and_exact_reject_bytes() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/bom.db", dir.path().display());
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice(jsonl(0..2).as_bytes());
    let bad: &[u8] = b"{\"type\":\"response\",\"id\":\"x\xff\xfe\"}";
    input.extend_from_slice(bad);
    input.push(b'\n');
    write(dir.path(), "bom.jsonl", &input);
    let o = run(
        dir.path(),
        &[
            "--db",
            &db,
            "import",
            "bom.jsonl",
            "--reject-file",
            "rej.jsonl",
        ],
    );
    ok(&o);
    assert_eq!(responses_in(dir.path(), &db), 2, "{}", text(&o));
    let rej = std::fs::read_to_string(dir.path().join("rej.jsonl")).expect("rejects");
    let rec: serde_json::Value = serde_json::from_str(rej.trim()).expect("one JSON record");
    assert_eq!(rec["line"], 3);
    assert!(
        rec["reason"].as_str().unwrap_or("").contains("UTF-8"),
        "{rec}"
    );
    assert!(rec.get("input").is_none(), "{rec}");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rec["input_base64"].as_str().expect("input_base64"))
        .expect("base64");
    assert_eq!(bytes, bad, "the exact original bytes");
    let offset = rec["offset"].as_u64().expect("offset") as usize;
    assert_eq!(&input[offset..offset + bad.len()], bad);
}

/// Item 2: with the URL in the environment, `--help` printed it (clap shows env values).
#[test]
fn help_does_not_show_urls_from_the_environment() {
    let o = bin()
        .arg("--help")
        .env(
            "TUNELOOP_DATABASE_URL",
            "postgres://app:hunter2pw@db.example/feedback",
        )
        .env("TUNELOOP_MCP_URL", "http://u:mcp-hunter2@mcp.example/mcp")
        .output()
        .expect("runs");
    ok(&o);
    assert!(!text(&o).contains("hunter2"), "{}", text(&o));
}

/// Item 2: the database password in every output and error. PostgreSQL accepts any
/// password over trusted local connections, so a real server shows the normal output.
#[test]
fn database_passwords_never_appear() {
    let Ok(base) = std::env::var("TUNELOOP_TEST_POSTGRES_URL") else {
        eprintln!("skipped: TUNELOOP_TEST_POSTGRES_URL is not set");
        return;
    };
    let secret = "s3cretPW9";
    let with_password = base.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{secret}@"),
        1,
    );
    assert!(with_password.contains(secret), "test URL shape: {base}");
    let schema = format!("secrets_{}", std::process::id());
    let sep = if with_password.contains('?') {
        '&'
    } else {
        '?'
    };
    let good = format!("{with_password}{sep}schema={schema}");
    let dir = tempfile::tempdir().expect("dir");
    write(dir.path(), "in.jsonl", jsonl(0..3).as_bytes());
    let mut outputs = Vec::new();
    for json in [false, true] {
        let j: &[&str] = if json { &["--json"] } else { &[] };
        for args in [
            vec!["import", "in.jsonl"],
            vec!["migrate"],
            vec!["check", "db"],
            vec!["check", "all"],
            vec!["metrics"],
        ] {
            let mut all = vec!["--db", good.as_str()];
            all.extend_from_slice(j);
            all.extend(args.iter().copied());
            outputs.push((all.join(" "), run(dir.path(), &all)));
        }
    }
    let bad_urls = [
        base.replacen("5432", "1", 1),
        with_password.replacen("/test", "/no_such_db_xyz", 1),
        with_password.replacen("://postgres:", "://nobody_xyz:", 1),
        format!("{with_password}{sep}sslmode=bogus"),
        format!("{with_password}{sep}schema=Bad-Schema"),
        with_password.replacen("postgres://", "mysql://", 1),
    ];
    for url in &bad_urls {
        assert!(url.contains(secret) || url.contains(":1/"), "{url}");
        for args in [
            vec!["import", "in.jsonl"],
            vec!["check", "db"],
            vec!["--json", "check", "all"],
        ] {
            let mut all = vec!["--db", url.as_str()];
            all.extend(args.iter().copied());
            let o = run(dir.path(), &all);
            assert_ne!(o.status.code(), Some(0), "{url}: {}", text(&o));
            outputs.push((all.join(" "), o));
        }
    }
    for (cmd, o) in &outputs {
        let t = text(o);
        assert!(
            !t.contains(secret),
            "`{}` printed the password:\n{t}",
            cmd.replace(secret, "<pw>")
        );
    }
    // The normal output still names the database, with the password hidden.
    let (_, import) = &outputs[0];
    assert!(text(import).contains("postgres:***@"), "{}", text(import));
    // Tidy up the schema the good URL created.
    let _ = std::process::Command::new("psql")
        .args([
            &base,
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        ])
        .output();
}
