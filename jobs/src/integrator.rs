//! The transparency log's integrator (SPEC §18): every `GREENOS_LOG_INTEGRATE_MS` it appends
//! the committed ledger rows that are not leaves yet, in batches, and signs each grown tree's
//! checkpoint. It runs off the ingest path, so ingest never waits for it; on PostgreSQL an
//! advisory lock lets one integrator work at a time across replicas (the others find it taken
//! and try again at their next tick). A full batch is followed at once by the next, so a
//! backlog is caught up without waiting for the period.

use std::time::Duration;

use greenos_core::context::CorrelationId;
use greenos_core::log::Integration;
use greenos_core::services::Services;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The running integrator.
pub struct LogIntegrator {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl LogIntegrator {
    /// Starts integrating every `every` in the background.
    pub fn start(services: Services, every: Duration) -> LogIntegrator {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(services, every, stopped));
        LogIntegrator { stop, task }
    }

    /// Stops after the integration in flight has committed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(err) = self.task.await {
            tracing::warn!(error = %err, "the log integrator ended abnormally");
        }
    }
}

async fn run(services: Services, every: Duration, mut stopped: watch::Receiver<bool>) {
    let mut failing = false;
    while !*stopped.borrow() {
        let span =
            tracing::info_span!("log_integration", correlation_id = %CorrelationId::tagged("log"));
        let outcome = services.log().integrate().instrument(span).await;
        let again = match outcome {
            Ok(Integration::Grew { added, .. }) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("the log integrator works again");
                }
                added == greenos_core::log::LEAVES_PER_INTEGRATION
            }
            Ok(Integration::Idle { .. } | Integration::Busy) => {
                failing = false;
                false
            }
            Err(err) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::error!(error = %err, "cannot integrate the ledger into the transparency log; retrying every period");
                }
                false
            }
        };
        if !again {
            let _ = tokio::time::timeout(every, stopped.changed()).await;
        }
    }
}
