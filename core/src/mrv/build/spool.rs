//! The payload writer of a build. One pass over the window's rows writes the kept impacts'
//! canonical bytes to an anonymous temporary file and adds up the summary that the payload's
//! head needs (SPEC §8's canonical key order puts `aggregation` before `impacts`); sealing
//! then hashes head, impacts and tail in order. Memory holds a few batches of impacts, never
//! the payload.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::Receiver;

use crate::ledger::Impact;
use crate::mrv::build::impact_json::write_impact;
use crate::mrv::build::summary::{Summing, WindowSummary};
use crate::mrv::error::MrvError;
use crate::proof::Sha256Hex;

/// Write buffer in front of the file, and read buffer when sealing.
const BUFFER_BYTES: usize = 256 * 1024;

/// The kept impacts' canonical bytes, comma-separated, in a temporary file.
#[derive(Debug)]
pub(crate) struct Impacts {
    file: File,
    size_bytes: u64,
}

/// A finished payload: head, impacts (the file, positioned at its start) and tail, its hash
/// and size.
#[derive(Debug)]
pub(crate) struct Spool {
    /// Everything before the first impact.
    pub head: Vec<u8>,
    /// The impacts; the file is deleted by the OS when dropped.
    pub impacts: File,
    /// Everything after the last impact.
    pub tail: Vec<u8>,
    /// `sha256_hex(payload)`: the export's `verification_hash`.
    pub verification_hash: Sha256Hex,
    /// The payload's length in bytes.
    pub size_bytes: u64,
}

/// Counts the bytes written through it.
struct Counting {
    file: File,
    size_bytes: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_all(buf)?;
        self.size_bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes the kept impacts of the rows received on `rows` (every row of the window, each with
/// its leaf index in the log, in `trip_id` order and each trip's highest `ledger_seq` first)
/// and sums up the window. Rows out of that order mean the read was not what the build asked
/// for, and the build stops rather than sign a wrong payload. Runs on a blocking thread.
pub(crate) fn write_impacts(
    mut rows: Receiver<Vec<(Impact, u64)>>,
) -> Result<(Impacts, WindowSummary), MrvError> {
    let mut out = BufWriter::with_capacity(
        BUFFER_BYTES,
        Counting {
            file: tempfile::tempfile()?,
            size_bytes: 0,
        },
    );
    let mut summing = Summing::default();
    let mut previous: Option<(String, i64)> = None;
    let mut canonical = Vec::with_capacity(1024);
    while let Some(batch) = rows.blocking_recv() {
        for (impact, leaf_index) in batch {
            let trip_id = &impact.event.trip_id;
            if let Some((last, last_seq)) = &previous {
                match last.as_bytes().cmp(trip_id.as_bytes()) {
                    Ordering::Less => {}
                    Ordering::Equal if impact.ledger_seq < *last_seq => {
                        summing.duplicate(trip_id);
                        continue;
                    }
                    _ => {
                        return Err(MrvError::Storage(format!(
                            "the window's rows are not in trip_id, then descending ledger_seq, \
                             order at {trip_id:?}"
                        )));
                    }
                }
                out.write_all(b",")?;
            }
            canonical.clear();
            write_impact(&mut canonical, &impact, Some(leaf_index))?;
            out.write_all(&canonical)?;
            summing.keep(&impact)?;
            previous = Some((impact.event.trip_id, impact.ledger_seq));
        }
    }
    let Counting {
        mut file,
        size_bytes,
    } = out.into_inner().map_err(|e| e.into_error())?;
    file.flush()?;
    Ok((Impacts { file, size_bytes }, summing.finish()))
}

/// Hashes `head`, the impacts and `tail` in order: the whole payload, read back from the file
/// once. Runs on a blocking thread.
pub(crate) fn seal(head: Vec<u8>, impacts: Impacts, tail: Vec<u8>) -> Result<Spool, MrvError> {
    let Impacts {
        mut file,
        size_bytes,
    } = impacts;
    let mut hasher = Sha256::new();
    hasher.update(&head);
    file.seek(SeekFrom::Start(0))?;
    let mut buffer = vec![0; BUFFER_BYTES];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        read += n as u64;
    }
    if read != size_bytes {
        return Err(MrvError::Storage(format!(
            "the spooled impacts hold {read} bytes, {size_bytes} were written"
        )));
    }
    hasher.update(&tail);
    file.seek(SeekFrom::Start(0))?;
    let size_bytes = head.len() as u64 + size_bytes + tail.len() as u64;
    Ok(Spool {
        head,
        impacts: file,
        tail,
        verification_hash: Sha256Hex::from_digest(hasher.finalize().into()),
        size_bytes,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use tokio::sync::mpsc;

    use super::{seal, write_impacts};
    use crate::ledger::Impact;
    use crate::mrv::build::impact_json::tests::impact;
    use crate::mrv::error::MrvError;
    use crate::proof::Decimal6;

    fn row(trip_id: &str, ledger_seq: i64, country: &str, co2: &str) -> (Impact, u64) {
        let mut impact = impact(None);
        impact.event.trip_id = trip_id.to_owned();
        impact.event.country_code = country.to_owned();
        impact.event.co2_avoided_kg = Decimal6::parse_exact(co2).expect("decimal");
        impact.ledger_seq = ledger_seq;
        (impact, ledger_seq.unsigned_abs())
    }

    fn written(
        rows: Vec<(Impact, u64)>,
    ) -> Result<(super::Impacts, super::WindowSummary), MrvError> {
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(rows).expect("queued");
        drop(tx);
        write_impacts(rx)
    }

    #[test]
    fn each_trip_keeps_its_first_row_and_counts_the_others() {
        let (impacts, summary) = written(vec![
            row("a", 7, "CI", "1.5"),
            row("a", 3, "CI", "9"),
            row("a", 2, "FR", "9"),
            row("b", 5, "FR", "0.25"),
            row("c", 9, "CI", "2"),
            row("c", 1, "CI", "9"),
        ])
        .expect("written");
        let totals = summary.aggregation.totals;
        assert_eq!(totals.impacts_count, 3);
        assert_eq!(totals.total_co2_avoided_kg_micro, 3_750_000);
        assert_eq!(summary.aggregation.by_country["CI"].impacts_count, 2);
        assert_eq!(summary.aggregation.by_country["FR"].impacts_count, 1);
        assert_eq!(summary.duplicates.raw_impacts_count, 6);
        assert_eq!(
            summary.duplicates.duplicates,
            [("a".to_owned(), 3), ("c".to_owned(), 2)]
        );
        assert_eq!(summary.duplicates.removed(), 3);
        assert_eq!(summary.model_versions, ["co2-v1"]);
        assert_eq!(summary.country_factors["CI"].len(), 1);

        let spool = seal(b"[".to_vec(), impacts, b"]".to_vec()).expect("sealed");
        let mut bytes = b"[".to_vec();
        let mut file = spool.impacts;
        file.read_to_end(&mut bytes).expect("read");
        bytes.extend_from_slice(&spool.tail);
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        let seqs: Vec<i64> = parsed
            .as_array()
            .expect("an array")
            .iter()
            .map(|impact| impact["ledger_seq"].as_i64().expect("a number"))
            .collect();
        assert_eq!(seqs, [7, 5, 9]);
        assert_eq!(spool.size_bytes, bytes.len() as u64);
        assert_eq!(spool.verification_hash, crate::proof::sha256_hex(&bytes));
    }

    #[test]
    fn rows_out_of_order_stop_the_build() {
        for rows in [
            vec![row("b", 5, "CI", "1"), row("a", 7, "CI", "1")],
            vec![row("a", 5, "CI", "1"), row("a", 7, "CI", "1")],
        ] {
            let err = written(rows).expect_err("out of order");
            assert!(err.to_string().contains("order"), "{err}");
        }
    }
}
