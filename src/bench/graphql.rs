//! `greenos bench graphql`: dashboard queries on a large ledger — a 1 000-impact page at the
//! start and deep in the ledger (keyset cursors), `impactTotals` by country and month, and a
//! list of 50 exports with their aggregation — timed over the in-process server, with the CPU
//! they cost beside each latency.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::bench::cpu::CpuSnapshot;
use crate::bench::seed::{TripIds, seed, template};
use crate::bench::{BenchBackend, BenchScratch, cpus};
use crate::config::{Config, Vars};
use crate::server::Background;

/// `greenos bench graphql [--backend sqlite|postgres] [--impacts 1000000] [--requests 30]`.
#[derive(Clone, Debug, Args)]
pub struct BenchGraphqlArgs {
    /// The store to measure.
    #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
    pub backend: BenchBackend,
    /// Impacts seeded in the ledger.
    #[arg(long, default_value_t = 1_000_000)]
    pub impacts: u64,
    /// Requests timed per query.
    #[arg(long, default_value_t = 30)]
    pub requests: usize,
    /// The PostgreSQL server for `--backend postgres` (default: GREENOS_DATABASE_URL).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Exports listed by the list query.
const EXPORTS: usize = 50;

const PAGE_FIELDS: &str = "tripId countryCode eventTimestamp distanceKm co2AvoidedKg ledgerSeq";

/// Runs the benchmark and prints its table.
pub async fn run(mut vars: Vars, args: &BenchGraphqlArgs) -> anyhow::Result<()> {
    let scratch =
        BenchScratch::prepare(&mut vars, args.backend, args.database_url.as_deref()).await?;
    let result = measure(&vars, args).await;
    scratch.drop().await;
    let report = result?;
    println!(
        "\ngreenos bench graphql --backend {:?} --impacts {} ({} CPUs)\n",
        args.backend,
        args.impacts,
        cpus()
    );
    println!("{report}");
    Ok(())
}

async fn measure(vars: &Vars, args: &BenchGraphqlArgs) -> anyhow::Result<String> {
    let state = AppState::build(Config::from_vars(vars)?).await?;
    let started = Instant::now();
    let template = template(&state).await?;
    seed(
        state.services.database(),
        &template,
        0,
        args.impacts,
        1,
        TripIds::Timed,
    )
    .await?;
    eprintln!(
        "seeded {} impacts in {:.1} s",
        args.impacts,
        started.elapsed().as_secs_f64()
    );
    // Closed, empty quarters: the list query reads their rows, never their payloads.
    let ctx = greenos_core::context::RequestContext::system("bench");
    for n in 0..EXPORTS {
        let year = 2005 + n / 4;
        let month = 1 + 3 * (n % 4);
        state
            .services
            .mrv()
            .create_export(&ctx, "3M", &format!("{year}-{month:02}-01"))
            .await
            .map_err(|e| anyhow::anyhow!("export {n}: {e}"))?;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/graphql", listener.local_addr()?);
    let server = Background::spawn(listener, state.clone());
    let client = reqwest::Client::new();
    let result = async {
        let last = post(
            &client,
            &url,
            &format!("{{ impacts(last: 1000) {{ pageInfo {{ startCursor }} edges {{ node {{ {PAGE_FIELDS} }} }} }} }}"),
        )
        .await?;
        let deep_cursor = last["impacts"]["pageInfo"]["startCursor"].clone();
        let middle = post(
            &client,
            &url,
            "{ impacts(first: 1, filter: {to: \"2026-01-06T00:00:00Z\"}, orderBy: EVENT_TIMESTAMP_DESC) { pageInfo { endCursor } edges { node { tripId } } } }",
        )
        .await?;
        let by_time_cursor = middle["impacts"]["pageInfo"]["endCursor"].clone();
        let queries = [
            (
                "1 000-impact page, first page (LEDGER_SEQ_ASC)",
                format!("{{ impacts(first: 1000) {{ edges {{ cursor node {{ {PAGE_FIELDS} }} }} }} }}"),
                args.requests,
            ),
            (
                "1 000-impact page, deep in the ledger (before the last page)",
                format!("{{ impacts(last: 1000, before: {deep_cursor}) {{ edges {{ cursor node {{ {PAGE_FIELDS} }} }} }} }}"),
                args.requests,
            ),
            (
                "1 000-impact page, first page (EVENT_TIMESTAMP_DESC)",
                format!("{{ impacts(first: 1000, orderBy: EVENT_TIMESTAMP_DESC) {{ edges {{ cursor node {{ {PAGE_FIELDS} }} }} }} }}"),
                args.requests,
            ),
            (
                "1 000-impact page, mid-ledger (EVENT_TIMESTAMP_DESC, after a cursor)",
                format!("{{ impacts(first: 1000, after: {by_time_cursor}, orderBy: EVENT_TIMESTAMP_DESC) {{ edges {{ cursor node {{ {PAGE_FIELDS} }} }} }} }}"),
                args.requests,
            ),
            (
                "impactTotals(groupBy: [COUNTRY, MONTH]), whole ledger",
                "{ impactTotals(groupBy: [COUNTRY, MONTH]) { countryCode month impactsCount totalCo2AvoidedKg } }".to_owned(),
                args.requests.clamp(1, 5),
            ),
            (
                "exports(first: 50) with aggregation",
                "{ exports(first: 50) { edges { node { exportId period periodEnd aggregation { impactsCount totalCo2AvoidedKg byCountry { countryCode totalCo2AvoidedKg } } } } } }".to_owned(),
                args.requests,
            ),
        ];
        let mut report = String::from(
            "| query | requests | p50 | p95 | max | CPU per request (greenos + postgres) |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for (what, query, requests) in queries {
            let mut samples = Vec::with_capacity(requests);
            let cpu = CpuSnapshot::take();
            for _ in 0..requests {
                let started = Instant::now();
                post(&client, &url, &query).await?;
                samples.push(started.elapsed());
            }
            let cpu = CpuSnapshot::take().since(&cpu);
            samples.sort();
            let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            writeln!(
                report,
                "| {what} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} + {:.1} ms |",
                samples.len(),
                ms(at(0.5)),
                ms(at(0.95)),
                ms(at(1.0)),
                ms(cpu.own) / samples.len() as f64,
                ms(cpu.postgres) / samples.len() as f64,
            )?;
            eprintln!("timed: {what}");
        }
        anyhow::Ok(report)
    }
    .await;
    server.stop().await;
    state.services.database().clone().close().await.ok();
    result
}

/// Posts one query; refuses an answer with errors.
async fn post(client: &reqwest::Client, url: &str, query: &str) -> anyhow::Result<Value> {
    let body: Value = client
        .post(url)
        .json(&json!({"query": query}))
        .send()
        .await?
        .json()
        .await?;
    if let Some(errors) = body.get("errors") {
        bail!("the query failed: {errors}");
    }
    Ok(body["data"].clone())
}
