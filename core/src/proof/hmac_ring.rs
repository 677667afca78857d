//! The HMAC-SHA256 keyring (SPEC §6): symmetric signatures, keyed by version so
//! that keys can rotate while old artifacts stay verifiable.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

use crate::proof::keys::{KeyVersion, KeyringError, Ring, parse_keys_json};

/// Name of the HMAC algorithm as written in artifacts.
pub const HMAC_ALGORITHM: &str = "HMAC-SHA256";

/// Minimum length of an HMAC secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// HMAC-SHA256 secrets by version, with the version that signs new artifacts.
pub struct HmacKeyring {
    ring: Ring<SecretSlice<u8>>,
}

impl HmacKeyring {
    /// Builds a ring; every secret must be at least 32 bytes and `active` must be one of them.
    pub fn new(
        active: KeyVersion,
        keys: BTreeMap<KeyVersion, SecretSlice<u8>>,
    ) -> Result<HmacKeyring, KeyringError> {
        if let Some((version, _)) = keys
            .iter()
            .find(|(_, secret)| secret.expose_secret().len() < MIN_SECRET_BYTES)
        {
            return Err(KeyringError::SecretTooShort {
                version: version.to_string(),
            });
        }
        Ok(HmacKeyring {
            ring: Ring::new(active, keys)?,
        })
    }

    /// Builds a ring from `{"v1":"<secret>",...}`; a secret is the UTF-8 bytes of its string.
    pub fn from_json(active: &str, keys_json: &str) -> Result<HmacKeyring, KeyringError> {
        let active = KeyVersion::parse(active)?;
        let keys = parse_keys_json(keys_json)?
            .into_iter()
            .map(|(version, secret)| (version, SecretSlice::from(secret.into_bytes())))
            .collect();
        HmacKeyring::new(active, keys)
    }

    /// The version that signs new artifacts.
    pub fn active_version(&self) -> &KeyVersion {
        self.ring.active().0
    }

    /// Every version of the ring, sorted.
    pub fn versions(&self) -> Vec<KeyVersion> {
        self.ring
            .iter()
            .into_iter()
            .map(|(v, _)| v.clone())
            .collect()
    }

    /// Lowercase hex HMAC-SHA256 of `message` under the active key.
    pub(crate) fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(mac(self.ring.active().1, message).finalize().into_bytes())
    }

    /// Checks a lowercase hex MAC in constant time, declared version first, then
    /// the rest of the ring; the error is the reason shown to the auditor.
    pub(crate) fn verify_hex(
        &self,
        declared: &str,
        message: &[u8],
        signature_hex: &str,
    ) -> Result<(), String> {
        let well_formed = signature_hex.len() == 64
            && signature_hex
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let tag = hex::decode(signature_hex).ok().filter(|_| well_formed);
        let Some(tag) = tag else {
            return Err("signature is not 64 lowercase hex characters".to_owned());
        };
        let matched = self
            .ring
            .verification_order(declared)
            .into_iter()
            .any(|(_, secret)| mac(secret, message).verify_slice(&tag).is_ok());
        if matched {
            Ok(())
        } else if self.ring.contains(declared) {
            Err(format!(
                "HMAC signature matches neither key version {declared} nor any other key"
            ))
        } else {
            Err(format!("unknown key version {declared}"))
        }
    }
}

fn mac(secret: &SecretSlice<u8>, message: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(message);
    mac
}

/// A fresh HMAC secret: 32 random bytes as 64 lowercase hex characters.
pub fn generate_hmac_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    SecretString::from(hex::encode(bytes))
}

impl fmt::Debug for HmacKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKeyring")
            .field("ring", &self.ring)
            .finish()
    }
}
