//! Key versions and the errors of both keyrings. Errors name key versions and
//! files, never secret material.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::proof::canonical::{CanonicalError, parse_strict};

/// The name of one key of a keyring: 1–64 characters of `[A-Za-z0-9._-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion(String);

impl KeyVersion {
    /// Validates `s` as a key version name.
    pub fn parse(s: &str) -> Result<KeyVersion, KeyringError> {
        let valid = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(KeyVersion(s.to_owned()))
        } else {
            Err(KeyringError::InvalidKeyVersion {
                chars: s.chars().count(),
            })
        }
    }

    /// The version name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyVersion {
    type Err = KeyringError;

    fn from_str(s: &str) -> Result<KeyVersion, KeyringError> {
        KeyVersion::parse(s)
    }
}

impl Serialize for KeyVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyVersion, D::Error> {
        let text = String::deserialize(deserializer)?;
        KeyVersion::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a keyring could not be built. No variant carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// A key version name is empty, too long or uses other characters than `[A-Za-z0-9._-]`.
    /// The name itself is not repeated: a misplaced secret could be in its place.
    #[error("invalid key version ({chars} characters): expected 1-64 characters of [A-Za-z0-9._-]")]
    InvalidKeyVersion {
        /// Length of the refused name.
        chars: usize,
    },
    /// The active version is not one of the keys of the ring.
    #[error("active key version {version} is not in the keyring")]
    ActiveVersionMissing {
        /// The configured active version.
        version: String,
    },
    /// An HMAC secret is shorter than 32 bytes.
    #[error("HMAC secret of key version {version} is shorter than 32 bytes")]
    SecretTooShort {
        /// The version whose secret is too short.
        version: String,
    },
    /// An Ed25519 seed is not standard base64 of exactly 32 bytes.
    #[error("Ed25519 seed of key version {version} is invalid: {reason}")]
    InvalidSeed {
        /// The version whose seed is invalid.
        version: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The keys JSON is not an object of version → string (details withheld: they could quote a secret).
    #[error("keys JSON is invalid: {0}")]
    InvalidKeysJson(&'static str),
    /// The keys JSON names the same version twice.
    #[error("keys JSON lists key version {0:?} twice")]
    DuplicateKeyVersion(String),
    /// The development key file could not be read, parsed or written.
    #[error("development key file {}: {reason}", path.display())]
    DevKeyFile {
        /// The file.
        path: PathBuf,
        /// What went wrong (never the file's content).
        reason: String,
    },
}

/// Parses `{"<version>":"<string>",...}`; error messages never quote the strings.
pub(crate) fn parse_keys_json(
    keys_json: &str,
) -> Result<BTreeMap<KeyVersion, String>, KeyringError> {
    let value = parse_strict(keys_json.as_bytes()).map_err(|e| match e {
        CanonicalError::DuplicateKey(version) => KeyringError::DuplicateKeyVersion(version),
        _ => KeyringError::InvalidKeysJson("not valid JSON"),
    })?;
    let Value::Object(map) = value else {
        return Err(KeyringError::InvalidKeysJson(
            "expected an object of key version to secret",
        ));
    };
    let mut keys = BTreeMap::new();
    for (version, secret) in map {
        let version = KeyVersion::parse(&version)?;
        let Value::String(secret) = secret else {
            return Err(KeyringError::InvalidKeysJson(
                "every key must be a JSON string",
            ));
        };
        keys.insert(version, secret);
    }
    Ok(keys)
}

/// Keys by version, with the active one stored apart so that it always exists.
pub(crate) struct Ring<K> {
    active: KeyVersion,
    active_key: K,
    others: BTreeMap<KeyVersion, K>,
}

impl<K> Ring<K> {
    /// Splits `keys` into the active key and the others; `active` must be present.
    pub(crate) fn new(
        active: KeyVersion,
        mut keys: BTreeMap<KeyVersion, K>,
    ) -> Result<Self, KeyringError> {
        let Some(active_key) = keys.remove(&active) else {
            return Err(KeyringError::ActiveVersionMissing {
                version: active.to_string(),
            });
        };
        Ok(Ring {
            active,
            active_key,
            others: keys,
        })
    }

    /// The version and key that sign new artifacts.
    pub(crate) fn active(&self) -> (&KeyVersion, &K) {
        (&self.active, &self.active_key)
    }

    /// Every version and key, sorted by version.
    pub(crate) fn iter(&self) -> Vec<(&KeyVersion, &K)> {
        let mut all: Vec<(&KeyVersion, &K)> = std::iter::once(self.active())
            .chain(self.others.iter())
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Whether `version` names a key of the ring.
    pub(crate) fn contains(&self, version: &str) -> bool {
        self.iter().iter().any(|(v, _)| v.as_str() == version)
    }

    /// The artifact's declared version first, then every other version in order.
    pub(crate) fn verification_order(&self, declared: &str) -> Vec<(&KeyVersion, &K)> {
        let (mut order, rest): (Vec<_>, Vec<_>) = self
            .iter()
            .into_iter()
            .partition(|(v, _)| v.as_str() == declared);
        order.extend(rest);
        order
    }
}

impl<K> fmt::Debug for Ring<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<&KeyVersion> = self.iter().into_iter().map(|(v, _)| v).collect();
        f.debug_struct("Ring")
            .field("active", &self.active)
            .field("versions", &versions)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_versions_are_validated() {
        for good in ["v1", "dev-1", "2026.01_a", &"x".repeat(64)] {
            assert_eq!(
                KeyVersion::parse(good).map(|v| v.to_string()).as_deref(),
                Ok(good)
            );
        }
        for bad in ["", "v 1", "v/1", "clé", &"x".repeat(65)] {
            assert!(
                matches!(
                    KeyVersion::parse(bad),
                    Err(KeyringError::InvalidKeyVersion { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_json_errors_never_quote_secrets() {
        let secret = "s3cr3t-value-that-must-not-leak";
        for json in [
            format!("{{\"v1\":\"{secret}\""),
            format!("[\"{secret}\"]"),
            format!("{{\"v1\":[\"{secret}\"]}}"),
            format!("{{\"v1\":\"{secret}\",\"v1\":\"{secret}\"}}"),
        ] {
            let message = parse_keys_json(&json)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!message.is_empty(), "{json}");
            assert!(!message.contains(secret), "{message}");
        }
    }

    #[test]
    fn the_declared_version_is_tried_first() {
        let keys: BTreeMap<KeyVersion, u8> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((KeyVersion::parse(v).ok()?, u8::try_from(i).ok()?)))
            .collect();
        let active = KeyVersion::parse("c").ok();
        let Some(ring) = active.and_then(|a| Ring::new(a, keys).ok()) else {
            panic!("ring must build");
        };
        let order = |declared| -> Vec<u8> {
            ring.verification_order(declared)
                .iter()
                .map(|(_, k)| **k)
                .collect()
        };
        assert_eq!(order("b"), vec![1, 0, 2]);
        assert_eq!(order("z"), vec![0, 1, 2]);
        assert!(ring.contains("a") && !ring.contains("z"));
        assert_eq!(ring.active().1, &2);
        assert!(!format!("{ring:?}").is_empty());
    }

    #[test]
    fn the_active_version_must_be_in_the_ring() {
        let keys: BTreeMap<KeyVersion, u8> = BTreeMap::new();
        let active = KeyVersion::parse("v9").ok();
        let result = active.map(|a| Ring::new(a, keys).map(|_| ()));
        assert_eq!(
            result,
            Some(Err(KeyringError::ActiveVersionMissing {
                version: "v9".to_owned()
            }))
        );
    }
}
