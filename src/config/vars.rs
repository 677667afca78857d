//! The raw `GREENOS_*` values and the table of every variable with its default.

use std::collections::BTreeMap;
use std::str::FromStr;

use secrecy::SecretString;

use super::{ConfigError, methodology};

/// Every variable GreenOS reads, with its default (`None` when unset means "not configured").
pub const VARIABLES: &[(&str, Option<&str>)] = &[
    ("GREENOS_ENV", Some("dev")),
    ("GREENOS_BIND", Some("127.0.0.1:8080")),
    ("GREENOS_METRICS_BIND", None),
    ("GREENOS_MAX_BODY_BYTES", Some("8388608")),
    ("GREENOS_VERIFY_MAX_BODY_BYTES", Some("67108864")),
    ("GREENOS_HTTP_HEADER_TIMEOUT_S", Some("10")),
    ("GREENOS_HTTP_BODY_TIMEOUT_S", Some("30")),
    ("GREENOS_DATABASE_URL", Some("sqlite://greenos.db?mode=rwc")),
    ("GREENOS_DATABASE_MAX_CONNECTIONS", Some("10")),
    ("GREENOS_DATABASE_ACQUIRE_TIMEOUT_MS", Some("3000")),
    ("GREENOS_REDIS_URL", Some("redis://127.0.0.1:6379")),
    ("GREENOS_LOG", Some("info")),
    ("GREENOS_LOG_FORMAT", Some("text")),
    ("GREENOS_DATA_DIR", Some(".greenos")),
    ("GREENOS_SECRET_PROVIDER", Some("env")),
    ("GREENOS_SIGNING_ACTIVE_KEY_VERSION", None),
    ("GREENOS_SIGNING_KEYS_JSON", None),
    ("GREENOS_ED25519_ACTIVE_KEY_VERSION", None),
    ("GREENOS_ED25519_KEYS_JSON", None),
    ("GREENOS_API_TOKENS_JSON", None),
    ("GREENOS_VAULT_ADDR", None),
    ("GREENOS_VAULT_TOKEN", None),
    ("GREENOS_VAULT_MOUNT", Some("secret")),
    ("GREENOS_VAULT_PATH", Some("greenos")),
    ("GREENOS_VAULT_TIMEOUT_MS", Some("5000")),
    ("GREENOS_MODEL_VERSION", Some("co2-v1")),
    ("GREENOS_OUTBOX_BATCH", Some("500")),
    ("GREENOS_OUTBOX_POLL_MS", Some("200")),
    ("GREENOS_OUTBOX_BASE_DELAY_MS", Some("500")),
    ("GREENOS_OUTBOX_MAX_DELAY_MS", Some("60000")),
    ("GREENOS_OUTBOX_MAX_RETRIES", Some("8")),
    ("GREENOS_OUTBOX_RETENTION_DAYS", Some("7")),
    ("GREENOS_REDIS_STREAM_PREFIX", None),
    ("GREENOS_REDIS_STREAM_MAXLEN", Some("1000000")),
    ("GREENOS_TRIP_CONSUMER_GROUP", Some("greenos-ingest")),
    ("GREENOS_TRIP_CONSUMER_NAME", None),
    ("GREENOS_TRIP_CLAIM_IDLE_MS", Some("60000")),
    ("GREENOS_EXPORT_SCHEDULE", Some("3M,6M,12M")),
    ("GREENOS_EXPORT_CRON_3M", Some("0 5 0 1 1,4,7,10 *")),
    ("GREENOS_EXPORT_CRON_6M", Some("0 10 0 1 1,7 *")),
    ("GREENOS_EXPORT_CRON_12M", Some("0 15 0 1 1 *")),
    ("GREENOS_EXPORT_CATCH_UP_FROM", None),
    ("GREENOS_LOG_ORIGIN", Some("greenos.local/log")),
    ("GREENOS_LOG_INTEGRATE_MS", Some("1000")),
    ("GREENOS_LOG_MAX_DELAY_MS", Some("10000")),
    ("GREENOS_GRAPHQL_MAX_DEPTH", Some("15")),
    ("GREENOS_GRAPHQL_MAX_COMPLEXITY", Some("50000")),
    ("GREENOS_GRAPHQL_MAX_QUERY_BYTES", Some("65536")),
    ("GREENOS_GRAPHQL_INTROSPECTION", None),
    ("GREENOS_MAX_FUTURE_SKEW_S", Some("300")),
    (
        "GREENOS_MRV_METHODOLOGY_VERSION",
        Some("greenos-mrv-2026.1"),
    ),
    (
        "GREENOS_MRV_BASELINE_REFERENCE",
        Some("distance_km * thermal_factor_local baseline"),
    ),
    (
        "GREENOS_MRV_FACTOR_REFERENCES",
        Some(methodology::DEFAULT_FACTOR_REFERENCES),
    ),
    ("GREENOS_MRV_GEOGRAPHIC_SCOPE", Some("CI,KE,SN")),
    (
        "GREENOS_COUNTRY_FACTORS_JSON",
        Some(methodology::DEFAULT_COUNTRY_FACTORS_JSON),
    ),
    (
        "GREENOS_MRV_FORMULA",
        Some("co2_avoided_kg = distance_km * thermal_factor_local - distance_km * ev_factor_local"),
    ),
    ("GREENOS_MRV_ROUNDING", Some("half_even_6dp")),
];

/// The raw `GREENOS_*` values, from the process environment or from a test's map.
#[derive(Clone, Debug, Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// Reads every `GREENOS_*` variable of the process environment (the only place that does).
    pub fn from_process_env() -> Self {
        #[expect(
            clippy::disallowed_methods,
            reason = "config is the one module that reads the environment"
        )]
        let vars = std::env::vars();
        Self(vars.filter(|(k, _)| k.starts_with("GREENOS_")).collect())
    }

    /// Builds from explicit pairs (tests, embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Sets one variable, replacing any earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The value set for `key`, if any (defaults are not applied).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Variables that start with `GREENOS_` but that GreenOS does not know (probably typos).
    pub fn unknown(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|k| !VARIABLES.iter().any(|(name, _)| name == k))
            .collect()
    }

    pub(super) fn raw(&self, var: &'static str) -> Option<&str> {
        self.0
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| default_of(var))
    }

    pub(super) fn string(&self, var: &'static str) -> String {
        self.raw(var).unwrap_or_default().to_owned()
    }

    pub(super) fn optional(&self, var: &'static str) -> Option<String> {
        self.raw(var).map(str::to_owned)
    }

    pub(super) fn secret(&self, var: &'static str) -> Option<SecretString> {
        self.raw(var).map(|v| SecretString::from(v.to_owned()))
    }

    pub(super) fn parse<T: FromStr>(
        &self,
        var: &'static str,
        expected: &str,
    ) -> Result<T, ConfigError> {
        let raw = self.string(var);
        raw.parse().map_err(|_| ConfigError {
            var,
            expected: expected.to_owned(),
            got: Some(raw),
        })
    }

    pub(super) fn parse_with<T>(&self, var: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr<Err = String>,
    {
        let raw = self.string(var);
        raw.parse().map_err(|expected| ConfigError {
            var,
            expected,
            got: Some(raw),
        })
    }
}

fn default_of(var: &str) -> Option<&'static str> {
    VARIABLES
        .iter()
        .find(|(name, _)| *name == var)
        .and_then(|(_, default)| *default)
}
