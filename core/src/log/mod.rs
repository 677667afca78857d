//! The transparency log (SPEC §18). Every ledger row is one leaf of one RFC 6962 Merkle tree;
//! every state of the tree is a checkpoint signed as a C2SP signed note. The tree's arithmetic
//! (stored-hash indexing, roots, inclusion and consistency proofs) is `tlog_tiles`, Cloudflare's
//! port of Go's `golang.org/x/mod/sumdb/tlog`, and the notes are its `signed_note`: the same
//! formats Go's own packages check, which the tests hold against RFC 6962's vectors.

mod checkpoint;
mod error;
mod store;
mod tree;

use std::time::Duration;

pub use checkpoint::{
    CheckpointError, LogKey, OpenError, OpenedCheckpoint, open_checkpoint, open_with_ring,
    sign_checkpoint,
};
pub use error::LogError;
pub use store::{Horizon, Integration};
pub(crate) use store::{checkpoint_at, integrate, latest_checkpoint, leaf_indexes, with_hashes};
pub use tree::{
    Hash, HashesNeeded, Pass, StoredHashes, check_consistency, check_inclusion, consistency,
    inclusion, leaf_hash, root,
};

/// The height of the hash tiles served (C2SP `tlog-tiles`).
pub const TILE_HEIGHT: u8 = 8;

/// At most this many leaves are appended in one integration transaction.
pub const LEAVES_PER_INTEGRATION: u64 = 8_192;

/// The log's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// `GREENOS_LOG_ORIGIN`: the log's name in its checkpoints and verifier key.
    pub origin: String,
    /// `GREENOS_LOG_INTEGRATE_MS` and `GREENOS_LOG_MAX_DELAY_MS`: when the integrator runs.
    pub pacing: Pacing,
}

/// When the integrator runs: every `every`, except while this process's ledger appends keep
/// it busy, when it waits for them, but never more than `max_delay` (zero: it never waits).
/// Ingest keeps its speed during a burst; a leaf is at most `max_delay` late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    /// `GREENOS_LOG_INTEGRATE_MS`: how often the integrator takes new ledger rows.
    pub every: Duration,
    /// `GREENOS_LOG_MAX_DELAY_MS`: how long it may yield to ingest before it integrates anyway.
    pub max_delay: Duration,
}

impl LogSettings {
    /// Checks that `origin` is a valid note name (not empty, no spaces, no `+`).
    pub fn new(origin: &str, pacing: Pacing) -> Result<LogSettings, CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(CheckpointError::Origin(origin.to_owned()));
        }
        Ok(LogSettings {
            origin: origin.to_owned(),
            pacing,
        })
    }
}

#[cfg(test)]
mod tests;
