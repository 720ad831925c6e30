//! Rules every backend applies to job files, job events and leases, so they answer alike.

use super::types::{JobEventRecord, JobFile, Lease};
use crate::error::{Error, Result};
use crate::model::Timestamp;
use std::time::Duration;

/// Longest lease accepted: a day. A holder that needs longer renews it.
pub(crate) const MAX_LEASE: Duration = Duration::from_secs(86_400);

/// A file's name must be non-empty and its digest and size must match its content, so a
/// stored file can always be checked against what a job was charged for.
pub(crate) fn check_job_file(job_id: &str, file: &JobFile) -> Result<()> {
    if job_id.trim().is_empty() {
        return Err(Error::invalid("job_id", "must not be empty"));
    }
    if file.name.trim().is_empty() {
        return Err(Error::invalid("file.name", "must not be empty"));
    }
    let expected = JobFile::new(file.name.clone(), file.content.clone());
    if expected.sha256 != file.sha256 || expected.bytes != file.bytes {
        return Err(Error::invalid(
            "file.sha256",
            format!("does not match the content of `{}`", file.name),
        ));
    }
    Ok(())
}

pub(crate) fn file_conflict(job_id: &str, name: &str) -> Error {
    Error::Conflict {
        kind: "job file",
        id: format!("{job_id}/{name}"),
        reason: "the job already has this file with other content".into(),
    }
}

pub(crate) fn check_events(events: &[JobEventRecord]) -> Result<()> {
    for (i, e) in events.iter().enumerate() {
        if e.id.trim().is_empty() {
            return Err(Error::invalid(
                format!("events[{i}].id"),
                "must not be empty",
            ));
        }
        if !matches!(e.source.as_str(), "tuneloop" | "provider") {
            return Err(Error::invalid(
                format!("events[{i}].source"),
                format!("`{}` is not `tuneloop` or `provider`", e.source),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_lease_args(name: &str, holder: &str, ttl: Duration) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("lease.name", "must not be empty"));
    }
    if holder.trim().is_empty() {
        return Err(Error::invalid("lease.holder", "must not be empty"));
    }
    if ttl.is_zero() || ttl > MAX_LEASE {
        return Err(Error::invalid(
            "lease.ttl",
            format!("{ttl:?} is not between 1 µs and 24 h"),
        ));
    }
    Ok(())
}

/// `now + ttl` (ttl is at most a day, so this cannot overflow a real clock).
pub(crate) fn expiry(now: Timestamp, ttl: Duration) -> Timestamp {
    now + chrono::Duration::microseconds(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX).max(1))
}

/// The lease after `holder` asks for it at `now`: taken (free or lapsed), renewed (already
/// the holder's), or `None` (someone else's, still valid).
pub(crate) fn lease_after(
    current: Option<&Lease>,
    name: &str,
    holder: &str,
    now: Timestamp,
    ttl: Duration,
) -> Option<Lease> {
    match current {
        Some(l) if l.holder != holder && l.expires_at > now => None,
        Some(l) if l.holder == holder && l.expires_at > now => Some(Lease {
            expires_at: expiry(now, ttl),
            ..l.clone()
        }),
        _ => Some(Lease {
            name: name.to_string(),
            holder: holder.to_string(),
            acquired_at: now,
            expires_at: expiry(now, ttl),
        }),
    }
}
