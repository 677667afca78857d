//! Configuration: every `GREENOS_*` variable is read here, once, into typed structs per
//! subsystem. A bad value stops start-up with the variable's name and what was expected; a
//! secret's value is never echoed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use greenos_core::methodology::ValidatedDraft;
use greenos_core::secrets::{ProviderKind, SecretName, VaultSettings};
use secrecy::SecretString;

mod graphql;
mod jobs;
mod methodology;
mod vars;

pub use vars::{VARIABLES, Vars};

/// Where the service runs; production is fail-closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    /// Local development: generated keys allowed, loudly.
    Dev,
    /// Pre-production.
    Staging,
    /// Production: refuses to start without proper secrets.
    Production,
}

impl Environment {
    /// The canonical lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dev" | "development" => Ok(Self::Dev),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            _ => Err("one of dev, staging, production (or prod)".to_owned()),
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("text or json".to_owned()),
        }
    }
}

/// A configuration value that could not be used; names the variable, never a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: expected {expected}{}", got.as_ref().map(|g| format!(", got {g:?}")).unwrap_or_default())]
pub struct ConfigError {
    /// The offending variable.
    pub var: &'static str,
    /// What a valid value looks like.
    pub expected: String,
    /// The value given, for non-secret variables only.
    pub got: Option<String>,
}

/// HTTP server settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `GREENOS_BIND`.
    pub bind: SocketAddr,
    /// `GREENOS_METRICS_BIND`: a second listener that serves only `/metrics`, without a token,
    /// for a private network (unset: none; `/metrics` stays on `GREENOS_BIND` with scope
    /// `read`).
    pub metrics_bind: Option<SocketAddr>,
    /// `GREENOS_MAX_BODY_BYTES`: request bodies above this get 413.
    pub max_body_bytes: usize,
    /// `GREENOS_VERIFY_MAX_BODY_BYTES`: the largest artifact `POST /api/v2/esg/mrv/verify`
    /// accepts (larger ones are for the offline `greenos verify`).
    pub verify_max_body_bytes: usize,
    /// `GREENOS_HTTP_HEADER_TIMEOUT_S`: how long a client has to send a request head.
    pub header_timeout: Duration,
    /// `GREENOS_HTTP_BODY_TIMEOUT_S`: how long a client has to send a request body.
    pub body_timeout: Duration,
}

/// GraphQL settings.
pub use greenos_graphql::GraphqlSettings;
/// The worker role's settings: the trip consumer, the outbox relay, the scheduled exports.
pub use greenos_jobs::consumer::ConsumerSettings;
pub use greenos_jobs::relay::RelaySettings;
pub use greenos_jobs::scheduler::ExportSchedule;

/// Database settings.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// `GREENOS_DATABASE_URL`.
    pub url: String,
    /// `GREENOS_DATABASE_MAX_CONNECTIONS`.
    pub max_connections: u32,
    /// `GREENOS_DATABASE_ACQUIRE_TIMEOUT_MS`: how long a request waits for a working connection
    /// before it is answered `503 GREENOS_UNAVAILABLE`.
    pub acquire_timeout: Duration,
}

/// Redis settings.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `GREENOS_REDIS_URL`.
    pub url: String,
}

/// Logging settings.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// `GREENOS_LOG`: a tracing filter directive.
    pub filter: String,
    /// `GREENOS_LOG_FORMAT`.
    pub format: LogFormat,
}

/// Where the critical secrets come from.
#[derive(Clone, Debug)]
pub struct SecretsConfig {
    /// `GREENOS_SECRET_PROVIDER`.
    pub provider: ProviderKind,
    /// The critical secrets found in the environment (used by the `env` provider).
    pub env_values: BTreeMap<SecretName, SecretString>,
    /// `GREENOS_VAULT_*`, when the provider is `vault`.
    pub vault: Option<VaultSettings>,
}

/// Ingestion settings.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// `GREENOS_MODEL_VERSION`: the calculation model recorded on every new impact.
    pub model_version: String,
    /// `GREENOS_MAX_FUTURE_SKEW_S`: how far past now an `event_timestamp` may lie (clock skew).
    pub max_future_skew: Duration,
}

/// `GREENOS_LOG_ORIGIN`, `GREENOS_LOG_INTEGRATE_MS` and `GREENOS_LOG_MAX_DELAY_MS`: the
/// transparency log.
pub use greenos_core::log::LogSettings;

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `GREENOS_ENV`.
    pub environment: Environment,
    /// HTTP server.
    pub http: HttpConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Redis.
    pub redis: RedisConfig,
    /// Logging.
    pub log: LogConfig,
    /// Critical secrets: keyrings and API tokens.
    pub secrets: SecretsConfig,
    /// `GREENOS_DATA_DIR`: where dev-mode generated keys are kept.
    pub data_dir: PathBuf,
    /// `GREENOS_MRV_*` and `GREENOS_COUNTRY_FACTORS_JSON`: the methodology an empty registry
    /// is bootstrapped with.
    pub methodology: ValidatedDraft,
    /// Ingestion.
    pub ingest: IngestConfig,
    /// `GREENOS_GRAPHQL_*`.
    pub graphql: GraphqlSettings,
    /// `GREENOS_EXPORT_*`: the scheduled MRV exports of the worker role.
    pub exports: ExportSchedule,
    /// `GREENOS_OUTBOX_*` and `GREENOS_REDIS_STREAM_*`: the outbox relay of the worker role.
    pub relay: RelaySettings,
    /// `GREENOS_TRIP_*`: the `trip_completed.v1` consumer of the worker role.
    pub consumer: ConsumerSettings,
    /// `GREENOS_LOG_*`: the transparency log (integrated by the worker role).
    pub transparency_log: LogSettings,
}

impl Config {
    /// Loads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::from_process_env())
    }

    /// Loads the configuration from explicit variables.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let database_url = vars.string("GREENOS_DATABASE_URL");
        // An in-memory SQLite database would lose the ledger with the process (and the export's
        // reader opens the database file on a connection of its own).
        let in_memory =
            database_url.starts_with("sqlite::memory:") || database_url.contains("mode=memory");
        if in_memory
            || !(database_url.starts_with("sqlite:")
                || database_url.starts_with("postgres://")
                || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError {
                var: "GREENOS_DATABASE_URL",
                expected: "a sqlite://... file or postgres://... URL (not an in-memory database)"
                    .to_owned(),
                // A database URL may carry a password: never echo it.
                got: None,
            });
        }
        let max_body_bytes: usize =
            vars.parse("GREENOS_MAX_BODY_BYTES", "a size in bytes, at least 1024")?;
        if max_body_bytes < 1024 {
            return Err(ConfigError {
                var: "GREENOS_MAX_BODY_BYTES",
                expected: "a size in bytes, at least 1024".to_owned(),
                got: Some(max_body_bytes.to_string()),
            });
        }
        let redis_url = vars.string("GREENOS_REDIS_URL");
        if !(redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
            return Err(ConfigError {
                var: "GREENOS_REDIS_URL",
                expected: "a redis://host:port URL".to_owned(),
                got: None,
            });
        }
        Ok(Self {
            environment: vars.parse_with("GREENOS_ENV")?,
            http: HttpConfig {
                bind: vars.parse("GREENOS_BIND", "a socket address such as 127.0.0.1:8080")?,
                metrics_bind: match vars.optional("GREENOS_METRICS_BIND") {
                    Some(_) => Some(vars.parse(
                        "GREENOS_METRICS_BIND",
                        "a socket address such as 10.0.0.5:9464",
                    )?),
                    None => None,
                },
                header_timeout: seconds(vars, "GREENOS_HTTP_HEADER_TIMEOUT_S")?,
                body_timeout: seconds(vars, "GREENOS_HTTP_BODY_TIMEOUT_S")?,
                max_body_bytes,
                verify_max_body_bytes: vars.parse(
                    "GREENOS_VERIFY_MAX_BODY_BYTES",
                    "a size in bytes for artifacts sent to POST /api/v2/esg/mrv/verify",
                )?,
            },
            database: DatabaseConfig {
                url: database_url,
                max_connections: vars.parse(
                    "GREENOS_DATABASE_MAX_CONNECTIONS",
                    "a whole number of connections",
                )?,
                acquire_timeout: Duration::from_millis(vars.parse(
                    "GREENOS_DATABASE_ACQUIRE_TIMEOUT_MS",
                    "a whole number of milliseconds, e.g. 3000",
                )?),
            },
            redis: RedisConfig { url: redis_url },
            log: LogConfig {
                filter: vars.string("GREENOS_LOG"),
                format: vars.parse_with("GREENOS_LOG_FORMAT")?,
            },
            secrets: secrets_config(vars)?,
            data_dir: PathBuf::from(vars.string("GREENOS_DATA_DIR")),
            methodology: methodology::methodology_settings(vars)?,
            ingest: ingest_config(vars)?,
            graphql: graphql::graphql_config(vars)?,
            exports: jobs::export_schedule(vars)?,
            relay: jobs::relay_settings(vars)?,
            consumer: jobs::consumer_settings(vars)?,
            transparency_log: jobs::log_settings(vars)?,
        })
    }
}

/// A timeout of 1 to 3600 whole seconds.
fn seconds(vars: &Vars, var: &'static str) -> Result<Duration, ConfigError> {
    let expected = "a whole number of seconds from 1 to 3600";
    let value: u64 = vars.parse(var, expected)?;
    if (1..=3600).contains(&value) {
        Ok(Duration::from_secs(value))
    } else {
        Err(ConfigError {
            var,
            expected: expected.to_owned(),
            got: Some(value.to_string()),
        })
    }
}

fn ingest_config(vars: &Vars) -> Result<IngestConfig, ConfigError> {
    let model_version = vars.string("GREENOS_MODEL_VERSION");
    let valid = (1..=64).contains(&model_version.len())
        && model_version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if !valid {
        return Err(ConfigError {
            var: "GREENOS_MODEL_VERSION",
            expected: "1 to 64 characters of A-Z a-z 0-9 . _ : -, e.g. co2-v1".to_owned(),
            got: Some(model_version),
        });
    }
    let max_future_skew_s: u64 = vars.parse(
        "GREENOS_MAX_FUTURE_SKEW_S",
        "a whole number of seconds (0 to 86400), e.g. 300",
    )?;
    if max_future_skew_s > 86_400 {
        return Err(ConfigError {
            var: "GREENOS_MAX_FUTURE_SKEW_S",
            expected: "a whole number of seconds (0 to 86400), e.g. 300".to_owned(),
            got: Some(max_future_skew_s.to_string()),
        });
    }
    Ok(IngestConfig {
        model_version,
        max_future_skew: Duration::from_secs(max_future_skew_s),
    })
}

fn secrets_config(vars: &Vars) -> Result<SecretsConfig, ConfigError> {
    let provider_raw = vars.string("GREENOS_SECRET_PROVIDER");
    let provider: ProviderKind = provider_raw.parse().map_err(|_| ConfigError {
        var: "GREENOS_SECRET_PROVIDER",
        expected: "one of env, vault, kms".to_owned(),
        got: Some(provider_raw.clone()),
    })?;
    let env_values = SecretName::ALL
        .into_iter()
        .filter_map(|name| vars.secret(name.env_name()).map(|value| (name, value)))
        .collect();
    let vault = if provider == ProviderKind::Vault {
        let addr = vars.optional("GREENOS_VAULT_ADDR").ok_or_else(|| ConfigError {
            var: "GREENOS_VAULT_ADDR",
            expected: "the Vault base URL, e.g. https://vault.example:8200, when GREENOS_SECRET_PROVIDER=vault".to_owned(),
            got: None,
        })?;
        let token = vars
            .secret("GREENOS_VAULT_TOKEN")
            .ok_or_else(|| ConfigError {
                var: "GREENOS_VAULT_TOKEN",
                expected: "a Vault token when GREENOS_SECRET_PROVIDER=vault".to_owned(),
                got: None,
            })?;
        let timeout_ms: u64 =
            vars.parse("GREENOS_VAULT_TIMEOUT_MS", "a timeout in milliseconds")?;
        Some(VaultSettings {
            addr,
            token,
            mount: vars.string("GREENOS_VAULT_MOUNT"),
            path: vars.string("GREENOS_VAULT_PATH"),
            timeout: std::time::Duration::from_millis(timeout_ms),
        })
    } else {
        None
    };
    Ok(SecretsConfig {
        provider,
        env_values,
        vault,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_sqlite_service() {
        let config = Config::from_vars(&Vars::default()).expect("defaults are valid");
        assert_eq!(config.environment, Environment::Dev);
        assert_eq!(config.http.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database.url, "sqlite://greenos.db?mode=rwc");
        assert_eq!(config.redis.url, "redis://127.0.0.1:6379");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = Config::from_vars(&Vars::from_pairs([("GREENOS_BIND", "not-an-address")]))
            .expect_err("must fail");
        assert_eq!(err.var, "GREENOS_BIND");
        assert!(err.to_string().contains("GREENOS_BIND"));
        let err = Config::from_vars(&Vars::from_pairs([("GREENOS_ENV", "prodution")]))
            .expect_err("must fail");
        assert_eq!(err.var, "GREENOS_ENV");
    }

    #[test]
    fn an_in_memory_sqlite_database_is_refused() {
        for url in [
            "sqlite::memory:",
            "sqlite://ledger.db?mode=memory&cache=shared",
        ] {
            let err = Config::from_vars(&Vars::from_pairs([("GREENOS_DATABASE_URL", url)]))
                .expect_err("must fail");
            assert_eq!(err.var, "GREENOS_DATABASE_URL");
            assert!(
                err.to_string().contains("not an in-memory database"),
                "{err}"
            );
        }
    }

    #[test]
    fn database_url_is_never_echoed() {
        let err = Config::from_vars(&Vars::from_pairs([(
            "GREENOS_DATABASE_URL",
            "mysql://user:hunter2@db/greenos",
        )]))
        .expect_err("must fail");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn unknown_variables_are_reported() {
        let vars = Vars::from_pairs([("GREENOS_BNID", "x"), ("GREENOS_BIND", "127.0.0.1:1")]);
        assert_eq!(vars.unknown(), vec!["GREENOS_BNID"]);
    }
}
