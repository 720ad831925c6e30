//! The fine-tuning commands end to end: `demo --mcp-url`, `fine-tune`, `jobs`, `credits`,
//! `check all` and `schedule --once` against the reference MCP server (Python `mcp` SDK;
//! skipped, saying why, without TUNELOOP_TEST_MCP_PYTHON, which scripts/test.sh sets), and
//! the errors every command gives on bad input (no server needed).
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "cli-loop-token-1f0a";
const BASE: &str = "gpt-4.1-mini-2025-04-14";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn reference_server() -> Option<(Server, String)> {
    let python = match std::env::var("TUNELOOP_TEST_MCP_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            eprintln!("skipped: TUNELOOP_TEST_MCP_PYTHON is not set (scripts/test.sh sets it)");
            return None;
        }
    };
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/mcp-finetune-server/server.py");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Server(
        Command::new(python)
            .arg(script)
            .env("FT_SERVER_TOKEN", TOKEN)
            .env("FT_SERVER_HOST", "127.0.0.1")
            .env("FT_SERVER_PORT", port.to_string())
            .env("FT_SERVER_STEP_SECONDS", "0.3")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let start = Instant::now();
    loop {
        assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((server, format!("http://127.0.0.1:{port}/mcp")))
}

fn tuneloop(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .current_dir(dir)
        .args(args)
        .env("TUNELOOP_MCP_TOKEN", TOKEN)
        .env_remove("TUNELOOP_DATABASE_URL")
        .env_remove("TUNELOOP_MCP_URL")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let out = tuneloop(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out.stdout)))
}

const CONFIG: &str = r#"
[fine_tune]
base_model = "gpt-4.1-mini-2025-04-14"
account = "demo"

[prices]
"gpt-4.1-mini-2025-04-14" = 1000
"#;

#[test]
fn the_loop_against_the_reference_server() {
    let Some((_server, url)) = reference_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tuneloop.toml"), CONFIG).unwrap();
    let db = "sqlite://loop.db";

    // The demo runs the loop on the real server.
    let demo = ok_json(d, &["--db", db, "--mcp-url", &url, "--json", "demo"]);
    let ft = &demo["fine_tune"];
    assert_eq!(ft["simulated"], false);
    assert_eq!(ft["provider"], url.as_str());
    assert_eq!(ft["decision"]["fine_tune"], true, "{ft:#}");
    let job = &ft["job"];
    assert_eq!(job["status"], "succeeded", "{ft:#}");
    let first_cost = job["actual_cost"].as_u64().unwrap();
    assert!(first_cost > 0);
    assert_eq!(ft["balance_after"]["posted"].as_u64(), Some(first_cost));
    assert_eq!(ft["balance_after"]["pending"], 0);

    // Listed, with the provider's id; the balance agrees.
    let listed = ok_json(d, &["--db", db, "--json", "jobs", "list"]);
    let jobs = listed["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0]["provider_job_id"]
        .as_str()
        .unwrap()
        .starts_with("ftjob-"));
    let balance = ok_json(
        d,
        &[
            "--db",
            db,
            "--json",
            "credits",
            "balance",
            "--account",
            "demo",
        ],
    );
    assert_eq!(balance["posted"].as_u64(), Some(first_cost));
    let id = jobs[0]["id"].as_str().unwrap().to_string();
    let shown = ok_json(d, &["--db", db, "--json", "jobs", "show", &id]);
    let events = shown["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["source"] == "provider"),
        "{shown:#}"
    );

    // A job just finished: the cooldown declines (exit 0, nothing created) ...
    let decided = ok_json(
        d,
        &[
            "--db",
            db,
            "--mcp-url",
            &url,
            "--json",
            "fine-tune",
            "--model-id",
            "support-bot-v2",
        ],
    );
    assert_eq!(decided["decision"]["fine_tune"], false);
    assert!(decided["job"].is_null());
    let cooldown = decided["decision"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cooldown")
        .unwrap()
        .clone();
    assert_eq!(cooldown["passed"], false, "{decided:#}");
    // ... and --force overrides it: a second job starts and is synced to the end.
    let forced = ok_json(
        d,
        &[
            "--db",
            db,
            "--mcp-url",
            &url,
            "--json",
            "fine-tune",
            "--model-id",
            "support-bot-v2",
            "--force",
        ],
    );
    assert_eq!(forced["decision"]["forced"], true);
    let second = forced["job"]["id"].as_str().unwrap().to_string();
    let synced = ok_json(
        d,
        &[
            "--db",
            db,
            "--mcp-url",
            &url,
            "--json",
            "jobs",
            "sync",
            &second,
            "--wait",
            "--timeout",
            "60",
        ],
    );
    assert_eq!(synced["status"], "succeeded", "{synced:#}");
    let second_cost = synced["actual_cost"].as_u64().unwrap();
    let balance = ok_json(
        d,
        &[
            "--db",
            db,
            "--json",
            "credits",
            "balance",
            "--account",
            "demo",
        ],
    );
    assert_eq!(balance["posted"].as_u64(), Some(first_cost + second_cost));
    assert_eq!(balance["pending"], 0);

    // A draft, cancelled: nothing reserved, nothing charged.
    let draft = ok_json(
        d,
        &[
            "--db",
            db,
            "--json",
            "jobs",
            "create",
            "--model-id",
            "support-bot-v1",
        ],
    );
    assert_eq!(draft["status"], "draft");
    let draft_id = draft["id"].as_str().unwrap();
    let cancelled = ok_json(d, &["--db", db, "--json", "jobs", "cancel", draft_id]);
    assert_eq!(cancelled["status"], "cancelled");
    let after = ok_json(
        d,
        &[
            "--db",
            db,
            "--json",
            "credits",
            "balance",
            "--account",
            "demo",
        ],
    );
    assert_eq!(after, balance);

    // Every integration at once (the demo's feedback is older than a week: widen the window).
    let all = tuneloop(
        d,
        &[
            "--db",
            db,
            "--mcp-url",
            &url,
            "check",
            "all",
            "--hours",
            "87600",
        ],
    );
    let out = text(&all.stdout);
    assert!(all.status.success(), "{out}{}", text(&all.stderr));
    for needle in [
        "database",
        "schema",
        "mcp tool",
        "fine_tuning_create_job",
        "round trip",
        "feedback",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    assert!(!out.contains('✗'), "{out}");

    // The weekly job, now: analysis saved, a decision per model.
    let weekly = ok_json(
        d,
        &[
            "--db",
            db,
            "--mcp-url",
            &url,
            "--json",
            "schedule",
            "--once",
        ],
    );
    assert!(weekly["run_id"].as_str().unwrap().starts_with("weekly-"));
    assert!(weekly["skipped"].is_null(), "{weekly:#}");
    assert_eq!(
        weekly["decisions"].as_array().unwrap().len(),
        3,
        "{weekly:#}"
    );
    let runs = text(&tuneloop(d, &["--db", db, "runs", "list"]).stdout);
    assert!(runs.contains("weekly"), "{runs}");
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A typo in the settings file: exit 2, file:line and the key, no database created.
    std::fs::write(d.join("bad.toml"), "[policy]\ncooldown = 3\n").unwrap();
    let out = tuneloop(
        d,
        &["--config", "bad.toml", "--db", "sqlite://x.db", "metrics"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml:2") && err.contains("cooldown"),
        "{err}"
    );
    assert!(!d.join("x.db").exists());
    // A named file that does not exist.
    let out = tuneloop(d, &["--config", "nope.toml", "metrics"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nope.toml"));

    // The demo database (simulated loop), then the commands' own errors.
    let db = "sqlite://e.db";
    let demo = tuneloop(d, &["--db", db, "demo"]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    assert!(text(&demo.stdout).contains("SIMULATED"));
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &[
                "fine-tune",
                "--model-id",
                "support-bot-v2",
                "--base-model",
                BASE,
            ],
            2,
            "--mcp-url",
        ),
        (
            &["fine-tune", "--model-id", "support-bot-v2", "--dry-run"],
            2,
            "no base model",
        ),
        (&["jobs", "start", "ftj_nope"], 1, "job not found: ftj_nope"),
        (&["jobs", "list", "--status", "done"], 2, "--status"),
        (
            &[
                "jobs",
                "create",
                "--model-id",
                "support-bot-v2",
                "--base-model",
                "mystery-7b",
            ],
            2,
            "prices.mystery-7b",
        ),
        (
            &["schedule", "--once", "--cron", "every monday"],
            2,
            "--cron",
        ),
    ];
    let before = text(&tuneloop(d, &["--db", db, "--json", "jobs", "list"]).stdout);
    for (args, code, needle) in cases {
        let mut all = vec!["--db", db];
        all.extend_from_slice(args);
        let out = tuneloop(d, &all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let after = text(&tuneloop(d, &["--db", db, "--json", "jobs", "list"]).stdout);
    assert_eq!(before, after, "a failed command created or changed a job");

    // A dry run decides without a server and creates nothing.
    let dry = ok_json(
        d,
        &[
            "--db",
            db,
            "--json",
            "fine-tune",
            "--model-id",
            "support-bot-v2",
            "--base-model",
            BASE,
            "--account",
            "demo",
            "--dry-run",
        ],
    );
    assert!(dry["job"].is_null());
    assert_eq!(dry["decision"]["checks"].as_array().unwrap().len(), 6);
    // `check all` without a server fails on that line, exit 1.
    let all = tuneloop(d, &["--db", db, "check", "all", "--account", "demo"]);
    assert_eq!(all.status.code(), Some(1));
    assert!(text(&all.stdout).contains("✗ mcp"), "{}", text(&all.stdout));
}

#[test]
fn fine_tune_without_a_server_says_how_to_set_one_in_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tuneloop(dir.path(), &["fine-tune", "--model-id", "support-bot-v2"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: fine-tune needs the fine-tuning server: pass --mcp-url URL, set \
         TUNELOOP_MCP_URL or [mcp] url in tuneloop.toml (or use --dry-run to see the decision \
         only)\n"
    );
}

/// A test double: a TCP relay in front of the reference server, one connection per request
/// (it asks both sides to close after each). While `drop_create` is set it forwards a
/// `fine_tuning_create_job` call (the server runs it) and closes the client's connection
/// without an answer. It records the idempotency keys of the creates it forwards: each key
/// makes at most one remote job.
struct Relay {
    url_port: u16,
    drop_create: Arc<AtomicBool>,
    create_keys: Arc<Mutex<BTreeSet<String>>>,
}

impl Relay {
    fn start(upstream_port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay {
            url_port: listener.local_addr().unwrap().port(),
            drop_create: Arc::new(AtomicBool::new(false)),
            create_keys: Arc::new(Mutex::new(BTreeSet::new())),
        };
        let (drop_create, keys) = (relay.drop_create.clone(), relay.create_keys.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (drop_create, keys) = (drop_create.clone(), keys.clone());
                std::thread::spawn(move || relay_one(client, upstream_port, &drop_create, &keys));
            }
        });
        relay
    }
}

/// Reads one HTTP message head (through the blank line) and returns it with whatever body
/// bytes came along.
fn read_head(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
            return Some((head, buf[end + 4..].to_vec()));
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The head with `Connection: close` instead of any Connection header.
fn closing(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .trim_end()
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    lines.join("\r\n") + "\r\n\r\n"
}

fn relay_one(
    mut client: TcpStream,
    upstream_port: u16,
    drop_create: &AtomicBool,
    keys: &Mutex<BTreeSet<String>>,
) {
    let Some((head, mut body)) = read_head(&mut client) else {
        return;
    };
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while body.len() < length {
        let mut chunk = [0u8; 8192];
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let message: Value = serde_json::from_slice(&body).unwrap_or_default();
    let create = message["params"]["name"] == "fine_tuning_create_job";
    if create {
        if let Some(key) = message["params"]["arguments"]["idempotency_key"].as_str() {
            keys.lock().unwrap().insert(key.to_string());
        }
    }
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    if upstream.write_all(closing(&head).as_bytes()).is_err() || upstream.write_all(&body).is_err()
    {
        return;
    }
    let Some((answer_head, rest)) = read_head(&mut upstream) else {
        return;
    };
    if create && drop_create.load(Ordering::SeqCst) {
        // The server has run the create; its answer never reaches the client.
        let _ = std::io::copy(&mut upstream, &mut std::io::sink());
        let _ = client.shutdown(std::net::Shutdown::Both);
        return;
    }
    if client.write_all(closing(&answer_head).as_bytes()).is_err()
        || client.write_all(&rest).is_err()
    {
        return;
    }
    let _ = std::io::copy(&mut upstream, &mut client);
}

/// Issue 11, from the command line: a `fine-tune` whose create answer is lost leaves the job
/// `starting` with its hold; a `jobs sync` refused at connect (a wrong token, HTTP 401) must
/// not settle it; the next `fine-tune` must not create a second remote job; a sync with the
/// right token finds the job and bills it once. Along the way the MCP URL carries a password
/// and no output, job record or event may show it, nor the token.
#[test]
fn a_lost_create_survives_a_refused_sync_and_no_output_shows_a_secret() {
    let Some((_server, url)) = reference_server() else {
        return;
    };
    let upstream_port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    let relay = Relay::start(upstream_port);
    let secret_url = format!("http://ops:s3cret@127.0.0.1:{}/mcp", relay.url_port);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tuneloop.toml"), CONFIG).unwrap();
    let db = "sqlite://lost.db";
    let mut seen = String::new();
    let mut run = |args: &[&str], token: &str| -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_tuneloop"))
            .current_dir(d)
            .args(args)
            .env("TUNELOOP_MCP_TOKEN", token)
            .env_remove("TUNELOOP_DATABASE_URL")
            .env_remove("TUNELOOP_MCP_URL")
            .output()
            .unwrap();
        seen.push_str(&text(&out.stdout));
        seen.push_str(&text(&out.stderr));
        out
    };
    // Feedback and credits (the simulated demo loop works on support-bot-v2).
    assert!(run(&["--db", db, "demo"], TOKEN).status.success());

    relay.drop_create.store(true, Ordering::SeqCst);
    let fine_tune = [
        "--db",
        db,
        "--mcp-url",
        &secret_url,
        "--json",
        "fine-tune",
        "--model-id",
        "support-bot-v1",
        "--force",
    ];
    let out = run(&fine_tune, TOKEN);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not answer") && !stderr.contains("()"),
        "{stderr}"
    );
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["job"]["status"], "starting", "{outcome:#}");
    let id = outcome["job"]["id"].as_str().unwrap().to_string();
    assert_eq!(relay.create_keys.lock().unwrap().len(), 1);
    relay.drop_create.store(false, Ordering::SeqCst);

    // A rotated token: HTTP 401 at connect. The job must stay starting, its hold kept.
    let sync = ["--db", db, "--mcp-url", &secret_url, "jobs", "sync"];
    let out = run(&sync, "rotated-token-77aa");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&id), "{}", text(&out.stdout));
    let shown = run(&["--db", db, "--json", "jobs", "show", &id], TOKEN);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["status"], "starting", "{shown:#}");
    let balance = |run: &mut dyn FnMut(&[&str], &str) -> Output| -> Value {
        let out = run(
            &[
                "--db",
                db,
                "--json",
                "credits",
                "balance",
                "--account",
                "demo",
            ],
            TOKEN,
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let held = balance(&mut run);
    assert_eq!(held["pending"], shown["estimated_cost"], "{held:#}");

    // The next decision finds the job in flight: no second job.
    let out = run(&fine_tune, TOKEN);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(again["job"].is_null(), "{again:#}");
    assert_eq!(relay.create_keys.lock().unwrap().len(), 1);

    // The right token: the same key answers with the job the server made; billed once.
    let out = run(
        &[
            "--db",
            db,
            "--mcp-url",
            &secret_url,
            "--json",
            "jobs",
            "sync",
            &id,
            "--wait",
            "--timeout",
            "60",
        ],
        TOKEN,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job["status"], "succeeded", "{job:#}");
    let after = balance(&mut run);
    assert_eq!(after["pending"], 0, "{after:#}");
    let demo_cost = held["posted"].as_u64().unwrap();
    assert_eq!(
        after["posted"].as_u64(),
        Some(demo_cost + job["actual_cost"].as_u64().unwrap()),
        "{after:#}"
    );
    assert_eq!(relay.create_keys.lock().unwrap().len(), 1);

    // Nothing shows the password of the URL or the token: outputs, records, events.
    run(&["--db", db, "--json", "jobs", "show", &id], TOKEN);
    run(&["--db", db, "jobs", "show", &id], TOKEN);
    run(&["--db", db, "--json", "jobs", "list"], TOKEN);
    run(&["--db", db, "jobs", "list"], TOKEN);
    assert!(seen.contains("ops:***@"), "{seen}");
    for secret in ["s3cret", TOKEN, "rotated-token-77aa"] {
        assert!(!seen.contains(secret), "{secret} shown: {seen}");
    }
    // Nor the database file itself (job data, events, last errors).
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("lost.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            for secret in ["s3cret", TOKEN, "rotated-token-77aa"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} stored in {}",
                    path.display()
                );
            }
        }
    }
}

/// A runtime for the facade calls a test makes itself.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The facade over the test's database with the settings of `CONFIG` (no server).
async fn facade(db: &str) -> tuneloop::Tuneloop {
    tuneloop::Tuneloop::open(tuneloop::Options {
        database_url: Some(db.to_string()),
        config: tuneloop::config::Config::parse(CONFIG, "tuneloop.toml").unwrap(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// `--json` prints exactly the facade's result: the same call through the library gives the
/// same bytes. The history is imported directly (no demo, whose loop leaves a job whose
/// cooldown would tick between the two calls).
#[test]
fn json_outputs_are_the_facade_results() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tuneloop.toml"), CONFIG).unwrap();
    let db = format!("sqlite://{}", d.join("j.db").display());
    block_on(async {
        let tl = facade(&db).await;
        let world = tuneloop::demo::generate(&tuneloop::demo::DemoOptions::default());
        tl.record(&world.batch).await.unwrap();
        tl.close().await.unwrap();
    });
    let run = |args: &[&str]| -> String {
        let mut all = vec!["--db", db.as_str(), "--json"];
        all.extend_from_slice(args);
        let out = tuneloop(d, &all);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let granted = run(&[
        "credits",
        "grant",
        "--account",
        "demo",
        "--amount",
        "500",
        "--key",
        "top-1",
    ]);
    let balance = run(&["credits", "balance", "--account", "demo"]);
    let draft = run(&["jobs", "create", "--model-id", "support-bot-v1"]);
    let listed = run(&["jobs", "list"]);
    let dry = run(&["fine-tune", "--model-id", "support-bot-v2", "--dry-run"]);
    block_on(async {
        use tuneloop::service::{FineTuneOptions, FineTuneTarget, GrantOptions, JobQuery};
        let tl = facade(&db).await;
        let line = |v: String| v + "\n";
        let again = tl
            .grant(&GrantOptions {
                account: "demo".into(),
                amount: 500,
                key: Some("top-1".into()),
            })
            .await
            .unwrap();
        // The CLI's grant applied it; the facade's repeat is the no-op of the same grant.
        let mut first: tuneloop::service::GrantResult = serde_json::from_str(&granted).unwrap();
        assert!(first.applied && !again.applied);
        first.applied = false;
        assert_eq!(first, again);
        let b = tl.balance("demo").await.unwrap();
        assert_eq!(balance, line(serde_json::to_string(&b).unwrap()));
        let jobs = tl.list_jobs(&JobQuery::default()).await.unwrap();
        assert_eq!(listed, line(serde_json::to_string(&jobs).unwrap()));
        assert_eq!(jobs.jobs.len(), 1);
        assert!(listed.contains(draft.trim_end()), "{listed}\n{draft}");
        let outcome = tl
            .fine_tune(&FineTuneOptions {
                target: FineTuneTarget::new("support-bot-v2"),
                force: false,
                dry_run: true,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(dry, line(serde_json::to_string(&outcome).unwrap()));
        tl.close().await.unwrap();
    });
}

/// A forced fine-tune that cannot start fails, naming what is missing, even as a dry run;
/// a declined decision without force is an answer (exit 0).
#[test]
fn a_forced_fine_tune_without_a_price_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("tuneloop.toml"), CONFIG).unwrap();
    let db = "sqlite://p.db";
    let demo = tuneloop(d, &["--db", db, "demo"]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let args = [
        "--db",
        db,
        "fine-tune",
        "--model-id",
        "support-bot-v2",
        "--base-model",
        "mystery-7b",
        "--dry-run",
    ];
    let declined = tuneloop(d, &args);
    assert_eq!(
        declined.status.code(),
        Some(0),
        "{}",
        text(&declined.stderr)
    );
    assert!(
        text(&declined.stdout).contains("✗ credits"),
        "{}",
        text(&declined.stdout)
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = tuneloop(d, &forced);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("prices.mystery-7b") && err.contains("no price"),
        "{err}"
    );
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
}
