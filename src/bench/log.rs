//! `greenos bench log`: the transparency log's integration rate over a seeded ledger, the
//! latency of inclusion and consistency proofs at that size, and ingest over HTTP with and
//! without the integrator running, each rate with the machine's CPU per item.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use greenos_core::log::Integration;
use greenos_core::services::LogService;
use greenos_jobs::integrator::LogIntegrator;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::bench::cpu::CpuSnapshot;
use crate::bench::measure::{percentile, post_all, trip_json};
use crate::bench::seed::{TripIds, at_rest, seed, template};
use crate::bench::{BenchBackend, BenchScratch, cpus};
use crate::config::{Config, Vars};
use crate::server::Background;

/// `greenos bench log [--backend sqlite|postgres] [--leaves 1000000] [--proofs 1000]`.
#[derive(Clone, Debug, Args)]
pub struct BenchLogArgs {
    /// The store to measure.
    #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
    pub backend: BenchBackend,
    /// Ledger rows seeded, then integrated.
    #[arg(long, default_value_t = 1_000_000)]
    pub leaves: u64,
    /// Inclusion proofs, and consistency proofs, asked for at that size.
    #[arg(long, default_value_t = 1_000)]
    pub proofs: usize,
    /// Trips ingested over HTTP (1 000-trip batches, 4 clients), without the integrator, with
    /// it, and without it again (0 skips all three).
    #[arg(long, default_value_t = 100_000)]
    pub ingest_trips: usize,
    /// The PostgreSQL server for `--backend postgres` (default: GREENOS_DATABASE_URL).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Runs the benchmark and prints its table.
pub async fn run(mut vars: Vars, args: &BenchLogArgs) -> anyhow::Result<()> {
    let scratch =
        BenchScratch::prepare(&mut vars, args.backend, args.database_url.as_deref()).await?;
    let result = measure(&vars, args).await;
    scratch.drop().await;
    let report = result?;
    println!(
        "\ngreenos bench log --backend {:?} --leaves {} ({} CPUs)\n",
        args.backend,
        args.leaves,
        cpus()
    );
    println!("{report}");
    Ok(())
}

async fn measure(vars: &Vars, args: &BenchLogArgs) -> anyhow::Result<String> {
    let state = AppState::build(Config::from_vars(vars)?).await?;
    let with_postgres = args.backend == BenchBackend::Postgres;
    let log = state.services.log();
    let mut report =
        String::from("| measure | items | seconds | rate | detail |\n|---|---:|---:|---:|---|\n");

    let template = template(&state).await?;
    eprintln!("seeding {} ledger rows…", args.leaves);
    seed(
        state.services.database(),
        &template,
        0,
        args.leaves,
        0,
        TripIds::Timed,
    )
    .await?;
    let cpu = CpuSnapshot::take();
    let mut integrated = 0u64;
    loop {
        match log.integrate().await? {
            Integration::Grew { added, size, .. } => {
                integrated += added;
                if size % 100_000 < added {
                    eprintln!("integrated {size} leaves");
                }
            }
            Integration::Idle { .. } => break,
            Integration::Busy => bail!("another integrator holds the log's lock"),
        }
    }
    let usage = CpuSnapshot::take().since(&cpu);
    row(
        &mut report,
        "integration (append, hash, sign, commit)",
        integrated,
        usage.wall,
        "leaves",
        usage.per_item(integrated as usize, "leaf", with_postgres),
    );

    let size = log.checkpoint().await?.tree_size;
    let mut inclusion = Vec::with_capacity(args.proofs);
    let mut consistency = Vec::with_capacity(args.proofs);
    let mut pick = Spread::new(args.leaves);
    for _ in 0..args.proofs {
        let n = pick.next();
        let started = Instant::now();
        let proof = log
            .inclusion(&format!("q0-{n:08}"), Some("co2-v1"), None)
            .await?;
        inclusion.push(started.elapsed());
        if proof.tree_size != size {
            bail!("a proof for {} leaves, not {size}", proof.tree_size);
        }
        let started = Instant::now();
        log.consistency(n.min(size), None).await?;
        consistency.push(started.elapsed());
    }
    for (what, mut latencies) in [
        (
            "inclusion proof (impact, leaf, hashes, checkpoint)",
            inclusion,
        ),
        ("consistency proof", consistency),
    ] {
        latencies.sort_unstable();
        let total: Duration = latencies.iter().sum();
        let _ = writeln!(
            report,
            "| {what} at {size} leaves | {} | {:.2} | {:.0}/s | p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms |",
            latencies.len(),
            total.as_secs_f64(),
            latencies.len() as f64 / total.as_secs_f64().max(1e-9),
            percentile(&latencies, 50),
            percentile(&latencies, 95),
            percentile(&latencies, 100),
        );
    }

    if args.ingest_trips > 0 {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/api/v2/esg/trips", listener.local_addr()?);
        let server = Background::spawn(listener, state.clone());
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(4)
            .build()?;
        // The run without the integrator comes first and again last: a run on a larger
        // ledger, after another run's writes, is slower by itself, and the two plain runs show
        // by how much.
        for (what, prefix, integrating) in [
            ("ingest over HTTP, no integrator", "plain", false),
            ("ingest over HTTP, integrator running", "logged", true),
            ("ingest over HTTP, no integrator, again", "again", false),
        ] {
            let bodies: Vec<String> = (0..args.ingest_trips)
                .step_by(1000)
                .map(|start| {
                    let end = (start + 1000).min(args.ingest_trips);
                    let trips: Vec<String> = (start..end).map(|i| trip_json(prefix, i)).collect();
                    format!("[{}]", trips.join(","))
                })
                .collect();
            // Each run starts with the log caught up, so the integrator takes exactly what the
            // run ingests, and the database at rest.
            let before = log.integrate_all().await?.tree_size;
            at_rest(state.services.database()).await?;
            let pacing = state.config.transparency_log.pacing;
            let integrator =
                integrating.then(|| LogIntegrator::start(state.services.clone(), pacing));
            let yields = state.services.metrics().log_yields();
            let cpu = CpuSnapshot::take();
            let (elapsed, _) = post_all(&client, &url, bodies, 4).await?;
            let usage = CpuSnapshot::take().since(&cpu);
            let mut what = what.to_owned();
            if let Some(integrator) = integrator {
                let ledger = before + args.ingest_trips as u64;
                let behind = ledger.saturating_sub(log.checkpoint().await?.tree_size);
                let caught_up = caught_up(&log, ledger).await?;
                integrator.shutdown().await;
                let yields = state.services.metrics().log_yields() - yields;
                what.push_str(&format!(
                    " (max delay {} ms): {behind} rows not yet leaves at the end, all in {:.2} s \
                     more, {yields} periods yielded",
                    pacing.max_delay.as_millis(),
                    caught_up.as_secs_f64()
                ));
            }
            row(
                &mut report,
                &what,
                args.ingest_trips as u64,
                elapsed,
                "trips",
                usage.per_item(args.ingest_trips, "trip", with_postgres),
            );
        }
        server.stop().await;
    }
    state.services.database().clone().close().await.ok();
    Ok(report)
}

/// How long the running integrator takes to bring the tree to `ledger` leaves.
async fn caught_up(log: &LogService<'_>, ledger: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while log.checkpoint().await?.tree_size < ledger {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the integrator did not catch up within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

fn row(report: &mut String, what: &str, items: u64, elapsed: Duration, unit: &str, cpu: String) {
    let _ = writeln!(
        report,
        "| {what} | {items} | {:.2} | {:.0} {unit}/s | {cpu} |",
        elapsed.as_secs_f64(),
        items as f64 / elapsed.as_secs_f64().max(1e-9)
    );
}

/// Seeded rows spread over the whole ledger, the same on every run (a multiplicative step
/// modulo the row count).
struct Spread {
    count: u64,
    at: u64,
}

impl Spread {
    fn new(count: u64) -> Spread {
        Spread { count, at: 0 }
    }

    /// A row number from 1 to `count`.
    fn next(&mut self) -> u64 {
        self.at = (self.at + 2_654_435_761) % self.count.max(1);
        self.at + 1
    }
}
