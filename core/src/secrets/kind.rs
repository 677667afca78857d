//! Which backend supplies the secrets (`GREENOS_SECRET_PROVIDER`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use super::SecretError;

/// The secret backend selected by `GREENOS_SECRET_PROVIDER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Values read from `GREENOS_*` environment variables (dev and staging).
    Env,
    /// HashiCorp Vault, KV secrets engine version 2.
    Vault,
    /// A cloud key-management service, through [`super::KmsClient`].
    Kms,
}

impl ProviderKind {
    /// The lowercase name used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Env => "env",
            ProviderKind::Vault => "vault",
            ProviderKind::Kms => "kms",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = SecretError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "env" => Ok(ProviderKind::Env),
            "vault" => Ok(ProviderKind::Vault),
            "kms" => Ok(ProviderKind::Kms),
            _ => Err(SecretError::UnknownProvider {
                value: value.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_lowercase() {
        for kind in [ProviderKind::Env, ProviderKind::Vault, ProviderKind::Kms] {
            assert_eq!(kind.to_string().parse::<ProviderKind>().ok(), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).ok(),
                Some(format!("\"{kind}\""))
            );
        }
        assert_eq!(
            "Vault".parse::<ProviderKind>().ok(),
            Some(ProviderKind::Vault)
        );
    }

    #[test]
    fn unknown_provider_lists_the_allowed_values() {
        let err = "aws".parse::<ProviderKind>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown secret provider `aws` (allowed: env, vault, kms)")
        );
    }
}
