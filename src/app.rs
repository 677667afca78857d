//! The application: configuration, the service layer and the other long-lived handles, behind
//! one cheap clone.

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::FromRef;
use greenos_core::metrics::Metrics;
use greenos_core::services::{ServiceSettings, Services};
use greenos_graphql::{Graphql, build_schema};
use greenos_jobs::streams::RedisStreamProbe;

use crate::config::Config;
use crate::db;
use crate::security::Security;

/// Everything a request or command may need, built once at start-up.
pub struct App {
    /// The configuration, as loaded.
    pub config: Config,
    /// The use cases (database, signer, metrics).
    pub services: Services,
    /// The GraphQL schema over the same services.
    pub graphql: Graphql,
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

impl FromRef<AppState> for Services {
    fn from_ref(state: &AppState) -> Services {
        state.services.clone()
    }
}

impl AppState {
    /// Connects, migrates and assembles the application.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Secrets first: a misconfigured production process stops before touching anything.
        let security = Security::load(&config).await?;
        let mut db = db::connect(&config.database)
            .await
            .context("cannot open the database (GREENOS_DATABASE_URL)")?;
        db::migrate(&db)
            .await
            .context("cannot apply the database migrations")?;
        let metrics = Metrics::new().context("cannot register the metrics")?;
        metrics.set_build_info(env!("CARGO_PKG_VERSION"), config.environment.as_str());
        metrics.set_secrets(&security.started_with);
        let statements = metrics.clone();
        db.set_metric_callback(move |info| statements.record_statement(info.elapsed, info.failed));
        let services = Services::new(
            db,
            Arc::clone(&security.signer),
            metrics,
            ServiceSettings {
                model_version: config.ingest.model_version.clone(),
                max_future_skew: config.ingest.max_future_skew,
                log: config.transparency_log.clone(),
            },
        );
        services
            .methodology()
            .start(&config.methodology)
            .await
            .context("cannot bootstrap the methodology registry")?;
        let redis = redis_client(&config.redis.url)?;
        let services = services.with_stream_probe(Arc::new(RedisStreamProbe::new(
            redis.clone(),
            &config.consumer,
        )));
        let graphql = build_schema(services.clone(), config.graphql);
        Ok(Self(Arc::new(App {
            config,
            services,
            graphql,
            redis,
            security,
        })))
    }
}

/// A Redis client whose TCP connections send each pipeline at once (`TCP_NODELAY`): without it
/// the last segment of a pipeline can wait for the server's delayed ACK.
fn redis_client(url: &str) -> anyhow::Result<redis::Client> {
    use redis::IntoConnectionInfo;
    let info = url
        .into_connection_info()
        .context("invalid configuration: GREENOS_REDIS_URL is not a Redis URL")?;
    let tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true);
    redis::Client::open(info.set_tcp_settings(tcp))
        .context("invalid configuration: GREENOS_REDIS_URL is not a Redis URL")
}
