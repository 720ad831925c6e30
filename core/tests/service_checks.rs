//! `Tuneloop::check` / `check_with` / `migrate`: one report for every scope, on memory and
//! SQLite; a check never creates or migrates a database.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use tuneloop::config::{ChecksSection, Config};
use tuneloop::model::parse_timestamp;
use tuneloop::service::{CheckOptions, CheckReport, CheckScope};
use tuneloop::testing::sample_batch;
use tuneloop::{Error, Options, Tuneloop};

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("t.db").display())
}

fn names(r: &CheckReport, passed: bool) -> Vec<String> {
    r.checks
        .iter()
        .filter(|c| c.passed == passed)
        .map(|c| c.name.clone())
        .collect()
}

/// The sample data (4 weeks from 2026-09-01) and 50 credits on `acme`.
async fn filled(options: Options) -> Tuneloop {
    let tl = Tuneloop::open(options).await.unwrap();
    tl.record(&sample_batch(60)).await.unwrap();
    tl.ledger().unwrap().grant("acme", 50, "g1").await.unwrap();
    tl
}

fn as_of_end() -> Option<tuneloop::model::Timestamp> {
    Some(parse_timestamp("2026-09-29T00:00:00Z").unwrap())
}

#[tokio::test]
async fn a_missing_database_is_a_failed_line_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    for scope in [
        CheckScope::Db,
        CheckScope::Credits,
        CheckScope::Feedback,
        CheckScope::All,
    ] {
        let r = Tuneloop::check_with(
            Options::database(sqlite(dir.path())),
            &CheckOptions::scope(scope),
        )
        .await
        .unwrap();
        assert!(!r.ok, "{scope:?}: {r:?}");
        let first = &r.checks[0];
        assert!(!first.passed);
        assert!(first.detail.contains("t.db"), "{}", first.detail);
        if scope == CheckScope::All {
            // The MCP part still runs: no server configured is its own failed line.
            assert_eq!(names(&r, false), ["database", "mcp"]);
        }
    }
    assert!(!dir.path().join("t.db").exists());
}

#[tokio::test]
async fn the_mcp_scope_without_a_server_is_invalid_input() {
    let e = Tuneloop::check_with(Options::memory(), &CheckOptions::scope(CheckScope::Mcp))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref field, .. } if field == "mcp_url"),
        "{e}"
    );
    assert!(!e.to_string().contains("--"), "no CLI flags in core: {e}");
    let tl = Tuneloop::open(Options::memory()).await.unwrap();
    assert!(tl
        .check(&CheckOptions::scope(CheckScope::Mcp))
        .await
        .is_err());
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_failed_mcp_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut mcp = tuneloop::McpSettings::new(&url);
    mcp.max_retries = 0;
    let options = Options {
        mcp: Some(mcp),
        ..Options::memory()
    };
    let r = Tuneloop::check_with(options, &CheckOptions::scope(CheckScope::Mcp))
        .await
        .unwrap();
    assert!(!r.ok);
    assert_eq!(names(&r, false), ["mcp"]);
    let status = r.mcp.as_ref().unwrap();
    assert!(!status.connected);
    assert_eq!(status.url, url);
}

async fn every_scope(options: Options) {
    let tl = filled(options).await;
    let check = |scope| CheckOptions {
        account: Some("acme".into()),
        as_of: as_of_end(),
        ..CheckOptions::scope(scope)
    };
    // The database.
    let r = tl.check(&check(CheckScope::Db)).await.unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.checks[0].name, "database");
    assert!(r.health.as_ref().unwrap().ok());
    // The credits: ledger, account, a round trip that holds nothing.
    let r = tl.check(&check(CheckScope::Credits)).await.unwrap();
    assert_eq!(
        names(&r, true),
        ["ledger", "account", "round trip"],
        "{r:?}"
    );
    let b = tl.ledger().unwrap().balance("acme").await.unwrap();
    assert_eq!((b.available, b.pending), (50, 0));
    // An unknown account fails and stops there.
    let r = tl
        .check(&CheckOptions {
            account: Some("nobody".into()),
            ..check(CheckScope::Credits)
        })
        .await
        .unwrap();
    assert_eq!(names(&r, false), ["account"], "{r:?}");
    // Feedback: recent as of the data's end, one line per model; not as of today.
    let r = tl.check(&check(CheckScope::Feedback)).await.unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.checks.len(), 3);
    let r = tl
        .check(&CheckOptions {
            as_of: None,
            ..check(CheckScope::Feedback)
        })
        .await
        .unwrap();
    assert!(!r.ok, "feedback of 2026-09 is not recent today: {r:?}");
    let r = tl
        .check(&CheckOptions {
            min: 1_000_000,
            ..check(CheckScope::Feedback)
        })
        .await
        .unwrap();
    assert_eq!(names(&r, false).len(), 3);
    // All: everything but the MCP server, which is not configured.
    let r = tl.check(&check(CheckScope::All)).await.unwrap();
    assert!(!r.ok);
    assert_eq!(names(&r, false), ["mcp"], "{r:?}");
    assert!(r.health.is_some() && r.mcp.is_none());
    // The report is a serde type: JSON and back is the same report.
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<CheckReport>(&json).unwrap(), r);
    tl.close().await.unwrap();
}

#[tokio::test]
async fn every_scope_on_memory() {
    every_scope(Options::memory()).await;
}

#[tokio::test]
async fn every_scope_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    every_scope(Options::database(sqlite(dir.path()))).await;
}

#[tokio::test]
async fn the_settings_clock_and_account_are_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite(dir.path());
    let mut config = Config::default();
    config.fine_tune.account = "acme".into();
    config.checks = ChecksSection {
        as_of: as_of_end(),
        ..Default::default()
    };
    let options = Options {
        config,
        ..Options::database(&url)
    };
    filled(options.clone()).await.close().await.unwrap();
    let r = Tuneloop::check_with(options, &CheckOptions::default())
        .await
        .unwrap();
    assert_eq!(names(&r, false), ["mcp"], "{r:?}");
    assert!(r
        .checks
        .iter()
        .any(|c| c.name == "account" && c.detail.starts_with("acme:")));
    assert!(r
        .checks
        .iter()
        .any(|c| c.name == "feedback" && c.detail.contains("before 2026-09-29")));
}

#[tokio::test]
async fn migrate_creates_and_reports_a_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite(dir.path());
    let r = Tuneloop::check_with(
        Options::database(&url),
        &CheckOptions::scope(CheckScope::Db),
    )
    .await
    .unwrap();
    assert!(!r.ok);
    let health = Tuneloop::migrate(Options::database(&url)).await.unwrap();
    assert!(health.ok(), "{health:?}");
    assert!(tuneloop::service::health_problems(&health).is_empty());
    let r = Tuneloop::check_with(
        Options::database(&url),
        &CheckOptions::scope(CheckScope::Db),
    )
    .await
    .unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(
        names(&r, true),
        ["database", "schema", "references", "aggregates"]
    );
}
