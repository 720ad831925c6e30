//! Checks that change nothing: the database, the MCP server, the credit ledger, the feedback
//! flow — one report type for every scope — and `migrate`.

use super::{Options, Tuneloop};
use crate::credits::HoldStatus;
use crate::error::{Error, Result};
use crate::mcp::{McpConfig, ToolCheck};
use crate::model::{format_timestamp, MetricsQuery, Timestamp};
use crate::store::{
    AggregateRebuild, FeedbackFilter, FeedbackStore, FeedbackStoreExt, HealthReport, OpenOptions,
};
use serde::{Deserialize, Serialize};

/// What [`Tuneloop::check`] looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckScope {
    /// The database exists, its schema is complete and current, references hold.
    Db,
    /// The MCP fine-tuning server answers and offers the contract's tools.
    Mcp,
    /// The credit ledger: reachable, the account exists, a 0-credit reserve/release works.
    Credits,
    /// Feedback is still arriving, model by model.
    Feedback,
    /// Every one of the above (the integration check); a missing MCP server fails it.
    #[default]
    All,
}

impl CheckScope {
    /// The scope's name (`db`, `mcp`, `credits`, `feedback`, `all`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckScope::Db => "db",
            CheckScope::Mcp => "mcp",
            CheckScope::Credits => "credits",
            CheckScope::Feedback => "feedback",
            CheckScope::All => "all",
        }
    }
}

/// The feedback window's default: a week.
pub const DEFAULT_CHECK_HOURS: u32 = 168;

/// What to check and with which thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckOptions {
    /// Which checks.
    pub scope: CheckScope,
    /// The account of the credit checks; `None`: the settings' `[fine_tune] account`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Only this model in the feedback checks (`None`: every model in the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The feedback window, in hours back from `as_of`.
    pub hours: u32,
    /// Fewest feedback items per model that pass.
    pub min: u64,
    /// The time feedback recency is judged at; `None`: the settings' `[checks] as_of`, else
    /// now.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub as_of: Option<Timestamp>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            scope: CheckScope::All,
            account: None,
            model: None,
            hours: DEFAULT_CHECK_HOURS,
            min: 1,
            as_of: None,
        }
    }
}

impl CheckOptions {
    /// The default thresholds for `scope`.
    pub fn scope(scope: CheckScope) -> Self {
        CheckOptions {
            scope,
            ..Default::default()
        }
    }
}

/// One thing checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLine {
    /// What was checked: `database`, `schema`, `references`, `mcp`, `mcp tool`, `ledger`,
    /// `account`, `round trip`, `feedback`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was seen (never a credential).
    pub detail: String,
}

impl CheckLine {
    fn new(name: &str, passed: bool, detail: impl Into<String>) -> Self {
        CheckLine {
            name: name.to_string(),
            passed,
            detail: crate::secrets::scrub(&detail.into()).into_owned(),
        }
    }

    fn failed(name: &str, e: &Error) -> Self {
        CheckLine::new(name, false, e.with_causes())
    }
}

/// What the MCP server offered (`check mcp`, `check all`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpStatus {
    /// The server's URL, password hidden.
    pub url: String,
    /// Whether it answered.
    pub connected: bool,
    /// How many tools it offers.
    pub tools_offered: usize,
    /// The contract's tools, each present or not, in the contract's order.
    pub tools: Vec<ToolCheck>,
}

/// Every check of a scope, in order, one line each. `ok` when every line passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Whether every check passed.
    pub ok: bool,
    /// The checks, in order.
    pub checks: Vec<CheckLine>,
    /// The schema's state, when the database was reached (`db` and `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthReport>,
    /// The MCP server's tools, when one was asked (`mcp` and `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpStatus>,
}

impl CheckReport {
    fn new() -> Self {
        CheckReport {
            ok: true,
            checks: Vec::new(),
            health: None,
            mcp: None,
        }
    }

    fn finish(mut self) -> Self {
        self.ok = self.checks.iter().all(|c| c.passed);
        self
    }

    /// The lines that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckLine> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// What is wrong with a store's schema, in words (empty when [`HealthReport::ok`]).
pub fn health_problems(h: &HealthReport) -> Vec<String> {
    let mut out = Vec::new();
    match (h.schema_version, h.supported_version) {
        (None, Some(s)) => out.push(format!(
            "no schema version (expected {s}): migrate the database first"
        )),
        (Some(f), Some(s)) if f < s => out.push(format!(
            "schema version {f} is older than {s}: migrate the database first"
        )),
        (Some(f), Some(s)) if f > s => out.push(format!(
            "schema version {f} is newer than this tuneloop supports ({s}): upgrade tuneloop"
        )),
        _ => {}
    }
    for t in &h.missing_tables {
        out.push(format!("missing table {t}"));
    }
    if let Some(n) = h.orphaned_feedback.filter(|n| *n > 0) {
        out.push(format!("{n} feedback items reference a missing response"));
    }
    if let Some(n) = h.aggregate_mismatches.filter(|n| *n > 0) {
        out.push(format!(
            "{n} daily aggregate rows disagree with the raw rows: run `tuneloop repair aggregates`"
        ));
    }
    out
}

impl Tuneloop {
    /// Rebuilds the daily aggregates that metrics read from the raw rows, in one write
    /// transaction (the CLI's `repair aggregates`); `check db` says when they are needed.
    ///
    /// Errors: [`Error::Unsupported`] for a store that keeps no such aggregates (the
    /// in-memory store's running tallies cannot drift from its rows); storage errors.
    pub async fn rebuild_aggregates(&self) -> Result<AggregateRebuild> {
        self.store().rebuild_aggregates().await
    }

    /// Opens the database with `options` (creating and migrating it as `options.open`
    /// says; by default it does both), reports the schema's state and closes it. The report
    /// is not [`HealthReport::ok`] when the database is still unusable (see
    /// [`health_problems`]).
    pub async fn migrate(options: Options) -> Result<HealthReport> {
        let tl = Tuneloop::open(options).await?;
        let health = tl.store().health().await;
        let closed = tl.close().await;
        let health = health?;
        closed?;
        Ok(health)
    }

    /// Whether this handle's database answers and its schema is the one this build needs
    /// ([`HealthReport::ok`]); what a readiness probe asks, so it skips the scans whose cost
    /// grows with the data (`orphaned_feedback` and `aggregate_mismatches` are `None`: run
    /// [`Tuneloop::check`] for those). Errors: the database does not answer
    /// ([`Error::Storage`]).
    pub async fn ready(&self) -> Result<HealthReport> {
        self.store().readiness().await
    }

    /// Runs the checks of `check.scope` on this handle's store, ledger and MCP settings.
    /// Nothing is created; the credit round trip leaves a released hold of 0.
    ///
    /// Errors: only [`Error::InvalidInput`] on `mcp_url` when the `mcp` scope has no server
    /// to check.
    pub async fn check(&self, check: &CheckOptions) -> Result<CheckReport> {
        self.check_against(check, self.mcp().cloned()).await
    }

    /// [`Tuneloop::check`] for a front that has no handle yet: opens the database without
    /// creating or migrating it (a check changes nothing), runs the checks and closes it.
    /// A database that cannot be opened is a failed `database` line, not an error; the MCP
    /// checks of `all` still run. The `mcp` scope does not open the database at all.
    ///
    /// Errors: [`Error::InvalidInput`] on `mcp_url` when the `mcp` scope has no server to
    /// check, and invalid settings.
    pub async fn check_with(options: Options, check: &CheckOptions) -> Result<CheckReport> {
        options.config.validate()?;
        let mcp = options.resolved_mcp();
        if check.scope == CheckScope::Mcp {
            return mcp_only(mcp).await;
        }
        // The handle gets no MCP server: the checks connect to it themselves, so a bad URL
        // is a failed `mcp` line rather than a failure to open the database.
        let skip = options.config.checks.skip.clone();
        let mut config = options.config.clone();
        config.mcp.url = None;
        let read_only = Options {
            open: OpenOptions {
                create_if_missing: false,
                migrate: false,
                ..options.open.clone()
            },
            mcp: None,
            config,
            ..options
        };
        match Tuneloop::open(read_only).await {
            Ok(tl) => {
                let report = tl.check_against(check, mcp).await;
                let closed = tl.close().await;
                let report = report?;
                closed?;
                Ok(report)
            }
            Err(e) => {
                let mut report = CheckReport::new();
                let name = match check.scope {
                    CheckScope::Credits => "ledger",
                    _ => "database",
                };
                report.checks.push(CheckLine::failed(name, &e));
                if check.scope == CheckScope::All {
                    mcp_part(&skip, mcp, &mut report).await;
                }
                Ok(report.finish())
            }
        }
    }

    async fn check_against(
        &self,
        check: &CheckOptions,
        mcp: Option<McpConfig>,
    ) -> Result<CheckReport> {
        let scope = check.scope;
        if scope == CheckScope::Mcp {
            return mcp_only(mcp).await;
        }
        let mut report = CheckReport::new();
        if matches!(scope, CheckScope::Db | CheckScope::All) {
            db_checks(self.store().as_ref(), self.database(), &mut report).await;
        }
        if scope == CheckScope::All {
            mcp_part(&self.config().checks.skip, mcp, &mut report).await;
        }
        if matches!(scope, CheckScope::Credits | CheckScope::All) {
            let account = check
                .account
                .clone()
                .unwrap_or_else(|| self.config().fine_tune.account.clone());
            report.checks.extend(self.credit_checks(&account).await);
        }
        if matches!(scope, CheckScope::Feedback | CheckScope::All) {
            let as_of = check.as_of.or(self.config().checks.as_of);
            report.checks.extend(
                feedback_checks(
                    self.store().as_ref(),
                    check.model.as_deref(),
                    check.hours,
                    check.min,
                    as_of,
                )
                .await,
            );
        }
        Ok(report.finish())
    }

    /// The credit checks: ledger reachable, account exists, a 0-credit reserve/release
    /// round trip. Stops at the first failure (later checks need the earlier ones).
    async fn credit_checks(&self, account: &str) -> Vec<CheckLine> {
        let mut out = Vec::new();
        let ledger = match self.ledger() {
            Ok(l) => l.clone(),
            Err(e) => {
                out.push(CheckLine::failed("ledger", &e));
                return out;
            }
        };
        let balance = ledger.balance(account).await;
        match &balance {
            Ok(_) | Err(Error::NotFound { .. }) => {
                out.push(CheckLine::new("ledger", true, ledger.backend()))
            }
            Err(e) => {
                out.push(CheckLine::failed("ledger", e));
                return out;
            }
        }
        match balance {
            Ok(b) => out.push(CheckLine::new(
                "account",
                true,
                format!(
                    "{account}: {} available of {} granted",
                    b.available, b.granted
                ),
            )),
            Err(_) => {
                out.push(CheckLine::new(
                    "account",
                    false,
                    format!("{account} does not exist: grant it credits first"),
                ));
                return out;
            }
        }
        let round_trip = async {
            let hold = ledger
                .reserve(account, 0, &fresh_key("check-reserve"))
                .await?;
            ledger.release(&hold.id, &fresh_key("check-release")).await
        }
        .await;
        out.push(match round_trip {
            Ok(h) if h.status == HoldStatus::Released => CheckLine::new(
                "round trip",
                true,
                format!("reserved and released 0 credits (hold {})", h.id),
            ),
            Ok(h) => CheckLine::new(
                "round trip",
                false,
                format!("hold {} ended {}", h.id, h.status.as_str()),
            ),
            Err(e) => CheckLine::failed("round trip", &e),
        });
        out
    }
}

async fn mcp_only(mcp: Option<McpConfig>) -> Result<CheckReport> {
    let Some(mcp) = mcp else {
        return Err(no_server());
    };
    let mut report = CheckReport::new();
    mcp_checks(Some(mcp), &mut report).await;
    Ok(report.finish())
}

fn no_server() -> Error {
    Error::invalid(
        "mcp_url",
        "checking the MCP server needs one: configure a fine-tuning server (MCP URL)",
    )
}

/// A key no other check used: the time in microseconds and the process id.
fn fresh_key(prefix: &str) -> String {
    let micros = crate::model::time::now().timestamp_micros();
    format!("{prefix}-{micros}-{}", std::process::id())
}

async fn db_checks(store: &dyn FeedbackStore, database: &str, report: &mut CheckReport) {
    let health = match store.health().await {
        Ok(h) => h,
        Err(e) => {
            report.checks.push(CheckLine::failed("database", &e));
            return;
        }
    };
    let out = &mut report.checks;
    out.push(CheckLine::new(
        "database",
        true,
        format!("{database} ({})", health.backend),
    ));
    if let Some(supported) = health.supported_version {
        let found = health.schema_version;
        let complete = health.missing_tables.is_empty();
        let mut detail = match found {
            Some(v) if v == supported && complete => format!("version {v}, all tables present"),
            Some(v) if v > supported => format!(
                "version {v} is newer than this tuneloop supports ({supported}): upgrade tuneloop"
            ),
            Some(v) => format!(
                "version {v} (this tuneloop: {supported}){}: migrate the database first",
                if complete {
                    String::new()
                } else {
                    format!(", missing {}", health.missing_tables.join(", "))
                }
            ),
            None => "not initialised: migrate the database first".to_string(),
        };
        if !health.extra_tables.is_empty() {
            detail.push_str(&format!(
                "; tables not used by tuneloop, left alone: {}",
                health.extra_tables.join(", ")
            ));
        }
        out.push(CheckLine::new(
            "schema",
            found == Some(supported) && complete,
            detail,
        ));
    }
    if let Some(n) = health.orphaned_feedback {
        out.push(CheckLine::new(
            "references",
            n == 0,
            if n == 0 {
                "every feedback item has its response".to_string()
            } else {
                format!("{n} feedback items reference a missing response")
            },
        ));
    }
    if let Some(n) = health.aggregate_mismatches {
        out.push(CheckLine::new(
            "aggregates",
            n == 0,
            if n == 0 {
                "the daily aggregates agree with the rows".to_string()
            } else {
                format!(
                    "{n} daily aggregate rows disagree with the rows: run `tuneloop repair \
                     aggregates`"
                )
            },
        ));
    }
    report.health = Some(health);
}

/// Connects with `config` (its `[mcp]` timeouts and retries, its token), lists the tools,
/// checks them against the contract and closes. No server configured is a failed line.
/// The MCP part of `check all`, unless the settings skip it (`[checks] skip = ["mcp"]`): then
/// one passing line says so, so the skip is always visible.
async fn mcp_part(skip: &[String], config: Option<McpConfig>, report: &mut CheckReport) {
    if skip.iter().any(|s| s == "mcp") {
        report.checks.push(CheckLine::new(
            "mcp",
            true,
            "skipped: [checks] skip = [\"mcp\"] in the settings (no fine-tuning server is checked)",
        ));
        return;
    }
    mcp_checks(config, report).await;
}

async fn mcp_checks(config: Option<McpConfig>, report: &mut CheckReport) {
    let Some(config) = config else {
        report.checks.push(CheckLine::new(
            "mcp",
            false,
            "no fine-tuning server configured: configure its MCP URL",
        ));
        return;
    };
    let url = crate::secrets::redact_url(&config.url);
    let tools = match server_tools(config).await {
        Ok(t) => t,
        Err(e) => {
            report.checks.push(CheckLine::failed("mcp", &e));
            report.mcp = Some(McpStatus {
                url,
                connected: false,
                tools_offered: 0,
                tools: Vec::new(),
            });
            return;
        }
    };
    report.checks.push(CheckLine::new(
        "mcp",
        true,
        format!("{url} ({} tools offered)", tools.len()),
    ));
    let checked = crate::mcp::check_tools(&tools);
    for c in &checked {
        let detail = if c.ok() {
            format!("{} present, schema ok", c.name)
        } else if !c.present {
            format!(
                "{} missing{}",
                c.name,
                if c.optional { " (optional)" } else { "" }
            )
        } else {
            format!(
                "{} present, schema lacks {}",
                c.name,
                c.missing_arguments.join(", ")
            )
        };
        report
            .checks
            .push(CheckLine::new("mcp tool", c.acceptable(), detail));
    }
    report.mcp = Some(McpStatus {
        url,
        connected: true,
        tools_offered: tools.len(),
        tools: checked,
    });
}

#[cfg(feature = "mcp")]
async fn server_tools(config: McpConfig) -> Result<Vec<crate::mcp::ToolInfo>> {
    use crate::mcp::{HttpMcpClient, McpClient};
    let client = HttpMcpClient::connect(config).await?;
    let tools = client.list_tools().await;
    // Closing is a courtesy to the server; the tools are what was asked.
    let _ = client.close().await;
    tools
}

#[cfg(not(feature = "mcp"))]
async fn server_tools(_config: McpConfig) -> Result<Vec<crate::mcp::ToolInfo>> {
    Err(Error::invalid(
        "mcp.url",
        "this build of tuneloop has no MCP transport (feature `mcp`)",
    ))
}

/// One line per model (or for `model` only): feedback items created in the `hours` hours
/// before `as_of` (default now), passing with at least `min`. A store without any model
/// fails: nothing is recorded.
async fn feedback_checks(
    store: &dyn FeedbackStore,
    model: Option<&str>,
    hours: u32,
    min: u64,
    as_of: Option<Timestamp>,
) -> Vec<CheckLine> {
    let models: Vec<String> = match model {
        Some(m) => vec![m.to_string()],
        None => match store.metrics(&MetricsQuery::default()).await {
            Ok(report) => report.models.into_iter().map(|m| m.model_id).collect(),
            Err(e) => return vec![CheckLine::failed("feedback", &e)],
        },
    };
    if models.is_empty() {
        return vec![CheckLine::new(
            "feedback",
            false,
            "no responses recorded yet: is the application sending them?",
        )];
    }
    let end = as_of.unwrap_or_else(crate::model::time::now);
    let since = end - chrono::Duration::hours(i64::from(hours));
    let window = match as_of {
        Some(t) => format!("in the {hours} h before {}", format_timestamp(&t)),
        None => format!("in the last {hours} h"),
    };
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let filter = FeedbackFilter {
            model: Some(m.clone()),
            since: Some(since),
            // Against the clock of now, feedback stamped a little ahead (a skewed
            // application clock) still counts; against a given time, the window ends there.
            until: as_of,
            ..Default::default()
        };
        match store.all_feedback(&filter).await {
            Ok(items) => {
                let n = items.len() as u64;
                let newest = items.iter().map(|f| f.created_at).max();
                let mut detail = match newest {
                    Some(t) => format!("{m}: {n} items {window} (newest {})", format_timestamp(&t)),
                    None => format!("{m}: no feedback {window}"),
                };
                if n < min {
                    detail.push_str(&format!("; need at least {min}"));
                }
                out.push(CheckLine::new("feedback", n >= min, detail));
            }
            Err(e) => out.push(CheckLine::new(
                "feedback",
                false,
                format!("{m}: {}", e.with_causes()),
            )),
        }
    }
    out
}
