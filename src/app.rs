//! The application: configuration plus every long-lived handle, behind one cheap clone.

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use greenos_core::methodology;
use greenos_core::metrics::Metrics;
use greenos_core::proof::Signer;
use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::db;
use crate::security::Security;

/// Everything a request or job may need, built once at start-up.
pub struct App {
    /// The configuration, as loaded.
    pub config: Config,
    /// The database pool.
    pub db: DatabaseConnection,
    /// The metrics registry.
    pub metrics: Metrics,
    /// The Redis client (connections are made on demand; Redis may be down).
    pub redis: redis::Client,
    /// Keyrings, API tokens and the secret provider.
    pub security: Security,
}

/// Shared state of the HTTP handlers: one `Arc`, cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

/// The signer as an owned, cheap handle that can move onto worker threads (signing a large
/// batch runs on every core).
#[derive(Clone)]
pub struct SignerHandle(AppState);

impl Deref for SignerHandle {
    type Target = Signer;

    fn deref(&self) -> &Signer {
        &self.0.security.signer
    }
}

impl AppState {
    /// A handle on the signer for `greenos_core::ledger::ingest`.
    pub fn signer_handle(&self) -> SignerHandle {
        SignerHandle(self.clone())
    }

    /// Connects, migrates and assembles the application.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Secrets first: a misconfigured production process stops before touching anything.
        let security = Security::load(&config).await?;
        let db = db::connect(&config.database)
            .await
            .context("cannot open the database (GREENOS_DATABASE_URL)")?;
        db::migrate(&db)
            .await
            .context("cannot apply the database migrations")?;
        let metrics = Metrics::new().context("cannot register the metrics")?;
        start_methodology(&db, &config, &metrics).await?;
        let redis = redis::Client::open(config.redis.url.as_str())
            .context("invalid configuration: GREENOS_REDIS_URL is not a Redis URL")?;
        Ok(Self(Arc::new(App {
            config,
            db,
            metrics,
            redis,
            security,
        })))
    }
}

/// Bootstraps an empty methodology registry from configuration, exports the active-version
/// gauge and says which version ingestion will use.
async fn start_methodology(
    db: &DatabaseConnection,
    config: &Config,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let settings = &config.methodology;
    let bootstrapped = methodology::bootstrap_if_empty(db, settings)
        .await
        .context("cannot bootstrap the methodology registry")?;
    if let Some(created) = bootstrapped {
        tracing::info!(
            methodology_version = %created.methodology_version,
            methodology_hash = %created.methodology_hash,
            "the methodology registry was empty: bootstrapped from GREENOS_MRV_* configuration"
        );
    }
    let active = methodology::refresh_active_gauge(db, metrics)
        .await
        .context("cannot read the methodology registry")?;
    match active {
        Some(active) => {
            tracing::info!(
                methodology_version = %active.methodology_version,
                methodology_hash = %active.methodology_hash,
                geographic_scope = ?active.geographic_scope,
                "active methodology"
            );
            if active.methodology_version != settings.methodology_version {
                tracing::info!(
                    configured = %settings.methodology_version,
                    "GREENOS_MRV_* only bootstrap an empty registry; the registry's ACTIVE version is used"
                );
            }
        }
        None => tracing::warn!(
            "no methodology version is ACTIVE: trips are refused until an admin activates one"
        ),
    }
    Ok(())
}
