//! The seam for a cloud key-management service.
//!
//! A KMS keeps key material inside: it signs and verifies but never exports a key.
//! This build has no KMS client, so selecting `GREENOS_SECRET_PROVIDER=kms` fails with
//! [`SecretError::KmsNotConfigured`] instead of pretending to work.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{ProviderKind, SecretError, SecretName, SecretProvider};

/// Operations a cloud KMS offers on a key it holds.
#[async_trait]
pub trait KmsClient: Send + Sync {
    /// Signs `message` with the key `key_id`.
    async fn sign(&self, key_id: &str, message: &[u8]) -> Result<Vec<u8>, SecretError>;

    /// Checks `signature` over `message` with the key `key_id`.
    async fn verify(
        &self,
        key_id: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, SecretError>;

    /// The raw public key of `key_id`, for publication.
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SecretError>;
}

/// The KMS client of a build without one: every call says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotConfiguredKms;

#[async_trait]
impl KmsClient for NotConfiguredKms {
    async fn sign(&self, _key_id: &str, _message: &[u8]) -> Result<Vec<u8>, SecretError> {
        Err(SecretError::KmsNotConfigured)
    }

    async fn verify(
        &self,
        _key_id: &str,
        _message: &[u8],
        _signature: &[u8],
    ) -> Result<bool, SecretError> {
        Err(SecretError::KmsNotConfigured)
    }

    async fn public_key(&self, _key_id: &str) -> Result<Vec<u8>, SecretError> {
        Err(SecretError::KmsNotConfigured)
    }
}

/// The `kms` secret provider: it wraps a [`KmsClient`] and exports no secret values.
#[derive(Clone)]
pub struct KmsSecretProvider {
    client: Arc<dyn KmsClient>,
}

impl KmsSecretProvider {
    /// A provider around `client`.
    pub fn new(client: Arc<dyn KmsClient>) -> Self {
        Self { client }
    }

    /// The wrapped client, for the code that signs through the KMS.
    pub fn client(&self) -> Arc<dyn KmsClient> {
        Arc::clone(&self.client)
    }
}

impl Default for KmsSecretProvider {
    fn default() -> Self {
        Self::new(Arc::new(NotConfiguredKms))
    }
}

#[async_trait]
impl SecretProvider for KmsSecretProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Kms
    }

    /// Key material never leaves a KMS, and signing through one is not wired yet.
    async fn get(&self, _name: SecretName) -> Result<Option<SecretString>, SecretError> {
        Err(SecretError::KmsNotConfigured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn not_configured_kms_fails_honestly() {
        let kms = NotConfiguredKms;
        assert_eq!(
            kms.sign("k", b"m").await,
            Err(SecretError::KmsNotConfigured)
        );
        assert_eq!(
            kms.verify("k", b"m", b"s").await,
            Err(SecretError::KmsNotConfigured)
        );
        assert_eq!(
            kms.public_key("k").await,
            Err(SecretError::KmsNotConfigured)
        );
    }

    #[tokio::test]
    async fn kms_provider_refuses_to_hand_out_secrets() {
        let provider = KmsSecretProvider::default();
        assert_eq!(provider.kind(), ProviderKind::Kms);
        let err = provider.get(SecretName::SigningKeysJson).await.err();
        assert_eq!(err, Some(SecretError::KmsNotConfigured));
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("GREENOS_SECRET_PROVIDER"));
        assert_eq!(
            provider.client().public_key("k").await,
            Err(SecretError::KmsNotConfigured)
        );
    }
}
