//! Opening a ledger from a database URL.

use super::CreditLedger;
use crate::error::{Error, Result};
use crate::store::{self, OpenOptions};
use std::sync::Arc;

/// Opens the ledger in the database a URL names (the same URLs as [`crate::store::open`]:
/// `sqlite://PATH`, `postgres://...[?schema=NAME]`, `memory://`), creating and migrating an
/// embedded database as needed. `memory://` gives a fresh, empty ledger.
///
/// To use the ledger of a store already open, call [`crate::store::FeedbackStore::ledger`]
/// instead: it shares the store's connections.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let ledger = tuneloop::credits::open("memory://").await.unwrap();
/// ledger.grant("acme", 10, "welcome").await.unwrap();
/// assert_eq!(ledger.balance("acme").await.unwrap().available, 10);
/// # });
/// ```
pub async fn open(url: &str) -> Result<Arc<dyn CreditLedger>> {
    let store = store::open(url, &OpenOptions::default()).await?;
    store.ledger().ok_or(Error::Unsupported {
        backend: store.backend(),
        operation: "credit ledger",
    })
}
