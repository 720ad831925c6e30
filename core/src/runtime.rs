//! Running CPU-heavy work off the async executor.

use crate::{Error, Result};

/// Runs CPU-heavy work (clustering, dataset builds) on a blocking thread, so a server that
/// awaits it keeps answering other requests.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Storage {
            message: format!("{what} stopped: {e}"),
            retryable: false,
            source: None,
        })
}
