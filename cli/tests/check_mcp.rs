//! `tuneloop check mcp` against real MCP servers: the npm `server-everything` (no
//! fine-tuning tools: reported missing, exit 1) and the reference fine-tuning server (all
//! present, exit 0). Each skips, saying why, when its env var is not set:
//! TUNELOOP_TEST_MCP_EVERYTHING (the `mcp-server-everything` binary) and
//! TUNELOOP_TEST_MCP_PYTHON (a Python with `mcp`). scripts/test.sh sets both.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "cli-test-token-93c2";

/// A server child process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(server: &mut Server, port: u16) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "the server exited early"
        );
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not listen on {port}");
}

fn env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!("skipped: {name} is not set (scripts/test.sh sets it)");
            None
        }
    }
}

fn check_mcp(url: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .args(["--mcp-url", url, "check", "mcp"])
        .args(extra)
        .env("TUNELOOP_MCP_TOKEN", TOKEN)
        .env_remove("TUNELOOP_MCP_URL")
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_mcp_reports_fine_tuning_tools_missing_on_server_everything() {
    let Some(bin) = env("TUNELOOP_TEST_MCP_EVERYTHING") else {
        return;
    };
    let port = free_port();
    // It binds every interface; we only ever talk to 127.0.0.1.
    let mut server = Server(
        Command::new(bin)
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server-everything"),
    );
    wait_ready(&mut server, port);
    let url = format!("http://127.0.0.1:{port}/mcp");

    let out = check_mcp(&url, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("✓ mcp "), "{stdout}");
    for tool in [
        "fine_tuning_upload_file",
        "fine_tuning_create_job",
        "fine_tuning_get_job",
        "fine_tuning_cancel_job",
        "fine_tuning_list_jobs",
    ] {
        assert!(
            stdout.contains(&format!("✗ mcp tool        {tool} missing")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("fine_tuning_list_events missing (optional)"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("MCP check failed: mcp tool: fine_tuning_upload_file missing")
    );

    let out = check_mcp(&url, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mcp"]["connected"], true);
    assert_eq!(v["ok"], false);
    assert!(v["mcp"]["tools_offered"].as_u64().unwrap() > 0, "{v}");
    assert!(v["mcp"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["present"] == false));
}

#[test]
fn check_mcp_passes_on_the_reference_server() {
    let Some(python) = env("TUNELOOP_TEST_MCP_PYTHON") else {
        return;
    };
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/mcp-finetune-server/server.py");
    let port = free_port();
    let mut server = Server(
        Command::new(python)
            .arg(script)
            .env("FT_SERVER_TOKEN", TOKEN)
            .env("FT_SERVER_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reference server"),
    );
    wait_ready(&mut server, port);
    let url = format!("http://127.0.0.1:{port}/mcp");

    let out = check_mcp(&url, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(stdout.matches("present, schema ok").count(), 6, "{stdout}");
    assert!(!stdout.contains('✗'), "{stdout}");

    // A wrong token: a clear error, exit 1, and the token is not printed.
    let out = Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .args(["--mcp-url", &url, "check", "mcp"])
        .env("TUNELOOP_MCP_TOKEN", "not-the-token-7f")
        .output()
        .unwrap();
    let all = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("401") && all.contains("TUNELOOP_MCP_TOKEN"),
        "{all}"
    );
    assert!(!all.contains("not-the-token-7f"), "{all}");
}

#[test]
fn check_mcp_without_a_url_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .args(["check", "mcp"])
        .env_remove("TUNELOOP_MCP_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--mcp-url"));
}

#[test]
fn check_mcp_with_nothing_listening_fails_clearly() {
    let url = format!("http://127.0.0.1:{}/mcp", free_port());
    let out = check_mcp(&url, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot connect") && stderr.contains(&url),
        "{stderr}"
    );
}

#[test]
fn check_mcp_honours_the_request_timeout_of_tuneloop_toml() {
    // A server that accepts connections and never answers: every request waits for the
    // timeout. With `request_timeout_secs = 1` the whole check (the handshake and its
    // retries) takes seconds; it used to wait 30 s per try whatever the settings said.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tuneloop.toml");
    std::fs::write(&config, "[mcp]\nrequest_timeout_secs = 1\n").unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let db = format!("sqlite://{}", dir.path().join("none.db").display());
    for what in [&["check", "mcp"][..], &["check", "all"][..]] {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_tuneloop"))
            .arg("--config")
            .arg(&config)
            .args(["--mcp-url", &url, "--db", &db])
            .args(what)
            .env("TUNELOOP_MCP_TOKEN", TOKEN)
            .env_remove("TUNELOOP_MCP_URL")
            .env_remove("TUNELOOP_DATABASE_URL")
            .output()
            .unwrap();
        let took = start.elapsed();
        let all = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what:?}: {all}");
        assert!(
            took < Duration::from_secs(15),
            "{what:?} took {took:?}: {all}"
        );
        assert!(
            all.contains("did not") && all.contains("within 1s") && all.contains(&url),
            "{what:?}: {all}"
        );
        assert!(!all.contains(TOKEN), "{all}");
    }
}
