//! The measurements of `greenos bench ingest`: HTTP single and batch rates, where the time of a
//! batch goes (parse, compute and sign, database), and the bulk file command.

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use greenos_core::ledger::{self, BodyFormat, ComputeContext, ConflictPolicy, TripsBody};
use greenos_core::proof::UtcMicros;

use crate::app::AppState;
use crate::bench::cpu::CpuSnapshot;
use crate::bench::{BenchBackend, BenchIngestArgs};
use crate::ingest::{self, IngestArgs};

/// Batches timed, stage by stage, for the cost breakdown.
const BREAKDOWN_BATCHES: usize = 20;

/// One line of the report.
struct Row {
    what: String,
    trips: usize,
    elapsed: Duration,
    note: String,
}

/// The printed table.
pub(super) struct Report {
    rows: Vec<Row>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| measurement | trips | seconds | trips/s | notes |")?;
        writeln!(f, "|---|---:|---:|---:|---|")?;
        for row in &self.rows {
            let seconds = row.elapsed.as_secs_f64();
            writeln!(
                f,
                "| {} | {} | {:.2} | {:.0} | {} |",
                row.what,
                row.trips,
                seconds,
                row.trips as f64 / seconds.max(1e-9),
                row.note
            )?;
        }
        Ok(())
    }
}

/// One trip of the §4 schema as a JSON object; ids are unique per `prefix` and `i`.
pub(super) fn trip_json(prefix: &str, i: usize) -> String {
    let country = ["CI", "SN", "KE"][i % 3];
    format!(
        r#"{{"trip_id":"{prefix}-{i}","user_id":"u-{}","vehicle_id":"ev-{}","country_code":"{country}","geo_hash":"s0t5q","event_timestamp":"2026-02-{:02}T{:02}:{:02}:{:02}.{:06}Z","distance_km":{}.{:03}}}"#,
        i % 10_007,
        i % 997,
        1 + i % 28,
        i % 24,
        i % 60,
        (i / 60) % 60,
        i % 1_000_000,
        1 + i % 80,
        i % 1000
    )
}

/// Runs every measurement against the served application at `address`.
pub(super) async fn ingest(
    state: &AppState,
    address: &str,
    args: &BenchIngestArgs,
    dir: &Path,
) -> anyhow::Result<Report> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients.max(1))
        .build()?;
    let url = format!("{address}/api/v2/esg/trips");
    let mut rows = Vec::new();

    let singles: Vec<String> = (0..args.single_trips)
        .map(|i| trip_json("single", i))
        .collect();
    let with_postgres = args.backend == BenchBackend::Postgres;
    let cpu_before = CpuSnapshot::take();
    let (elapsed, mut latencies) = post_all(&client, &url, singles, args.clients).await?;
    let cpu = CpuSnapshot::take().since(&cpu_before);
    latencies.sort_unstable();
    rows.push(Row {
        what: "HTTP, one trip per request".to_owned(),
        trips: args.single_trips,
        elapsed,
        note: format!(
            "{} clients; latency p50 {:.1} ms, p95 {:.1} ms; {} (client included)",
            args.clients,
            percentile(&latencies, 50),
            percentile(&latencies, 95),
            cpu.per_item(args.single_trips, "trip", with_postgres)
        ),
    });

    let batch = usize::try_from(args.batch).unwrap_or(1000);
    let bodies: Vec<String> = (0..args.trips.div_ceil(batch))
        .map(|b| {
            let end = ((b + 1) * batch).min(args.trips);
            let items: Vec<String> = (b * batch..end).map(|i| trip_json("batch", i)).collect();
            format!("[{}]", items.join(","))
        })
        .collect();
    let cpu_before = CpuSnapshot::take();
    let (elapsed, mut latencies) = post_all(&client, &url, bodies, args.clients).await?;
    let cpu = CpuSnapshot::take().since(&cpu_before);
    latencies.sort_unstable();
    rows.push(Row {
        what: format!("HTTP, {batch} trips per request"),
        trips: args.trips,
        elapsed,
        note: format!(
            "{} clients; request p50 {:.0} ms, p95 {:.0} ms; {} (client included)",
            args.clients,
            percentile(&latencies, 50),
            percentile(&latencies, 95),
            cpu.per_item(args.trips, "trip", with_postgres)
        ),
    });

    rows.extend(breakdown(state, batch).await?);

    if args.file_trips > 0 {
        let path = dir.join("bench-trips.jsonl");
        write_file(&path, args.file_trips)?;
        let cpu_before = CpuSnapshot::take();
        let summary = ingest::run(
            state,
            &IngestArgs {
                file: path,
                format: None,
                skip_invalid: false,
                rejected_file: None,
                batch_size: args.batch,
            },
        )
        .await?;
        let cpu = CpuSnapshot::take().since(&cpu_before);
        if summary.accepted != args.file_trips {
            bail!(
                "the file ingest accepted {} of {} trips",
                summary.accepted,
                args.file_trips
            );
        }
        rows.push(Row {
            what: format!("`greenos ingest FILE` (JSON Lines, batches of {batch})"),
            trips: args.file_trips,
            elapsed: summary.elapsed,
            note: format!(
                "validation pass + writing pass, in-process; {}",
                cpu.per_item(args.file_trips, "trip", with_postgres)
            ),
        });
    }
    Ok(Report { rows })
}

/// Sends `bodies` with `clients` concurrent connections; every answer must be 201.
pub(super) async fn post_all(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<String>,
    clients: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let clients = clients.max(1);
    let mut shares: Vec<Vec<String>> = vec![Vec::new(); clients];
    for (i, body) in bodies.into_iter().enumerate() {
        shares[i % clients].push(body);
    }
    let started = Instant::now();
    let tasks: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let client = client.clone();
            let url = url.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(share.len());
                for body in share {
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    let status = response.status();
                    let text = response.text().await?;
                    if status != reqwest::StatusCode::CREATED {
                        bail!(
                            "ingest answered {status}: {}",
                            text.chars().take(300).collect::<String>()
                        );
                    }
                    latencies.push(sent.elapsed());
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("a bench client died")??);
    }
    Ok((started.elapsed(), latencies))
}

pub(super) fn percentile(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[at].as_secs_f64() * 1000.0
}

/// Times each stage of a batch in-process: parsing, computing and signing, the database append.
async fn breakdown(state: &AppState, batch: usize) -> anyhow::Result<Vec<Row>> {
    let model_version = state.config.ingest.model_version.as_str();
    let (mut parse, mut compute, mut append) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for b in 0..BREAKDOWN_BATCHES {
        let items: Vec<String> = (b * batch..(b + 1) * batch)
            .map(|i| trip_json("breakdown", i))
            .collect();
        let body = format!("[{}]", items.join(","));
        let started = Instant::now();
        let TripsBody::Batch(trips) = ledger::parse_body(BodyFormat::Json, body.as_bytes())? else {
            bail!("a batch parsed as a single trip");
        };
        parse += started.elapsed();
        let started = Instant::now();
        let active = state.services.methodology().current().await?;
        let skew = state.config.ingest.max_future_skew;
        let context = Arc::new(ComputeContext::new(
            &active,
            model_version,
            None,
            UtcMicros::now(),
            skew,
        ));
        let signer = Arc::clone(state.services.signer());
        let prepared = ledger::prepare_all(trips, Arc::clone(&context), signer).await?;
        compute += started.elapsed();
        let started = Instant::now();
        let outcome = state
            .services
            .append(prepared, &context, ConflictPolicy::RejectAll)
            .await?;
        append += started.elapsed();
        if outcome.accepted() != batch {
            bail!(
                "the breakdown batch accepted {} of {batch}",
                outcome.accepted()
            );
        }
    }
    let trips = BREAKDOWN_BATCHES * batch;
    let per_trip = |d: Duration| d.as_secs_f64() * 1e6 / trips as f64;
    let row = |what: &str, elapsed: Duration, note: &str| Row {
        what: what.to_owned(),
        trips,
        elapsed,
        note: format!("{:.1} µs per trip (wall); {note}", per_trip(elapsed)),
    };
    Ok(vec![
        row("breakdown: parse + validate", parse, "one thread"),
        row("breakdown: compute + hash + sign", compute, "all cores"),
        row(
            "breakdown: database append",
            append,
            "duplicate check + ledger + outbox, one transaction",
        ),
    ])
}

fn write_file(path: &Path, trips: usize) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::new(file);
    for i in 0..trips {
        out.write_all(trip_json("file", i).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
