//! The CSV of an export's impacts: the stored payload parsed as it streams, one row per impact,
//! written in pieces to a channel that the download consumes.

use std::io::{self, Write};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::mrv::read::PayloadReader;
use crate::mrv::read::walk::for_each_impact;
use crate::proof::{EVENT_HASH_FIELDS, SIGNATURE_FIELDS};

/// The ledger columns of a row, between the hashed fields and the signatures.
const LEDGER_COLUMNS: [&str; 3] = ["ledger_seq", "event_hash", "checksum"];

/// The CSV columns: the hashed fields, the ledger position, the hashes and the signatures.
fn columns() -> impl Iterator<Item = &'static str> {
    EVENT_HASH_FIELDS
        .into_iter()
        .chain(LEDGER_COLUMNS)
        .chain(SIGNATURE_FIELDS)
}

/// CSV bytes handed to the consumer at a time.
const CSV_PIECE_BYTES: usize = 64 * 1024;

/// Writes the header and one row per impact of `reader` into `tx`, on the calling (blocking)
/// thread; stops early, with an error, when the consumer is gone.
pub(crate) fn write_csv(
    reader: PayloadReader,
    tx: &mpsc::Sender<io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let mut csv = csv::Writer::from_writer(ChannelWriter {
        tx: tx.clone(),
        buffer: Vec::with_capacity(CSV_PIECE_BYTES),
    });
    csv.write_record(columns()).map_err(io::Error::other)?;
    for_each_impact(reader, |impact| write_row(&mut csv, &impact)).map_err(io::Error::other)?;
    csv.flush()?;
    csv.into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?
        .send()
}

fn write_row<W: Write>(csv: &mut csv::Writer<W>, impact: &Map<String, Value>) -> io::Result<()> {
    let cells = columns().map(|column| match impact.get(column) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    });
    csv.write_record(cells).map_err(io::Error::other)
}

/// Hands the CSV to the consumer in pieces; a closed consumer stops the writer.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(CSV_PIECE_BYTES));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CSV_PIECE_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
