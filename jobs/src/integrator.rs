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

use std::time::{Duration, Instant};

use greenos_core::context::CorrelationId;
use greenos_core::log::{Integration, Pacing};
use greenos_core::services::Services;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Ingest counts as busy when this process's appends took at least this share of the time
/// since the last period, added up over appends that run at once.
const BUSY_SHARE: f64 = 0.5;

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
    let mut yielding = Yielding::new(pacing.max_delay, services.append_load().busy());
    let mut again = false;
    while !*stopped.borrow() {
        // A backlog being caught up is never interrupted: yielding then would let it grow.
        if !again {
            let yields = yielding.should_yield(Instant::now(), services.append_load().busy());
            services.append_load().set_integrator_yielding(yields);
            if yields {
                services.metrics().record_log_yield();
                let _ = tokio::time::timeout(pacing.every, stopped.changed()).await;
                continue;
            }
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
    services.append_load().set_integrator_yielding(false);
}

/// Decides, period by period, whether the integrator lets ingest have the machine.
#[derive(Debug)]
struct Yielding {
    max_delay: Duration,
    /// The appends' busy time and the instant at the last decision.
    last_busy: Duration,
    last_at: Option<Instant>,
    /// When the integrator began to yield, while it does.
    since: Option<Instant>,
}

impl Yielding {
    fn new(max_delay: Duration, busy: Duration) -> Yielding {
        Yielding {
            max_delay,
            last_busy: busy,
            last_at: None,
            since: None,
        }
    }

    /// Whether to skip this period: the appends were busy for at least `BUSY_SHARE` of the
    /// time since the last decision (`busy` is their running total), and the integrator has
    /// not yet yielded for `max_delay`. A period that integrates starts the count again.
    fn should_yield(&mut self, now: Instant, busy: Duration) -> bool {
        let appended = busy.saturating_sub(self.last_busy);
        let elapsed = self.last_at.map(|at| now.saturating_duration_since(at));
        self.last_busy = busy;
        self.last_at = Some(now);
        let busy_enough = elapsed.is_some_and(|elapsed| {
            !elapsed.is_zero() && appended.as_secs_f64() >= BUSY_SHARE * elapsed.as_secs_f64()
        });
        if !busy_enough || self.max_delay.is_zero() {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) < self.max_delay {
            true
        } else {
            self.since = None;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_millis(1000);

    /// Decisions at `PERIOD` intervals, each period with `busy_ms` of appends.
    fn decisions(max_delay: Duration, busy_ms: &[u64]) -> Vec<bool> {
        let start = Instant::now();
        let mut yielding = Yielding::new(max_delay, Duration::ZERO);
        let mut busy = Duration::ZERO;
        let mut out = Vec::new();
        for (period, ms) in (0u32..).zip(busy_ms) {
            out.push(yielding.should_yield(start + PERIOD * period, busy));
            busy += Duration::from_millis(*ms);
        }
        out
    }

    #[test]
    fn a_quiet_process_is_integrated_every_period() {
        let out = decisions(Duration::from_secs(10), &[0, 10, 490, 0, 100]);
        assert_eq!(out, [false; 5]);
    }

    #[test]
    fn busy_appends_are_yielded_to_for_at_most_the_maximum_delay() {
        // Appends busy 1.5 s per second (several at once) for 8 periods, then quiet.
        let busy = [1500, 1500, 1500, 1500, 1500, 1500, 1500, 1500, 0, 0];
        let out = decisions(Duration::from_millis(2500), &busy);
        // The first decision has no period behind it; then three periods yielded (0, 1, 2 s
        // after the first), the fourth integrates, and the count starts again.
        assert_eq!(
            out,
            [
                false, true, true, true, false, true, true, true, false, false
            ]
        );
    }

    #[test]
    fn half_busy_is_busy_and_a_zero_delay_never_yields() {
        assert_eq!(
            decisions(Duration::from_secs(10), &[500, 500]),
            [false, true]
        );
        assert_eq!(decisions(Duration::ZERO, &[900, 900, 900]), [false; 3]);
    }
}
