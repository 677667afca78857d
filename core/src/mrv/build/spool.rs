//! The payload writer of a build: canonical bytes go through SHA-256 and into an anonymous
//! temporary file at once, so `verification_hash` and the bytes to store come from one pass and
//! memory holds one batch of impacts, never the payload.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::Receiver;

use crate::ledger::Impact;
use crate::mrv::build::impact_json::write_impact;
use crate::mrv::build::payload::Totals;
use crate::mrv::error::MrvError;
use crate::proof::{Decimal6, Sha256Hex};

/// Write buffer in front of the hasher and the file.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// A finished payload: its bytes in a temporary file (positioned at the start), its hash, its
/// size.
#[derive(Debug)]
pub(crate) struct Spool {
    /// The canonical payload bytes; deleted by the OS when dropped.
    pub file: File,
    /// `sha256_hex(payload)`: the export's `verification_hash`.
    pub verification_hash: Sha256Hex,
    /// The payload's length in bytes.
    pub size_bytes: u64,
}

/// Tees every write into SHA-256 and the file, counting bytes.
struct Tee {
    file: File,
    hasher: Sha256,
    size_bytes: u64,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_all(buf)?;
        self.hasher.update(buf);
        self.size_bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes `head`, the impacts received on `impacts` (already in `trip_id` order, each with its
/// leaf index in the log) and `tail`.
///
/// The stream is checked against the first pass as it goes: strictly increasing `trip_id`s,
/// and the same count and sums as `expected`; a difference means the snapshot was not one, and
/// the build stops rather than sign an inconsistent payload. Runs on a blocking thread.
pub(crate) fn write_payload(
    head: &[u8],
    tail: &[u8],
    mut impacts: Receiver<Vec<(Impact, u64)>>,
    expected: Totals,
) -> Result<Spool, MrvError> {
    let mut out = BufWriter::with_capacity(
        WRITE_BUFFER_BYTES,
        Tee {
            file: tempfile::tempfile()?,
            hasher: Sha256::new(),
            size_bytes: 0,
        },
    );
    out.write_all(head)?;
    let mut seen = Totals::default();
    let mut previous: Option<String> = None;
    let mut canonical = Vec::with_capacity(1024);
    while let Some(batch) = impacts.blocking_recv() {
        for (impact, leaf_index) in batch {
            let trip_id = &impact.event.trip_id;
            if previous
                .as_deref()
                .is_some_and(|p| p.as_bytes() >= trip_id.as_bytes())
            {
                return Err(MrvError::Storage(format!(
                    "selected impacts are not in strictly increasing trip_id order at {trip_id:?}"
                )));
            }
            if seen.impacts_count > 0 {
                out.write_all(b",")?;
            }
            canonical.clear();
            write_impact(&mut canonical, &impact, Some(leaf_index))?;
            out.write_all(&canonical)?;
            seen.add(totals_of(&impact)?)
                .ok_or_else(|| MrvError::Storage("impact totals overflow".to_owned()))?;
            previous = Some(impact.event.trip_id);
        }
    }
    if seen != expected {
        return Err(MrvError::Storage(format!(
            "the streamed impacts {seen:?} differ from the aggregates {expected:?}"
        )));
    }
    out.write_all(tail)?;
    let tee = out.into_inner().map_err(|e| e.into_error())?;
    let Tee {
        mut file,
        hasher,
        size_bytes,
    } = tee;
    file.flush()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(Spool {
        file,
        verification_hash: Sha256Hex::from_digest(hasher.finalize().into()),
        size_bytes,
    })
}

fn totals_of(impact: &Impact) -> Result<Totals, MrvError> {
    let micro = |d: Decimal6| d.to_micro().map_err(|e| MrvError::Storage(e.to_string()));
    Ok(Totals {
        impacts_count: 1,
        total_distance_km_micro: micro(impact.event.distance_km)?,
        total_co2_avoided_kg_micro: micro(impact.event.co2_avoided_kg)?,
    })
}
