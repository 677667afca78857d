//! Scheduled MRV exports (SPEC §11): one cron job per period of `GREENOS_EXPORT_SCHEDULE`, each
//! exporting the window that just closed; on start, every closed window since the catch-up
//! point without an export is exported, oldest first. Several workers may run against one
//! PostgreSQL: the window's lock and the unique index leave exactly one export per window, and
//! a loser moves on. A failed export is logged, counted, and tried again at the next fire or
//! start. Every minute, and after each run, `greenos_mrv_export_overdue_seconds{period}` says
//! how long the last closed window of each period has waited for its export.

use std::sync::Arc;

use greenos_core::context::RequestContext;
use greenos_core::mrv::{ExportWindow, Period};
use greenos_core::proof::UtcMicros;
use greenos_core::services::{ScheduledExport, Services};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

/// When the overdue gauge is refreshed (every minute, UTC).
const OVERDUE_CRON: &str = "0 * * * * *";

/// What to schedule, from `GREENOS_EXPORT_*`.
#[derive(Clone, Debug, Default)]
pub struct ExportSchedule {
    /// The periods exported, each with its 6-field cron expression (seconds first, UTC) and the
    /// variable it came from (for error messages).
    pub periods: Vec<(Period, String, &'static str)>,
    /// `GREENOS_EXPORT_CATCH_UP_FROM`; by default the start of the window holding the earliest
    /// ledger row.
    pub catch_up_from: Option<UtcMicros>,
}

/// Why the scheduler cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// A cron expression does not parse.
    #[error("invalid configuration: {var}: {reason}")]
    Cron {
        /// The variable.
        var: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// The scheduler itself failed.
    #[error("the export scheduler failed: {0}")]
    Scheduler(#[from] JobSchedulerError),
}

/// The running scheduler.
pub struct ExportScheduler {
    scheduler: JobScheduler,
    catch_up: tokio::task::JoinHandle<()>,
}

impl ExportScheduler {
    /// Starts one cron job per period, and catches up on closed windows in the background.
    pub async fn start(
        services: Services,
        schedule: ExportSchedule,
    ) -> Result<ExportScheduler, SchedulerError> {
        let scheduler = JobScheduler::new().await?;
        let services = Arc::new(services);
        let mut jobs = Vec::new();
        for (period, cron, var) in &schedule.periods {
            let period = *period;
            let services = Arc::clone(&services);
            let fired = schedule.clone();
            let job = Job::new_async(cron.as_str(), move |_, _| {
                let services = Arc::clone(&services);
                let schedule = fired.clone();
                Box::pin(async move {
                    if let Some(window) = ExportWindow::latest_closed(period, UtcMicros::now()) {
                        export(&services, window).await;
                    }
                    refresh_overdue(&services, &schedule).await;
                })
            })
            .map_err(|err| SchedulerError::Cron {
                var,
                reason: format!("{cron:?} is not a 6-field cron expression (sec min hour day month weekday): {err}"),
            })?;
            jobs.push(job);
        }
        if !schedule.periods.is_empty() {
            let services = Arc::clone(&services);
            let schedule = schedule.clone();
            jobs.push(Job::new_async(OVERDUE_CRON, move |_, _| {
                let services = Arc::clone(&services);
                let schedule = schedule.clone();
                Box::pin(async move { refresh_overdue(&services, &schedule).await })
            })?);
        }
        // Catching up may build many exports: the API does not wait for it.
        let catch_up = tokio::spawn({
            let services = Arc::clone(&services);
            let schedule = schedule.clone();
            async move { catch_up(&services, &schedule).await }
        });
        for job in jobs {
            scheduler.add(job).await?;
        }
        scheduler.start().await?;
        tracing::info!(
            periods = ?schedule.periods.iter().map(|(p, cron, _)| format!("{p} at {cron}")).collect::<Vec<_>>(),
            "MRV export scheduler started"
        );
        Ok(ExportScheduler {
            scheduler,
            catch_up,
        })
    }

    /// Stops firing; an export in progress is dropped with its transaction (nothing is
    /// half-written), and the next start catches up on it.
    pub async fn shutdown(mut self) {
        self.catch_up.abort();
        if let Err(err) = self.scheduler.shutdown().await {
            tracing::warn!(error = %err, "the export scheduler did not stop cleanly");
        }
    }
}

/// Where exports are due from: `GREENOS_EXPORT_CATCH_UP_FROM`, or the earliest ledger row
/// (`Ok(None)`: the ledger is empty, nothing is due).
async fn catch_up_point(
    services: &Services,
    schedule: &ExportSchedule,
) -> Result<Option<UtcMicros>, greenos_core::ledger::ImpactError> {
    match schedule.catch_up_from {
        Some(from) => Ok(Some(from)),
        None => services.ledger().earliest_event_timestamp().await,
    }
}

/// Exports every closed window since the catch-up point that has none, oldest first.
async fn catch_up(services: &Services, schedule: &ExportSchedule) {
    let from = match catch_up_point(services, schedule).await {
        Ok(Some(from)) => from,
        Ok(None) => {
            tracing::info!("the ledger is empty: no export to catch up on");
            return;
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot read the ledger to catch up on exports");
            return;
        }
    };
    let now = UtcMicros::now();
    for (period, _, _) in &schedule.periods {
        for window in ExportWindow::closed_since(*period, from, now) {
            export(services, window).await;
        }
    }
    refresh_overdue(services, schedule).await;
}

/// Refreshes `greenos_mrv_export_overdue_seconds{period}` for each scheduled period, windows
/// being due from the catch-up point.
async fn refresh_overdue(services: &Services, schedule: &ExportSchedule) {
    let from = match catch_up_point(services, schedule).await {
        Ok(from) => from,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the ledger to check for overdue exports");
            return;
        }
    };
    let periods: Vec<Period> = schedule
        .periods
        .iter()
        .map(|(period, _, _)| *period)
        .collect();
    if let Err(err) = services.mrv().refresh_overdue(&periods, from).await {
        tracing::warn!(error = %err, "cannot check for overdue exports");
    }
}

async fn export(services: &Services, window: ExportWindow) {
    let ctx = RequestContext::system("scheduler");
    match services.mrv().scheduled_export(&ctx, window).await {
        Ok(ScheduledExport::Created(record)) => tracing::info!(
            export_id = %record.export_id,
            period = %record.period,
            period_end = %record.period_end,
            "scheduled MRV export created"
        ),
        // Already logged by the service layer, as is a failure.
        Ok(ScheduledExport::AlreadyExported | ScheduledExport::TakenByAnother) | Err(_) => {}
    }
}
