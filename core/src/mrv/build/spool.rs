//! The payload writer of a build. One pass over each `trip_id` range of the window writes the
//! kept impacts' canonical bytes to an anonymous temporary file and adds up the summary that
//! the payload's head needs (SPEC §8's canonical key order puts `aggregation` before
//! `impacts`); sealing then hashes head, the ranges' impacts and tail in order. Memory holds a
//! few batches of impacts per range, never the payload.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::Receiver;

use crate::ledger::Impact;
use crate::mrv::build::impact_json::write_impact;
use crate::mrv::build::summary::Summing;
use crate::mrv::error::MrvError;
use crate::proof::Sha256Hex;

/// Write buffer in front of the file, and read buffer when sealing.
const BUFFER_BYTES: usize = 256 * 1024;

/// The kept impacts of one `trip_id` range: their canonical bytes, comma-separated, in a
/// temporary file, and the first and last `trip_id` written.
#[derive(Debug)]
pub(crate) struct Impacts {
    file: File,
    trips: Option<(String, String)>,
}

/// One piece of a payload, in order.
#[derive(Debug)]
pub(crate) enum Piece {
    Bytes(Vec<u8>),
    File(File),
}

/// A finished payload: its pieces (head, the ranges' impacts with commas between them, tail;
/// each file positioned at its start), its hash and size.
#[derive(Debug)]
pub(crate) struct Spool {
    /// The payload, piece by piece; the files are deleted by the OS when dropped.
    pub pieces: Vec<Piece>,
    /// `sha256_hex(payload)`: the export's `verification_hash`.
    pub verification_hash: Sha256Hex,
    /// The payload's length in bytes.
    pub size_bytes: u64,
}

/// Writes the kept impacts of the rows received on `rows` (every row of one range of the
/// window, each with its leaf index in the log, in `trip_id` order and each trip's highest
/// `ledger_seq` first) and sums them up. Rows out of that order mean the read was not what the
/// build asked for, and the build stops rather than sign a wrong payload. Runs on a blocking
/// thread.
pub(crate) fn write_impacts(
    mut rows: Receiver<Vec<(Impact, u64)>>,
) -> Result<(Impacts, Summing), MrvError> {
    let mut out = BufWriter::with_capacity(BUFFER_BYTES, tempfile::tempfile()?);
    let mut summing = Summing::default();
    let mut first: Option<String> = None;
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
            if first.is_none() {
                first = Some(impact.event.trip_id.clone());
            }
            previous = Some((impact.event.trip_id, impact.ledger_seq));
        }
    }
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.flush()?;
    let trips = first.zip(previous.map(|(last, _)| last));
    Ok((Impacts { file, trips }, summing))
}

/// Lays out the payload, `head`, the ranges' impacts in order with a comma between two
/// non-empty ones, then `tail`, and hashes it, reading each file back once. The ranges must
/// follow each other in `trip_id` order. Runs on a blocking thread.
pub(crate) fn seal(head: Vec<u8>, ranges: Vec<Impacts>, tail: Vec<u8>) -> Result<Spool, MrvError> {
    let mut pieces = vec![Piece::Bytes(head)];
    let mut last_trip: Option<String> = None;
    for range in ranges {
        let Some((first, last)) = range.trips else {
            continue;
        };
        if let Some(previous) = &last_trip {
            if previous.as_bytes() >= first.as_bytes() {
                return Err(MrvError::Storage(format!(
                    "the window's trip_id ranges overlap at {first:?}"
                )));
            }
            pieces.push(Piece::Bytes(b",".to_vec()));
        }
        last_trip = Some(last);
        pieces.push(Piece::File(range.file));
    }
    pieces.push(Piece::Bytes(tail));
    let mut hasher = Sha256::new();
    let mut size_bytes = 0u64;
    let mut buffer = vec![0; BUFFER_BYTES];
    for piece in &mut pieces {
        match piece {
            Piece::Bytes(bytes) => {
                hasher.update(&bytes);
                size_bytes += bytes.len() as u64;
            }
            Piece::File(file) => {
                file.seek(SeekFrom::Start(0))?;
                loop {
                    let n = file.read(&mut buffer)?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buffer[..n]);
                    size_bytes += n as u64;
                }
                file.seek(SeekFrom::Start(0))?;
            }
        }
    }
    Ok(Spool {
        pieces,
        verification_hash: Sha256Hex::from_digest(hasher.finalize().into()),
        size_bytes,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use tokio::sync::mpsc;

    use super::{Impacts, Piece, seal, write_impacts};
    use crate::ledger::Impact;
    use crate::mrv::build::impact_json::tests::impact;
    use crate::mrv::build::summary::Summing;
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

    fn written(rows: Vec<(Impact, u64)>) -> Result<(Impacts, Summing), MrvError> {
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(rows).expect("queued");
        drop(tx);
        write_impacts(rx)
    }

    /// The payload's bytes, piece by piece.
    fn bytes(pieces: Vec<Piece>) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Bytes(bytes) => out.extend(bytes),
                Piece::File(mut file) => {
                    file.read_to_end(&mut out).expect("read");
                }
            }
        }
        out
    }

    #[test]
    fn each_trip_keeps_its_first_row_and_counts_the_others_across_ranges() {
        let (first, mut summing) = written(vec![
            row("a", 7, "CI", "1.5"),
            row("a", 3, "CI", "9"),
            row("a", 2, "FR", "9"),
            row("b", 5, "FR", "0.25"),
        ])
        .expect("written");
        let (empty, nothing) = written(Vec::new()).expect("written");
        let (second, later) =
            written(vec![row("c", 9, "CI", "2"), row("c", 1, "CI", "9")]).expect("written");
        summing.absorb(nothing).expect("absorbed");
        summing.absorb(later).expect("absorbed");
        let summary = summing.finish();
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

        let spool = seal(b"[".to_vec(), vec![first, empty, second], b"]".to_vec()).expect("sealed");
        let payload = bytes(spool.pieces);
        let parsed: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
        let seqs: Vec<i64> = parsed
            .as_array()
            .expect("an array")
            .iter()
            .map(|impact| impact["ledger_seq"].as_i64().expect("a number"))
            .collect();
        assert_eq!(seqs, [7, 5, 9]);
        assert_eq!(spool.size_bytes, payload.len() as u64);
        assert_eq!(spool.verification_hash, crate::proof::sha256_hex(&payload));
    }

    #[test]
    fn rows_or_ranges_out_of_order_stop_the_build() {
        for rows in [
            vec![row("b", 5, "CI", "1"), row("a", 7, "CI", "1")],
            vec![row("a", 5, "CI", "1"), row("a", 7, "CI", "1")],
        ] {
            let err = written(rows).expect_err("out of order");
            assert!(err.to_string().contains("order"), "{err}");
        }
        let (later, _) = written(vec![row("b", 5, "CI", "1")]).expect("written");
        let (earlier, _) = written(vec![row("a", 5, "CI", "1")]).expect("written");
        let err = seal(Vec::new(), vec![later, earlier], Vec::new()).expect_err("overlap");
        assert!(err.to_string().contains("overlap"), "{err}");
    }
}
