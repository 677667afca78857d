//! The application: configuration plus every long-lived handle, behind one cheap clone.

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use greenos_core::metrics::Metrics;
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

impl AppState {
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
