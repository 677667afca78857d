//! `greenos bench ingest`: measures ingest throughput on the machine it runs on, against a fresh
//! database (a temporary SQLite file, or a new PostgreSQL database dropped afterwards), with the
//! application served in-process on an ephemeral port. Not a test: numbers go to
//! `docs/PERFORMANCE.md` with the command that produced them.

mod cpu;
mod export;
mod graphql;
mod jobs;
mod log;
mod measure;
mod seed;

use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sea_orm::{ConnectionTrait, Database};
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::config::{Config, Vars};
use crate::server::Background;

/// `greenos bench ...`.
#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub target: BenchTarget,
}

/// The benchmarks.
#[derive(Clone, Debug, Subcommand)]
pub enum BenchTarget {
    /// Single-trip and batch ingest over HTTP, a cost breakdown, and `greenos ingest FILE`.
    Ingest(BenchIngestArgs),
    /// MRV export build time and peak memory at growing sizes, and verify latency.
    Export(export::BenchExportArgs),
    /// Dashboard GraphQL queries on a large ledger: pages, totals, the export list.
    Graphql(graphql::BenchGraphqlArgs),
    /// The outbox relay to Redis and the trip_completed.v1 consumer into the ledger.
    Jobs(jobs::BenchJobsArgs),
    /// The transparency log: integration rate, proof latency, ingest with the integrator.
    Log(log::BenchLogArgs),
}

/// The database a benchmark runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchBackend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `--database-url`.
    Postgres,
}

/// `greenos bench ingest [--backend sqlite|postgres] [--trips N] [--batch 1000] ...`.
#[derive(Clone, Debug, Args)]
pub struct BenchIngestArgs {
    /// The store to measure.
    #[arg(long, value_enum, default_value_t = BenchBackend::Sqlite)]
    pub backend: BenchBackend,
    /// Trips sent in batches over HTTP.
    #[arg(long, default_value_t = 100_000)]
    pub trips: usize,
    /// Trips per HTTP batch.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,
    /// Trips sent one request each.
    #[arg(long, default_value_t = 5_000)]
    pub single_trips: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Lines of the generated JSON Lines file for `greenos ingest` (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub file_trips: usize,
    /// The PostgreSQL server for `--backend postgres` (default: GREENOS_DATABASE_URL); a
    /// database `greenos_bench_*` is created on it and dropped afterwards.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Runs a benchmark and prints its table.
pub async fn run(vars: Vars, args: &BenchArgs) -> anyhow::Result<()> {
    match &args.target {
        BenchTarget::Ingest(ingest) => run_ingest(vars, ingest).await,
        BenchTarget::Export(export) => export::run(vars, export).await,
        BenchTarget::Graphql(graphql) => graphql::run(vars, graphql).await,
        BenchTarget::Jobs(jobs) => jobs::run(vars, jobs).await,
        BenchTarget::Log(log) => log::run(vars, log).await,
    }
}

async fn run_ingest(mut vars: Vars, args: &BenchIngestArgs) -> anyhow::Result<()> {
    let scratch =
        BenchScratch::prepare(&mut vars, args.backend, args.database_url.as_deref()).await?;
    vars.set("GREENOS_BIND", "127.0.0.1:0");
    let result = async {
        let config = Config::from_vars(&vars)?;
        let state = AppState::build(config).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = format!("http://{}", listener.local_addr()?);
        let server = Background::spawn(listener, state.clone());
        let report = measure::ingest(&state, &address, args, scratch.path()).await;
        server.stop().await;
        state.services.database().clone().close().await.ok();
        report
    }
    .await;
    scratch.drop().await;
    let report = result?;
    println!(
        "\ngreenos bench ingest --backend {:?} ({} CPUs)\n",
        args.backend,
        cpus()
    );
    println!("{report}");
    Ok(())
}

/// The machine's CPUs, for a benchmark's headline.
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// One run's temporary directory and fresh database.
struct BenchScratch {
    dir: tempfile::TempDir,
    database: BenchDatabase,
}

impl BenchScratch {
    /// Creates both and writes into `vars` the settings every benchmark shares: the database,
    /// the dev environment, no API tokens and a data directory inside the scratch.
    async fn prepare(
        vars: &mut Vars,
        backend: BenchBackend,
        database_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let database = BenchDatabase::create(vars, backend, database_url, dir.path()).await?;
        vars.set("GREENOS_DATABASE_URL", database.url.clone())
            .set("GREENOS_ENV", "dev")
            // The bench talks to its own in-process server: authentication would only add noise.
            .set("GREENOS_API_TOKENS_JSON", "")
            .set(
                "GREENOS_DATA_DIR",
                dir.path().join("data").display().to_string(),
            );
        Ok(Self { dir, database })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Drops the PostgreSQL database; the directory goes with `self`.
    async fn drop(self) {
        self.database.drop().await;
    }
}

/// The fresh database of one run.
struct BenchDatabase {
    url: String,
    /// The server URL and database name to drop, for PostgreSQL.
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    async fn create(
        vars: &Vars,
        backend: BenchBackend,
        database_url: Option<&str>,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        match backend {
            BenchBackend::Sqlite => Ok(Self {
                url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                postgres: None,
            }),
            BenchBackend::Postgres => {
                let server = match database_url {
                    Some(url) => url.to_owned(),
                    None => Config::from_vars(vars)?.database.url,
                };
                if !server.starts_with("postgres") {
                    anyhow::bail!(
                        "--backend postgres needs a postgres:// URL (--database-url or GREENOS_DATABASE_URL)"
                    );
                }
                let name = format!("greenos_bench_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(server.as_str())
                    .await
                    .context("cannot connect to the PostgreSQL server")?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .context("cannot create the benchmark database")?;
                admin.close().await.ok();
                Ok(Self {
                    url: with_database(&server, &name),
                    postgres: Some((server, name)),
                })
            }
        }
    }

    async fn drop(self) {
        let Some((server, name)) = self.postgres else {
            return;
        };
        if let Ok(admin) = Database::connect(server.as_str()).await {
            let dropped = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            if let Err(err) = dropped {
                tracing::warn!(database = %name, error = %err, "cannot drop the benchmark database");
            }
        }
    }
}

/// `server` with its database name replaced by `name` (query parameters kept).
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, ""), |(b, q)| (b, q));
    let authority_end = base.find("://").map_or(0, |at| at + 3);
    let path_at = base[authority_end..]
        .find('/')
        .map_or(base.len(), |at| authority_end + at);
    let mut url = format!("{}/{name}", &base[..path_at]);
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_swapped() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "b"),
            "postgres://u@h:5432/b"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "b"), "postgres://u@h/b");
    }
}
