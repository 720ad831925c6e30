//! Opening a store from a URL.

use super::{FeedbackStore, MemoryStore};
use crate::error::{Error, Result};
use crate::model::Limits;
use std::sync::Arc;

/// The default of [`OpenOptions::busy_wait`].
pub const DEFAULT_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// How [`open`] treats the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Create an embedded database file when it is missing.
    pub create_if_missing: bool,
    /// Apply pending schema migrations. Without it, a database that is not at the current
    /// version can still be inspected with [`FeedbackStore::health`], but not written.
    pub migrate: bool,
    /// Size limits applied to every write.
    pub limits: Limits,
    /// How long a write waits in all for another process's write lock (embedded SQLite)
    /// before it gives up with an error that says what to do.
    pub busy_wait: std::time::Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            create_if_missing: true,
            migrate: true,
            limits: Limits::default(),
            busy_wait: DEFAULT_BUSY_WAIT,
        }
    }
}

/// Opens the store a URL names:
/// - `sqlite://PATH` or `sqlite:PATH` (a relative or absolute file path; `sqlite::memory:`
///   for a private in-memory SQLite database),
/// - `postgres://USER:PASSWORD@HOST:PORT/DB` or `postgresql://...` (sqlx's parameters such
///   as `sslmode=require`, plus `schema=NAME`, default `tuneloop`) for PostgreSQL/Supabase,
/// - `memory://` for a [`MemoryStore`].
///
/// By default an embedded database is created if missing and migrated, so a fresh machine
/// needs no setup.
///
/// ```
/// # tokio_test_block_on(async {
/// let store = tuneloop::store::open("memory://", &Default::default()).await.unwrap();
/// assert_eq!(store.backend(), "memory");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
pub async fn open(url: &str, options: &OpenOptions) -> Result<Arc<dyn FeedbackStore>> {
    let url = url.trim();
    if url == "memory:" || url == "memory://" || url == "memory" {
        return Ok(Arc::new(MemoryStore::with_limits(options.limits)));
    }
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        {
            let store = super::SqliteStore::open(url, options).await?;
            let store: Arc<dyn FeedbackStore> = Arc::new(store);
            return Ok(store);
        }
        #[cfg(not(feature = "sqlite"))]
        return Err(Error::invalid(
            "database_url",
            "this build of tuneloop has no SQLite support (feature `sqlite`)",
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let store = super::PgStore::open(url, options).await?;
            let store: Arc<dyn FeedbackStore> = Arc::new(store);
            return Ok(store);
        }
        #[cfg(not(feature = "postgres"))]
        return Err(Error::invalid(
            "database_url",
            "this build of tuneloop has no PostgreSQL support (feature `postgres`)",
        ));
    }
    Err(Error::invalid(
        "database_url",
        format!(
            "`{}` is not a supported URL; use sqlite://PATH (e.g. sqlite://tuneloop.db), postgres://USER@HOST/DB or memory://",
            crate::secrets::redact_url(url)
        ),
    ))
}
