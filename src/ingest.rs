//! `greenos ingest FILE`: bulk JSON Lines or CSV, streamed (never loaded whole), validated by
//! the REST parser, computed and signed on every core, and written in batched transactions
//! through the same ledger store as the REST route.
//!
//! By default a first pass validates the whole file and nothing is written if a line is bad;
//! `--skip-invalid` writes the good lines and saves the bad ones to a rejected file.

mod read;

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures::StreamExt;
use greenos_core::context::{Door, RequestContext};
use greenos_core::error_code::{DomainError, ErrorCode};
use greenos_core::ledger::{Appended, ConflictPolicy, IngestError, Refusal};
use greenos_core::services::BulkIngest;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::app::AppState;
use read::{ParsedBatch, ReadOptions, RejectedLine, read_file};

/// How many bad lines the refusal message lists before "and N more".
const LISTED_BAD_LINES: usize = 50;

/// File formats `greenos ingest` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// One trip object per line (the §4 schema).
    Jsonl,
    /// A header row naming the seven trip fields, then one trip per row.
    Csv,
}

/// `greenos ingest FILE [--format jsonl|csv] [--skip-invalid] [--rejected-file PATH] [--batch-size N]`.
#[derive(Clone, Debug, Args)]
pub struct IngestArgs {
    /// The trip file.
    pub file: PathBuf,
    /// The format; by default taken from the extension (.jsonl/.ndjson/.json or .csv).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// Write the good lines and save the bad ones, instead of refusing the whole file.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where `--skip-invalid` saves bad lines (JSON Lines: line, reason, original);
    /// default FILE.rejected.jsonl.
    #[arg(long)]
    pub rejected_file: Option<PathBuf>,
    /// Trips per database transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub batch_size: u32,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Trips newly written.
    pub accepted: usize,
    /// Trips already recorded with identical content.
    pub duplicates: usize,
    /// Bad lines and conflicting trips (written to the rejected file).
    pub rejected: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    /// Trips handled per second.
    pub fn rate(&self) -> f64 {
        let handled = self.accepted + self.duplicates + self.rejected;
        handled as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted {}, duplicates {}, rejected {} in {:.2} s ({:.0} trips/s)",
            self.accepted,
            self.duplicates,
            self.rejected,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
}

/// Ingests the file of `args`; an error means the run was refused or stopped.
pub async fn run(state: &AppState, args: &IngestArgs) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let format = file_format(args)?;
    let policy = if args.skip_invalid {
        ConflictPolicy::SkipConflicting
    } else {
        ConflictPolicy::RejectAll
    };
    let bulk = state
        .services
        .ledger()
        .bulk(RequestContext::system("ingest").via(Door::File), policy)
        .await
        .map_err(coded)?;
    let options = ReadOptions {
        format,
        batch_size: usize::try_from(args.batch_size).unwrap_or(1000),
        keep_originals: args.skip_invalid,
    };
    if !args.skip_invalid {
        refuse_bad_lines(&args.file, &options, &bulk).await?;
    }
    let mut summary = write(args, options, bulk).await?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn file_format(args: &IngestArgs) -> anyhow::Result<FileFormat> {
    if let Some(format) = args.format {
        return Ok(format);
    }
    let extension = args
        .file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("jsonl" | "ndjson" | "json") => Ok(FileFormat::Jsonl),
        Some("csv") => Ok(FileFormat::Csv),
        _ => bail!(
            "cannot tell the format of {} from its extension: pass --format jsonl or --format csv",
            args.file.display()
        ),
    }
}

fn progress_bar(path: &Path, message: &'static str) -> ProgressBar {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// Spawns the reader on a blocking thread; batches arrive on the returned channel.
fn spawn_reader(
    path: &Path,
    options: ReadOptions,
    progress: ProgressBar,
) -> (
    mpsc::Receiver<ParsedBatch>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let (tx, rx) = mpsc::channel(2);
    let path = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || read_file(&path, &options, &progress, &tx));
    (rx, reader)
}

/// The first pass: reads every line and refuses the file if any is bad, listing them.
async fn refuse_bad_lines(
    path: &Path,
    options: &ReadOptions,
    bulk: &BulkIngest,
) -> anyhow::Result<()> {
    let progress = progress_bar(path, "validating");
    let (mut rx, reader) = spawn_reader(path, *options, progress.clone());
    let mut bad: Vec<RejectedLine> = Vec::new();
    let mut bad_count = 0;
    while let Some(mut batch) = rx.recv().await {
        for (index, refusal) in bulk.refusals(&batch.trips) {
            batch.rejected.push(RejectedLine {
                line: batch.lines.get(index).copied().unwrap_or_default(),
                reason: describe(&refusal),
                original: None,
            });
        }
        batch.rejected.sort_by_key(|rejected| rejected.line);
        bad_count += batch.rejected.len();
        let room = LISTED_BAD_LINES.saturating_sub(bad.len());
        bad.extend(batch.rejected.into_iter().take(room));
    }
    reader.await.context("the file reader died")??;
    progress.finish_and_clear();
    if bad_count == 0 {
        return Ok(());
    }
    let mut message = format!(
        "{bad_count} invalid line(s) in {}; nothing was written (use --skip-invalid to write the good lines):",
        path.display()
    );
    for line in &bad {
        message.push_str(&format!("\n  line {}: {}", line.line, line.reason));
    }
    if bad_count > bad.len() {
        message.push_str(&format!("\n  ... and {} more", bad_count - bad.len()));
    }
    bail!(message)
}

/// The writing pass: the reader's batches go through core's bulk pipeline; this side keeps
/// the progress bar, the summary and the rejected-lines file.
async fn write(
    args: &IngestArgs,
    options: ReadOptions,
    bulk: BulkIngest,
) -> anyhow::Result<Summary> {
    let progress = progress_bar(&args.file, "ingesting");
    let (mut parsed_rx, reader) = spawn_reader(&args.file, options, progress.clone());
    let batches = futures::stream::poll_fn(move |cx| parsed_rx.poll_recv(cx)).map(|mut parsed| {
        let trips = std::mem::take(&mut parsed.trips);
        (parsed, trips)
    });
    let mut rejected_file = match args.skip_invalid {
        true => Some(RejectedFile::create(&rejected_path(args))?),
        false => None,
    };
    let mut summary = Summary::default();
    let mut outcomes = std::pin::pin!(bulk.run(batches));
    while let Some((parsed, outcome)) = outcomes.next().await {
        let outcome = outcome.map_err(|err| stopped(err, &parsed.lines))?;
        let mut rejected = parsed.rejected;
        for (index, item) in outcome.items.iter().enumerate() {
            let line = parsed.lines.get(index).copied().unwrap_or_default();
            let reason = match item {
                Appended::Accepted(_) => {
                    summary.accepted += 1;
                    continue;
                }
                Appended::Duplicate(_) => {
                    summary.duplicates += 1;
                    continue;
                }
                Appended::Conflict(conflict) => format!(
                    "trip_id: {}: trip {} already has a different impact under model version {}",
                    ErrorCode::DuplicateImpact.as_str(),
                    conflict.trip_id,
                    conflict.model_version
                ),
                Appended::Refused(refusal) => describe(refusal),
            };
            rejected.push(RejectedLine {
                line,
                reason,
                original: parsed.originals.get(index).cloned(),
            });
        }
        rejected.sort_by_key(|r| r.line);
        summary.rejected += rejected.len();
        if let Some(file) = rejected_file.as_mut() {
            file.write(&rejected)?;
        }
    }
    reader.await.context("the file reader died")??;
    if let Some(file) = rejected_file {
        file.finish()?;
    }
    progress.finish_and_clear();
    Ok(summary)
}

/// The default rejected file: `FILE.rejected.jsonl` beside the input.
fn rejected_path(args: &IngestArgs) -> PathBuf {
    args.rejected_file.clone().unwrap_or_else(|| {
        let mut name = args.file.as_os_str().to_owned();
        name.push(".rejected.jsonl");
        PathBuf::from(name)
    })
}

/// Explains why the writing pass stopped, naming lines for conflicts (other batches stay
/// committed; re-running the file is safe, identical trips are duplicates).
fn stopped(err: IngestError, lines: &[usize]) -> anyhow::Error {
    match err {
        IngestError::DuplicateImpact { conflicts } => {
            let listed: Vec<String> = conflicts
                .iter()
                .take(LISTED_BAD_LINES)
                .map(|c| {
                    format!(
                        "\n  line {}: trip {} already has a different impact under model version {}",
                        lines.get(c.index).copied().unwrap_or_default(),
                        c.trip_id,
                        c.model_version
                    )
                })
                .collect();
            anyhow::anyhow!(
                "{}: {} trip(s) conflict with recorded impacts; their batch was not written (the batches before it, and a few in flight after it, were; re-running the file is safe):{}",
                ErrorCode::DuplicateImpact.as_str(),
                conflicts.len(),
                listed.concat()
            )
        }
        other => coded(other).context("cannot write a batch"),
    }
}

/// `field: CODE: reason`, the form of every line of the rejected file.
fn describe(refusal: &Refusal) -> String {
    format!(
        "{}: {}: {}",
        refusal.field,
        refusal.code.as_str(),
        refusal.reason
    )
}

/// The error with its public code in front, as the API would answer it.
fn coded(err: IngestError) -> anyhow::Error {
    anyhow::anyhow!("{}: {err}", err.code().as_str())
}

/// Bad lines saved by `--skip-invalid`, one JSON object per line.
struct RejectedFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RejectedFile {
    fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("cannot create the rejected file {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    fn write(&mut self, lines: &[RejectedLine]) -> anyhow::Result<()> {
        for line in lines {
            serde_json::to_writer(&mut self.out, line)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}
