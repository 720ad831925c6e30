//! Migrations, the schema version check and the health report.

use super::db_err;
use crate::error::{Error, Result};
use crate::store::sql::health::{report, Found};
use crate::store::HealthReport;
use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// The embedded migrations (`core/migrations/postgres`).
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The newest migration this build knows.
pub(super) fn supported_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

async fn tables(pool: &PgPool, schema: &str) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .map_err(|e| db_err("listing tables", e))
}

/// The newest successfully applied migration, `None` for a schema never migrated.
async fn applied_version(pool: &PgPool, present: &[String]) -> Result<Option<i64>> {
    if !present.iter().any(|t| t == "_sqlx_migrations") {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map_err(|e| db_err("reading the schema version", e))
}

/// Refuses a schema from a newer build, creates and migrates it if allowed, and returns why
/// writes must be refused (schema not current and not migrated), if they must.
pub(super) async fn prepare(pool: &PgPool, schema: &str, migrate: bool) -> Result<Option<String>> {
    let supported = supported_version();
    let present = tables(pool, schema).await?;
    // Checked before the migrator runs: it would fail with a less helpful "missing
    // migration" error on a version it does not know.
    if let Some(found) = applied_version(pool, &present).await? {
        if found > supported {
            return Err(Error::SchemaTooNew { found, supported });
        }
    }
    if migrate {
        create_schema(pool, schema).await?;
        MIGRATOR.run(pool).await.map_err(|e| {
            let retryable = matches!(&e, sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(d))
                if d.code().is_some_and(|c| super::retryable_state(&c)));
            Error::storage(format!("migrating the database: {e}"), retryable, e)
        })?;
        return Ok(None);
    }
    match applied_version(pool, &present).await? {
        Some(v) if v == supported => Ok(None),
        found => Ok(Some(format!(
            "the database schema `{schema}` is at version {}, this build writes version \
             {supported}; migrate the database (open it with migrations enabled) before writing",
            found.map_or_else(|| "none (not initialised)".to_string(), |v| v.to_string())
        ))),
    }
}

/// Creates the schema unless it exists. Existence is checked first so a role that may use
/// an existing schema but not create schemas (common on managed databases) gets through.
async fn create_schema(pool: &PgPool, schema: &str) -> Result<()> {
    let exists = |pool: &PgPool| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
            )
            .bind(schema)
            .fetch_one(&pool)
            .await
            .map_err(|e| db_err("looking up the schema", e))
        }
    };
    if exists(pool).await? {
        return Ok(());
    }
    // `schema` is a validated identifier (see `validate_schema`).
    let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(pool)
        .await;
    match created {
        Ok(_) => Ok(()),
        // Two processes creating it at once: one of them gets a unique violation.
        Err(_) if exists(pool).await? => Ok(()),
        Err(e) => Err(db_err(&format!("creating schema `{schema}`"), e)),
    }
}

/// Schema version and table check; with `deep`, the scans of the rows too.
pub(super) async fn health(pool: &PgPool, schema: &str, deep: bool) -> Result<HealthReport> {
    let present = tables(pool, schema).await?;
    let found = Found {
        backend: "postgres",
        present: &present,
        internal: |t| t == "_sqlx_migrations",
        schema_version: applied_version(pool, &present).await?,
        supported_version: supported_version(),
        deep,
    };
    report(pool, found).await
}
