//! The ledger conformance suite on every backend: memory, SQLite (a temp file per test, and
//! the ledger of an in-memory SQLite store), and PostgreSQL (a fresh schema per test, when
//! `TUNELOOP_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tuneloop::credits::{CreditLedger, MemoryLedger};
use tuneloop::store::{OpenOptions, SqliteStore};

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("credits_ledgers");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A fresh SQLite file's ledger.
pub async fn sqlite_ledger() -> Arc<dyn CreditLedger> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = scratch().join(format!("l-{}.sqlite", N.fetch_add(1, Ordering::Relaxed)));
    let store = SqliteStore::open(
        &format!("sqlite://{}", path.display()),
        &OpenOptions::default(),
    )
    .await
    .unwrap();
    Arc::new(store.ledger())
}

mod memory {
    use super::*;

    async fn fresh() -> Arc<dyn CreditLedger> {
        Arc::new(MemoryLedger::new())
    }

    tuneloop::ledger_conformance_tests!(fresh);
}

mod memory_store {
    use super::*;

    async fn fresh() -> Arc<dyn CreditLedger> {
        let store = tuneloop::store::open("memory://", &OpenOptions::default())
            .await
            .unwrap();
        store.ledger().unwrap()
    }

    tuneloop::ledger_conformance_tests!(fresh);
}

mod sqlite_file {
    use super::*;

    async fn fresh() -> Arc<dyn CreditLedger> {
        sqlite_ledger().await
    }

    tuneloop::ledger_conformance_tests!(fresh);
}

mod sqlite_memory {
    use super::*;

    async fn fresh() -> Arc<dyn CreditLedger> {
        tuneloop::credits::open("sqlite::memory:").await.unwrap()
    }

    tuneloop::ledger_conformance_tests!(fresh);
}

mod postgres {
    tuneloop::ledger_conformance_tests!(optional tuneloop::testing::postgres::fresh_ledger);
}
