//! The Ed25519 keyring (SPEC §6): asymmetric signatures that anyone holding the
//! published public key can check offline.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::OsRng;
use secrecy::zeroize::Zeroizing;
use serde::{Deserialize, Serialize};

use crate::proof::hash::sha256_hex;
use crate::proof::keys::{KeyVersion, KeyringError, Ring, parse_keys_json};

/// Name of the Ed25519 algorithm as written in artifacts and public key payloads.
pub const ED25519_ALGORITHM: &str = "ED25519";

/// Ed25519 signing keys by version, with the version that signs new artifacts.
pub struct Ed25519Keyring {
    ring: Ring<SigningKey>,
}

/// A published public key: what `GET /api/v2/esg/public-key` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyPayload {
    /// Standard base64 of the raw 32-byte public key.
    pub public_key: String,
    /// Lowercase hex SHA-256 of the raw 32-byte public key.
    pub fingerprint_sha256: String,
    /// Always `ED25519`.
    pub signature_algorithm: String,
    /// The key version this key signs under.
    pub key_version: String,
    /// Always `base64`.
    pub encoding: String,
}

impl PublicKeyPayload {
    /// Describes `key` as the public key of `version`.
    pub fn new(version: &KeyVersion, key: &VerifyingKey) -> PublicKeyPayload {
        let raw = key.to_bytes();
        PublicKeyPayload {
            public_key: BASE64.encode(raw),
            fingerprint_sha256: sha256_hex(&raw).to_string(),
            signature_algorithm: ED25519_ALGORITHM.to_owned(),
            key_version: version.to_string(),
            encoding: "base64".to_owned(),
        }
    }

    /// Whether `fingerprint_sha256` is the SHA-256 of the decoded 32-byte `public_key`.
    pub fn verify_fingerprint(&self) -> bool {
        decode_public_key(&self.public_key)
            .is_some_and(|raw| sha256_hex(&raw).as_str() == self.fingerprint_sha256)
    }
}

impl Ed25519Keyring {
    /// Builds a ring from 32-byte seeds; `active` must be one of them.
    pub fn from_seeds(
        active: KeyVersion,
        seeds: BTreeMap<KeyVersion, [u8; 32]>,
    ) -> Result<Ed25519Keyring, KeyringError> {
        let keys = seeds
            .into_iter()
            .map(|(version, seed)| (version, SigningKey::from_bytes(&seed)))
            .collect();
        Ok(Ed25519Keyring {
            ring: Ring::new(active, keys)?,
        })
    }

    /// Builds a ring from `{"v1":"<standard base64 of a 32-byte seed>",...}`.
    pub fn from_json(active: &str, keys_json: &str) -> Result<Ed25519Keyring, KeyringError> {
        let active = KeyVersion::parse(active)?;
        let mut keys = BTreeMap::new();
        for (version, seed_b64) in parse_keys_json(keys_json)? {
            let seed_b64 = Zeroizing::new(seed_b64);
            let invalid = |reason| KeyringError::InvalidSeed {
                version: version.to_string(),
                reason,
            };
            let seed = Zeroizing::new(
                BASE64
                    .decode(seed_b64.as_bytes())
                    .map_err(|_| invalid("not standard base64"))?,
            );
            let seed: &[u8; 32] = seed
                .as_slice()
                .try_into()
                .map_err(|_| invalid("not 32 bytes"))?;
            keys.insert(version, SigningKey::from_bytes(seed));
        }
        Ok(Ed25519Keyring {
            ring: Ring::new(active, keys)?,
        })
    }

    /// The version that signs new artifacts.
    pub fn active_version(&self) -> &KeyVersion {
        self.ring.active().0
    }

    /// The public key of the active version.
    pub fn active_public_key(&self) -> PublicKeyPayload {
        let (version, key) = self.ring.active();
        PublicKeyPayload::new(version, &key.verifying_key())
    }

    /// The public keys of every version, sorted by version.
    pub fn public_keys(&self) -> Vec<PublicKeyPayload> {
        self.ring
            .iter()
            .into_iter()
            .map(|(version, key)| PublicKeyPayload::new(version, &key.verifying_key()))
            .collect()
    }

    /// Every public key of the ring, as a ring of published keys.
    pub fn public_ring(&self) -> PublicKeyRing {
        let mut ring = PublicKeyRing::default();
        for (version, key) in self.ring.iter() {
            ring.keys
                .insert(version.as_str().to_owned(), key.verifying_key());
        }
        ring
    }

    /// The raw Ed25519 signature of `message` under the active key.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.ring.active().1.sign(message).to_bytes()
    }

    /// The active version's verifying key.
    pub(crate) fn active_verifying_key(&self) -> VerifyingKey {
        self.ring.active().1.verifying_key()
    }

    /// Standard base64 Ed25519 signature of `message` under the active key.
    pub(crate) fn sign_b64(&self, message: &[u8]) -> String {
        BASE64.encode(self.ring.active().1.sign(message).to_bytes())
    }

    /// Checks a base64 signature, declared version first, then the rest of the ring;
    /// the error is the reason shown to the auditor.
    pub(crate) fn verify_b64(
        &self,
        declared: &str,
        message: &[u8],
        signature_b64: &str,
    ) -> Result<(), String> {
        let Some(signature) = decode_signature(signature_b64) else {
            return Err("Ed25519 signature is not standard base64 of 64 bytes".to_owned());
        };
        let matched = self
            .ring
            .verification_order(declared)
            .into_iter()
            .any(|(_, key)| {
                key.verifying_key()
                    .verify_strict(message, &signature)
                    .is_ok()
            });
        if matched {
            Ok(())
        } else if self.ring.contains(declared) {
            Err(format!(
                "Ed25519 signature matches neither key version {declared} nor any other key"
            ))
        } else {
            Err(format!("unknown key version {declared}"))
        }
    }
}

/// Published public keys by version, for checking signatures offline: each impact and each
/// artifact names the version it was signed under. A bare key (given without its payload)
/// stands for every version the ring does not otherwise hold.
#[derive(Clone, Debug, Default)]
pub struct PublicKeyRing {
    keys: BTreeMap<String, VerifyingKey>,
    bare: Option<VerifyingKey>,
}

impl PublicKeyRing {
    /// Admits `payload` after checking its algorithm and that its fingerprint is the SHA-256 of
    /// its key; the error says why it was refused.
    pub fn insert(&mut self, payload: &PublicKeyPayload) -> Result<(), String> {
        if payload.signature_algorithm != ED25519_ALGORITHM {
            return Err(format!(
                "key version {} is not an {ED25519_ALGORITHM} key",
                payload.key_version
            ));
        }
        if !payload.verify_fingerprint() {
            return Err(format!(
                "key version {}: fingerprint_sha256 does not match public_key",
                payload.key_version
            ));
        }
        let key = decode_verifying_key(&payload.public_key).ok_or_else(|| {
            format!(
                "key version {} is not a valid Ed25519 public key",
                payload.key_version
            )
        })?;
        match self.keys.get(&payload.key_version) {
            Some(held) if *held != key => Err(format!(
                "two different keys claim version {}",
                payload.key_version
            )),
            _ => {
                self.keys.insert(payload.key_version.clone(), key);
                Ok(())
            }
        }
    }

    /// Admits a bare key (standard base64 of 32 bytes), for every version not otherwise held.
    pub fn insert_bare(&mut self, public_key_b64: &str) -> Result<(), String> {
        let key = decode_verifying_key(public_key_b64)
            .ok_or_else(|| "not standard base64 of a 32-byte Ed25519 public key".to_owned())?;
        self.bare = Some(key);
        Ok(())
    }

    /// Every key held, with its version (`None` for the bare key).
    pub fn verifying_keys(&self) -> impl Iterator<Item = (Option<&str>, &VerifyingKey)> {
        self.keys
            .iter()
            .map(|(version, key)| (Some(version.as_str()), key))
            .chain(self.bare.iter().map(|key| (None, key)))
    }

    /// The versions held by name, sorted.
    pub fn versions(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Whether `payload` is the key this ring holds for its version (or its bare key).
    pub fn holds(&self, payload: &PublicKeyPayload) -> bool {
        let key = decode_verifying_key(&payload.public_key);
        key.is_some() && self.key(&payload.key_version) == key.as_ref()
    }

    fn key(&self, version: &str) -> Option<&VerifyingKey> {
        self.keys.get(version).or(self.bare.as_ref())
    }

    /// Checks many base64 signatures made under `version`, given as `(message, signature)`,
    /// in one batch (RFC 8032 batch verification, about twice as fast per signature); when the
    /// batch fails, each is checked alone, strictly, to name the failures. Answers the position
    /// and reason of each failure.
    pub fn verify_all(&self, version: &str, items: &[(&[u8], &str)]) -> Vec<(usize, String)> {
        let Some(key) = self.key(version) else {
            let reason = format!("no key of version {version} was given");
            return (0..items.len()).map(|i| (i, reason.clone())).collect();
        };
        let mut failures = Vec::new();
        let mut decoded = Vec::with_capacity(items.len());
        for (i, (message, signature_b64)) in items.iter().enumerate() {
            match decode_signature(signature_b64) {
                Some(signature) => decoded.push((i, *message, signature)),
                None => failures.push((
                    i,
                    "the signature is not standard base64 of 64 bytes".to_owned(),
                )),
            }
        }
        let messages: Vec<&[u8]> = decoded.iter().map(|(_, m, _)| *m).collect();
        let signatures: Vec<Signature> = decoded.iter().map(|(_, _, s)| *s).collect();
        let keys = vec![*key; decoded.len()];
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
            for (i, message, signature) in &decoded {
                if key.verify_strict(message, signature).is_err() {
                    failures.push((
                        *i,
                        format!("the signature does not verify with key version {version}"),
                    ));
                }
            }
            failures.sort_by_key(|(i, _)| *i);
        }
        failures
    }

    /// Checks a base64 signature of `message` with the key of `version` (strict RFC 8032
    /// verification); the error is the reason shown to the auditor.
    pub fn verify(&self, version: &str, message: &[u8], signature_b64: &str) -> Result<(), String> {
        let Some(key) = self.key(version) else {
            return Err(format!("no key of version {version} was given"));
        };
        let Some(signature) = decode_signature(signature_b64) else {
            return Err("the signature is not standard base64 of 64 bytes".to_owned());
        };
        key.verify_strict(message, &signature)
            .map_err(|_| format!("the signature does not verify with key version {version}"))
    }
}

/// Checks an Ed25519 signature over the ASCII bytes of `hash_hex` with only the public key.
pub fn verify_ed25519(public_key_b64: &str, hash_hex: &str, signature_b64: &str) -> bool {
    match (
        decode_verifying_key(public_key_b64),
        decode_signature(signature_b64),
    ) {
        (Some(key), Some(signature)) => key.verify_strict(hash_hex.as_bytes(), &signature).is_ok(),
        _ => false,
    }
}

/// A fresh random seed (for `GREENOS_ED25519_KEYS_JSON`) and its public key payload.
pub fn generate_ed25519_seed(version: &KeyVersion) -> ([u8; 32], PublicKeyPayload) {
    let key = SigningKey::generate(&mut OsRng);
    (
        key.to_bytes(),
        PublicKeyPayload::new(version, &key.verifying_key()),
    )
}

fn decode_public_key(b64: &str) -> Option<[u8; 32]> {
    BASE64.decode(b64).ok()?.try_into().ok()
}

fn decode_verifying_key(b64: &str) -> Option<VerifyingKey> {
    decode_public_key(b64).and_then(|raw| VerifyingKey::from_bytes(&raw).ok())
}

fn decode_signature(b64: &str) -> Option<Signature> {
    let bytes: [u8; 64] = BASE64.decode(b64).ok()?.try_into().ok()?;
    Some(Signature::from_bytes(&bytes))
}

impl fmt::Debug for Ed25519Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Keyring")
            .field("ring", &self.ring)
            .finish()
    }
}
