//! `greenos export --period 3M --period-end 2026-04-01`: the same engine as
//! `POST /api/v2/esg/mrv/export`, from the command line (for operators and the benchmark); and
//! `greenos evidence EXPORT_ID -o FILE.zip`, the evidence package of
//! `GET /api/v2/esg/mrv/export/{export_id}/evidence`, written to a file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use greenos_core::context::RequestContext;
use greenos_core::error_code::DomainError;
use greenos_core::mrv::{ExportRecord, MrvError};
use tokio::io::AsyncWriteExt;

use crate::app::AppState;

/// `greenos export --period 3M|6M|12M --period-end DATE [--json]`.
#[derive(Clone, Debug, Args)]
pub struct ExportArgs {
    /// `3M`, `6M` or `12M`.
    #[arg(long)]
    pub period: String,
    /// The end of the window, a calendar boundary: `2026-04-01` or `2026-04-01T00:00:00Z`.
    #[arg(long)]
    pub period_end: String,
    /// Print the export's metadata as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Builds, signs and stores one export, and prints what was produced.
pub async fn run(state: &AppState, args: &ExportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let record = state
        .services
        .mrv()
        .create_export(
            &RequestContext::system("export"),
            &args.period,
            &args.period_end,
        )
        .await
        .map_err(coded)?;
    let elapsed = started.elapsed();
    if args.json {
        println!("{}", serde_json::to_string(&record)?);
    } else {
        print_summary(&record, elapsed.as_secs_f64());
    }
    Ok(())
}

fn print_summary(record: &ExportRecord, seconds: f64) {
    println!("export_id          {}", record.export_id);
    println!(
        "window             {} [{}, {})",
        record.period, record.period_start, record.period_end
    );
    println!("verification_hash  {}", record.verification_hash);
    println!(
        "impacts            {} ({} ledger rows, {} duplicates removed)",
        record.impacts_count, record.raw_impacts_count, record.duplicates_removed_count
    );
    println!(
        "methodology        {} ({})",
        record.methodology_version, record.methodology_hash
    );
    println!(
        "payload            {} bytes in {} chunks ({})",
        record.payload_size_bytes, record.chunk_count, record.chunk_codec
    );
    println!("duration           {seconds:.3} s");
    if let Some(peak) = peak_memory_mib() {
        println!("peak memory        {peak:.1} MiB (VmHWM)");
    }
    if let Some(cpu) = cpu_seconds() {
        println!("cpu time           {cpu:.3} s (user + system, whole process)");
    }
}

/// This process's CPU time (user + system, fields 14 and 15 of `/proc/self/stat`, in clock
/// ticks of 1/100 s), where the OS reports it: unlike wall time, it does not grow when other
/// processes share the cores.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// This process's peak resident memory in MiB (`VmHWM` of `/proc/self/status`), where the OS
/// reports it.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The error with its public code in front, as the API would answer it.
fn coded(err: MrvError) -> anyhow::Error {
    anyhow::anyhow!("{}: {err}", err.code().as_str())
}

/// `greenos evidence EXPORT_ID -o FILE.zip`.
#[derive(Clone, Debug, Args)]
pub struct EvidenceArgs {
    /// The export.
    pub export_id: String,
    /// Where to write the archive (replaced if it exists, only once it is complete).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Writes the evidence package of one export to a file, through a temporary file beside it so
/// that a failure leaves no partial archive under the requested name.
pub async fn evidence(state: &AppState, args: &EvidenceArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut archive = state
        .services
        .mrv()
        .evidence(&RequestContext::system("evidence"), &args.export_id)
        .await
        .map_err(coded)?;
    let directory = match args.output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let partial = tempfile::NamedTempFile::new_in(&directory)
        .with_context(|| format!("cannot write in {}", directory.display()))?;
    let mut file = tokio::fs::File::from_std(partial.reopen()?);
    let mut written: u64 = 0;
    while let Some(piece) = archive.next().await {
        let piece = piece.context("the archive could not be written")?;
        file.write_all(&piece).await?;
        written += piece.len() as u64;
    }
    file.flush().await?;
    file.sync_all().await?;
    partial
        .persist(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("archive            {}", args.output.display());
    println!("size               {written} bytes");
    println!(
        "duration           {:.3} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(peak) = peak_memory_mib() {
        println!("peak memory        {peak:.1} MiB (VmHWM)");
    }
    println!("next               unzip it and run python3 verify.py inside");
    Ok(())
}
