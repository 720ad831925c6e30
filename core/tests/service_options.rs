//! The facade's handle: options, the environment, host-provided parts, closing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use tuneloop::credits::{CreditLedger, MemoryLedger};
use tuneloop::mcp::{FineTuningProvider, SimulatedProvider};
use tuneloop::service::{GrantOptions, ENV_DATABASE_URL, ENV_MCP_TOKEN, ENV_MCP_URL};
use tuneloop::{Options, Tuneloop};

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("t.db").display())
}

/// A service's own credit system replaces the store's ledger: grants and balances go to it,
/// and the store's own ledger is left alone.
#[tokio::test]
async fn a_host_ledger_replaces_the_stores() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(MemoryLedger::new());
    let tl = Tuneloop::open(Options {
        database_url: Some(sqlite_url(&dir)),
        ledger: Some(host.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let granted = tl.grant(&GrantOptions::new("acme", 70)).await.unwrap();
    assert!(granted.applied);
    assert_eq!(host.balance("acme").await.unwrap().available, 70);
    assert_eq!(tl.balance("acme").await.unwrap().available, 70);
    let own = tl.store().ledger().expect("the SQLite store has a ledger");
    assert!(
        own.balance("acme").await.is_err(),
        "the store's ledger was not touched"
    );
    tl.close().await.unwrap();
}

/// A host-provided provider is the one jobs go to, and counts as configured.
#[tokio::test]
async fn a_host_provider_is_used() {
    let provider = Arc::new(SimulatedProvider::manual());
    let tl = Tuneloop::builder()
        .database("memory://")
        .provider(provider.clone())
        .open()
        .await
        .unwrap();
    assert!(tl.has_provider());
    assert_eq!(tl.provider().name(), provider.name());
    let bare = Tuneloop::open(Options::memory()).await.unwrap();
    assert!(!bare.has_provider());
}

/// The environment fills what the caller left unset, and only that; the token never shows
/// in debug output.
#[tokio::test]
async fn the_environment_fills_what_is_unset() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let env = |k: &str| match k {
        ENV_DATABASE_URL => Some(url.clone()),
        ENV_MCP_URL => Some("http://127.0.0.1:9/mcp".to_string()),
        ENV_MCP_TOKEN => Some("s3cret-token".to_string()),
        _ => None,
    };
    let options = Options::default().apply_env(env);
    assert_eq!(options.resolved_database_url(), url);
    let debug = format!("{options:?}");
    assert!(!debug.contains("s3cret-token"), "{debug}");
    let tl = Tuneloop::open(options).await.unwrap();
    assert_eq!(tl.mcp().unwrap().url, "http://127.0.0.1:9/mcp");
    assert!(tl.has_provider());
    assert!(!format!("{tl:?}").contains("s3cret-token"));
    tl.close().await.unwrap();
    assert!(
        dir.path().join("t.db").exists(),
        "the env's database was opened"
    );

    // An explicit value wins over the environment.
    let other = Options::database("memory://").apply_env(env);
    assert_eq!(other.resolved_database_url(), "memory://");
}

/// Clones share one store; `close` releases it for all of them.
#[tokio::test]
async fn clones_share_the_store_and_close_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let tl = Tuneloop::open(Options::database(sqlite_url(&dir)))
        .await
        .unwrap();
    let clone = tl.clone();
    clone.grant(&GrantOptions::new("acme", 5)).await.unwrap();
    assert_eq!(tl.balance("acme").await.unwrap().available, 5);
    tl.close().await.unwrap();
    assert!(
        clone.balance("acme").await.is_err(),
        "closed for every clone"
    );
}
