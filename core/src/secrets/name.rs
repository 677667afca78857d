//! The secrets GreenOS needs, named as the environment variables that carry them.

use std::fmt;

/// One critical secret, named after its `GREENOS_*` variable (and its key in Vault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretName {
    /// HMAC-SHA256 keyring, `{"v1":"<secret of at least 32 bytes>"}`.
    SigningKeysJson,
    /// Version of the HMAC keyring used for new artifacts.
    SigningActiveKeyVersion,
    /// Ed25519 keyring, `{"v1":"<base64 32-byte seed>"}`.
    Ed25519KeysJson,
    /// Version of the Ed25519 keyring used for new artifacts.
    Ed25519ActiveKeyVersion,
    /// API bearer tokens, `{"<name>":{"token_sha256":"<hex>","scopes":[...]}}`.
    ApiTokensJson,
}

impl SecretName {
    /// Every secret, in the order reports list them.
    pub const ALL: [SecretName; 5] = [
        SecretName::SigningKeysJson,
        SecretName::SigningActiveKeyVersion,
        SecretName::Ed25519KeysJson,
        SecretName::Ed25519ActiveKeyVersion,
        SecretName::ApiTokensJson,
    ];

    /// The environment variable, and Vault key, that holds this secret.
    pub fn env_name(self) -> &'static str {
        match self {
            SecretName::SigningKeysJson => "GREENOS_SIGNING_KEYS_JSON",
            SecretName::SigningActiveKeyVersion => "GREENOS_SIGNING_ACTIVE_KEY_VERSION",
            SecretName::Ed25519KeysJson => "GREENOS_ED25519_KEYS_JSON",
            SecretName::Ed25519ActiveKeyVersion => "GREENOS_ED25519_ACTIVE_KEY_VERSION",
            SecretName::ApiTokensJson => "GREENOS_API_TOKENS_JSON",
        }
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.env_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_distinct_and_prefixed() {
        let names: std::collections::BTreeSet<_> =
            SecretName::ALL.iter().map(|n| n.env_name()).collect();
        assert_eq!(names.len(), SecretName::ALL.len());
        assert!(names.iter().all(|n| n.starts_with("GREENOS_")));
        assert_eq!(
            SecretName::Ed25519ActiveKeyVersion.to_string(),
            "GREENOS_ED25519_ACTIVE_KEY_VERSION"
        );
    }
}
