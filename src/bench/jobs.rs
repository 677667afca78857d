//! `greenos bench jobs`: the outbox relay's rate to the local Redis and the `trip_completed.v1`
//! consumer's rate from a stream into the ledger, each with the CPU it costs per item.

use std::time::Duration;

use anyhow::bail;
use clap::Args;
use greenos_core::context::RequestContext;
use greenos_core::ledger::{BodyFormat, TripsBody, parse_body};
use greenos_jobs::consumer::{TRIP_STREAM, TripConsumer};
use greenos_jobs::relay::OutboxRelay;
use redis::AsyncCommands;

use crate::app::AppState;
use crate::bench::cpu::CpuSnapshot;
use crate::bench::measure::trip_json;
use crate::bench::{BenchBackend, BenchScratch, cpus};
use crate::config::{Config, Vars};

/// `greenos bench jobs [--backend sqlite|postgres] [--events 100000]`.
#[derive(Clone, Debug, Args)]
pub struct BenchJobsArgs {
    /// The store to measure.
    #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
    pub backend: BenchBackend,
    /// Events relayed, and trips consumed.
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
    /// The PostgreSQL server for `--backend postgres` (default: GREENOS_DATABASE_URL).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Runs the benchmark and prints its table.
pub async fn run(mut vars: Vars, args: &BenchJobsArgs) -> anyhow::Result<()> {
    let scratch =
        BenchScratch::prepare(&mut vars, args.backend, args.database_url.as_deref()).await?;
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    vars.set("GREENOS_REDIS_STREAM_PREFIX", prefix.clone());
    let result = measure(&vars, args, &prefix).await;
    scratch.drop().await;
    let report = result?;
    println!(
        "\ngreenos bench jobs --backend {:?} --events {} ({} CPUs)\n",
        args.backend,
        args.events,
        cpus()
    );
    println!("{report}");
    Ok(())
}

async fn measure(vars: &Vars, args: &BenchJobsArgs, prefix: &str) -> anyhow::Result<String> {
    let config = Config::from_vars(vars)?;
    let state = AppState::build(config.clone()).await?;
    let with_postgres = args.backend == BenchBackend::Postgres;
    let ctx = RequestContext::system("bench");
    for start in (0..args.events).step_by(1000) {
        let end = (start + 1000).min(args.events);
        let body: Vec<String> = (start..end).map(|i| trip_json("relay", i)).collect();
        let TripsBody::Batch(trips) =
            parse_body(BodyFormat::Json, format!("[{}]", body.join(",")).as_bytes())?
        else {
            bail!("a batch parsed as one trip");
        };
        state.services.ledger().ingest(&ctx, trips).await?;
    }
    let mut report = String::from(
        "| job | items | seconds | items/s | CPU per item |\n|---|---:|---:|---:|---|\n",
    );
    let redis = state.redis.clone();
    let mut conn = redis.get_multiplexed_async_connection().await?;

    // Progress is read from the service's own counters: a `COUNT(*)` every few milliseconds
    // would be measured with the job.
    let metrics = state.services.metrics();
    let published = metrics.outbox_published();
    let cpu = CpuSnapshot::take();
    let relay = OutboxRelay::start(state.services.clone(), redis.clone(), config.relay.clone());
    while metrics.outbox_published() < published + args.events as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let usage = CpuSnapshot::take().since(&cpu);
    relay.shutdown().await;
    let pending = state.services.outbox().refresh_pending().await?;
    if pending > 0 {
        bail!("{pending} events are still pending after the relay published them all");
    }
    row(
        &mut report,
        "outbox relay → Redis",
        args.events,
        usage.wall,
        usage.per_item(args.events, "event", with_postgres),
    );

    let stream = format!("{prefix}{TRIP_STREAM}");
    for start in (0..args.events).step_by(1000) {
        let mut pipe = redis::pipe();
        for i in start..(start + 1000).min(args.events) {
            pipe.xadd(&stream, "*", &[("payload", trip_json("consumed", i))])
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
    }
    let target = metrics.trips_accepted() + args.events as u64;
    let cpu = CpuSnapshot::take();
    let consumer = TripConsumer::start(
        state.services.clone(),
        redis.clone(),
        config.consumer.clone(),
    );
    while metrics.trips_accepted() < target {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let usage = CpuSnapshot::take().since(&cpu);
    consumer.shutdown().await;
    row(
        &mut report,
        "trip_completed.v1 consumer → ledger",
        args.events,
        usage.wall,
        usage.per_item(args.events, "trip", with_postgres),
    );

    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await?;
    if !keys.is_empty() {
        let _: () = conn.del(keys).await?;
    }
    state.services.database().clone().close().await.ok();
    Ok(report)
}

fn row(report: &mut String, what: &str, items: usize, elapsed: Duration, cpu: String) {
    use std::fmt::Write as _;
    let _ = writeln!(
        report,
        "| {what} | {items} | {:.2} | {:.0} | {cpu} |",
        elapsed.as_secs_f64(),
        items as f64 / elapsed.as_secs_f64().max(1e-9)
    );
}
