//! Migrations, the schema version check and the health report.

use super::db_err;
use crate::error::{Error, Result};
use crate::store::sql::health::{report, Found};
use crate::store::HealthReport;
use sqlx::migrate::Migrator;
use sqlx::SqlitePool;

/// The embedded migrations (`core/migrations/sqlite`).
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The newest migration this build knows.
pub(super) fn supported_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The newest successfully applied migration, `None` for a database never migrated.
pub(super) async fn applied_version(pool: &SqlitePool) -> Result<Option<i64>> {
    let has_table: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| db_err("reading the schema version", e))?;
    if has_table.is_none() {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
        .fetch_one(pool)
        .await
        .map_err(|e| db_err("reading the schema version", e))
}

/// Refuses a database from a newer build, migrates if allowed, and returns why writes must
/// be refused (schema not current and not migrated), if they must.
pub(super) async fn prepare(pool: &SqlitePool, migrate: bool) -> Result<Option<String>> {
    let supported = supported_version();
    // Checked before the migrator runs: it would fail with a less helpful "missing
    // migration" error on a version it does not know.
    if let Some(found) = applied_version(pool).await? {
        if found > supported {
            return Err(Error::SchemaTooNew { found, supported });
        }
    }
    if migrate {
        if applied_version(pool).await? != Some(supported) {
            migrate_exclusively(pool).await?;
        }
        return Ok(None);
    }
    match applied_version(pool).await? {
        Some(v) if v == supported => Ok(None),
        found => Ok(Some(format!(
            "the database schema is at version {}, this build writes version {supported}; \
             migrate the database (open it with migrations enabled) before writing",
            found.map_or_else(|| "none (not initialised)".to_string(), |v| v.to_string())
        ))),
    }
}

/// Runs the migrator inside one `BEGIN IMMEDIATE` transaction, so processes opening a new
/// file at the same moment take turns: sqlx's SQLite migrator has no lock of its own, and
/// two of them would both find no migrations applied and both create the tables ("table
/// models already exists"). The migrator's per-migration transactions become savepoints of
/// ours; whoever comes second waits for the write lock (busy timeout), then finds every
/// migration applied and does nothing.
async fn migrate_exclusively(pool: &SqlitePool) -> Result<()> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| db_err("migrating the database", e))?;
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
        .await
        .map_err(|e| db_err("migrating the database (taking the write lock)", e))?;
    MIGRATOR.run_direct(&mut *tx).await.map_err(|e| {
        let retryable = match &e {
            sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(d))
            | sqlx::migrate::MigrateError::ExecuteMigration(sqlx::Error::Database(d), _) => d
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
            _ => false,
        };
        Error::storage(format!("migrating the database: {e}"), retryable, e)
    })?;
    tx.commit()
        .await
        .map_err(|e| db_err("migrating the database (commit)", e))
}

/// Schema version and table check; with `deep`, the scans of the rows too.
pub(super) async fn health(pool: &SqlitePool, deep: bool) -> Result<HealthReport> {
    let present: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(pool)
            .await
            .map_err(|e| db_err("listing tables", e))?;
    let found = Found {
        backend: "sqlite",
        present: &present,
        internal: |t| t.starts_with("sqlite_") || t == "_sqlx_migrations",
        schema_version: applied_version(pool).await?,
        supported_version: supported_version(),
        deep,
    };
    report(pool, found).await
}
