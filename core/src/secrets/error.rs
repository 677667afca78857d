//! Errors of the secret providers and of the production policy.
//!
//! No variant carries a secret value or the Vault token: each message names the
//! address, location or variable involved so an operator can act on it.

/// Why secrets could not be read, or why they may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `GREENOS_SECRET_PROVIDER` holds an unsupported value.
    #[error("unknown secret provider `{value}` (allowed: env, vault, kms)")]
    UnknownProvider {
        /// The rejected value.
        value: String,
    },
    /// The Vault settings cannot work (bad address, empty mount, path or token).
    #[error("invalid Vault settings: {reason}")]
    InvalidVaultSettings {
        /// What is wrong, naming the variable to fix.
        reason: String,
    },
    /// No connection to Vault could be made.
    #[error("Vault at {addr} is unreachable: {cause}")]
    VaultUnreachable {
        /// The configured Vault address.
        addr: String,
        /// The transport's own explanation (connection refused, DNS failure ...).
        cause: String,
    },
    /// Vault did not answer in time.
    #[error("Vault at {addr} did not answer within {timeout_ms} ms")]
    VaultTimeout {
        /// The configured Vault address.
        addr: String,
        /// The configured timeout.
        timeout_ms: u128,
    },
    /// Vault answered 403: the token is invalid, expired or lacks read access.
    #[error(
        "Vault at {addr} denied access to {location} (HTTP 403): the token is invalid, expired or lacks read permission"
    )]
    VaultPermissionDenied {
        /// The configured Vault address.
        addr: String,
        /// `{mount}/data/{path}`.
        location: String,
    },
    /// Vault answered 404: nothing is stored at the configured mount and path.
    #[error(
        "Vault at {addr} has no secret at mount `{mount}`, path `{path}` (HTTP 404): check GREENOS_VAULT_MOUNT and GREENOS_VAULT_PATH"
    )]
    VaultPathNotFound {
        /// The configured Vault address.
        addr: String,
        /// The KV v2 mount (`GREENOS_VAULT_MOUNT`).
        mount: String,
        /// The secret path (`GREENOS_VAULT_PATH`).
        path: String,
    },
    /// Vault answered with another unexpected status.
    #[error("Vault at {addr} answered HTTP {status} for {location}")]
    VaultStatus {
        /// The configured Vault address.
        addr: String,
        /// `{mount}/data/{path}`.
        location: String,
        /// The HTTP status code.
        status: u16,
    },
    /// Vault answered 200 with a body that is not a KV v2 read response.
    #[error("Vault at {addr} returned an unexpected body for {location}: {reason}")]
    VaultMalformed {
        /// The configured Vault address.
        addr: String,
        /// `{mount}/data/{path}`.
        location: String,
        /// What was expected and not found.
        reason: String,
    },
    /// A GreenOS key in Vault holds a number, object or other non-string value.
    #[error("Vault value {name} at {location} is not a string")]
    VaultValueNotString {
        /// `{mount}/data/{path}`.
        location: String,
        /// The key inside the secret, a `GREENOS_*` name.
        name: &'static str,
    },
    /// `GREENOS_SECRET_PROVIDER=kms` was chosen but no KMS client is plugged in.
    #[error(
        "the kms secret provider is not usable: no KMS client is configured in this build; set GREENOS_SECRET_PROVIDER to env or vault"
    )]
    KmsNotConfigured,
    /// Production was asked to start with missing, invalid or placeholder secrets.
    #[error("refusing to start with GREENOS_ENV=production: {problems}")]
    ProductionRefused {
        /// One `NAME is STATUS: reason` entry per failing secret, joined by `; `.
        problems: String,
    },
}
