//! A batch of the window's rows, encoded on the thread that read them: each row's canonical
//! JSON (its bytes in the payload) and the few fields the writer merges, de-duplicates and sums
//! by, in two buffers per batch rather than a dozen strings per row. The writer thread then
//! only compares keys, copies bytes and adds numbers.

use std::mem;

use crate::mrv::build::impact_json::write_row;
use crate::mrv::build::select::{Columns, col};
use crate::mrv::error::MrvError;

/// Rows handed to the writer thread at a time.
const ROWS: usize = 512;
/// Room for a batch's canonical JSON: an impact is about 900 bytes.
const JSON_BYTES: usize = ROWS * 1024;
/// Room for a batch's keys.
const TEXT_BYTES: usize = ROWS * 64;

/// The window's rows in read order, encoded.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The rows' canonical JSON, one after another.
    json: Vec<u8>,
    /// The rows' trip id, country code, model and methodology versions, one after another.
    text: String,
    rows: Vec<Entry>,
}

/// Where a row's bytes lie in its batch, and its numbers.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Start and end of the row's JSON in `json`.
    json: (usize, usize),
    /// Start of the trip id, then the end of each key in `text`, in [`Row`]'s order.
    text: [usize; 5],
    ledger_seq: i64,
    micros: Micros,
}

/// A row's amounts in millionths, as the ledger stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Micros {
    pub distance_km: i64,
    pub co2_avoided_kg: i64,
    pub thermal_factor_local: i64,
    pub ev_factor_local: i64,
}

/// A row of a batch, as the writer reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row<'a> {
    /// The impact's canonical JSON.
    pub json: &'a [u8],
    pub trip_id: &'a str,
    pub country_code: &'a str,
    pub model_version: &'a str,
    pub methodology_version: &'a str,
    pub ledger_seq: i64,
    pub micros: Micros,
}

impl Batch {
    /// An empty batch with room for a full one.
    pub(crate) fn new() -> Batch {
        Batch {
            json: Vec::with_capacity(JSON_BYTES),
            text: String::with_capacity(TEXT_BYTES),
            rows: Vec::with_capacity(ROWS),
        }
    }

    /// Encodes a row of `select::COLUMNS`. On error the batch is left as it was.
    pub(crate) fn push(&mut self, row: &impl Columns) -> Result<(), MrvError> {
        let (json_start, text_start) = (self.json.len(), self.text.len());
        let encoded = self.encode(row);
        if encoded.is_err() {
            self.json.truncate(json_start);
            self.text.truncate(text_start);
        }
        encoded
    }

    fn encode(&mut self, row: &impl Columns) -> Result<(), MrvError> {
        let json_start = self.json.len();
        let (ledger_seq, micros) = write_row(&mut self.json, row)?;
        let mut text = [self.text.len(); 5];
        for (end, index) in text[1..].iter_mut().zip([
            col::TRIP_ID,
            col::COUNTRY_CODE,
            col::MODEL_VERSION,
            col::METHODOLOGY_VERSION,
        ]) {
            self.text.push_str(row.text(index)?);
            *end = self.text.len();
        }
        self.rows.push(Entry {
            json: (json_start, self.json.len()),
            text,
            ledger_seq,
            micros,
        });
        Ok(())
    }

    /// Whether the batch holds as many rows as one is sent with.
    pub(crate) fn is_full(&self) -> bool {
        self.rows.len() >= ROWS
    }

    /// The batch, leaving an empty one in its place.
    pub(crate) fn take(&mut self) -> Batch {
        mem::replace(self, Batch::new())
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `index`; `index` is below [`Batch::len`].
    pub(crate) fn row(&self, index: usize) -> Row<'_> {
        let entry = &self.rows[index];
        let text = |k: usize| &self.text[entry.text[k]..entry.text[k + 1]];
        Row {
            json: &self.json[entry.json.0..entry.json.1],
            trip_id: text(0),
            country_code: text(1),
            model_version: text(2),
            methodology_version: text(3),
            ledger_seq: entry.ledger_seq,
            micros: entry.micros,
        }
    }
}
