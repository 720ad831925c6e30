//! `Tuneloop::demo`: the world imported, the report, the dataset and settings in one
//! folder, the simulated loop, PII redacted by default — and `check all` passing on the
//! result with the demo's settings (but for the MCP server it does not need).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use tuneloop::config::Config;
use tuneloop::jobs::JobStatus;
use tuneloop::service::{CheckOptions, CheckScope, DemoReport, DemoRunOptions};
use tuneloop::{Error, Options, Tuneloop};

fn options(dir: &Path, weeks: u32) -> DemoRunOptions {
    DemoRunOptions {
        weeks,
        dir: Some(dir.join("demo")),
        ..Default::default()
    }
}

fn all_text(r: &DemoReport) -> String {
    let mut text = String::new();
    for p in &r.problematic {
        text.push_str(&p.query);
        text.push_str(&p.response);
        text.push_str(&p.comments.join("\n"));
    }
    for p in &r.patterns {
        for e in &p.examples {
            text.push_str(&e.query);
            text.push_str(e.comment.as_deref().unwrap_or(""));
        }
    }
    text
}

/// `[EMAIL]`, `[PHONE]`, ... in `text`.
fn placeholders(text: &str) -> usize {
    ["[EMAIL]", "[PHONE]", "[CREDIT_CARD]", "[IP_ADDRESS]"]
        .iter()
        .map(|p| text.matches(p).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_leaves_a_folder_the_checks_pass_with() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("demo.db").display());
    let tl = Tuneloop::open(Options::database(&url)).await.unwrap();
    let r = tl.demo(&options(tmp.path(), 12)).await.unwrap();
    assert!(r.persistent);
    assert_eq!(r.import.responses_inserted, 12 * 80 * 3);
    assert_eq!(r.problematic.len(), 5);
    assert!(r.planted.len() >= 4);
    assert_eq!(r.weekly.len(), 3);
    assert!(r.weekly.iter().all(|w| w.weeks.len() == 12));
    assert!(r.metrics.models.iter().all(|m| m.buckets.is_none()));
    // The simulated loop: a job that succeeded and was charged.
    let f = &r.fine_tune;
    assert!(f.simulated && !f.earlier_job);
    assert_eq!(f.job.as_ref().unwrap().status, JobStatus::Succeeded);
    assert!(f.balance_after.posted > 0);
    // Files: the dataset and the settings, in the folder.
    assert_eq!(r.dir, tmp.path().join("demo"));
    for f in [
        "train.jsonl",
        "validation.jsonl",
        "manifest.json",
        "lineage.jsonl",
    ] {
        assert!(r.dataset.dir.join(f).is_file(), "{f}");
    }
    let settings = std::fs::read_to_string(&r.settings_file).unwrap();
    let config = Config::parse(&settings, "demo settings").unwrap();
    assert_eq!(config.fine_tune.account, "demo");
    assert_eq!(config.checks.as_of, Some(r.until));
    assert!(config
        .prices
        .get(config.fine_tune.base_model.as_deref().unwrap())
        .is_some());
    // PII: redacted by default.
    assert!(r.redacted);
    let text = all_text(&r);
    assert!(
        !text.contains("4111 1111 1111 1111") && !text.contains("@example.com"),
        "{text}"
    );
    assert!(
        placeholders(&text) > 0,
        "the demo plants personal data: {text}"
    );
    // JSON and back.
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<DemoReport>(&json).unwrap(), r);
    tl.close().await.unwrap();

    // With the demo's settings every check passes; the MCP part is skipped by them (the
    // provider is simulated) and says so.
    let check = Tuneloop::check_with(
        Options {
            config,
            ..Options::database(&url)
        },
        &CheckOptions::scope(CheckScope::All),
    )
    .await
    .unwrap();
    assert!(check.ok, "{check:#?}");
    let mcp = check
        .checks
        .iter()
        .find(|c| c.name == "mcp")
        .expect("an mcp line");
    assert!(mcp.passed && mcp.detail.contains("skipped"), "{check:#?}");

    // Again: nothing new, the earlier job shown, the folder reused; PII shown when asked.
    let tl = Tuneloop::open(Options::database(&url)).await.unwrap();
    let again = tl
        .demo(&DemoRunOptions {
            show_pii: true,
            ..options(tmp.path(), 12)
        })
        .await
        .unwrap();
    assert_eq!(again.import.responses_inserted, 0);
    assert!(again.fine_tune.earlier_job);
    assert_eq!(again.metrics, r.metrics);
    assert!(!again.redacted);
    assert_eq!(placeholders(&all_text(&again)), 0);
    tl.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let tl = Tuneloop::open(Options::memory()).await.unwrap();
    let r = tl.demo(&options(tmp.path(), 2)).await.unwrap();
    assert!(!r.persistent);
    assert_eq!(r.database, "memory://");

    // Another seed into the same store: a conflict, nothing written.
    let e = tl
        .demo(&DemoRunOptions {
            seed: 7,
            ..options(tmp.path(), 2)
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    assert!(e.to_string().contains("another seed"), "{e}");

    // A folder with settings the demo did not write is refused before anything happens.
    let other = tmp.path().join("mine");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("tuneloop.toml"), "[policy]\n").unwrap();
    let fresh = Tuneloop::open(Options::memory()).await.unwrap();
    let e = fresh
        .demo(&DemoRunOptions {
            weeks: 2,
            dir: Some(other.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref field, .. } if field == "dir"),
        "{e}"
    );
    assert_eq!(fresh.store().stats().await.unwrap().responses, 0);
    assert_eq!(
        std::fs::read_to_string(other.join("tuneloop.toml")).unwrap(),
        "[policy]\n"
    );
    let e = fresh
        .demo(&DemoRunOptions {
            weeks: 0,
            ..options(tmp.path(), 2)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref field, .. } if field == "weeks"),
        "{e}"
    );
}
