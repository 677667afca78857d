//! `greenos bench export`: MRV export build time and peak memory at growing window sizes, the
//! latency of `GET /api/v2/esg/mrv/export/{export_id}/verify`, and the offline `greenos verify`
//! of the largest artifact, against a fresh database.
//!
//! Each size gets its own calendar quarter, seeded in SQL: one real impact is computed and
//! signed through the ledger, then replicated under distinct `trip_id`s, countries, distances,
//! timestamps, and random-looking hashes and signatures of the real ones' lengths (an export
//! never re-checks per-impact signatures, so replicas cost it exactly what real impacts do, and
//! their payload compresses as a real one does), plus a share re-computed under a second model
//! version so that the de-duplication has work to do. Each export runs as a child `greenos export` process, which
//! reports its own duration and peak resident memory (VmHWM).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::bench::cpu::{CpuSnapshot, CpuUsage};
use crate::bench::seed::{TripIds, at_rest, seed, template};
use crate::bench::{BenchBackend, BenchScratch, cpus};
use crate::config::{Config, Vars};
use crate::server::Background;

/// `greenos bench export [--backend sqlite|postgres] [--impacts 10000,100000,1000000] ...`.
#[derive(Clone, Debug, Args)]
pub struct BenchExportArgs {
    /// The store to measure.
    #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
    pub backend: BenchBackend,
    /// Impacts per exported window, one export per size (at most four sizes).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 100_000, 1_000_000])]
    pub impacts: Vec<u64>,
    /// Percentage of trips also recorded under a second model version (duplicates removed by
    /// the export).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub duplicate_percent: u64,
    /// How the seeded trip ids relate to the trips' timestamps.
    #[arg(long, value_enum, default_value_t = TripIds::Timed)]
    pub trip_ids: TripIds,
    /// `GET .../verify` requests timed on the export nearest 100 000 impacts.
    #[arg(long, default_value_t = 30)]
    pub verify_requests: usize,
    /// Skip downloading the largest artifact and verifying it with `greenos verify`.
    #[arg(long)]
    pub no_offline: bool,
    /// The PostgreSQL server for `--backend postgres` (default: GREENOS_DATABASE_URL).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// What one `greenos export` child reported.
struct Built {
    impacts: u64,
    export_id: String,
    payload_bytes: u64,
    seconds: f64,
    peak_mib: f64,
    cpu_seconds: f64,
    wall: Duration,
    /// The whole machine's CPU over the child's run (GreenOS and PostgreSQL).
    machine: CpuUsage,
}

/// Runs the export benchmark and prints its tables.
pub async fn run(mut vars: Vars, args: &BenchExportArgs) -> anyhow::Result<()> {
    if args.impacts.is_empty() || args.impacts.len() > 4 {
        bail!("--impacts takes one to four sizes");
    }
    let scratch =
        BenchScratch::prepare(&mut vars, args.backend, args.database_url.as_deref()).await?;
    let result = measure(&vars, args, &scratch.database.url, scratch.path()).await;
    scratch.drop().await;
    let report = result?;
    println!(
        "\ngreenos bench export --backend {:?} ({} CPUs)\n",
        args.backend,
        cpus()
    );
    println!("{report}");
    Ok(())
}

async fn measure(
    vars: &Vars,
    args: &BenchExportArgs,
    database_url: &str,
    dir: &Path,
) -> anyhow::Result<String> {
    let state = AppState::build(Config::from_vars(vars)?).await?;
    let template = template(&state).await?;
    let mut built = Vec::new();
    for (quarter, &impacts) in args.impacts.iter().enumerate() {
        let started = Instant::now();
        seed(
            state.services.database(),
            &template,
            quarter,
            impacts,
            args.duplicate_percent,
            args.trip_ids,
        )
        .await?;
        eprintln!(
            "seeded {impacts} impacts in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // The worker's integrator appends rows to the log as they arrive; a freshly seeded
        // ledger is integrated here, then put at rest again (the leaves' statistics fresh, as
        // autovacuum has them by the time a quarter closes), so that the export is timed alone.
        let started = Instant::now();
        state.services.log().integrate_all().await?;
        at_rest(state.services.database()).await?;
        eprintln!(
            "integrated the log in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let period_end = format!("2026-{:02}-01", 4 + 3 * quarter);
        let cpu = CpuSnapshot::take();
        let (export, wall) = child_export(database_url, &dir.join("data"), &period_end).await?;
        let machine = CpuSnapshot::take().since(&cpu);
        eprintln!("exported {impacts} impacts: {export}");
        built.push(parse_export(impacts, &export, wall, machine)?);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let server = Background::spawn(listener, state.clone());
    let client = reqwest::Client::new();
    let mut report = build_table(args, &built);
    let result = async {
        let target = built
            .iter()
            .min_by_key(|b| b.impacts.abs_diff(100_000))
            .context("no export")?;
        let latencies = verify_latency(&client, &address, target, args.verify_requests).await?;
        writeln!(report, "\n{latencies}")?;
        if !args.no_offline {
            let largest = built
                .iter()
                .max_by_key(|b| b.impacts)
                .context("no export")?;
            writeln!(
                report,
                "{}",
                offline(&client, &address, database_url, largest, dir).await?
            )?;
        }
        anyhow::Ok(())
    }
    .await;
    server.stop().await;
    state.services.database().clone().close().await.ok();
    result.map(|()| report)
}

/// Runs `greenos export` as a child process; answers its output and wall time.
async fn child_export(
    database_url: &str,
    data_dir: &Path,
    period_end: &str,
) -> anyhow::Result<(String, Duration)> {
    let exe = std::env::current_exe().context("cannot find the greenos binary")?;
    let mut command = Command::new(exe);
    command
        .args(["export", "--period", "3M", "--period-end", period_end])
        .env("GREENOS_DATABASE_URL", database_url)
        .env("GREENOS_DATA_DIR", data_dir)
        .env("GREENOS_ENV", "dev")
        // Its logs (phase timings at `GREENOS_LOG=info`) go to the console.
        .stderr(std::process::Stdio::inherit());
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let wall = started.elapsed();
    if !output.status.success() {
        bail!("greenos export failed (its error is above)");
    }
    Ok((String::from_utf8_lossy(&output.stdout).into_owned(), wall))
}

/// The value after `label` on its line of the command's summary.
fn field<'a>(output: &'a str, label: &str) -> Option<&'a str> {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .map(str::trim)
}

fn number(output: &str, label: &str) -> anyhow::Result<f64> {
    field(output, label)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {label:?} in the command's output"))
}

fn parse_export(
    impacts: u64,
    output: &str,
    wall: Duration,
    machine: CpuUsage,
) -> anyhow::Result<Built> {
    Ok(Built {
        impacts,
        export_id: field(output, "export_id")
            .context("no export_id in the output of greenos export")?
            .to_owned(),
        payload_bytes: number(output, "payload")? as u64,
        seconds: number(output, "duration")?,
        peak_mib: number(output, "peak memory")?,
        cpu_seconds: number(output, "cpu time")?,
        wall,
        machine,
    })
}

fn build_table(args: &BenchExportArgs, built: &[Built]) -> String {
    let mut out = String::from(
        "| impacts | duplicates removed | payload MiB | build s | impacts/s | peak RSS MiB | process wall s | process CPU s | machine µs/impact | cores busy |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for b in built {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.2} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {:.2} |",
            b.impacts,
            b.impacts * args.duplicate_percent / 100,
            b.payload_bytes as f64 / 1_048_576.0,
            b.seconds,
            b.impacts as f64 / b.seconds.max(1e-9),
            b.peak_mib,
            b.wall.as_secs_f64(),
            b.cpu_seconds,
            b.machine.machine_micros_per(b.impacts),
            b.machine.cores_busy()
        );
    }
    out
}

async fn verify_latency(
    client: &reqwest::Client,
    address: &str,
    target: &Built,
    requests: usize,
) -> anyhow::Result<String> {
    let url = format!(
        "{address}/api/v2/esg/mrv/export/{}/verify",
        target.export_id
    );
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests.max(1) {
        let started = Instant::now();
        let response = client.get(&url).send().await?;
        let status = response.status();
        response.bytes().await?;
        samples.push(started.elapsed());
        if !status.is_success() {
            bail!("verify answered {status}");
        }
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Ok(format!(
        "GET /api/v2/esg/mrv/export/{{id}}/verify on {} impacts ({:.1} MiB), {} requests: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        target.impacts,
        target.payload_bytes as f64 / 1_048_576.0,
        samples.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    ))
}

/// Downloads the artifact and verifies it with the offline command, as an auditor would.
async fn offline(
    client: &reqwest::Client,
    address: &str,
    database_url: &str,
    target: &Built,
    dir: &Path,
) -> anyhow::Result<String> {
    let path = dir.join("artifact.json");
    let started = Instant::now();
    let mut response = client
        .get(format!(
            "{address}/api/v2/esg/mrv/export/{}",
            target.export_id
        ))
        .send()
        .await?
        .error_for_status()?;
    let mut file = tokio::fs::File::create(&path).await?;
    let mut bytes = 0u64;
    while let Some(piece) = response.chunk().await? {
        bytes += piece.len() as u64;
        file.write_all(&piece).await?;
    }
    file.flush().await?;
    let download = started.elapsed();
    let key: serde_json::Value = client
        .get(format!("{address}/api/v2/esg/public-key"))
        .send()
        .await?
        .json()
        .await?;
    let public_key = key["public_key"]
        .as_str()
        .context("no public key")?
        .to_owned();
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg("verify")
        .arg(&path)
        .args(["--public-key", &public_key]);
    let started = Instant::now();
    let cpu = CpuSnapshot::take();
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let verify = started.elapsed();
    let verify_cpu = CpuSnapshot::take().since(&cpu);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The seeded rows carry random-looking hashes and signatures (`seed.rs`), so their own
    // proofs fail by design; the payload hash and the export's signature must hold. The
    // verifier does the same work either way, and that work is what is measured.
    if !stdout.contains("payload hash    OK") || !stdout.contains("ed25519         OK") {
        bail!("greenos verify failed on the downloaded artifact: {stdout}");
    }
    let verified = format!(
        "artifact of {} impacts ({:.1} MiB): downloaded in {:.2} s; `greenos verify` {:.2} s, {:.0} impacts/s, {} (seeded impacts fail their own proofs by design), peak RSS {:.0} MiB",
        target.impacts,
        bytes as f64 / 1_048_576.0,
        download.as_secs_f64(),
        verify.as_secs_f64(),
        target.impacts as f64 / verify.as_secs_f64().max(1e-9),
        format_args!(
            "machine {:.1} µs per impact, {:.1} of {} cores busy",
            verify_cpu.machine_micros_per(target.impacts),
            verify_cpu.cores_busy(),
            cpus()
        ),
        number(&stdout, "peak memory")?,
    );
    let archive = dir.join("evidence.zip");
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .args(["evidence", &target.export_id, "-o"])
        .arg(&archive)
        .env("GREENOS_DATABASE_URL", database_url)
        .env("GREENOS_DATA_DIR", dir.join("data"))
        .env("GREENOS_ENV", "dev")
        .stderr(std::process::Stdio::inherit());
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("greenos evidence failed (its error is above)");
    }
    Ok(format!(
        "{verified}\n\nevidence package of the same export: `greenos evidence` {:.2} s, {:.1} MiB, peak RSS {:.0} MiB",
        number(&stdout, "duration")?,
        number(&stdout, "size")? / 1_048_576.0,
        number(&stdout, "peak memory")?,
    ))
}
