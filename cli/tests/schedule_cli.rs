//! `tuneloop schedule --once` when another instance holds the weekly lease: it says who and
//! since when, and exits 3 instead of 0, so a cron wrapper notices.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use tuneloop::store::{open, LeaseHolder, OpenOptions};

const LEASE: &str = "schedule/weekly";

fn tuneloop(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tuneloop"))
        .args(args)
        .current_dir(dir)
        .env_remove("TUNELOOP_DATABASE_URL")
        .env_remove("TUNELOOP_MCP_URL")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Takes `name` for `holder` in the database at `url` (created if needed), as another
/// instance would.
fn hold(url: &str, holder: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = open(url, &OpenOptions::default()).await.expect("opens");
        let lease = store
            .try_lease(LEASE, holder, Duration::from_secs(600))
            .await
            .expect("lease call");
        assert!(lease.is_some(), "the lease was free");
        store.close().await.expect("closes");
    });
}

#[test]
fn a_busy_lease_is_reported_with_its_holder_and_exit_3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let url = format!("sqlite://{}", d.join("s.db").display());
    hold(&url, "instance-b");

    let out = tuneloop(d, &["--db", &url, "schedule", "--once"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("skipped"), "{stdout}");
    assert!(stdout.contains("`instance-b`"), "{stdout}");
    assert!(stdout.contains("since "), "{stdout}");
    assert!(stderr.contains("instance-b"), "{stderr}");

    let out = tuneloop(d, &["--db", &url, "--json", "schedule", "--once"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["held_by"]["holder"], "instance-b", "{v:#}");
    assert!(v["held_by"]["acquired_at"].is_string(), "{v:#}");
    assert!(v["skipped"].as_str().unwrap_or("").contains("instance-b"));
}

#[test]
fn a_live_holder_on_this_host_is_named_and_a_dead_one_taken_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let me = LeaseHolder::this_process();

    // This test process holds it: alive, so the CLI (another process here) waits.
    let url = format!("sqlite://{}", d.join("live.db").display());
    hold(&url, &me.encode());
    let out = tuneloop(d, &["--db", &url, "schedule", "--once"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    let who = format!("pid {} on {}", me.pid, me.host);
    assert!(stdout.contains(&who), "{who}: {stdout}");
    assert!(text(&out.stderr).contains(&who), "{}", text(&out.stderr));

    // A process of this host that has exited: its lease is taken over and the run goes on.
    if me.pid_ns.is_none() {
        return; // no /proc: a dead holder is only ever waited out
    }
    let mut child = Command::new("true").spawn().expect("spawns");
    let dead_pid = child.id();
    child.wait().expect("exits");
    let dead = LeaseHolder {
        pid: dead_pid,
        pid_start: None,
        ..me.clone()
    };
    let url = format!("sqlite://{}", d.join("dead.db").display());
    hold(&url, &dead.encode());
    let out = tuneloop(d, &["--db", &url, "schedule", "--once"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(!stdout.contains("skipped"), "{stdout}");
    assert!(
        stdout.contains(&format!("taken over from pid {dead_pid} on {}", me.host)),
        "{stdout}"
    );
}
