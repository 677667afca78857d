//! Reading a trip file line by line (never whole) on a blocking thread, parsing each line with
//! the same strict parser as the REST route, and handing batches to the writer.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::Context;
use greenos_core::ledger::{
    FieldProblem, TRIP_FIELDS, ValidatedTrip, parse_json_trip, parse_text_trip,
};
use indicatif::ProgressBar;
use tokio::sync::mpsc;

use crate::ingest::FileFormat;

/// A line that cannot be ingested, with why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RejectedLine {
    /// Line number in the file, from 1 (for CSV, the header is line 1).
    pub line: usize,
    /// Every problem, in one sentence.
    pub reason: String,
    /// The line as read (for CSV, the record re-encoded), kept only when rejected lines are
    /// saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

/// Consecutive good trips and the bad lines met among them.
#[derive(Debug, Default)]
pub struct ParsedBatch {
    /// The good trips, in file order.
    pub trips: Vec<ValidatedTrip>,
    /// The line number of each trip.
    pub lines: Vec<usize>,
    /// The original text of each trip, kept only when rejected lines are saved.
    pub originals: Vec<String>,
    /// The bad lines.
    pub rejected: Vec<RejectedLine>,
}

/// What the reader needs to know besides the file.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// JSON Lines or CSV.
    pub format: FileFormat,
    /// Trips per batch.
    pub batch_size: usize,
    /// Keep original line texts (for the rejected file).
    pub keep_originals: bool,
}

/// Reads `path` and sends batches until the end of the file or until the receiver is gone.
pub fn read_file(
    path: &Path,
    options: &ReadOptions,
    progress: &ProgressBar,
    tx: &mpsc::Sender<ParsedBatch>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let mut sink = BatchSink {
        options,
        batch: ParsedBatch::default(),
        tx,
    };
    match options.format {
        FileFormat::Jsonl => read_json_lines(reader, &mut sink, progress)?,
        FileFormat::Csv => read_csv(reader, &mut sink, progress)?,
    }
    sink.flush()
}

struct BatchSink<'a> {
    options: &'a ReadOptions,
    batch: ParsedBatch,
    tx: &'a mpsc::Sender<ParsedBatch>,
}

impl BatchSink<'_> {
    fn accept(
        &mut self,
        line: usize,
        parsed: Result<ValidatedTrip, String>,
        original: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        let keep = self.options.keep_originals;
        match parsed {
            Ok(trip) => {
                self.batch.trips.push(trip);
                self.batch.lines.push(line);
                if keep {
                    self.batch.originals.push(original());
                }
            }
            Err(reason) => self.batch.rejected.push(RejectedLine {
                line,
                reason,
                original: keep.then(original),
            }),
        }
        if self.batch.trips.len() >= self.options.batch_size
            || self.batch.rejected.len() >= self.options.batch_size
        {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.trips.is_empty() && self.batch.rejected.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.tx
            .blocking_send(batch)
            .map_err(|_| anyhow::anyhow!("the writer stopped"))
    }
}

fn read_json_lines(
    mut reader: impl BufRead,
    sink: &mut BatchSink<'_>,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut line = 0;
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .context("cannot read the file")?;
        if read == 0 {
            return Ok(());
        }
        line += 1;
        progress.inc(read as u64);
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = parse_json_trip(&buf).map_err(|rejected| describe(&rejected.problems));
        sink.accept(line, parsed, || {
            String::from_utf8_lossy(&buf).trim_end().to_owned()
        })?;
    }
}

fn read_csv(
    reader: impl BufRead,
    sink: &mut BatchSink<'_>,
    progress: &ProgressBar,
) -> anyhow::Result<()> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv
        .headers()
        .context("cannot read the CSV header row")?
        .clone();
    check_header(&headers)?;
    let mut record = csv::StringRecord::new();
    let mut last_byte = 0;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let parsed = parse_text_trip(headers.iter().zip(record.iter()))
                    .map_err(|problems| describe(&problems));
                sink.accept(to_usize(line), parsed, || reencode(&record))?;
            }
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line());
                let reason = format!("unreadable CSV record: {err}");
                sink.accept(to_usize(line), Err(reason), String::new)?;
            }
        }
        let byte = csv.position().byte();
        progress.inc(byte.saturating_sub(last_byte));
        last_byte = byte;
    }
}

/// The header must name exactly the trip fields, in any order.
fn check_header(headers: &csv::StringRecord) -> anyhow::Result<()> {
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| !TRIP_FIELDS.contains(h))
        .collect();
    let missing: Vec<&str> = TRIP_FIELDS
        .iter()
        .copied()
        .filter(|f| !headers.iter().any(|h| h == *f))
        .collect();
    if unknown.is_empty() && missing.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "the CSV header row must name the columns {}; unknown: [{}], missing: [{}]",
        TRIP_FIELDS.join(","),
        unknown.join(","),
        missing.join(",")
    )
}

fn to_usize(line: u64) -> usize {
    usize::try_from(line).unwrap_or(usize::MAX)
}

/// The record as one CSV line (quoting as needed).
fn reencode(record: &csv::StringRecord) -> String {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    if writer.write_record(record).is_err() {
        return record.iter().collect::<Vec<_>>().join(",");
    }
    writer
        .into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).trim_end().to_owned())
        .unwrap_or_default()
}

/// `field: reason; field: reason`.
fn describe(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| match &p.field {
            Some(field) => format!("{field}: {}", p.reason),
            None => p.reason.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
