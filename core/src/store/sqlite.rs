//! The embedded SQLite store (placeholder, being written).

use super::OpenOptions;
use crate::error::{Error, Result};

/// A store in an embedded SQLite file.
#[derive(Debug)]
pub struct SqliteStore {}

impl SqliteStore {
    /// Opens (creating and migrating as `options` say) the database at `url`.
    pub async fn open(_url: &str, _options: &OpenOptions) -> Result<Self> {
        Err(Error::Unsupported {
            backend: "sqlite",
            operation: "open",
        })
    }
}

#[async_trait::async_trait]
impl super::FeedbackStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn begin_write(&self) -> Result<Box<dyn super::WriteTx>> {
        Err(unsupported())
    }
    async fn get_response(&self, _id: &str) -> Result<Option<crate::model::ResponseRecord>> {
        Err(unsupported())
    }
    async fn get_feedback(&self, _id: &str) -> Result<Option<crate::model::Feedback>> {
        Err(unsupported())
    }
    async fn list_responses(
        &self,
        _filter: &super::ResponseFilter,
        _page: &super::PageRequest,
    ) -> Result<super::Page<crate::model::ResponseRecord>> {
        Err(unsupported())
    }
    async fn list_feedback(
        &self,
        _filter: &super::FeedbackFilter,
        _page: &super::PageRequest,
    ) -> Result<super::Page<crate::model::Feedback>> {
        Err(unsupported())
    }
    async fn metrics(
        &self,
        _query: &crate::model::MetricsQuery,
    ) -> Result<crate::model::MetricsReport> {
        Err(unsupported())
    }
    async fn problematic(
        &self,
        _query: &crate::model::ProblematicQuery,
    ) -> Result<Vec<crate::model::ProblematicResponse>> {
        Err(unsupported())
    }
    async fn stats(&self) -> Result<super::StoreStats> {
        Err(unsupported())
    }
    async fn health(&self) -> Result<super::HealthReport> {
        Err(unsupported())
    }
    async fn save_run(&self, _run: &super::RunRecord) -> Result<()> {
        Err(unsupported())
    }
    async fn get_run(&self, _id: &str) -> Result<Option<super::RunRecord>> {
        Err(unsupported())
    }
    async fn list_runs(&self, _kind: Option<&str>, _limit: usize) -> Result<Vec<super::RunRecord>> {
        Err(unsupported())
    }
    async fn put_job(&self, _job: &super::JobRecord, _v: Option<u64>) -> Result<u64> {
        Err(unsupported())
    }
    async fn get_job(&self, _id: &str) -> Result<Option<super::JobRecord>> {
        Err(unsupported())
    }
    async fn list_jobs(&self, _filter: &super::JobFilter) -> Result<Vec<super::JobRecord>> {
        Err(unsupported())
    }
}

fn unsupported() -> Error {
    Error::Unsupported {
        backend: "sqlite",
        operation: "not yet implemented",
    }
}
