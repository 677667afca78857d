//! Where GreenOS's critical secrets come from, and whether they are fit for use.
//!
//! A [`SecretProvider`] hands out the five critical values named by [`SecretName`]
//! (environment, HashiCorp Vault KV v2, or a KMS once a client exists). [`inspect`]
//! judges them without ever revealing them, [`SecretsReport`] is what the admin status
//! route shows, and [`enforce_production`] is the fail-closed gate for production.

mod checks;
mod env;
mod error;
mod kind;
mod kms;
mod name;
mod placeholder;
mod policy;
mod report;
mod vault;

use async_trait::async_trait;
use secrecy::SecretString;

pub use env::EnvSecretProvider;
pub use error::SecretError;
pub use kind::ProviderKind;
pub use kms::{KmsClient, KmsSecretProvider, NotConfiguredKms};
pub use name::SecretName;
pub use placeholder::is_placeholder;
pub use policy::{SecretFinding, SecretStatus, enforce_production, inspect};
pub use report::SecretsReport;
pub use vault::{VaultSecretProvider, VaultSettings};

/// A source of secret values; implementations never log or print what they return.
#[async_trait]
pub trait SecretProvider: Send + Sync {
    /// Which backend this is, for reports.
    fn kind(&self) -> ProviderKind;

    /// The value of `name`, or `None` when the backend does not hold it.
    async fn get(&self, name: SecretName) -> Result<Option<SecretString>, SecretError>;
}
