//! Secrets handed over by the configuration module, which read them from the environment.

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{ProviderKind, SecretError, SecretName, SecretProvider};

/// Secrets taken from `GREENOS_*` environment variables (dev and staging).
///
/// `core` never reads the environment itself: the binary's configuration module reads
/// the variables named by [`SecretName::env_name`] and passes the ones that are set.
#[derive(Debug, Clone, Default)]
pub struct EnvSecretProvider {
    values: BTreeMap<SecretName, SecretString>,
}

impl EnvSecretProvider {
    /// A provider holding the values the configuration module read.
    pub fn new(values: BTreeMap<SecretName, SecretString>) -> Self {
        Self { values }
    }
}

impl From<BTreeMap<SecretName, SecretString>> for EnvSecretProvider {
    fn from(values: BTreeMap<SecretName, SecretString>) -> Self {
        Self::new(values)
    }
}

#[async_trait]
impl SecretProvider for EnvSecretProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Env
    }

    async fn get(&self, name: SecretName) -> Result<Option<SecretString>, SecretError> {
        Ok(self.values.get(&name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[tokio::test]
    async fn returns_what_it_was_given_and_hides_it_from_debug() {
        let provider = EnvSecretProvider::new(BTreeMap::from([(
            SecretName::SigningActiveKeyVersion,
            SecretString::from("v7-hidden-value"),
        )]));
        let value = provider.get(SecretName::SigningActiveKeyVersion).await;
        assert_eq!(
            value.ok().flatten().map(|v| v.expose_secret().to_owned()),
            Some("v7-hidden-value".to_owned())
        );
        assert!(matches!(
            provider.get(SecretName::ApiTokensJson).await,
            Ok(None)
        ));
        assert!(!format!("{provider:?}").contains("v7-hidden-value"));
        assert_eq!(provider.kind(), ProviderKind::Env);
    }
}
