//! The one service layer (SPEC §2): every use case of GreenOS is a method reached from one
//! cheap-to-clone [`Services`] value, so REST handlers, GraphQL resolvers, jobs and CLI commands
//! stay thin adapters and a use case behaves the same whichever door it came through. Each
//! use case records its own metrics and logs its own outcome.
//!
//! The methods are grouped by domain: [`Services::ledger`], [`Services::mrv`],
//! [`Services::methodology`], [`Services::keys`].

mod bulk;
mod keys;
mod ledger;
mod load;
mod log;
mod methodology;
mod mrv;
mod outbox;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbBackend};

use crate::ledger::{
    AppendOutcome, ComputeContext, ConflictPolicy, IngestError, Prepared, SqliteWriter,
};
use crate::metrics::Metrics;
use crate::outbox::StreamProbe;
use crate::proof::Signer;

pub use bulk::BulkIngest;
pub use keys::{KeyService, PublicKeys};
pub use ledger::{IngestReply, LedgerService};
use load::AppendLoad;
pub use load::Yielding;
pub use log::{ConsistencyProof, InclusionProof, LogService, SignedCheckpoint, TileData};
pub use methodology::MethodologyService;
pub use mrv::{ArtifactDownload, ByteStream, MrvService, ScheduledExport};
pub use outbox::{OutboxError, OutboxService};

/// The settings the use cases need, read once by the composition root.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// The server's calculation model recorded on every new impact (`GREENOS_MODEL_VERSION`).
    pub model_version: String,
    /// How far past now an `event_timestamp` may lie (`GREENOS_MAX_FUTURE_SKEW_S`).
    pub max_future_skew: Duration,
    /// The transparency log's name and integration period.
    pub log: crate::log::LogSettings,
}

/// The database, the signer, the metrics and the settings, behind one `Arc`.
#[derive(Clone)]
pub struct Services(Arc<Inner>);

struct Inner {
    db: DatabaseConnection,
    signer: Arc<Signer>,
    metrics: Metrics,
    settings: ServiceSettings,
    streams: Option<Arc<dyn StreamProbe>>,
    /// What this process knows of the ledger rows left to integrate into the log, shared by
    /// the integrator job and the exports (each of which integrates first).
    log_horizon: Arc<tokio::sync::Mutex<crate::log::Horizon>>,
    /// On SQLite, this process's ledger appends queue for one writer thread with a connection
    /// of its own: the next one starts the moment the last commits, instead of polling
    /// SQLite's busy handler, which sleeps up to 100 ms between tries.
    appends: Arc<SqliteWriter>,
    /// How busy this process's appends keep it, which the log integrator yields to.
    append_load: Arc<AppendLoad>,
}

/// Whether the database answers, and which backend it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatabaseStatus {
    /// The database answered a ping in time.
    pub up: bool,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}

impl Services {
    /// Assembles the service layer over an open, migrated database.
    pub fn new(
        db: DatabaseConnection,
        signer: Arc<Signer>,
        metrics: Metrics,
        settings: ServiceSettings,
    ) -> Services {
        Services(Arc::new(Inner {
            db,
            signer,
            metrics,
            settings,
            streams: None,
            log_horizon: Arc::default(),
            appends: Arc::default(),
            append_load: Arc::default(),
        }))
    }

    /// The same services, whose outbox stats also read the streams through `probe`.
    pub fn with_stream_probe(self, probe: Arc<dyn StreamProbe>) -> Services {
        let inner = &self.0;
        Services(Arc::new(Inner {
            db: inner.db.clone(),
            signer: Arc::clone(&inner.signer),
            metrics: inner.metrics.clone(),
            settings: inner.settings.clone(),
            streams: Some(probe),
            log_horizon: Arc::clone(&inner.log_horizon),
            appends: Arc::clone(&inner.appends),
            append_load: Arc::clone(&inner.append_load),
        }))
    }

    fn log_horizon(&self) -> &tokio::sync::Mutex<crate::log::Horizon> {
        &self.0.log_horizon
    }

    /// Appends signed trips to the ledger in one transaction (`ledger::append`), one at a time
    /// per process on SQLite, several at once on PostgreSQL; an empty call touches nothing.
    pub async fn append(
        &self,
        prepared: Vec<Prepared>,
        context: &Arc<ComputeContext>,
        policy: ConflictPolicy,
    ) -> Result<AppendOutcome, IngestError> {
        if prepared.is_empty() {
            return Ok(AppendOutcome::default());
        }
        let started = std::time::Instant::now();
        let db = &self.0.db;
        let appended = match db.get_database_backend() {
            DbBackend::Postgres => crate::ledger::append(db, &prepared, context, policy).await,
            _ => {
                self.0
                    .appends
                    .append(db, prepared, Arc::clone(context), policy)
                    .await
            }
        };
        self.0.append_load.record(started.elapsed());
        appended
    }

    /// How busy this process's ledger appends keep it (the log integrator yields to them).
    pub(crate) fn append_load(&self) -> &AppendLoad {
        &self.0.append_load
    }

    fn stream_probe(&self) -> Option<&Arc<dyn StreamProbe>> {
        self.0.streams.as_ref()
    }

    /// Ingesting, reading and verifying impacts.
    pub fn ledger(&self) -> LedgerService<'_> {
        LedgerService::new(self)
    }

    /// Creating, reading, downloading and verifying MRV exports.
    pub fn mrv(&self) -> MrvService<'_> {
        MrvService::new(self)
    }

    /// The methodology registry.
    pub fn methodology(&self) -> MethodologyService<'_> {
        MethodologyService::new(self)
    }

    /// The transactional outbox.
    pub fn outbox(&self) -> OutboxService<'_> {
        OutboxService::new(self)
    }

    /// The transparency log.
    pub fn log(&self) -> LogService<'_> {
        LogService::new(self)
    }

    /// The public Ed25519 keys.
    pub fn keys(&self) -> KeyService<'_> {
        KeyService::new(self)
    }

    /// The metrics registry (rendered by `GET /metrics`; HTTP metrics are recorded by the
    /// HTTP layer, domain metrics only by the use cases).
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The signer, for the composition root's benchmarks.
    pub fn signer(&self) -> &Arc<Signer> {
        &self.0.signer
    }

    /// The database pool, for the composition root (migrations, benchmarks, shutdown); the
    /// doors never use it.
    pub fn database(&self) -> &DatabaseConnection {
        &self.0.db
    }

    /// Pings the database, waiting at most `timeout`.
    pub async fn database_status(&self, timeout: Duration) -> DatabaseStatus {
        let up = matches!(
            tokio::time::timeout(timeout, self.0.db.ping()).await,
            Ok(Ok(()))
        );
        DatabaseStatus {
            up,
            backend: backend_name(self.0.db.get_database_backend()),
        }
    }

    /// How many write transactions are worth having in flight: 3 on PostgreSQL; 1 on SQLite,
    /// which has a single writer (a second transaction would only sleep in the busy handler).
    pub fn concurrent_writers(&self) -> usize {
        match self.0.db.get_database_backend() {
            DbBackend::Postgres => 3,
            _ => 1,
        }
    }

    fn settings(&self) -> &ServiceSettings {
        &self.0.settings
    }
}

/// A short name of the backend, for health and logs.
pub fn backend_name(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "postgres",
        DbBackend::Sqlite => "sqlite",
        _ => "unsupported",
    }
}
