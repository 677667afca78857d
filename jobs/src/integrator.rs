//! The transparency log's integrator (SPEC §18): every `GREENOS_LOG_INTEGRATE_MS` it appends
//! the committed ledger rows that are not leaves yet, in batches, and signs each grown tree's
//! checkpoint. It runs off the ingest path, so ingest never waits for it; on PostgreSQL an
//! advisory lock lets one integrator work at a time across replicas (the others find it taken
//! and try again at their next tick). A full batch is followed at once by the next, so a
//! backlog is caught up without waiting for the period.
//!
//! Ingest speed does not depend on it: while this process's ledger appends keep it busy, the
//! integrator lets a period pass instead of taking cores from them, for at most
//! `GREENOS_LOG_MAX_DELAY_MS`, after which it integrates the whole backlog whatever the load.

use greenos_core::context::CorrelationId;
use greenos_core::log::{Integration, Pacing};
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
    /// Starts integrating in the background, as `pacing` says.
    pub fn start(services: Services, pacing: Pacing) -> LogIntegrator {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(services, pacing, stopped));
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

async fn run(services: Services, pacing: Pacing, mut stopped: watch::Receiver<bool>) {
    let mut failing = false;
    let mut yielding = services.log().yielding(pacing.max_delay);
    let mut again = false;
    while !*stopped.borrow() {
        // A backlog being caught up is never interrupted: yielding then would let it grow.
        if !again && services.log().yields_to_ingest(&mut yielding) {
            let _ = tokio::time::timeout(pacing.every, stopped.changed()).await;
            continue;
        }
        let span =
            tracing::info_span!("log_integration", correlation_id = %CorrelationId::tagged("log"));
        let outcome = services.log().integrate().instrument(span).await;
        again = match outcome {
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
            let _ = tokio::time::timeout(pacing.every, stopped.changed()).await;
        }
    }
    services.log().integrator_stopped();
}
