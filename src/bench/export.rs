//! `greenos bench export`: MRV export build time and peak memory at growing window sizes, the
//! latency of `GET /api/v2/esg/mrv/export/{export_id}/verify`, and the offline `greenos verify`
//! of the largest artifact, against a fresh database.
//!
//! Each size gets its own calendar quarter, seeded in SQL: one real impact is computed and
//! signed through the ledger, then replicated under distinct `trip_id`s, countries, distances
//! and timestamps (an export never re-checks per-impact signatures, so replicas cost it exactly
//! what real impacts do), plus a share re-computed under a second model version so that the
//! de-duplication has work to do. Each export runs as a child `greenos export` process, which
//! reports its own duration and peak resident memory (VmHWM).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use greenos_core::context::RequestContext;
use greenos_core::ledger::{self, parse_json_trip};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::app::AppState;
use crate::bench::{BenchBackend, BenchDatabase};
use crate::config::{Config, Vars};
use crate::router;

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
}

/// Runs the export benchmark and prints its tables.
pub async fn run(mut vars: Vars, args: &BenchExportArgs) -> anyhow::Result<()> {
    if args.impacts.is_empty() || args.impacts.len() > 4 {
        bail!("--impacts takes one to four sizes");
    }
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database = BenchDatabase::create(
        &vars,
        args.backend,
        args.database_url.as_deref(),
        scratch.path(),
    )
    .await?;
    let data_dir = scratch.path().join("data");
    vars.set("GREENOS_DATABASE_URL", database.url.clone())
        .set("GREENOS_ENV", "dev")
        .set("GREENOS_API_TOKENS_JSON", "")
        .set("GREENOS_DATA_DIR", data_dir.display().to_string());
    let result = measure(&vars, args, &database.url, scratch.path()).await;
    database.drop().await;
    let report = result?;
    println!(
        "\ngreenos bench export --backend {:?} ({} CPUs)\n",
        args.backend,
        std::thread::available_parallelism().map_or(1, usize::from)
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
        )
        .await?;
        eprintln!(
            "seeded {impacts} impacts in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let period_end = format!("2026-{:02}-01", 4 + 3 * quarter);
        let (export, wall) = child_export(database_url, &dir.join("data"), &period_end).await?;
        eprintln!("exported {impacts} impacts: {export}");
        built.push(parse_export(impacts, &export, wall)?);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router::router(state.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
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
                offline(&client, &address, largest, dir).await?
            )?;
        }
        anyhow::Ok(())
    }
    .await;
    let _ = stop.send(());
    let _ = server.await;
    state.services.database().clone().close().await.ok();
    result.map(|()| report)
}

/// The hashes and signatures of one real impact, replicated by [`seed`].
struct Template {
    methodology_version: String,
    columns: [String; 8],
}

async fn template(state: &AppState) -> anyhow::Result<Template> {
    let trip = br#"{"trip_id":"bench-template","user_id":"u-bench-000001","vehicle_id":"ev-bench-0001","country_code":"CI","geo_hash":"s0t5qd","event_timestamp":"2020-01-01T00:00:00Z","distance_km":12.5}"#;
    let trip = parse_json_trip(trip).map_err(|e| anyhow::anyhow!("template trip: {e:?}"))?;
    let outcome = state
        .services
        .ledger()
        .ingest(&RequestContext::system("bench"), vec![trip])
        .await?;
    let impact = outcome
        .items
        .first()
        .and_then(ledger::Appended::impact)
        .context("the template impact was not written")?;
    let s = &impact.signatures;
    let active = state.services.methodology().current().await?;
    Ok(Template {
        methodology_version: active.content.methodology_version,
        columns: [
            impact.event_hash.clone(),
            impact.checksum.clone(),
            s.signature.clone(),
            s.signature_algorithm.clone(),
            s.key_version.clone(),
            s.asym_signature.clone(),
            s.asym_algorithm.clone(),
            s.asym_key_version.clone(),
        ],
    })
}

/// Inserts `impacts` rows in quarter `quarter` of 2026, one per second from its first day, and
/// the same trips again under `co2-v2` for `duplicate_percent` of them.
async fn seed(
    db: &DatabaseConnection,
    template: &Template,
    quarter: usize,
    impacts: u64,
    duplicate_percent: u64,
) -> anyhow::Result<()> {
    let start = format!("2026-{:02}-01 00:00:00", 1 + 3 * quarter);
    let [
        event_hash,
        checksum,
        signature,
        signature_algorithm,
        key_version,
        asym_signature,
        asym_algorithm,
        asym_key_version,
    ] = &template.columns;
    let version = &template.methodology_version;
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let (series, trip_id, event_timestamp, now) = if postgres {
        (
            "generate_series(1::bigint, {count}::bigint) AS s(n)".to_owned(),
            format!("'q{quarter}-' || lpad(n::text, 8, '0')"),
            format!("TIMESTAMPTZ '{start}+00' + make_interval(secs => n)"),
            "now()",
        )
    } else {
        (
            "seq".to_owned(),
            format!("'q{quarter}-' || printf('%08d', n)"),
            format!("strftime('%Y-%m-%dT%H:%M:%S', '{start}', '+' || n || ' seconds') || '+00:00'"),
            "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')",
        )
    };
    let insert = |count: u64, model_version: &str, every: u64| {
        let prefix = if postgres {
            String::new()
        } else {
            format!(
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {count}) "
            )
        };
        format!(
            "{prefix}INSERT INTO esg_impact_ledger (trip_id, user_id, vehicle_id, country_code, geo_hash, \
             event_timestamp, distance_km_micro, thermal_factor_local_micro, ev_factor_local_micro, \
             co2_avoided_kg_micro, model_version, methodology_version, event_hash, checksum, signature, \
             signature_algorithm, key_version, asym_signature, asym_algorithm, asym_key_version, \
             correlation_id, created_at) \
             SELECT {trip_id}, 'u-bench-000001', 'ev-bench-0001', \
             CASE n % 3 WHEN 0 THEN 'CI' WHEN 1 THEN 'KE' ELSE 'SN' END, 's0t5qd', {event_timestamp}, \
             (n % 50000 + 1) * 1000, 192000, CASE n % 3 WHEN 0 THEN 48000 WHEN 1 THEN 12000 ELSE 75000 END, \
             (n % 50000 + 1) * 1000 * (192000 - CASE n % 3 WHEN 0 THEN 48000 WHEN 1 THEN 12000 ELSE 75000 END) / 1000000, \
             '{model_version}', '{version}', '{event_hash}', '{checksum}', '{signature}', \
             '{signature_algorithm}', '{key_version}', '{asym_signature}', '{asym_algorithm}', \
             '{asym_key_version}', NULL, {now} FROM {series} WHERE n % {every} = 0",
            series = series.replace("{count}", &count.to_string()),
        )
    };
    db.execute_unprepared(&insert(impacts, "co2-v1", 1)).await?;
    if let Some(every) = 100u64.checked_div(duplicate_percent) {
        db.execute_unprepared(&insert(impacts, "co2-v2", every))
            .await?;
    }
    // The ledger at rest before the export starts: statistics fresh, the seeding's dirty pages
    // written out, so that the export is not timed flushing them.
    if postgres {
        db.execute_unprepared("ANALYZE esg_impact_ledger").await?;
        db.execute_unprepared("CHECKPOINT").await?;
    } else {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    Ok(())
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

fn parse_export(impacts: u64, output: &str, wall: Duration) -> anyhow::Result<Built> {
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
    })
}

fn build_table(args: &BenchExportArgs, built: &[Built]) -> String {
    let mut out = String::from(
        "| impacts | duplicates removed | payload MiB | build s | impacts/s | peak RSS MiB | process wall s | process CPU s |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for b in built {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.2} | {:.0} | {:.0} | {:.2} | {:.1} |",
            b.impacts,
            b.impacts * args.duplicate_percent / 100,
            b.payload_bytes as f64 / 1_048_576.0,
            b.seconds,
            b.impacts as f64 / b.seconds.max(1e-9),
            b.peak_mib,
            b.wall.as_secs_f64(),
            b.cpu_seconds
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
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let verify = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("greenos verify failed on the downloaded artifact: {stdout}");
    }
    Ok(format!(
        "artifact of {} impacts ({:.1} MiB): downloaded in {:.2} s; `greenos verify` {:.2} s, peak RSS {:.0} MiB",
        target.impacts,
        bytes as f64 / 1_048_576.0,
        download.as_secs_f64(),
        verify.as_secs_f64(),
        number(&stdout, "peak memory")?,
    ))
}
