//! Helpers for the MCP tests: the reference server as a child process, and a
//! fault-injection test double (an HTTP proxy) to put in front of it.
#![allow(dead_code, clippy::unwrap_used)]

pub mod fault_proxy;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-token-5b1f";

/// The venv Python with `mcp` installed, or `None` (and a printed reason) to skip.
pub fn python() -> Option<String> {
    match std::env::var("TUNELOOP_TEST_MCP_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            eprintln!(
                "skipped: TUNELOOP_TEST_MCP_PYTHON is not set (scripts/test.sh sets it to a venv \
                 with examples/mcp-finetune-server/requirements.txt)"
            );
            None
        }
    }
}

/// A port nothing listens on (right now) on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The reference fine-tuning server, killed on drop.
pub struct RefServer {
    child: Child,
    pub port: u16,
}

impl RefServer {
    /// Starts `examples/mcp-finetune-server/server.py` on a free port and waits until it
    /// accepts connections.
    pub fn start(python: &str, step_seconds: f64, delay_seconds: f64) -> RefServer {
        Self::start_with_env(python, step_seconds, delay_seconds, &[])
    }

    /// The same, with more environment for the server (e.g. `FT_SERVER_CLOCK=manual`).
    pub fn start_with_env(
        python: &str,
        step_seconds: f64,
        delay_seconds: f64,
        env: &[(&str, &str)],
    ) -> RefServer {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/mcp-finetune-server/server.py");
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(python)
                .arg(&script)
                .env("FT_SERVER_TOKEN", TOKEN)
                .env("FT_SERVER_HOST", "127.0.0.1")
                .env("FT_SERVER_PORT", port.to_string())
                .env("FT_SERVER_STEP_SECONDS", step_seconds.to_string())
                .env("FT_SERVER_DELAY_SECONDS", delay_seconds.to_string())
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the reference server");
            let mut server = RefServer { child, port };
            if server.wait_ready(Duration::from_secs(30)) {
                return server;
            }
            // Lost a race for the port (or slow start): try another one.
        }
        panic!("the reference MCP server did not start");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A supervised training file with `n` examples.
pub fn training_file(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"messages\":[{{\"role\":\"user\",\"content\":\"question {i} about refunds\"}},\
                 {{\"role\":\"assistant\",\"content\":\"The refund window is 30 days.\"}}]}}\n"
            )
        })
        .collect()
}
