//! The `Tuneloop` facade: one handle over a store, a credit ledger and a fine-tuning
//! provider, with one method per operation. Every front (the CLI, the HTTP API, the Python
//! and Node packages) is a thin mapping onto it: flags or arguments → an options struct →
//! one call → a serde result whose JSON is the one schema everywhere.
//!
//! The operations live in one file per concern, each an `impl Tuneloop` block:
//! `records` (record, import, export), `quality` (metrics, problematic, trends), `checks`
//! (check, migrate), `schedule` (the weekly job and its loop), `demo`, ...
//!
//! ```
//! use tuneloop::{Options, Tuneloop};
//! use tuneloop::model::{Feedback, FeedbackKind, MetricsQuery, ResponseRecord, parse_timestamp};
//! use tuneloop::store::RecordBatch;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let tl = Tuneloop::open(Options::memory()).await.unwrap();
//! let at = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
//! tl.record(&RecordBatch {
//!     responses: vec![ResponseRecord::new("r1", "support-bot-v2", "Refund window?", "90 days", at)],
//!     feedback: vec![Feedback::new("f1", "r1", FeedbackKind::Thumbs { up: false }, at)],
//! })
//! .await
//! .unwrap();
//! let report = tl.metrics(&MetricsQuery::default()).await.unwrap();
//! assert_eq!(report.models[0].figures.negative, 1);
//! tl.close().await.unwrap();
//! # });
//! ```

mod analysis;
mod checks;
mod credits;
mod datasets;
mod demo;
mod fine_tuning;
mod group_commit;
mod quality;
mod ranking;
mod records;
mod schedule;
mod submit;

use crate::config::Config;
use crate::credits::CreditLedger;
use crate::jobs::JobManager;
use crate::mcp::{FineTuningProvider, McpConfig, UnconfiguredProvider};
use crate::store::{FeedbackStore, OpenOptions};
use crate::{Error, Result};
use std::sync::Arc;

pub use crate::analysis::rule_files::{LexiconFile, RuleTables, RulesFile};
pub use crate::model::{Comparison, ModelRanking, RankedModel, Winner};
pub use crate::model::{PatternChange, PatternDiff, RunDiff, RunList, RunSummary};
pub use crate::store::RunRecord;
pub use analysis::{AnalyzeOptions, AnalyzeResult, RunsQuery, SuggestReport};
pub use checks::{
    health_problems, CheckLine, CheckOptions, CheckReport, CheckScope, McpStatus,
    DEFAULT_CHECK_HOURS,
};
pub use credits::{GrantOptions, GrantResult};
pub use datasets::{BuiltDataset, DatasetRequest, ValidateInput, ValidateRequest};
pub use demo::{
    DemoDataset, DemoLoopReport, DemoReport, DemoRunOptions, WeekFigures, WeeklyChange,
    WeeklyModel, DEFAULT_DEMO_DIR, DEMO_DATASET_DIR, DEMO_SETTINGS_FILE,
};
pub use fine_tuning::{
    FineTuneOptions, FineTuneTarget, JobList, JobQuery, JobSync, JobWithEvents, SyncOutcome,
    WaitOptions,
};
pub use quality::ProblematicReport;
pub use ranking::RankOptions;

// The types the operations take and return, from one place: a front needs `tuneloop::service`
// and `tuneloop::model`, nothing underneath.
pub use crate::credits::Balance;
pub use crate::dataset::validate::{ValidateFormat, ValidationReport};
pub use crate::dataset::{DatasetFormat, Manifest, TokenEncoding};
pub use crate::io::{ExportReport, ImportOptions, ImportReport};
pub use crate::jobs::{FineTuneJob, FineTuneOutcome, JobStatus, SyncReport};
#[cfg(feature = "mcp")]
pub use crate::mcp::install_crypto_provider;
pub use crate::policy::Decision;
pub use crate::schedule::weekly::WeeklyReport;
pub use group_commit::{FeedbackBatcher, DEFAULT_GROUP_SIZE};
pub use records::{ExportOptions, ImportInput};
pub use schedule::{ScheduleEvent, ScheduleOptions, WeeklyRunOptions};
pub use submit::Submitted;
pub use tokio_util::sync::CancellationToken;

pub use crate::store::{HealthReport, JobEventRecord, WriteSummary};

/// How to reach the MCP fine-tuning server: URL, bearer token, timeouts and retries.
pub type McpSettings = McpConfig;

/// The environment variables [`Options::apply_env`] reads.
pub const ENV_DATABASE_URL: &str = "TUNELOOP_DATABASE_URL";
/// The MCP server's URL.
pub const ENV_MCP_URL: &str = "TUNELOOP_MCP_URL";
/// The MCP server's bearer token (never printed).
pub const ENV_MCP_TOKEN: &str = "TUNELOOP_MCP_TOKEN";

/// What [`Tuneloop::open`] wires together. Everything is optional: the defaults are an
/// embedded SQLite file (`sqlite://tuneloop.db`), the store's own credit ledger and no
/// fine-tuning server (decisions and dry runs work; starting a job says how to configure one).
#[derive(Clone, Default)]
pub struct Options {
    /// `sqlite://PATH`, `postgres://...` or `memory://`; `None`: the settings' `[database]
    /// url`, else `sqlite://tuneloop.db`.
    pub database_url: Option<String>,
    /// The settings (`tuneloop.toml`): policy, prices, dataset, fine-tune defaults, schedule.
    pub config: Config,
    /// The MCP fine-tuning server; `None`: the settings' `[mcp] url` if any, else none.
    pub mcp: Option<McpSettings>,
    /// A host-provided credit ledger (a service's own credit system) instead of the store's.
    pub ledger: Option<Arc<dyn CreditLedger>>,
    /// A host-provided fine-tuning provider instead of the MCP server.
    pub provider: Option<Arc<dyn FineTuningProvider>>,
    /// Whether to create and migrate the database, size limits, lock waits.
    pub open: OpenOptions,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::secrets::redact_url),
            )
            .field("mcp", &self.mcp)
            .field("ledger", &self.ledger.as_ref().map(|_| "host-provided"))
            .field("provider", &self.provider.as_ref().map(|p| p.name()))
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// An in-memory store (tests, demos, examples).
    pub fn memory() -> Self {
        Options {
            database_url: Some("memory://".into()),
            ..Default::default()
        }
    }

    /// Options for a database URL.
    pub fn database(url: impl Into<String>) -> Self {
        Options {
            database_url: Some(url.into()),
            ..Default::default()
        }
    }

    /// Fills what is not set yet from the environment (`env` is a lookup such as
    /// `|k| std::env::var(k).ok()`): the database URL from `TUNELOOP_DATABASE_URL`, the MCP
    /// server from `TUNELOOP_MCP_URL` (with the settings' `[mcp]` timeouts), and its token
    /// from `TUNELOOP_MCP_TOKEN`. Values already set win over the environment, which wins
    /// over the settings file; empty variables are ignored. The one place every front
    /// applies the environment.
    pub fn apply_env(mut self, env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if self.database_url.is_none() {
            self.database_url = get(ENV_DATABASE_URL);
        }
        if self.mcp.is_none() {
            if let Some(url) = get(ENV_MCP_URL) {
                self.mcp = Some(McpConfig::from_section(url, &self.config.mcp));
            } else {
                // The settings' `[mcp] url`, made explicit so the token below reaches it.
                self.mcp = self.resolved_mcp();
            }
        }
        if let Some(mcp) = &mut self.mcp {
            if mcp.token.is_none() {
                mcp.token = get(ENV_MCP_TOKEN);
            }
        }
        self
    }

    /// [`Options::apply_env`] with the process environment.
    pub fn with_process_env(self) -> Self {
        self.apply_env(|k| std::env::var(k).ok())
    }

    /// The database URL these options open.
    pub fn resolved_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.config.database_url().to_string())
    }

    /// The MCP settings these options use: explicit ones, else the settings' `[mcp] url`.
    pub fn resolved_mcp(&self) -> Option<McpConfig> {
        self.mcp.clone().or_else(|| {
            self.config
                .mcp
                .url
                .as_ref()
                .map(|url| McpConfig::from_section(url, &self.config.mcp))
        })
    }
}

/// Builds [`Options`] step by step: `Tuneloop::builder().database("sqlite://x.db").open()`.
#[derive(Debug, Default)]
pub struct Builder {
    options: Options,
}

impl Builder {
    /// The database URL.
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.options.database_url = Some(url.into());
        self
    }

    /// The settings.
    pub fn config(mut self, config: Config) -> Self {
        self.options.config = config;
        self
    }

    /// The MCP fine-tuning server.
    pub fn mcp(mut self, mcp: McpSettings) -> Self {
        self.options.mcp = Some(mcp);
        self
    }

    /// A host-provided credit ledger.
    pub fn ledger(mut self, ledger: Arc<dyn CreditLedger>) -> Self {
        self.options.ledger = Some(ledger);
        self
    }

    /// A host-provided fine-tuning provider.
    pub fn provider(mut self, provider: Arc<dyn FineTuningProvider>) -> Self {
        self.options.provider = Some(provider);
        self
    }

    /// How the database is opened.
    pub fn open_options(mut self, open: OpenOptions) -> Self {
        self.options.open = open;
        self
    }

    /// Fills the rest from the process environment ([`Options::apply_env`]).
    pub fn with_process_env(mut self) -> Self {
        self.options = self.options.with_process_env();
        self
    }

    /// The options built so far.
    pub fn options(self) -> Options {
        self.options
    }

    /// Opens the handle.
    pub async fn open(self) -> Result<Tuneloop> {
        Tuneloop::open(self.options).await
    }
}

/// The handle: cheap to clone (an `Arc` inside), `Send + Sync + 'static`. See the module
/// documentation.
#[derive(Clone)]
pub struct Tuneloop {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn FeedbackStore>,
    ledger: Option<Arc<dyn CreditLedger>>,
    provider: Arc<dyn FineTuningProvider>,
    /// Whether a real provider (an MCP server or a host's) is configured.
    provider_configured: bool,
    mcp: Option<McpConfig>,
    config: Config,
    /// The database URL with its password hidden, for messages and reports.
    database: String,
    /// The file of an embedded SQLite database (outputs must not overwrite it).
    database_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Tuneloop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tuneloop")
            .field("database", &self.inner.database)
            .field("backend", &self.inner.store.backend())
            .field("provider", &self.inner.provider.name())
            .finish_non_exhaustive()
    }
}

impl Tuneloop {
    /// Opens the store (creating and migrating an embedded database as `options.open`
    /// says), and wires the ledger and the provider. Credentials never appear in errors.
    pub async fn open(options: Options) -> Result<Tuneloop> {
        options.config.validate()?;
        let url = options.resolved_database_url();
        let database = crate::secrets::redact_url(&url);
        let store = crate::store::open(&url, &options.open)
            .await
            .map_err(|e| opening(&database, e))?;
        let file = crate::io::sqlite_file(&url);
        Tuneloop::over_store(store, options, database, file)
    }

    /// [`Builder`] for step-by-step options.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A handle over a store the caller opened (any [`FeedbackStore`], e.g. a host's own).
    pub fn with_store(store: Arc<dyn FeedbackStore>, options: Options) -> Result<Tuneloop> {
        options.config.validate()?;
        let database = format!("{} store", store.backend());
        Tuneloop::over_store(store, options, database, None)
    }

    fn over_store(
        store: Arc<dyn FeedbackStore>,
        options: Options,
        database: String,
        database_file: Option<std::path::PathBuf>,
    ) -> Result<Tuneloop> {
        let mcp = options.resolved_mcp();
        let ledger = options.ledger.clone().or_else(|| store.ledger());
        let (provider, provider_configured): (Arc<dyn FineTuningProvider>, bool) =
            match (options.provider.clone(), &mcp) {
                (Some(p), _) => (p, true),
                (None, Some(config)) => (mcp_provider(config.clone())?, true),
                (None, None) => (Arc::new(UnconfiguredProvider), false),
            };
        Ok(Tuneloop {
            inner: Arc::new(Inner {
                store,
                ledger,
                provider,
                provider_configured,
                mcp,
                config: options.config,
                database,
                database_file,
            }),
        })
    }

    /// Releases the store (an embedded database is checkpointed and left as one file). Other
    /// clones of the handle fail with a storage error afterwards.
    pub async fn close(&self) -> Result<()> {
        self.inner.store.close().await
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn FeedbackStore> {
        &self.inner.store
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database as it may be shown (password hidden), e.g. `postgres://app:***@db/x`.
    pub fn database(&self) -> &str {
        &self.inner.database
    }

    /// The MCP server's settings, when one is configured.
    pub fn mcp(&self) -> Option<&McpConfig> {
        self.inner.mcp.as_ref()
    }

    /// The fine-tuning provider in use.
    pub fn provider(&self) -> &Arc<dyn FineTuningProvider> {
        &self.inner.provider
    }

    /// Whether a fine-tuning provider (an MCP server or a host's) is configured.
    pub fn has_provider(&self) -> bool {
        self.inner.provider_configured
    }

    /// The credit ledger in use.
    pub fn ledger(&self) -> Result<&Arc<dyn CreditLedger>> {
        self.inner
            .ledger
            .as_ref()
            .ok_or_else(|| Error::Unsupported {
                backend: self.inner.store.backend(),
                operation: "credit ledger (pass a host-provided ledger in Options::ledger)",
            })
    }

    /// The job manager over this handle's store, ledger and provider.
    pub fn jobs(&self) -> Result<JobManager> {
        Ok(JobManager::new(
            self.inner.store.clone(),
            self.ledger()?.clone(),
            self.inner.provider.clone(),
            self.inner.config.prices.clone(),
        ))
    }
}

/// The provider over the MCP server, when this build has the HTTP transport.
#[cfg(feature = "mcp")]
fn mcp_provider(config: McpConfig) -> Result<Arc<dyn FineTuningProvider>> {
    Ok(Arc::new(crate::mcp::McpFineTuningProvider::over_http(
        config,
    )?))
}

#[cfg(not(feature = "mcp"))]
fn mcp_provider(_config: McpConfig) -> Result<Arc<dyn FineTuningProvider>> {
    Err(Error::invalid(
        "mcp.url",
        "this build of tuneloop has no MCP transport (feature `mcp`); pass a provider instead",
    ))
}

/// An open failure, saying which database (password hidden).
fn opening(database: &str, e: Error) -> Error {
    match e {
        Error::InvalidInput { field, reason } => Error::InvalidInput {
            field,
            reason: format!("{} (database {database})", crate::secrets::scrub(&reason)),
        },
        Error::Storage {
            message,
            retryable,
            source,
        } => Error::Storage {
            message: format!(
                "cannot open database {database}: {}",
                crate::secrets::scrub(&message)
            ),
            retryable,
            source,
        },
        other => other,
    }
}

pub(crate) use crate::runtime::blocking;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn the_handle_is_send_sync_static() {
        assert_send_sync::<Tuneloop>();
    }

    #[test]
    fn environment_fills_only_what_is_unset() {
        let env = |k: &str| match k {
            ENV_DATABASE_URL => Some("sqlite://env.db".to_string()),
            ENV_MCP_URL => Some("http://127.0.0.1:1/mcp".to_string()),
            ENV_MCP_TOKEN => Some("tok".to_string()),
            _ => None,
        };
        let o = Options::default().apply_env(env);
        assert_eq!(o.database_url.as_deref(), Some("sqlite://env.db"));
        let mcp = o.mcp.expect("mcp from env");
        assert_eq!(mcp.url, "http://127.0.0.1:1/mcp");
        assert_eq!(mcp.token.as_deref(), Some("tok"));
        let o = Options::database("sqlite://flag.db").apply_env(env);
        assert_eq!(o.database_url.as_deref(), Some("sqlite://flag.db"));
        let o = Options::default().apply_env(|_| Some("  ".to_string()));
        assert_eq!(o.database_url, None);
        assert!(o.mcp.is_none());
    }
}
