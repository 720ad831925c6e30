//! `tuneloop serve` as a user runs it: the binary on a free port, answering over HTTP; SIGTERM
//! stops it cleanly (exit 0, the store closed), and after SIGKILL in the middle of a stream
//! of feedback POSTs every acknowledged item is in the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ADMIN: &str = "serve-test-admin-token";
const Q: &str = "/api/analytics/response-quality";

struct Served {
    child: Child,
    addr: String,
}

/// Starts `tuneloop serve` on the database in `dir`, waiting for its "listening on" line.
fn serve(dir: &Path, extra_env: &[(&str, &str)]) -> Served {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tuneloop"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(format!("sqlite://{}", dir.join("t.db").display()))
        .current_dir(dir)
        .env_remove("TUNELOOP_DATABASE_URL")
        .env_remove("TUNELOOP_MCP_URL")
        .env("TUNELOOP_ADMIN_TOKEN", ADMIN)
        .env("TUNELOOP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the binary runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    Served { child, addr }
}

/// One HTTP/1.1 request on a fresh connection: the status and the body.
fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let content = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/json\r\n".to_string()
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"));
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

fn response_body(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","model_id":"m1","query":"Refund window?","response":"90 days","created_at":"2026-11-20T10:00:00Z"}}"#
    )
}

fn feedback_body(i: usize) -> String {
    format!(
        r#"{{"id":"f{i}","response_id":"r1","variant":"stars","rating":{},"created_at":"2026-11-20T10:05:00Z"}}"#,
        i % 5 + 1
    )
}

/// The feedback ids stored in the database, read with the library.
fn stored_feedback(dir: &Path) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tl = tuneloop::Tuneloop::open(tuneloop::Options::database(format!(
            "sqlite://{}",
            dir.join("t.db").display()
        )))
        .await
        .unwrap();
        let mut out = Vec::new();
        tl.export_jsonl(&mut out, &Default::default())
            .await
            .unwrap();
        tl.close().await.unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["type"] == "feedback").then(|| v["id"].as_str().unwrap_or("").to_string())
            })
            .collect()
    })
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(dir.path(), &[]);
    assert_eq!(request(&s.addr, "GET", "/healthz", None, "").0, 200);
    assert_eq!(request(&s.addr, "GET", "/readyz", None, "").0, 200);
    let (status, body) = request(
        &s.addr,
        "POST",
        &format!("{Q}/response"),
        Some(ADMIN),
        &response_body("r1"),
    );
    assert_eq!(status, 201, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = answer["feedback_token"].as_str().unwrap();
    let (status, body) = request(
        &s.addr,
        "POST",
        &format!("{Q}/feedback"),
        Some(token),
        &feedback_body(1),
    );
    assert_eq!(status, 201, "{body}");
    // Without the token the admin reads are refused.
    assert_eq!(
        request(&s.addr, "GET", &format!("{Q}/metrics"), None, "").0,
        401
    );
    let (status, body) = request(&s.addr, "GET", &format!("{Q}/metrics"), Some(ADMIN), "");
    assert_eq!(status, 200);
    let metrics: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(metrics["models"][0]["feedback"], 1);
    terminate(&mut s.child);
    let exit = s.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(stored_feedback(dir.path()), vec!["f1".to_string()]);
}

#[test]
fn serve_refuses_an_open_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(format!("sqlite://{}", dir.path().join("t.db").display()))
        .env_remove("TUNELOOP_ADMIN_TOKEN")
        .env_remove("TUNELOOP_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin token"), "{err}");
}

/// SIGKILL in the middle of a stream of feedback POSTs: every item the server acknowledged
/// (2xx) is in the database after a restart.
#[test]
fn acknowledged_feedback_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(dir.path(), &[]);
    let (status, _) = request(
        &s.addr,
        "POST",
        &format!("{Q}/response"),
        Some(ADMIN),
        &response_body("r1"),
    );
    assert_eq!(status, 201);
    let addr = s.addr.clone();
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    // Four clients stream posts until the server dies; each reports what was acknowledged.
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let addr = addr.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for n in 0.. {
                    let i = c * 1_000_000 + n;
                    let body = feedback_body(i);
                    let path = format!("{Q}/feedback");
                    let Ok(result) = std::panic::catch_unwind(|| {
                        request(&addr, "POST", &path, Some(ADMIN), &body)
                    }) else {
                        return;
                    };
                    if (200..300).contains(&result.0) {
                        let _ = tx.send(i);
                    }
                }
            })
        })
        .collect();
    drop(tx);
    // Let some be acknowledged, then kill without warning.
    let mut acked: Vec<usize> = Vec::new();
    while acked.len() < 200 {
        acked.push(
            rx.recv_timeout(Duration::from_secs(30))
                .expect("acknowledgements"),
        );
    }
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    for c in clients {
        let _ = c.join();
    }
    acked.extend(rx.try_iter());
    // Restart on the same database (recovery), then stop cleanly.
    let mut again = serve(dir.path(), &[]);
    assert_eq!(request(&again.addr, "GET", "/readyz", None, "").0, 200);
    terminate(&mut again.child);
    assert!(again.child.wait().unwrap().success());
    let stored: std::collections::HashSet<String> =
        stored_feedback(dir.path()).into_iter().collect();
    let missing: Vec<_> = acked
        .iter()
        .map(|i| format!("f{i}"))
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged items lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(acked.len() >= 200);
}
