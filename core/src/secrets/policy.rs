//! Judging the critical secrets without revealing them, and the production gate.

use std::{collections::BTreeMap, fmt};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{SecretError, SecretName, SecretProvider, checks};

/// The verdict on one secret, as the status route shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SecretStatus {
    /// Present and fit for use.
    Ok,
    /// Not set (or empty).
    Missing,
    /// Set, but malformed, too weak, a placeholder or inconsistent with its ring.
    Invalid,
}

impl SecretStatus {
    /// `OK`, `MISSING` or `INVALID`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStatus::Ok => "OK",
            SecretStatus::Missing => "MISSING",
            SecretStatus::Invalid => "INVALID",
        }
    }
}

impl fmt::Display for SecretStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one secret and why; `reason` never contains the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFinding {
    /// Which secret.
    pub name: SecretName,
    /// The verdict.
    pub status: SecretStatus,
    /// Why it is not OK, e.g. `key v1 is 12 bytes, at least 32 are required`.
    pub reason: Option<String>,
}

impl SecretFinding {
    /// Builds the finding for `name` from a check's outcome.
    fn from_check(name: SecretName, outcome: Result<(), checks::Problem>) -> Self {
        let (status, reason) = match outcome {
            Ok(()) => (SecretStatus::Ok, None),
            Err(checks::Problem::Missing(reason)) => (SecretStatus::Missing, Some(reason)),
            Err(checks::Problem::Invalid(reason)) => (SecretStatus::Invalid, Some(reason)),
        };
        Self {
            name,
            status,
            reason,
        }
    }
}

impl fmt::Display for SecretFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}", self.name, self.status)?;
        match &self.reason {
            Some(reason) => write!(f, " ({reason})"),
            None => Ok(()),
        }
    }
}

/// Reads every [`SecretName`] from `provider` and judges each one, in [`SecretName::ALL`] order.
///
/// Fails only when the provider itself fails (Vault unreachable, KMS not configured).
pub async fn inspect(provider: &dyn SecretProvider) -> Result<Vec<SecretFinding>, SecretError> {
    let mut values = BTreeMap::new();
    for name in SecretName::ALL {
        if let Some(value) = provider.get(name).await? {
            values.insert(name, value);
        }
    }
    Ok(judge(&values))
}

/// The fail-closed gate of `GREENOS_ENV=production`: every critical secret must be OK.
///
/// The error lists each failing secret by name, status and reason, never by value.
pub fn enforce_production(findings: &[SecretFinding]) -> Result<(), SecretError> {
    let problems: Vec<String> = findings
        .iter()
        .filter(|finding| finding.status != SecretStatus::Ok)
        .map(ToString::to_string)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SecretError::ProductionRefused {
            problems: problems.join("; "),
        })
    }
}

/// Judges the values a provider returned.
fn judge(values: &BTreeMap<SecretName, SecretString>) -> Vec<SecretFinding> {
    let hmac_ring = checks::parse_ring(values.get(&SecretName::SigningKeysJson));
    let ed25519_ring = checks::parse_ring(values.get(&SecretName::Ed25519KeysJson));
    vec![
        SecretFinding::from_check(SecretName::SigningKeysJson, checks::hmac_ring(&hmac_ring)),
        SecretFinding::from_check(
            SecretName::SigningActiveKeyVersion,
            checks::active_version(
                values.get(&SecretName::SigningActiveKeyVersion),
                SecretName::SigningKeysJson,
                &hmac_ring,
            ),
        ),
        SecretFinding::from_check(
            SecretName::Ed25519KeysJson,
            checks::ed25519_ring(&ed25519_ring),
        ),
        SecretFinding::from_check(
            SecretName::Ed25519ActiveKeyVersion,
            checks::active_version(
                values.get(&SecretName::Ed25519ActiveKeyVersion),
                SecretName::Ed25519KeysJson,
                &ed25519_ring,
            ),
        ),
        SecretFinding::from_check(
            SecretName::ApiTokensJson,
            checks::api_tokens(values.get(&SecretName::ApiTokensJson)),
        ),
    ]
}

#[cfg(test)]
mod tests;
