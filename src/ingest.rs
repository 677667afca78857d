//! `greenos ingest FILE`: bulk JSON Lines or CSV, streamed (never loaded whole), validated by
//! the REST parser, computed and signed on every core, and written in batched transactions
//! through the same ledger store as the REST route.
//!
//! By default a first pass validates the whole file and nothing is written if a line is bad;
//! `--skip-invalid` writes the good lines and saves the bad ones to a rejected file.

mod read;

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures::StreamExt;
use greenos_core::ledger::{
    self, Appended, ComputeContext, ConflictPolicy, IngestError, NewImpact,
};
use greenos_core::methodology::{self, Methodology};
use greenos_core::proof::UtcMicros;
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::DbBackend;
use tokio::sync::mpsc;

use crate::app::AppState;
use read::{ParsedBatch, ReadOptions, RejectedLine, read_file};

/// Batches appended concurrently by the writing pass on PostgreSQL. SQLite has a single writer:
/// a second transaction would only sleep in the busy handler, so it gets one.
const CONCURRENT_WRITES: usize = 3;

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
    let methodology = Arc::new(
        methodology::active(&state.db)
            .await?
            .context("no methodology version is ACTIVE: trips cannot be computed")?,
    );
    let countries: Arc<BTreeSet<String>> =
        Arc::new(methodology.country_factors.keys().cloned().collect());
    let options = ReadOptions {
        format,
        batch_size: usize::try_from(args.batch_size).unwrap_or(1000),
        countries,
        keep_originals: args.skip_invalid,
    };
    if !args.skip_invalid {
        refuse_bad_lines(&args.file, &options).await?;
    }
    let mut summary = write(state, args, options, methodology).await?;
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
async fn refuse_bad_lines(path: &Path, options: &ReadOptions) -> anyhow::Result<()> {
    let progress = progress_bar(path, "validating");
    let (mut rx, reader) = spawn_reader(
        path,
        ReadOptions {
            countries: Arc::clone(&options.countries),
            ..*options
        },
        progress.clone(),
    );
    let mut bad: Vec<RejectedLine> = Vec::new();
    let mut bad_count = 0;
    while let Some(batch) = rx.recv().await {
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

/// A batch computed and signed, ready to append.
struct ComputedBatch {
    impacts: Vec<NewImpact>,
    parsed: ParsedBatch,
}

/// The writing pass: read → compute and sign (next batch) while the previous one is appended.
async fn write(
    state: &AppState,
    args: &IngestArgs,
    options: ReadOptions,
    methodology: Arc<Methodology>,
) -> anyhow::Result<Summary> {
    let progress = progress_bar(&args.file, "ingesting");
    let (mut parsed_rx, reader) = spawn_reader(&args.file, options, progress.clone());
    let (computed_tx, mut computed_rx) = mpsc::channel::<ComputedBatch>(CONCURRENT_WRITES + 1);
    let signer = state.signer_handle();
    let model_version = state.config.ingest.model_version.clone();
    let correlation_id = format!("ingest:{}", uuid::Uuid::new_v4());
    let computer = tokio::spawn(async move {
        while let Some(mut parsed) = parsed_rx.recv().await {
            let context = ComputeContext::new(
                &methodology,
                &model_version,
                Some(correlation_id.clone()),
                UtcMicros::now(),
            );
            let trips = std::mem::take(&mut parsed.trips);
            let impacts = ledger::compute_all(trips, Arc::new(context), signer.clone()).await?;
            if computed_tx
                .send(ComputedBatch { impacts, parsed })
                .await
                .is_err()
            {
                break;
            }
        }
        Ok::<(), IngestError>(())
    });
    let mut rejected_file = match args.skip_invalid {
        true => Some(RejectedFile::create(&rejected_path(args))?),
        false => None,
    };
    let policy = if args.skip_invalid {
        ConflictPolicy::SkipConflicting
    } else {
        ConflictPolicy::RejectAll
    };
    let mut summary = Summary::default();
    // A few transactions in flight keep the database busy while this process prepares the
    // next rows; outcomes still arrive in file order.
    let writes = futures::stream::poll_fn(|cx| computed_rx.poll_recv(cx))
        .map(|batch| async move {
            let outcome = ledger::append(&state.db, &batch.impacts, policy).await;
            (batch.parsed, outcome)
        })
        .buffered(concurrent_writes(state));
    let mut writes = std::pin::pin!(writes);
    while let Some((parsed, outcome)) = writes.next().await {
        let mut rejected = parsed.rejected;
        let outcome =
            outcome.map_err(|err| stopped(err, &parsed.lines, concurrent_writes(state)))?;
        for (index, item) in outcome.items.iter().enumerate() {
            if let Appended::Conflict(conflict) = item {
                rejected.push(RejectedLine {
                    line: parsed.lines.get(index).copied().unwrap_or_default(),
                    reason: format!(
                        "trip_id: GREENOS_DUPLICATE_IMPACT: trip {} already has a different impact under model version {}",
                        conflict.trip_id, conflict.model_version
                    ),
                    original: parsed.originals.get(index).cloned(),
                });
            }
        }
        let (accepted, duplicates) = (outcome.accepted(), outcome.duplicates());
        state
            .metrics
            .record_ingest(accepted, duplicates, rejected.len());
        summary.accepted += accepted;
        summary.duplicates += duplicates;
        summary.rejected += rejected.len();
        if let Some(file) = rejected_file.as_mut() {
            file.write(&rejected)?;
        }
    }
    reader.await.context("the file reader died")??;
    computer.await.context("the signing task died")??;
    if let Some(file) = rejected_file {
        file.finish()?;
    }
    progress.finish_and_clear();
    Ok(summary)
}

fn concurrent_writes(state: &AppState) -> usize {
    match state.db.get_database_backend() {
        DbBackend::Postgres => CONCURRENT_WRITES,
        _ => 1,
    }
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
fn stopped(err: IngestError, lines: &[usize], writers: usize) -> anyhow::Error {
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
                "GREENOS_DUPLICATE_IMPACT: {} trip(s) conflict with recorded impacts; their batch was not written (the batches before it, and up to {} after it, were; re-running the file is safe):{}",
                conflicts.len(),
                writers - 1,
                listed.concat()
            )
        }
        other => anyhow::Error::new(other).context("cannot write a batch"),
    }
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
