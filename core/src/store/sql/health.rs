//! The health report (the CLI's `check db`) from a backend's table list and schema version.

use super::{fetch_all, get, SqlDb};
use crate::error::Result;
use crate::store::HealthReport;
use sqlx::{Pool, QueryBuilder};

/// Tables the current schema defines.
const TABLES: &[&str] = &[
    "agg_categories",
    "agg_feedback",
    "agg_negatives",
    "agg_responses",
    "analysis_runs",
    "comparisons",
    "credit_accounts",
    "credit_entries",
    "credit_holds",
    "feedback",
    "job_events",
    "job_files",
    "jobs",
    "leases",
    "models",
    "responses",
];

/// What a backend found: its tables (`present`), which of them are its own bookkeeping
/// (`internal`, never reported as extra), and the applied and supported schema versions.
pub(crate) struct Found<'a> {
    /// The backend's name.
    pub(crate) backend: &'static str,
    /// Tables present in the database (or schema).
    pub(crate) present: &'a [String],
    /// Tables of the database itself or of the migrator.
    pub(crate) internal: fn(&str) -> bool,
    /// The newest applied migration, `None` when never migrated.
    pub(crate) schema_version: Option<i64>,
    /// The newest migration this build knows.
    pub(crate) supported_version: i64,
    /// Whether to scan the rows (orphaned feedback, the aggregates' recount); `None` in
    /// the report when not.
    pub(crate) deep: bool,
}

/// Missing and extra tables, feedback whose response is gone, and daily aggregates that
/// disagree with the rows.
pub(crate) async fn report<DB: SqlDb>(pool: &Pool<DB>, found: Found<'_>) -> Result<HealthReport> {
    let present = found.present;
    let missing_tables = TABLES
        .iter()
        .filter(|t| !present.iter().any(|p| p == *t))
        .map(|t| t.to_string())
        .collect();
    let extra_tables = present
        .iter()
        .filter(|p| !TABLES.contains(&p.as_str()) && !(found.internal)(p))
        .cloned()
        .collect();
    let has = |t: &str| present.iter().any(|p| p == t);
    let scan = found.deep && found.schema_version.is_some();
    let orphaned_feedback = if scan && has("feedback") && has("responses") {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT COUNT(*) AS n FROM feedback AS f \
                 WHERE NOT EXISTS (SELECT 1 FROM responses AS r WHERE r.seq = f.response_seq)",
        );
        let rows = fetch_all(pool, &mut qb, "checking feedback references").await?;
        let n: i64 = match rows.first() {
            Some(row) => get::<DB, _>(row, "n")?,
            None => 0,
        };
        Some(u64::try_from(n).unwrap_or(0))
    } else {
        None
    };
    let aggregate_mismatches = if scan
        && super::aggregates::TABLES
            .iter()
            .chain(&["feedback", "responses"])
            .all(|t| has(t))
    {
        Some(super::aggregates::mismatches(pool).await?)
    } else {
        None
    };
    Ok(HealthReport {
        backend: found.backend.into(),
        schema_version: found.schema_version,
        supported_version: Some(found.supported_version),
        missing_tables,
        extra_tables,
        orphaned_feedback,
        aggregate_mismatches,
    })
}
