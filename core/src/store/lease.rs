//! Leases whose holder can die: who holds one ([`LeaseHolder`]), taking one over from a
//! process that is gone ([`claim_lease`]), and keeping one alive while work runs
//! ([`LeaseKeeper`]). Built on the store's [`FeedbackStore::try_lease`],
//! [`FeedbackStore::get_lease`] and [`FeedbackStore::take_over_lease`], so every backend
//! behaves alike.
//!
//! The rules (docs/jobs.md, "Leases"):
//! - A lease lapses at its `expires_at` unless renewed; a holder that works longer renews it
//!   every third of its TTL ([`LeaseKeeper`]), so a short TTL (the weekly job's default is
//!   2 minutes) is enough and a crashed holder's lease lapses within that TTL.
//! - A holder written by [`LeaseHolder::encode`] names its host and process. A caller on the
//!   same host (and the same boot and pid namespace, so the pid means the same thing) takes
//!   the lease over at once when that process no longer exists ([`LeaseHolder::is_gone`]).
//!   Any other holder (another host, an opaque string, no `/proc`) is only ever waited out.

use super::{FeedbackStore, Lease};
use crate::model::time::{format_timestamp, now, serde_ts};
use crate::model::Timestamp;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Who holds a lease: a process on a host, since when. Stored as JSON in [`Lease::holder`]
/// ([`LeaseHolder::encode`]), so it needs no schema change and any backend keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    /// The host name (Linux: `/proc/sys/kernel/hostname`).
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// When the holding instance started (the first time the process asked for its
    /// identity).
    #[serde(with = "serde_ts")]
    pub started: Timestamp,
    /// The boot and pid namespace the pid belongs to (Linux: the boot id and the
    /// `/proc/self/ns/pid` link), so that a pid is only judged where it means the same
    /// process; `None` where unknown, and then the holder is never judged gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_ns: Option<String>,
    /// The process's start time in clock ticks after boot (`/proc/<pid>/stat`), so that a
    /// pid reused by another process is not taken for the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
}

impl LeaseHolder {
    /// This process.
    pub fn this_process() -> LeaseHolder {
        static THIS: OnceLock<LeaseHolder> = OnceLock::new();
        THIS.get_or_init(|| {
            let pid = std::process::id();
            LeaseHolder {
                host: host_name(),
                pid,
                started: now(),
                pid_ns: pid_namespace(),
                pid_start: process_start(pid),
            }
        })
        .clone()
    }

    /// The holder string to store: compact JSON.
    pub fn encode(&self) -> String {
        // A struct of strings and numbers always serialises.
        serde_json::to_string(self).unwrap_or_else(|_| format!("{}-{}", self.host, self.pid))
    }

    /// Reads a holder string written by [`LeaseHolder::encode`]; `None` for any other string
    /// (an older version's `host-pid`, a caller's own id).
    pub fn decode(holder: &str) -> Option<LeaseHolder> {
        if !holder.starts_with('{') {
            return None;
        }
        serde_json::from_str(holder).ok()
    }

    /// Whether the holder's process is known to be gone: it ran on this host, in this boot
    /// and pid namespace, and `/proc/<pid>` is absent, a zombie, or another process (a
    /// different start time). Anything unknown counts as alive.
    pub fn is_gone(&self) -> bool {
        let here = LeaseHolder::this_process();
        if self.host != here.host || self.pid_ns.is_none() || self.pid_ns != here.pid_ns {
            return false;
        }
        match read_stat(self.pid) {
            Stat::Missing => true,
            Stat::Unknown => false,
            Stat::Found { state, start } => {
                matches!(state, 'Z' | 'X')
                    || matches!((self.pid_start, start), (Some(a), Some(b)) if a != b)
            }
        }
    }
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {} (started {})",
            self.pid,
            self.host,
            format_timestamp(&self.started)
        )
    }
}

impl Lease {
    /// The holder as [`LeaseHolder`], when it was written as one.
    pub fn holder_info(&self) -> Option<LeaseHolder> {
        LeaseHolder::decode(&self.holder)
    }

    /// Who holds it and since when, for people: `pid 4242 on web-1 (started …), since …,
    /// lease expires …`, or the holder string in backticks when it is not a [`LeaseHolder`].
    pub fn describe(&self) -> String {
        let who = match self.holder_info() {
            Some(h) => h.to_string(),
            None => format!("`{}`", self.holder),
        };
        format!(
            "{who}, since {}, lease expires {}",
            format_timestamp(&self.acquired_at),
            format_timestamp(&self.expires_at)
        )
    }
}

/// What [`claim_lease`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseClaim {
    /// The caller holds the lease (taken, renewed, or taken over).
    Held {
        /// The lease now.
        lease: Lease,
        /// The lease of a holder found gone and replaced, if that is how it was taken.
        taken_from: Option<Lease>,
    },
    /// Someone else holds it: the lease as read (`None` when it was released in between
    /// every attempt).
    Busy(Option<Lease>),
}

/// Takes the lease `name` for `holder` like [`FeedbackStore::try_lease`], and when another
/// holder has it, takes it over if that holder is a process of this host that is gone
/// ([`LeaseHolder::is_gone`]). The take-over replaces exactly the holder that was judged
/// gone, so two callers racing for it cannot both win.
pub async fn claim_lease(
    store: &dyn FeedbackStore,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<LeaseClaim> {
    let mut current = None;
    // A lease can change hands between the calls below; a few rounds settle it.
    for _ in 0..3 {
        if let Some(lease) = store.try_lease(name, holder, ttl).await? {
            return Ok(LeaseClaim::Held {
                lease,
                taken_from: None,
            });
        }
        current = match store.get_lease(name).await {
            Ok(lease) => lease,
            // A backend without `get_lease` still works: busy, holder unknown.
            Err(Error::Unsupported { .. }) => return Ok(LeaseClaim::Busy(None)),
            Err(e) => return Err(e),
        };
        let Some(held) = &current else {
            continue;
        };
        if held.holder == holder || !held.holder_info().is_some_and(|h| h.is_gone()) {
            return Ok(LeaseClaim::Busy(current));
        }
        if let Some(lease) = store
            .take_over_lease(name, &held.holder, holder, ttl)
            .await?
        {
            return Ok(LeaseClaim::Held {
                lease,
                taken_from: current,
            });
        }
    }
    Ok(LeaseClaim::Busy(current))
}

/// Renews a held lease in the background every third of its TTL until stopped or dropped,
/// so a long run keeps a short lease (and a crashed run loses it within one TTL).
#[derive(Debug)]
pub struct LeaseKeeper {
    task: tokio::task::JoinHandle<()>,
    lost: tokio::sync::watch::Receiver<Option<String>>,
}

impl LeaseKeeper {
    /// Starts renewing `name` for `holder` (who must hold it) on the current tokio runtime.
    pub fn start(
        store: Arc<dyn FeedbackStore>,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> LeaseKeeper {
        let (tx, lost) = tokio::sync::watch::channel(None);
        let (name, holder) = (name.to_string(), holder.to_string());
        let task = tokio::spawn(async move {
            let every = (ttl / 3).max(Duration::from_millis(1));
            let mut expires = now() + chrono::Duration::from_std(ttl).unwrap_or_default();
            loop {
                tokio::time::sleep(every).await;
                let why = match store.try_lease(&name, &holder, ttl).await {
                    Ok(Some(lease)) => {
                        expires = lease.expires_at;
                        continue;
                    }
                    Ok(None) => match store.get_lease(&name).await {
                        Ok(Some(other)) => format!("taken by {}", other.describe()),
                        _ => "taken by another holder".to_string(),
                    },
                    // A passing store error is retried until the lease would lapse.
                    Err(_) if now() < expires => continue,
                    Err(e) => format!("not renewed before it lapsed: {}", e.with_causes()),
                };
                let _ = tx.send(Some(why));
                return;
            }
        });
        LeaseKeeper { task, lost }
    }

    /// Waits until the lease is lost (another holder has it, or it could not be renewed
    /// before it lapsed) and says why; pending for as long as it is kept.
    pub async fn lost(&mut self) -> String {
        loop {
            if let Some(why) = self.lost.borrow_and_update().clone() {
                return why;
            }
            if self.lost.changed().await.is_err() {
                // The task ended without a word (it was stopped): nothing will be lost.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops renewing. The lease lapses at its expiry unless released.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Boot id and pid namespace: two processes with equal values see the same pids.
fn pid_namespace() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), ns.display()))
}

fn process_start(pid: u32) -> Option<u64> {
    match read_stat(pid) {
        Stat::Found { start, .. } => start,
        _ => None,
    }
}

enum Stat {
    /// No such process.
    Missing,
    /// Could not tell.
    Unknown,
    /// Its state letter and start time (ticks after boot).
    Found { state: char, start: Option<u64> },
}

/// Reads `/proc/<pid>/stat`: `pid (comm) state ppid …`, start time the 22nd field. The
/// command may hold spaces and parentheses, so fields are counted after the last `)`.
fn read_stat(pid: u32) -> Stat {
    let text = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Stat::Missing,
        Err(_) => return Stat::Unknown,
    };
    let Some(rest) = text.rfind(')').map(|i| &text[i + 1..]) else {
        return Stat::Unknown;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let Some(state) = fields.first().and_then(|s| s.chars().next()) else {
        return Stat::Unknown;
    };
    // After the command come field 3 (state) onwards: start time (22) is at index 19.
    let start = fields.get(19).and_then(|s| s.parse().ok());
    Stat::Found { state, start }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip_and_describe_themselves() {
        let me = LeaseHolder::this_process();
        assert_eq!(me.pid, std::process::id());
        assert_eq!(LeaseHolder::decode(&me.encode()), Some(me.clone()));
        assert_eq!(LeaseHolder::decode("web-1-4242"), None);
        assert_eq!(LeaseHolder::decode("{not json"), None);
        assert!(!me.is_gone(), "this process is alive");
        let lease = Lease {
            name: "x".into(),
            holder: me.encode(),
            acquired_at: me.started,
            expires_at: me.started,
        };
        let text = lease.describe();
        assert!(
            text.starts_with(&format!("pid {} on {}", me.pid, me.host)),
            "{text}"
        );
        assert!(text.contains(", since "), "{text}");
        let opaque = Lease {
            holder: "instance-b".into(),
            ..lease
        };
        assert!(opaque.describe().starts_with("`instance-b`, since "));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn gone_processes_are_recognised_only_here() {
        let me = LeaseHolder::this_process();
        assert!(me.pid_ns.is_some() && me.pid_start.is_some(), "{me:?}");
        let mut child = std::process::Command::new("true").spawn().expect("spawns");
        let pid = child.id();
        child.wait().expect("exits");
        let dead = LeaseHolder {
            pid,
            pid_start: None,
            ..me.clone()
        };
        assert!(dead.is_gone());
        // Another host, or an unknown namespace, is not ours to judge.
        let far = LeaseHolder {
            host: "elsewhere".into(),
            ..dead.clone()
        };
        assert!(!far.is_gone());
        let unknown = LeaseHolder {
            pid_ns: None,
            ..dead
        };
        assert!(!unknown.is_gone());
        // This pid with another start time is another process: the holder is gone.
        let reused = LeaseHolder {
            pid_start: me.pid_start.map(|s| s + 1),
            ..me
        };
        assert!(reused.is_gone());
    }
}
