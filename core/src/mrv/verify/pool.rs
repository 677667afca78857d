//! Where the impacts' runs are audited: in the reading thread, or by worker threads while the
//! reading thread goes on parsing, canonicalising and hashing (which must stay in one thread,
//! in stream order). A bounded queue keeps memory flat; results merge in stream order.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use crate::mrv::verify::impacts::{ImpactRun, RunAudit};
use crate::proof::PublicKeyRing;

/// Impacts per run handed to a worker.
const RUN_IMPACTS: usize = 512;

/// Runs queued per worker: enough to keep each busy, few enough to bound memory
/// (a run of large impacts is about half a megabyte).
const QUEUED_PER_WORKER: usize = 2;

/// How a payload's impacts are audited.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// Worker threads; 0 audits in the reading thread.
    pub workers: usize,
    /// The keys each impact's Ed25519 signature is checked with; `None` leaves them
    /// unchecked (the service checks them one trip at a time, on request).
    pub keys: Option<Arc<PublicKeyRing>>,
}

impl AuditOptions {
    /// The offline verifier's choice: every signature checked, on every core.
    pub fn offline(keys: PublicKeyRing) -> AuditOptions {
        AuditOptions {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            keys: Some(Arc::new(keys)),
        }
    }
}

type Work = (u64, u64, ImpactRun);

enum Mode {
    Inline(Option<Arc<PublicKeyRing>>),
    Workers {
        work: Option<SyncSender<Work>>,
        results: Receiver<(u64, RunAudit)>,
    },
}

/// Takes impacts one at a time, in stream order; [`ImpactAuditor::finish`] gives the merged
/// audit of them all.
pub(crate) struct ImpactAuditor {
    mode: Mode,
    current: ImpactRun,
    queued_impacts: u64,
    submitted: u64,
    merged_runs: u64,
    waiting: BTreeMap<u64, RunAudit>,
    merged: RunAudit,
}

impl ImpactAuditor {
    pub(crate) fn new(options: &AuditOptions) -> ImpactAuditor {
        let mode = if options.workers == 0 {
            Mode::Inline(options.keys.clone())
        } else {
            spawn_workers(options)
        };
        ImpactAuditor {
            mode,
            current: ImpactRun::default(),
            queued_impacts: 0,
            submitted: 0,
            merged_runs: 0,
            waiting: BTreeMap::new(),
            merged: RunAudit::default(),
        }
    }

    /// Takes the next impact, as its canonical bytes.
    pub(crate) fn impact(&mut self, canonical: &[u8]) {
        self.current.push(canonical);
        if self.current.len() >= RUN_IMPACTS {
            self.dispatch();
        }
    }

    fn dispatch(&mut self) {
        let run = std::mem::take(&mut self.current);
        let first_index = self.queued_impacts;
        self.queued_impacts += run.len() as u64;
        let seq = self.submitted;
        self.submitted += 1;
        match &self.mode {
            Mode::Inline(keys) => {
                let audit = RunAudit::of(&run, first_index, keys.as_deref());
                self.arrived(seq, audit);
            }
            Mode::Workers { work, .. } => {
                let sent = work
                    .as_ref()
                    .is_some_and(|work| work.send((seq, first_index, run)).is_ok());
                if !sent {
                    self.merged
                        .problem("the impact audit stopped before the end".to_owned());
                }
                self.collect(false);
            }
        }
    }

    /// Merges the results that arrived (all of them, when `all`).
    fn collect(&mut self, all: bool) {
        let Mode::Workers { results, .. } = &self.mode else {
            return;
        };
        let mut arrived = Vec::new();
        if all {
            arrived.extend(results.iter());
        } else {
            arrived.extend(results.try_iter());
        }
        for (seq, audit) in arrived {
            self.arrived(seq, audit);
        }
    }

    fn arrived(&mut self, seq: u64, audit: RunAudit) {
        self.waiting.insert(seq, audit);
        while let Some(audit) = self.waiting.remove(&self.merged_runs) {
            self.merged.merge(audit);
            self.merged_runs += 1;
        }
    }

    /// Audits what is left and merges every run.
    pub(crate) fn finish(mut self) -> RunAudit {
        if self.current.len() > 0 {
            self.dispatch();
        }
        if let Mode::Workers { work, .. } = &mut self.mode {
            // Closing the queue lets the workers end once it is empty.
            work.take();
        }
        self.collect(true);
        if self.merged_runs < self.submitted {
            self.merged
                .problem("the impact audit stopped before the end".to_owned());
        }
        self.merged
    }
}

fn spawn_workers(options: &AuditOptions) -> Mode {
    let (work, queue) = sync_channel::<Work>(options.workers * QUEUED_PER_WORKER);
    // Results are small and drained after every run sent; an unbounded channel means a worker
    // never waits on the reading thread while that one waits on the queue.
    let (done, results) = channel::<(u64, RunAudit)>();
    let queue = Arc::new(Mutex::new(queue));
    let mut spawned = 0;
    for _ in 0..options.workers {
        let queue = Arc::clone(&queue);
        let done = done.clone();
        let keys = options.keys.clone();
        let worker = std::thread::Builder::new()
            .name("greenos-audit".to_owned())
            .spawn(move || {
                loop {
                    let next = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, first_index, run)) = next else {
                        return;
                    };
                    let audit = RunAudit::of(&run, first_index, keys.as_deref());
                    if done.send((seq, audit)).is_err() {
                        return;
                    }
                }
            });
        if worker.is_ok() {
            spawned += 1;
        }
    }
    if spawned == 0 {
        return Mode::Inline(options.keys.clone());
    }
    Mode::Workers {
        work: Some(work),
        results,
    }
}
