//! Scheduled MRV exports (SPEC §11): one cron job per period of `GREENOS_EXPORT_SCHEDULE`, each
//! exporting the window that just closed; on start, every closed window since the catch-up
//! point without an export is exported, oldest first. Several workers may run against one
//! PostgreSQL: the window's lock and the unique index leave exactly one export per window, and
//! a loser moves on. A failed export is logged, counted, and tried again at the next fire or
//! start.

use std::sync::Arc;

use greenos_core::context::RequestContext;
use greenos_core::mrv::{ExportWindow, Period};
use greenos_core::proof::UtcMicros;
use greenos_core::services::{ScheduledExport, Services};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

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
            let job = Job::new_async(cron.as_str(), move |_, _| {
                let services = Arc::clone(&services);
                Box::pin(async move {
                    if let Some(window) = ExportWindow::latest_closed(period, UtcMicros::now()) {
                        export(&services, window).await;
                    }
                })
            })
            .map_err(|err| SchedulerError::Cron {
                var,
                reason: format!("{cron:?} is not a 6-field cron expression (sec min hour day month weekday): {err}"),
            })?;
            jobs.push(job);
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

/// Exports every closed window since the catch-up point that has none, oldest first.
async fn catch_up(services: &Services, schedule: &ExportSchedule) {
    let from = match schedule.catch_up_from {
        Some(from) => Some(from),
        None => match services.ledger().earliest_event_timestamp().await {
            Ok(earliest) => earliest,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the ledger to catch up on exports");
                return;
            }
        },
    };
    let Some(from) = from else {
        tracing::info!("the ledger is empty: no export to catch up on");
        return;
    };
    let now = UtcMicros::now();
    for (period, _, _) in &schedule.periods {
        for window in ExportWindow::closed_since(*period, from, now) {
            export(services, window).await;
        }
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
