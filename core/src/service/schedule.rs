//! The weekly job: one run now, or the schedule loop that runs it at every cron slot.

use super::Tuneloop;
use crate::error::Result;
use crate::model::time::now;
use crate::model::Timestamp;
use crate::schedule::weekly::{run_weekly, WeeklyOptions, WeeklyReport, LEASE};
use crate::schedule::Schedule;
use crate::store::LeaseHolder;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One run of the weekly job ([`Tuneloop::run_weekly_once`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeeklyRunOptions {
    /// The slot the run is for; `None`: now.
    #[serde(
        with = "crate::model::time::serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub slot: Option<Timestamp>,
    /// Run even if the slot already ran (a run by hand: its id gets a unique suffix).
    pub rerun: bool,
    /// Decide only, start no job. Always the case without a fine-tuning provider.
    pub dry_run: bool,
    /// The models to consider; `None`: the settings' `[schedule] models` (empty: every
    /// model in the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
}

/// The schedule loop ([`Tuneloop::run_schedule`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleOptions {
    /// The cron expression (UTC, 5 fields, or 6 with seconds first); `None`: the settings'
    /// `[schedule] cron`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Decide only, start no job. Always the case without a fine-tuning provider.
    pub dry_run: bool,
    /// The models to consider; `None`: the settings' `[schedule] models`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
}

/// What the schedule loop reports, as it happens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ScheduleEvent {
    /// The loop started.
    Started {
        /// The cron expression, as written.
        cron: String,
        /// It in words (`At 03:00 on Monday`).
        description: String,
        /// Whether runs only decide (no `--dry-run` given but no provider configured, too).
        dry_run: bool,
    },
    /// Waiting for the next slot.
    Waiting {
        /// When it is due.
        #[serde(with = "crate::model::time::serde_ts")]
        next: Timestamp,
    },
    /// A slot's run finished (or was skipped: another instance holds the lease, the slot
    /// already ran).
    Ran {
        /// What it did.
        report: Box<WeeklyReport>,
    },
    /// A slot's run failed; the loop goes on with the next slot.
    Failed {
        /// The slot.
        #[serde(with = "crate::model::time::serde_ts")]
        slot: Timestamp,
        /// Why (no credential).
        error: String,
    },
}

impl Tuneloop {
    /// Runs the weekly job once: an analysis run (saved), a fine-tune decision per model
    /// (a job started when the policy says so, unless a dry run), a sync of every job in
    /// flight, saved as a run of kind `weekly`. One instance at a time: when another holds
    /// the lease the report says who ([`WeeklyReport::held_by`]) and nothing ran. Uses the
    /// settings' `[fine_tune]`, `[policy]`, `[dataset]` and `[schedule] lease_minutes`.
    pub async fn run_weekly_once(&self, options: &WeeklyRunOptions) -> Result<WeeklyReport> {
        let c = self.config();
        let weekly = WeeklyOptions {
            slot: options.slot.unwrap_or_else(now),
            rerun: options.rerun,
            models: options
                .models
                .clone()
                .unwrap_or_else(|| c.schedule.models.clone()),
            fine_tune: c.fine_tune.clone(),
            policy: c.policy.clone(),
            dataset: c.dataset.clone(),
            // Without a provider there is nothing to start: decide only.
            dry_run: options.dry_run || !self.has_provider(),
            holder: holder(),
            lease_ttl: Duration::from_secs(u64::from(c.schedule.lease_minutes) * 60),
        };
        run_weekly(&self.jobs()?, &weekly).await
    }

    /// Runs the weekly job at every slot of the cron schedule until `stop` is cancelled,
    /// telling `on_event` what happens. A failed run is reported and the loop goes on; a
    /// slot another instance is running is reported as skipped. Cancelling returns at once,
    /// even mid-run: the run is abandoned as a crash would leave it (jobs resume on their
    /// next sync) and its lease is given back.
    ///
    /// Errors: an invalid cron expression ([`crate::Error::InvalidInput`] on `cron`), or a
    /// schedule without a next slot.
    pub async fn run_schedule(
        &self,
        options: &ScheduleOptions,
        stop: CancellationToken,
        mut on_event: impl FnMut(ScheduleEvent) + Send,
    ) -> Result<()> {
        let expr = options
            .cron
            .clone()
            .unwrap_or_else(|| self.config().schedule.cron.clone());
        let schedule = Schedule::parse(&expr)?;
        let dry_run = options.dry_run || !self.has_provider();
        on_event(ScheduleEvent::Started {
            cron: schedule.as_str().to_string(),
            description: schedule.describe(),
            dry_run,
        });
        loop {
            let next = schedule.next_after(now())?;
            on_event(ScheduleEvent::Waiting { next });
            let wait = (next - now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
            let once = WeeklyRunOptions {
                slot: Some(next),
                rerun: false,
                dry_run,
                models: options.models.clone(),
            };
            let run = self.run_weekly_once(&once);
            let result = tokio::select! {
                _ = stop.cancelled() => {
                    // Best effort: the lease also expires on its own.
                    let _ = self.store().release_lease(LEASE, &holder()).await;
                    return Ok(());
                }
                r = run => r,
            };
            on_event(match result {
                Ok(report) => ScheduleEvent::Ran {
                    report: Box::new(report),
                },
                Err(e) => ScheduleEvent::Failed {
                    slot: next,
                    error: crate::secrets::scrub(&e.with_causes()).into_owned(),
                },
            });
        }
    }
}

/// This process as a lease holder: host, pid and start, so another instance can say who
/// holds the lease, and one on this host can take it over at once if this process dies.
fn holder() -> String {
    LeaseHolder::this_process().encode()
}
