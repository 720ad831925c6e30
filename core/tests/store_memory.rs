//! The conformance suite against the in-memory store.

use std::sync::Arc;
use tuneloop::store::{FeedbackStore, MemoryStore};

async fn fresh() -> Arc<dyn FeedbackStore> {
    Arc::new(MemoryStore::new())
}

tuneloop::store_conformance_tests!(fresh);
