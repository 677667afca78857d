//! How much of its time this process spends appending to the ledger: the transparency log's
//! integrator reads it to yield to ingest while ingest keeps the machine busy (SPEC §18).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The time taken by this process's ledger appends, summed over appends that run at once,
/// and whether the log integrator is yielding to them.
#[derive(Debug, Default)]
pub struct AppendLoad {
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
    pub fn busy(&self) -> Duration {
        Duration::from_micros(self.busy_micros.load(Ordering::Relaxed))
    }

    /// Says whether the integrator is waiting for ingest to quieten.
    pub fn set_integrator_yielding(&self, yielding: bool) {
        self.integrator_yielding.store(yielding, Ordering::Relaxed);
    }

    /// Whether the integrator is waiting for ingest to quieten.
    pub fn integrator_yielding(&self) -> bool {
        self.integrator_yielding.load(Ordering::Relaxed)
    }
}
