//! How much of its time this process spends appending to the ledger, and the transparency
//! log integrator's decision, period by period, to yield to ingest while it keeps the machine
//! busy (SPEC §18).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Ingest counts as busy when this process's appends took at least this share of the time
/// since the last period, added up over appends that run at once.
const BUSY_SHARE: f64 = 0.5;

/// The time taken by this process's ledger appends, summed over appends that run at once,
/// and whether the log integrator is yielding to them.
#[derive(Debug, Default)]
pub(crate) struct AppendLoad {
    busy_micros: AtomicU64,
    integrator_yielding: AtomicBool,
}

impl AppendLoad {
    /// Adds one append's time, its wait for its turn included.
    pub(crate) fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.busy_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The time every append that has finished took, added up.
    pub(crate) fn busy(&self) -> Duration {
        Duration::from_micros(self.busy_micros.load(Ordering::Relaxed))
    }

    /// Says whether the integrator is waiting for ingest to quieten.
    pub(crate) fn set_integrator_yielding(&self, yielding: bool) {
        self.integrator_yielding.store(yielding, Ordering::Relaxed);
    }

    /// Whether the integrator is waiting for ingest to quieten.
    pub(crate) fn integrator_yielding(&self) -> bool {
        self.integrator_yielding.load(Ordering::Relaxed)
    }
}

/// Decides, period by period, whether the integrator lets ingest have the machine.
#[derive(Debug)]
pub struct Yielding {
    max_delay: Duration,
    /// The appends' busy time and the instant at the last decision.
    last_busy: Duration,
    last_at: Option<Instant>,
    /// When the integrator began to yield, while it does.
    since: Option<Instant>,
}

impl Yielding {
    pub(crate) fn new(max_delay: Duration, busy: Duration) -> Yielding {
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
    pub(crate) fn should_yield(&mut self, now: Instant, busy: Duration) -> bool {
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
