//! The CSV of an export's impacts: the stored payload parsed as it streams, one row per impact,
//! written in pieces to a channel that the download consumes.

use std::io::{self, Write};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::mrv::channel::ChannelWriter;
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
    let mut csv = csv::Writer::from_writer(ChannelWriter::new(tx, CSV_PIECE_BYTES));
    csv.write_record(columns()).map_err(io::Error::other)?;
    for_each_impact(reader, |impact| write_row(&mut csv, &impact)).map_err(io::Error::other)?;
    csv.flush()?;
    csv.into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?
        .send()
}

fn write_row<W: Write>(csv: &mut csv::Writer<W>, impact: &Map<String, Value>) -> io::Result<()> {
    let cells = columns().map(|column| match impact.get(column) {
        Some(Value::String(s)) => neutralised(s),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    });
    csv.write_record(cells).map_err(io::Error::other)
}

/// A cell a spreadsheet would read as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a
/// carriage return) gets a leading `'`, OWASP's rule against CSV injection; every other cell,
/// and the value in the JSON artifact, is unchanged.
fn neutralised(cell: &str) -> String {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::neutralised;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for formula in ["=1+1", "+33", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralised(formula), format!("'{formula}"));
        }
        for plain in ["", "CI", "trip-1", "12.500000", "a=b", "'quoted"] {
            assert_eq!(neutralised(plain), plain);
        }
    }
}
