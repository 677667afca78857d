//! The payload writer of a build. One pass over the window's rows (read in time slices side
//! by side, merged here into one order) writes the kept impacts' canonical bytes to an
//! anonymous temporary file and adds up the summary that the payload's head needs (SPEC §8's
//! canonical key order puts `aggregation` before `impacts`); the store then reads head, impacts
//! and tail back once, in order, hashing them as it writes them. Memory holds a few batches of
//! impacts per slice, never the payload.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{self, Receiver};

use crate::mrv::build::batch::{Batch, Row};
use crate::mrv::build::summary::{Summing, WindowSummary};
use crate::mrv::error::MrvError;
use crate::proof::Sha256Hex;

/// Write buffer in front of the file.
const BUFFER_BYTES: usize = 256 * 1024;

/// The kept impacts' canonical bytes, comma-separated, in a temporary file.
#[derive(Debug)]
pub(crate) struct Impacts {
    file: File,
    size_bytes: u64,
}

/// A finished payload, not hashed yet: head, impacts and tail.
#[derive(Debug)]
pub(crate) struct Payload {
    /// Everything before the first impact.
    head: Vec<u8>,
    /// The impacts; the file is deleted by the OS when dropped.
    impacts: Impacts,
    /// Everything after the last impact.
    tail: Vec<u8>,
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

/// Writes the kept impacts of the rows received on `slices` (every row of the window, encoded,
/// each with its leaf index in the log; each slice in `trip_id` order and each trip's highest
/// `ledger_seq` first, merged here into that order) and sums up the window. Rows out of that
/// order mean the read was not what the build asked for, and the build stops rather than sign
/// a wrong payload. Runs on a blocking thread.
pub(crate) fn write_impacts(
    slices: Vec<Receiver<Batch>>,
) -> Result<(Impacts, WindowSummary), MrvError> {
    let mut out = BufWriter::with_capacity(
        BUFFER_BYTES,
        Counting {
            file: tempfile::tempfile()?,
            size_bytes: 0,
        },
    );
    let mut summing = Summing::default();
    // The trip id and ledger_seq of the last kept row.
    let (mut last_trip, mut last_seq) = (String::new(), None);
    let mut merged = Merge::new(slices);
    while let Some(slice) = merged.first() {
        let row = merged.row(slice);
        if let Some(seq) = last_seq {
            if window_order((&last_trip, seq), (row.trip_id, row.ledger_seq)) != Ordering::Less {
                return Err(MrvError::Storage(format!(
                    "the window's rows are not in trip_id, then descending ledger_seq, \
                     order at {:?}",
                    row.trip_id
                )));
            }
            if last_trip == row.trip_id {
                summing.duplicate(row.trip_id);
                merged.advance(slice);
                continue;
            }
            out.write_all(b",")?;
        }
        out.write_all(row.json)?;
        summing.keep(&row)?;
        last_trip.clear();
        last_trip.push_str(row.trip_id);
        last_seq = Some(row.ledger_seq);
        merged.advance(slice);
    }
    let Counting {
        mut file,
        size_bytes,
    } = out.into_inner().map_err(|e| e.into_error())?;
    file.flush()?;
    Ok((Impacts { file, size_bytes }, summing.finish()))
}

/// The order the window's rows are read and written in, of `(trip_id, ledger_seq)`: `trip_id`
/// code points, then each trip's highest `ledger_seq` first.
fn window_order(a: (&str, i64), b: (&str, i64)) -> Ordering {
    a.0.as_bytes().cmp(b.0.as_bytes()).then(b.1.cmp(&a.1))
}

/// Rows of several slices, each in `trip_id` order and each trip's highest `ledger_seq` first,
/// merged into that order. Waits only for the slice whose next row comes next.
struct Merge {
    /// The slices that have a next row.
    slices: Vec<Slice>,
}

/// One slice: its channel, the batch being read, and the index of its next row there.
struct Slice {
    rows: Receiver<Batch>,
    batch: Batch,
    next: usize,
}

impl Slice {
    /// Whether the slice has a next row, receiving the next batch when this one is done.
    fn fill(&mut self) -> bool {
        while self.next == self.batch.len() {
            match self.rows.blocking_recv() {
                Some(batch) => (self.batch, self.next) = (batch, 0),
                None => return false,
            }
        }
        true
    }

    fn key(&self) -> (&str, i64) {
        let row = self.batch.row(self.next);
        (row.trip_id, row.ledger_seq)
    }
}

impl Merge {
    fn new(channels: Vec<Receiver<Batch>>) -> Merge {
        let mut slices: Vec<Slice> = channels
            .into_iter()
            .map(|rows| Slice {
                rows,
                batch: Batch::default(),
                next: 0,
            })
            .collect();
        slices.retain_mut(Slice::fill);
        Merge { slices }
    }

    /// The slice whose next row comes first, if any slice has one.
    fn first(&self) -> Option<usize> {
        (0..self.slices.len())
            .min_by(|&a, &b| window_order(self.slices[a].key(), self.slices[b].key()))
    }

    /// The next row of slice `slice`, an index [`Merge::first`] gave.
    fn row(&self, slice: usize) -> Row<'_> {
        let slice = &self.slices[slice];
        slice.batch.row(slice.next)
    }

    /// Moves slice `slice` past its next row.
    fn advance(&mut self, slice: usize) {
        let current = &mut self.slices[slice];
        current.next += 1;
        if !current.fill() {
            self.slices.swap_remove(slice);
        }
    }
}

impl Payload {
    pub(crate) fn new(head: Vec<u8>, impacts: Impacts, tail: Vec<u8>) -> Payload {
        Payload {
            head,
            impacts,
            tail,
        }
    }

    /// The payload's length in bytes.
    pub(crate) fn size_bytes(&self) -> u64 {
        self.head.len() as u64 + self.impacts.size_bytes + self.tail.len() as u64
    }

    /// Sends head, impacts and tail in order, in pieces of `piece` bytes (fewer only at the
    /// end), and returns `sha256_hex(payload)`, the export's `verification_hash`: one read of
    /// the file, hashed as it is sent. Runs on a blocking thread.
    pub(crate) fn send_in_pieces(
        self,
        piece: usize,
        tx: &mpsc::Sender<Vec<u8>>,
    ) -> Result<Sha256Hex, MrvError> {
        let size_bytes = self.size_bytes();
        let Payload {
            head,
            impacts: Impacts { mut file, .. },
            tail,
        } = self;
        file.seek(SeekFrom::Start(0))?;
        let mut payload = Cursor::new(head).chain(file).chain(Cursor::new(tail));
        let mut hasher = Sha256::new();
        let mut sent = 0u64;
        loop {
            let mut bytes = Vec::with_capacity(piece);
            (&mut payload).take(piece as u64).read_to_end(&mut bytes)?;
            if bytes.is_empty() {
                break;
            }
            hasher.update(&bytes);
            sent += bytes.len() as u64;
            if tx.blocking_send(bytes).is_err() {
                return Err(MrvError::Task(
                    "the export's store stopped reading its payload".to_owned(),
                ));
            }
        }
        if sent != size_bytes {
            return Err(MrvError::Storage(format!(
                "the spooled payload holds {sent} bytes, {size_bytes} were written"
            )));
        }
        Ok(Sha256Hex::from_digest(hasher.finalize().into()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::{Impacts, Payload, write_impacts};
    use crate::mrv::build::batch::Batch;
    use crate::mrv::build::impact_json::tests::{Stored, impact};
    use crate::mrv::build::summary::WindowSummary;
    use crate::mrv::error::MrvError;
    use crate::proof::Decimal6;

    fn row(trip_id: &str, ledger_seq: i64, country: &str, co2: &str) -> Stored {
        let mut impact = impact(None);
        impact.event.trip_id = trip_id.to_owned();
        impact.event.country_code = country.to_owned();
        impact.event.co2_avoided_kg = Decimal6::parse_exact(co2).expect("decimal");
        impact.ledger_seq = ledger_seq;
        Stored::of(&impact, ledger_seq)
    }

    /// Each slice's rows in two batches, so that the merge crosses batches.
    fn written(slices: Vec<Vec<Stored>>) -> Result<(Impacts, WindowSummary), MrvError> {
        let channels = slices
            .into_iter()
            .map(|mut rows| {
                let (tx, rx) = mpsc::channel(2);
                let rest = rows.split_off(rows.len() / 2);
                for part in [rows, rest] {
                    let mut batch = Batch::new();
                    for row in &part {
                        batch.push(row).expect("encoded");
                    }
                    tx.try_send(batch).expect("queued");
                }
                rx
            })
            .collect();
        write_impacts(channels)
    }

    #[test]
    fn slices_merge_and_each_trip_keeps_its_highest_row() {
        let (impacts, summary) = written(vec![
            vec![
                row("a", 7, "CI", "1.5"),
                row("a", 2, "FR", "9"),
                row("c", 1, "CI", "9"),
            ],
            Vec::new(),
            vec![
                row("a", 3, "CI", "9"),
                row("b", 5, "FR", "0.25"),
                row("c", 9, "CI", "2"),
            ],
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

        let payload = Payload::new(b"[".to_vec(), impacts, b"]".to_vec());
        let size_bytes = payload.size_bytes();
        let (tx, mut rx) = mpsc::channel(64);
        let hash = payload.send_in_pieces(100, &tx).expect("sent");
        drop(tx);
        let mut pieces = Vec::new();
        while let Ok(piece) = rx.try_recv() {
            pieces.push(piece);
        }
        assert!(pieces.len() > 2, "{} pieces", pieces.len());
        let (last, full) = pieces.split_last().expect("pieces");
        assert!(full.iter().all(|piece| piece.len() == 100));
        assert!(!last.is_empty() && last.len() <= 100);
        let payload = pieces.concat();
        let parsed: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
        let seqs: Vec<i64> = parsed
            .as_array()
            .expect("an array")
            .iter()
            .map(|impact| impact["ledger_seq"].as_i64().expect("a number"))
            .collect();
        assert_eq!(seqs, [7, 5, 9]);
        assert_eq!(size_bytes, payload.len() as u64);
        assert_eq!(hash, crate::proof::sha256_hex(&payload));
    }

    #[test]
    fn a_slice_out_of_order_stops_the_build() {
        for slice in [
            vec![row("b", 5, "CI", "1"), row("a", 7, "CI", "1")],
            vec![row("a", 5, "CI", "1"), row("a", 7, "CI", "1")],
        ] {
            let err = written(vec![slice, vec![row("0", 1, "CI", "1")]]).expect_err("out of order");
            assert!(err.to_string().contains("order"), "{err}");
        }
    }
}
