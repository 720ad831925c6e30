//! A job's files and events, and leases (tables from migration `0003_jobs.sql`).
//!
//! The stores' trait methods check arguments with [`crate::store::job_rules`] before
//! anything here runs, so every backend refuses the same inputs with the same errors,
//! before the read-only check. Each operation is one statement (or, for events, one
//! transaction the backend opens), so its correctness comes from the unique indexes and
//! holds across processes.

use super::rows::{self, LEASE_COLUMNS};
use super::{execute, fetch_all, fetch_optional, Ex, PushArg, SqlDb};
use crate::error::{Error, Result};
use crate::model::time::{now, to_micros};
use crate::model::Timestamp;
use crate::store::job_rules::{expiry, file_conflict};
use crate::store::{JobEventRecord, JobFile, Lease};
use sqlx::{Pool, QueryBuilder};
use std::time::Duration;

/// Refuses text the backend cannot store (U+0000 in PostgreSQL) as invalid input naming
/// the field, rather than letting the statement fail with a storage error.
fn check_no_nul<DB: SqlDb>(fields: &[(&str, &str)]) -> Result<()> {
    if DB::TEXT_HOLDS_NUL {
        return Ok(());
    }
    match fields.iter().find(|(_, v)| v.contains('\0')) {
        Some((field, _)) => Err(Error::invalid(
            field.to_string(),
            "contains a NUL character (U+0000), which PostgreSQL text cannot store",
        )),
        None => Ok(()),
    }
}

/// Whether a key cannot be stored (and so cannot match a stored row): binding it would fail
/// the statement on a backend whose text cannot hold NUL.
fn unstorable<DB: SqlDb>(keys: &[&str]) -> bool {
    !DB::TEXT_HOLDS_NUL && keys.iter().any(|k| k.contains('\0'))
}

pub(crate) async fn put_job_file<DB: SqlDb>(
    pool: &Pool<DB>,
    job_id: &str,
    file: &JobFile,
) -> Result<()> {
    check_no_nul::<DB>(&[
        ("job_id", job_id),
        ("file.name", &file.name),
        ("file.content", &file.content),
    ])?;
    let bytes = i64::try_from(file.bytes).unwrap_or(i64::MAX);
    let mut qb = QueryBuilder::<DB>::new(
        "INSERT INTO job_files (job_id, name, sha256, bytes, content) VALUES (",
    );
    qb.args([job_id, file.name.as_str(), file.sha256.as_str()])
        .push(", ")
        .arg(bytes)
        .push(", ")
        .arg(file.content.as_str())
        .push(") ON CONFLICT (job_id, name) DO NOTHING");
    if execute(pool, &mut qb, "storing a job file").await? == 1 {
        return Ok(());
    }
    // The name was taken (possibly by a concurrent writer, whose row ON CONFLICT waited
    // for): storing it again is fine only with the very same content.
    match get_job_file(pool, job_id, &file.name).await? {
        Some(existing) if existing == *file => Ok(()),
        _ => Err(file_conflict(job_id, &file.name)),
    }
}

pub(crate) async fn get_job_file<DB: SqlDb>(
    pool: &Pool<DB>,
    job_id: &str,
    name: &str,
) -> Result<Option<JobFile>> {
    if unstorable::<DB>(&[job_id, name]) {
        return Ok(None);
    }
    let mut qb = QueryBuilder::<DB>::new(
        "SELECT name, sha256, bytes, content FROM job_files WHERE job_id = ",
    );
    qb.arg(job_id).push(" AND name = ").arg(name);
    fetch_optional(pool, &mut qb, "reading a job file")
        .await?
        .map(|r| rows::job_file::<DB>(&r))
        .transpose()
}

/// Checks the events' text before the backend opens its transaction.
pub(crate) fn check_events_text<DB: SqlDb>(job_id: &str, events: &[JobEventRecord]) -> Result<()> {
    check_no_nul::<DB>(&[("job_id", job_id)])?;
    for (i, e) in events.iter().enumerate() {
        check_no_nul::<DB>(&[
            (&format!("events[{i}].id"), &e.id),
            (&format!("events[{i}].level"), &e.level),
            (&format!("events[{i}].message"), &e.message),
        ])?;
    }
    Ok(())
}

/// Appends events on `conn`, inside a transaction the backend opened (and commits), so the
/// batch goes in whole or not at all. Returns how many were new.
pub(crate) async fn append_job_events<DB: SqlDb>(
    conn: &mut DB::Connection,
    job_id: &str,
    events: &[JobEventRecord],
) -> Result<usize> {
    let mut added = 0;
    for e in events {
        // In input order, so seq follows the order given; an id the job already has
        // (stored before or earlier in this batch) is skipped.
        let mut qb = QueryBuilder::<DB>::new(
            "INSERT INTO job_events (job_id, id, source, level, message, created_at) VALUES (",
        );
        qb.args([
            job_id,
            e.id.as_str(),
            e.source.as_str(),
            e.level.as_str(),
            e.message.as_str(),
        ])
        .push(", ")
        .arg(to_micros(&e.created_at))
        .push(") ON CONFLICT (job_id, id) DO NOTHING");
        let done = execute(Ex::Conn(&mut *conn), &mut qb, "storing a job event").await?;
        added += usize::try_from(done).unwrap_or(0);
    }
    Ok(added)
}

pub(crate) async fn list_job_events<DB: SqlDb>(
    pool: &Pool<DB>,
    job_id: &str,
) -> Result<Vec<JobEventRecord>> {
    if unstorable::<DB>(&[job_id]) {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<DB>::new(
        "SELECT seq, id, source, level, message, created_at FROM job_events WHERE job_id = ",
    );
    qb.arg(job_id).push(" ORDER BY seq");
    fetch_all(pool, &mut qb, "listing job events")
        .await?
        .iter()
        .map(rows::job_event::<DB>)
        .collect()
}

/// One statement, so the check and the take are atomic across processes (SQLite runs it
/// under its write lock; on PostgreSQL concurrent inserts of one name queue on its
/// primary-key entry, and each later one evaluates the upsert's `WHERE` against the row the
/// earlier one committed). A new row is inserted; an existing one is overwritten only when
/// it is the caller's or has lapsed, and only then is a row returned. The rules are those
/// of [`crate::store::job_rules::lease_after`].
pub(crate) async fn try_lease<DB: SqlDb>(
    pool: &Pool<DB>,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Lease>> {
    check_no_nul::<DB>(&[("lease.name", name), ("lease.holder", holder)])?;
    let now: Timestamp = now();
    let at = to_micros(&now);
    let mut qb = QueryBuilder::<DB>::new(
        "INSERT INTO leases AS l (name, holder, acquired_at, expires_at) VALUES (",
    );
    qb.args([name, holder])
        .push(", ")
        .args([at, to_micros(&expiry(now, ttl))])
        .push(
            ") ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > ",
        )
        .arg(at)
        .push(
            " THEN l.acquired_at ELSE excluded.acquired_at END, \
             expires_at = excluded.expires_at \
             WHERE l.holder = excluded.holder OR l.expires_at <= ",
        )
        .arg(at)
        .push(" RETURNING ")
        .push(LEASE_COLUMNS);
    fetch_optional(pool, &mut qb, "taking a lease")
        .await?
        .map(|r| rows::lease::<DB>(&r))
        .transpose()
}

pub(crate) async fn release_lease<DB: SqlDb>(
    pool: &Pool<DB>,
    name: &str,
    holder: &str,
) -> Result<bool> {
    if unstorable::<DB>(&[name, holder]) {
        return Ok(false);
    }
    let mut qb = QueryBuilder::<DB>::new("DELETE FROM leases WHERE name = ");
    qb.arg(name).push(" AND holder = ").arg(holder);
    Ok(execute(pool, &mut qb, "releasing a lease").await? > 0)
}

pub(crate) async fn get_lease<DB: SqlDb>(pool: &Pool<DB>, name: &str) -> Result<Option<Lease>> {
    if unstorable::<DB>(&[name]) {
        return Ok(None);
    }
    let mut qb = QueryBuilder::<DB>::new("SELECT ");
    qb.push(LEASE_COLUMNS)
        .push(" FROM leases WHERE name = ")
        .arg(name);
    fetch_optional(pool, &mut qb, "reading a lease")
        .await?
        .map(|r| rows::lease::<DB>(&r))
        .transpose()
}

/// One statement, so the check (the holder is still `from_holder`) and the take are atomic:
/// a concurrent take-over of the same row waits for this one and then finds another holder.
pub(crate) async fn take_over_lease<DB: SqlDb>(
    pool: &Pool<DB>,
    name: &str,
    from_holder: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Lease>> {
    check_no_nul::<DB>(&[("lease.name", name), ("lease.holder", holder)])?;
    if unstorable::<DB>(&[from_holder]) {
        return Ok(None);
    }
    let now: Timestamp = now();
    let mut qb = QueryBuilder::<DB>::new("UPDATE leases SET holder = ");
    qb.arg(holder)
        .push(", acquired_at = ")
        .arg(to_micros(&now))
        .push(", expires_at = ")
        .arg(to_micros(&expiry(now, ttl)))
        .push(" WHERE name = ")
        .arg(name)
        .push(" AND holder = ")
        .arg(from_holder)
        .push(" RETURNING ")
        .push(LEASE_COLUMNS);
    fetch_optional(pool, &mut qb, "taking over a lease")
        .await?
        .map(|r| rows::lease::<DB>(&r))
        .transpose()
}
