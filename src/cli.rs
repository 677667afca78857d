//! The `greenos` command line: one binary, role subcommands.

use std::future::Future;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use greenos_core::services::backend_name;
use greenos_jobs::consumer::TripConsumer;
use greenos_jobs::integrator::LogIntegrator;
use greenos_jobs::relay::OutboxRelay;
use greenos_jobs::scheduler::ExportScheduler;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::bench::{self, BenchArgs};
use crate::config::{Config, Environment, Vars};
use crate::export::{self, EvidenceArgs, ExportArgs};
use crate::ingest::{self, IngestArgs};
use crate::transparency::{self, LogAction};
use crate::verify::{self, VerifyArgs};
use crate::{db, keygen, server, telemetry};

/// GreenOS: verifiable avoided-CO2 impacts and MRV exports.
#[derive(Debug, Parser)]
#[command(name = "greenos", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the REST API, GraphQL and the background jobs: scheduled MRV exports, the outbox
    /// relay, the trip_completed.v1 consumer and the transparency log's integrator (migrates
    /// the database first).
    Serve {
        /// Which part of the service this process runs.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Load trips from a JSON Lines or CSV file into the ledger (streamed, batched, all cores).
    Ingest(IngestArgs),
    /// Measure throughput on this machine (`greenos bench ingest`).
    Bench(BenchArgs),
    /// Build, sign and store the MRV export of one calendar window.
    Export(ExportArgs),
    /// Write the auditor's evidence package of one export (a ZIP archive) to a file.
    Evidence(EvidenceArgs),
    /// Verify an MRV export artifact or evidence package offline, with published keys alone.
    Verify(VerifyArgs),
    /// Check a GreenOS transparency log from outside: monitor its checkpoints, verify that a
    /// trip's impact is in it.
    Log {
        /// What to do.
        #[command(subcommand)]
        action: LogAction,
    },
    /// Operate the transactional outbox.
    Outbox {
        /// What to do.
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// Print a new Ed25519 seed with its public key and fingerprint (no database needed).
    Keygen {
        /// The version name the new key will have in the ring.
        #[arg(long, default_value = "v1")]
        key_version: String,
        /// Also print a new HMAC-SHA256 secret for `GREENOS_SIGNING_KEYS_JSON`.
        #[arg(long)]
        hmac: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `greenos outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Put FAILED (dead-lettered) events back in line for the relay, attempts reset, one audit
    /// row each.
    Replay {
        /// Only these events (repeatable).
        #[arg(long = "event-id")]
        event_ids: Vec<String>,
        /// Every FAILED event (required when no --event-id or --topic narrows the replay).
        #[arg(long)]
        all_failed: bool,
        /// Only the events of this topic, e.g. esg_calculated.v1.
        #[arg(long)]
        topic: Option<String>,
    },
}

/// What a `serve` process runs, so operators can split API replicas from workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// The API and the background jobs in one process.
    All,
    /// The REST API and GraphQL.
    Api,
    /// The background jobs: scheduled exports, the outbox relay, the trip consumer, the log
    /// integrator.
    Worker,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen {
            key_version,
            hmac,
            json,
        } => keygen::run(&key_version, hmac, json),
        Command::Serve { role } => serve(load_config()?, role, shutdown_signal()).await,
        Command::Ingest(args) => {
            let state = AppState::build(load_config()?).await?;
            let summary = ingest::run(&state, &args).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Bench(args) => {
            load_config()?;
            bench::run(Vars::from_process_env(), &args).await
        }
        Command::Export(args) => {
            let state = AppState::build(load_config()?).await?;
            export::run(&state, &args).await
        }
        Command::Evidence(args) => {
            let state = AppState::build(load_config()?).await?;
            export::evidence(&state, &args).await
        }
        Command::Verify(args) => verify::run(&args).await,
        Command::Log { action } => transparency::run(&action).await,
        Command::Outbox {
            action:
                OutboxAction::Replay {
                    event_ids,
                    all_failed,
                    topic,
                },
        } => {
            if event_ids.is_empty() && topic.is_none() && !all_failed {
                anyhow::bail!(
                    "name the events to replay with --event-id or --topic, or replay every FAILED event with --all-failed"
                );
            }
            let state = AppState::build(load_config()?).await?;
            let replayed = state
                .services
                .outbox()
                .replay(&event_ids, topic.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("cannot replay the outbox: {e}"))?;
            println!("{replayed} FAILED event(s) re-queued for the outbox relay");
            Ok(())
        }
        Command::Migrate => {
            let config = load_config()?;
            let db = db::connect(&config.database)
                .await
                .context("cannot open the database (GREENOS_DATABASE_URL)")?;
            db::migrate(&db).await.context("migration failed")?;
            println!(
                "migrations applied ({})",
                backend_name(db.get_database_backend())
            );
            Ok(())
        }
    }
}

/// Reads the configuration and starts logging; warns about unknown `GREENOS_*` variables.
pub fn load_config() -> anyhow::Result<Config> {
    let vars = Vars::from_process_env();
    let config = Config::from_vars(&vars)?;
    telemetry::init(&config.log);
    for unknown in vars.unknown() {
        tracing::warn!(
            variable = unknown,
            "unknown GREENOS_* variable ignored (a typo?)"
        );
    }
    Ok(config)
}

/// Starts the service and runs until `shutdown` completes.
pub async fn serve(
    config: Config,
    role: Role,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bind = config.http.bind;
    let metrics_bind = config.http.metrics_bind;
    let environment = config.environment;
    let state = AppState::build(config).await?;
    // One shutdown, seen by the main listener and the metrics listener alike.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
        }
    };
    let metrics_server = match metrics_bind {
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (GREENOS_METRICS_BIND)"))?;
            tracing::info!(%address, "metrics listening (GET /metrics, no token)");
            Some(tokio::spawn(server::serve_metrics(
                listener,
                state.clone(),
                until_stopped(),
            )))
        }
        None => None,
    };
    if environment == Environment::Dev {
        tracing::warn!("GREENOS_ENV=dev: development mode, not for production data");
    }
    let scheduler = match role {
        Role::Api => None,
        Role::All | Role::Worker => start_jobs(&state).await?,
    };
    let relay = match role {
        Role::Api => None,
        Role::All | Role::Worker => Some(OutboxRelay::start(
            state.services.clone(),
            state.redis.clone(),
            state.config.relay.clone(),
        )),
    };
    let consumer = match role {
        Role::Api => None,
        Role::All | Role::Worker => Some(TripConsumer::start(
            state.services.clone(),
            state.redis.clone(),
            state.config.consumer.clone(),
        )),
    };
    let integrator = match role {
        Role::Api => None,
        Role::All | Role::Worker => Some(LogIntegrator::start(
            state.services.clone(),
            state.config.transparency_log.pacing,
        )),
    };
    let served = if role == Role::Worker {
        tracing::info!(
            "worker role: scheduled exports, the outbox relay, the trip consumer and the log integrator run; no HTTP listener"
        );
        until_stopped().await;
        Ok(())
    } else {
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} (GREENOS_BIND)"))?;
        tracing::info!(address = %bind, backend = backend_name(state.services.database().get_database_backend()), "GreenOS listening");
        server::serve_app(listener, state, until_stopped())
            .await
            .context("HTTP server failed")
    };
    if let Some(metrics_server) = metrics_server
        && let Ok(Err(err)) = metrics_server.await
    {
        tracing::warn!(error = %err, "the metrics listener failed");
    }
    if let Some(consumer) = consumer {
        consumer.shutdown().await;
    }
    if let Some(relay) = relay {
        relay.shutdown().await;
    }
    if let Some(integrator) = integrator {
        integrator.shutdown().await;
    }
    if let Some(scheduler) = scheduler {
        scheduler.shutdown().await;
    }
    tracing::info!("GreenOS stopped");
    served
}

/// Starts the background jobs of the worker role: the scheduled exports, unless
/// `GREENOS_EXPORT_SCHEDULE=off`.
async fn start_jobs(state: &AppState) -> anyhow::Result<Option<ExportScheduler>> {
    let schedule = state.config.exports.clone();
    if schedule.periods.is_empty() {
        tracing::info!("GREENOS_EXPORT_SCHEDULE=off: no scheduled exports");
        return Ok(None);
    }
    Ok(Some(
        ExportScheduler::start(state.services.clone(), schedule).await?,
    ))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining requests");
}
