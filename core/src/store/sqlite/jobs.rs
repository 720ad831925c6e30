//! A job's files and events, and leases (tables from migration `0003_jobs.sql`).
//!
//! The caller ([`super::SqliteStore`]'s trait methods) checks arguments with
//! [`crate::store::job_rules`] before anything here runs, so every backend refuses the same
//! inputs with the same errors, before the read-only check.

use super::db_err;
use crate::error::Result;
use crate::model::time::{from_micros, now, to_micros};
use crate::model::Timestamp;
use crate::store::job_rules::{expiry, file_conflict};
use crate::store::{JobEventRecord, JobFile, Lease};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqlitePool};
use std::time::Duration;
use tokio::sync::Mutex;

fn get<'r, T>(row: &'r SqliteRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(col)
        .map_err(|e| db_err(&format!("reading column `{col}`"), e))
}

/// SQLite integers are signed; sizes and sequence numbers are never negative, so a negative
/// value can only come from a hand-edited row and reads as 0.
fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(super) async fn put_job_file(pool: &SqlitePool, job_id: &str, file: &JobFile) -> Result<()> {
    let bytes = i64::try_from(file.bytes).unwrap_or(i64::MAX);
    let done = sqlx::query(
        "INSERT INTO job_files (job_id, name, sha256, bytes, content) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (job_id, name) DO NOTHING",
    )
    .bind(job_id)
    .bind(&file.name)
    .bind(&file.sha256)
    .bind(bytes)
    .bind(&file.content)
    .execute(pool)
    .await
    .map_err(|e| db_err("storing a job file", e))?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    // The name was taken: storing it again is fine only with the very same content.
    match get_job_file(pool, job_id, &file.name).await? {
        Some(existing) if existing == *file => Ok(()),
        _ => Err(file_conflict(job_id, &file.name)),
    }
}

pub(super) async fn get_job_file(
    pool: &SqlitePool,
    job_id: &str,
    name: &str,
) -> Result<Option<JobFile>> {
    let row = sqlx::query(
        "SELECT name, sha256, bytes, content FROM job_files WHERE job_id = ? AND name = ?",
    )
    .bind(job_id)
    .bind(name)
    .fetch_optional(pool)
    .await
    .map_err(|e| db_err("reading a job file", e))?;
    row.map(|r| {
        Ok(JobFile {
            name: get(&r, "name")?,
            sha256: get(&r, "sha256")?,
            bytes: unsigned(get(&r, "bytes")?),
            content: get(&r, "content")?,
        })
    })
    .transpose()
}

/// One `BEGIN IMMEDIATE` transaction, queued behind this process's other writers on
/// `writer` (as store and ledger writes are), so the batch goes in whole or not at all.
pub(super) async fn append_job_events(
    pool: &SqlitePool,
    writer: &Mutex<()>,
    busy_wait: std::time::Duration,
    job_id: &str,
    events: &[JobEventRecord],
) -> Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let _guard = writer.lock().await;
    let mut tx =
        super::busy::begin_immediate(pool, busy_wait, "starting a write transaction").await?;
    let mut added = 0;
    for e in events {
        // In input order, so seq follows the order given; an id the job already has
        // (stored before or earlier in this batch) is skipped.
        let done = sqlx::query(
            "INSERT INTO job_events (job_id, id, source, level, message, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, id) DO NOTHING",
        )
        .bind(job_id)
        .bind(&e.id)
        .bind(&e.source)
        .bind(&e.level)
        .bind(&e.message)
        .bind(to_micros(&e.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|err| db_err("storing a job event", err))?;
        added += usize::try_from(done.rows_affected()).unwrap_or(0);
    }
    // An error above drops `tx`, which rolls the whole batch back.
    tx.commit()
        .await
        .map_err(|e| db_err("committing job events", e))?;
    Ok(added)
}

pub(super) async fn list_job_events(
    pool: &SqlitePool,
    job_id: &str,
) -> Result<Vec<JobEventRecord>> {
    sqlx::query(
        "SELECT seq, id, source, level, message, created_at FROM job_events \
         WHERE job_id = ? ORDER BY seq",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await
    .map_err(|e| db_err("listing job events", e))?
    .iter()
    .map(|r| {
        Ok(JobEventRecord {
            seq: unsigned(get(r, "seq")?),
            id: get(r, "id")?,
            source: get(r, "source")?,
            level: get(r, "level")?,
            message: get(r, "message")?,
            created_at: from_micros(get(r, "created_at")?),
        })
    })
    .collect()
}

fn decode_lease(row: &SqliteRow) -> Result<Lease> {
    Ok(Lease {
        name: get(row, "name")?,
        holder: get(row, "holder")?,
        acquired_at: from_micros(get(row, "acquired_at")?),
        expires_at: from_micros(get(row, "expires_at")?),
    })
}

/// One statement, so the check and the take are atomic across processes (SQLite runs it
/// under its write lock): a new row is inserted; an existing one is overwritten only when
/// it is the caller's or has lapsed (the `WHERE` of the upsert), and only then is a row
/// returned. The rules are those of [`crate::store::job_rules::lease_after`].
pub(super) async fn try_lease(
    pool: &SqlitePool,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Lease>> {
    let now: Timestamp = now();
    sqlx::query(
        "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO UPDATE SET \
             holder = excluded.holder, \
             acquired_at = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > ?3 \
                 THEN leases.acquired_at ELSE excluded.acquired_at END, \
             expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?3 \
         RETURNING name, holder, acquired_at, expires_at",
    )
    .bind(name)
    .bind(holder)
    .bind(to_micros(&now))
    .bind(to_micros(&expiry(now, ttl)))
    .fetch_optional(pool)
    .await
    .map_err(|e| db_err("taking a lease", e))?
    .map(|r| decode_lease(&r))
    .transpose()
}

pub(super) async fn release_lease(pool: &SqlitePool, name: &str, holder: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await
        .map_err(|e| db_err("releasing a lease", e))?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn get_lease(pool: &SqlitePool, name: &str) -> Result<Option<Lease>> {
    sqlx::query("SELECT name, holder, acquired_at, expires_at FROM leases WHERE name = ?")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(|e| db_err("reading a lease", e))?
        .map(|r| decode_lease(&r))
        .transpose()
}

/// One statement, so the check (the holder is still `from_holder`) and the take are atomic.
pub(super) async fn take_over_lease(
    pool: &SqlitePool,
    name: &str,
    from_holder: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Lease>> {
    let now: Timestamp = now();
    sqlx::query(
        "UPDATE leases SET holder = ?1, acquired_at = ?2, expires_at = ?3 \
         WHERE name = ?4 AND holder = ?5 \
         RETURNING name, holder, acquired_at, expires_at",
    )
    .bind(holder)
    .bind(to_micros(&now))
    .bind(to_micros(&expiry(now, ttl)))
    .bind(name)
    .bind(from_holder)
    .fetch_optional(pool)
    .await
    .map_err(|e| db_err("taking over a lease", e))?
    .map(|r| decode_lease(&r))
    .transpose()
}
