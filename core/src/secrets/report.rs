//! The body of `GET /api/v2/esg/internal/secrets/status`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ProviderKind, SecretFinding, SecretStatus};

/// Which provider is in use and the status of each secret; never a value or a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretsReport {
    /// The configured provider.
    pub provider: ProviderKind,
    /// `GREENOS_ENV` as configured (`dev`, `staging`, `production`).
    pub environment: String,
    /// Status per variable name, e.g. `"GREENOS_SIGNING_KEYS_JSON": "OK"`.
    pub secrets: BTreeMap<String, SecretStatus>,
}

impl SecretsReport {
    /// Builds the report from the findings of [`super::inspect`].
    pub fn from_findings(
        provider: ProviderKind,
        environment: impl Into<String>,
        findings: &[SecretFinding],
    ) -> Self {
        Self {
            provider,
            environment: environment.into(),
            secrets: findings
                .iter()
                .map(|finding| (finding.name.env_name().to_owned(), finding.status))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretName;

    #[test]
    fn serialises_to_the_documented_shape() {
        let findings: Vec<SecretFinding> = SecretName::ALL
            .into_iter()
            .map(|name| SecretFinding {
                name,
                status: if name == SecretName::ApiTokensJson {
                    SecretStatus::Missing
                } else {
                    SecretStatus::Ok
                },
                reason: None,
            })
            .collect();
        let report = SecretsReport::from_findings(ProviderKind::Env, "dev", &findings);
        assert_eq!(
            serde_json::to_string(&report).ok().as_deref(),
            Some(concat!(
                r#"{"provider":"env","environment":"dev","secrets":{"#,
                r#""GREENOS_API_TOKENS_JSON":"MISSING","#,
                r#""GREENOS_ED25519_ACTIVE_KEY_VERSION":"OK","#,
                r#""GREENOS_ED25519_KEYS_JSON":"OK","#,
                r#""GREENOS_SIGNING_ACTIVE_KEY_VERSION":"OK","#,
                r#""GREENOS_SIGNING_KEYS_JSON":"OK"}}"#
            ))
        );
    }
}
