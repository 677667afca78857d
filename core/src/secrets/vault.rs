//! HashiCorp Vault, KV secrets engine version 2, read over its HTTP API.
//!
//! One `GET {addr}/v1/{mount}/data/{path}` with the `X-Vault-Token` header returns
//! `{"data":{"data":{...},"metadata":{...}}}`; the keys of `data.data` are the
//! `GREENOS_*` names. The answer is cached until [`VaultSecretProvider::refresh`].

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::{StatusCode, Url, header::HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{ProviderKind, SecretError, SecretName, SecretProvider};

/// The secrets read from Vault, by name.
type SecretMap = BTreeMap<SecretName, SecretString>;

/// How to reach Vault (`GREENOS_VAULT_ADDR`, `_TOKEN`, `_MOUNT`, `_PATH`).
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// Base URL, `http(s)://host:port`, without credentials.
    pub addr: String,
    /// Vault token with read access to the secret.
    pub token: SecretString,
    /// KV v2 mount, [`VaultSettings::DEFAULT_MOUNT`] unless configured.
    pub mount: String,
    /// Secret path inside the mount, e.g. `greenos` or `greenos/prod`.
    pub path: String,
    /// Limit for the whole request, connection included.
    pub timeout: Duration,
}

impl VaultSettings {
    /// The mount Vault enables KV v2 on by default.
    pub const DEFAULT_MOUNT: &'static str = "secret";
    /// A timeout that tolerates a slow network but not a hung server.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
}

/// Secrets read once from a Vault KV v2 secret, then served from memory.
#[derive(Debug)]
pub struct VaultSecretProvider {
    client: reqwest::Client,
    url: Url,
    addr: String,
    mount: String,
    path: String,
    token: SecretString,
    timeout: Duration,
    cache: Mutex<Option<Arc<SecretMap>>>,
}

impl VaultSecretProvider {
    /// Checks the settings and prepares the HTTP client; Vault is not contacted yet.
    pub fn new(settings: VaultSettings) -> Result<Self, SecretError> {
        let invalid = |reason: &str| SecretError::InvalidVaultSettings {
            reason: reason.to_owned(),
        };
        let addr = settings.addr.trim().trim_end_matches('/').to_owned();
        let base = Url::parse(&addr)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .filter(|url| url.query().is_none() && url.fragment().is_none())
            .ok_or_else(|| {
                invalid("GREENOS_VAULT_ADDR must be an http(s) URL such as https://vault.example.org:8200")
            })?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid(
                "GREENOS_VAULT_ADDR must not contain credentials; put the token in GREENOS_VAULT_TOKEN",
            ));
        }
        let mount = segment_path(&settings.mount)
            .ok_or_else(|| invalid("GREENOS_VAULT_MOUNT must be a non-empty Vault path"))?;
        let path = segment_path(&settings.path)
            .ok_or_else(|| invalid("GREENOS_VAULT_PATH must be a non-empty Vault path"))?;
        let token = settings.token.expose_secret();
        if token.trim().is_empty() {
            return Err(invalid("GREENOS_VAULT_TOKEN is empty"));
        }
        if HeaderValue::from_str(token).is_err() {
            return Err(invalid(
                "GREENOS_VAULT_TOKEN contains characters an HTTP header cannot carry",
            ));
        }
        if settings.timeout.is_zero() {
            return Err(invalid("the Vault timeout must be greater than zero"));
        }
        let url = Url::parse(&format!("{addr}/v1/{mount}/data/{path}")).map_err(|_| {
            invalid("GREENOS_VAULT_MOUNT and GREENOS_VAULT_PATH must form a URL path")
        })?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| invalid(&format!("the HTTP client could not be built: {e}")))?;
        if base.scheme() == "http" && !is_loopback(&base) {
            tracing::warn!(vault_addr = %addr, "Vault is reached over plain http: the token travels unencrypted");
        }
        Ok(Self {
            client,
            url,
            addr,
            mount,
            path,
            token: settings.token,
            timeout: settings.timeout,
            cache: Mutex::new(None),
        })
    }

    /// Reads the secret from Vault again and replaces the cached values.
    pub async fn refresh(&self) -> Result<(), SecretError> {
        let fresh = Arc::new(self.fetch().await?);
        *self.cache.lock().await = Some(fresh);
        Ok(())
    }

    /// The cached values, fetched on first use; a failed fetch is not cached.
    async fn values(&self) -> Result<Arc<SecretMap>, SecretError> {
        let mut cache = self.cache.lock().await;
        if let Some(values) = cache.as_ref() {
            return Ok(Arc::clone(values));
        }
        let values = Arc::new(self.fetch().await?);
        *cache = Some(Arc::clone(&values));
        Ok(values)
    }

    /// `{mount}/data/{path}`, as errors name it.
    fn location(&self) -> String {
        format!("{}/data/{}", self.mount, self.path)
    }

    async fn fetch(&self) -> Result<SecretMap, SecretError> {
        let mut token = HeaderValue::from_str(self.token.expose_secret()).map_err(|_| {
            SecretError::InvalidVaultSettings {
                reason: "GREENOS_VAULT_TOKEN contains characters an HTTP header cannot carry"
                    .to_owned(),
            }
        })?;
        token.set_sensitive(true);
        let response = self
            .client
            .get(self.url.clone())
            .header("X-Vault-Token", token)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::FORBIDDEN => {
                return Err(SecretError::VaultPermissionDenied {
                    addr: self.addr.clone(),
                    location: self.location(),
                });
            }
            StatusCode::NOT_FOUND => {
                return Err(SecretError::VaultPathNotFound {
                    addr: self.addr.clone(),
                    mount: self.mount.clone(),
                    path: self.path.clone(),
                });
            }
            status => {
                return Err(SecretError::VaultStatus {
                    addr: self.addr.clone(),
                    location: self.location(),
                    status: status.as_u16(),
                });
            }
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let values = self.parse_body(&body)?;
        tracing::info!(
            vault_addr = %self.addr,
            location = %self.location(),
            secrets_found = values.len(),
            "read secrets from Vault"
        );
        Ok(values)
    }

    /// Extracts the `GREENOS_*` strings of a KV v2 read response.
    fn parse_body(&self, body: &[u8]) -> Result<SecretMap, SecretError> {
        let malformed = |reason: &str| SecretError::VaultMalformed {
            addr: self.addr.clone(),
            location: self.location(),
            reason: reason.to_owned(),
        };
        let document: Value =
            serde_json::from_slice(body).map_err(|_| malformed("the body is not JSON"))?;
        let data = match document.get("data").and_then(|d| d.get("data")) {
            Some(Value::Object(data)) => data,
            Some(Value::Null) => {
                return Err(malformed(
                    "data.data is null: the latest version of the secret is deleted or destroyed",
                ));
            }
            _ => {
                return Err(malformed(
                    "there is no data.data object (is the mount a KV version 2 engine?)",
                ));
            }
        };
        let mut values = SecretMap::new();
        for name in SecretName::ALL {
            match data.get(name.env_name()) {
                None => {}
                Some(Value::String(text)) => {
                    values.insert(name, SecretString::from(text.as_str()));
                }
                Some(_) => {
                    return Err(SecretError::VaultValueNotString {
                        location: self.location(),
                        name: name.env_name(),
                    });
                }
            }
        }
        Ok(values)
    }

    /// Classifies a transport failure; the message names the address, never the token.
    fn transport_error(&self, error: &reqwest::Error) -> SecretError {
        if error.is_timeout() {
            return SecretError::VaultTimeout {
                addr: self.addr.clone(),
                timeout_ms: self.timeout.as_millis(),
            };
        }
        let mut cause: &dyn std::error::Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        SecretError::VaultUnreachable {
            addr: self.addr.clone(),
            cause: cause.to_string(),
        }
    }
}

#[async_trait]
impl SecretProvider for VaultSecretProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vault
    }

    async fn get(&self, name: SecretName) -> Result<Option<SecretString>, SecretError> {
        Ok(self.values().await?.get(&name).cloned())
    }
}

/// `raw` without surrounding slashes, if it is a usable Vault path (no empty, `.` or `..` segment).
fn segment_path(raw: &str) -> Option<String> {
    let trimmed = raw.trim().trim_matches('/');
    let usable = !trimmed.is_empty()
        && trimmed.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'%' | b'\\'))
        });
    usable.then(|| trimmed.to_owned())
}

/// True when `url` points at this machine, where plain http does not cross a network.
fn is_loopback(url: &Url) -> bool {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests;
