//! Double signatures (SPEC §6): every hash is signed with HMAC-SHA256 and with
//! Ed25519. The message is the ASCII bytes of the lowercase hex hash, so an
//! auditor's `public_key.verify(signature, hash_hex.encode("utf-8"))` works unchanged.

use serde::{Deserialize, Serialize};

use crate::proof::ed25519_ring::{ED25519_ALGORITHM, Ed25519Keyring};
use crate::proof::hash::Sha256Hex;
use crate::proof::hmac_ring::{HMAC_ALGORITHM, HmacKeyring};

/// The names of [`Signatures`]' fields, in declaration order.
pub const SIGNATURE_FIELDS: [&str; 6] = [
    "signature",
    "signature_algorithm",
    "key_version",
    "asym_signature",
    "asym_algorithm",
    "asym_key_version",
];

/// The six signature fields of an impact or export artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signatures {
    /// Lowercase hex HMAC-SHA256 of the hash.
    pub signature: String,
    /// Always `HMAC-SHA256`.
    pub signature_algorithm: String,
    /// The HMAC key version that signed.
    pub key_version: String,
    /// Standard base64 Ed25519 signature of the hash.
    pub asym_signature: String,
    /// Always `ED25519`.
    pub asym_algorithm: String,
    /// The Ed25519 key version that signed.
    pub asym_key_version: String,
}

/// The outcome of checking both signatures, with a reason for each failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureCheck {
    /// Whether the HMAC signature is valid.
    pub signature_valid: bool,
    /// Whether the Ed25519 signature is valid.
    pub asym_signature_valid: bool,
    /// Why the HMAC signature is invalid, if it is.
    pub signature_reason: Option<String>,
    /// Why the Ed25519 signature is invalid, if it is.
    pub asym_signature_reason: Option<String>,
}

impl SignatureCheck {
    /// Whether both signatures are valid.
    pub fn all_valid(&self) -> bool {
        self.signature_valid && self.asym_signature_valid
    }
}

/// Signs with the active versions of both keyrings and verifies against every version.
#[derive(Debug)]
pub struct Signer {
    hmac: HmacKeyring,
    ed25519: Ed25519Keyring,
}

impl Signer {
    /// Combines the two keyrings.
    pub fn new(hmac: HmacKeyring, ed25519: Ed25519Keyring) -> Signer {
        Signer { hmac, ed25519 }
    }

    /// The HMAC keyring.
    pub fn hmac(&self) -> &HmacKeyring {
        &self.hmac
    }

    /// The Ed25519 keyring (for the public key routes).
    pub fn ed25519(&self) -> &Ed25519Keyring {
        &self.ed25519
    }

    /// Signs `hash` with the active HMAC and Ed25519 keys.
    pub fn sign(&self, hash: &Sha256Hex) -> Signatures {
        let message = hash.as_str().as_bytes();
        Signatures {
            signature: self.hmac.sign_hex(message),
            signature_algorithm: HMAC_ALGORITHM.to_owned(),
            key_version: self.hmac.active_version().to_string(),
            asym_signature: self.ed25519.sign_b64(message),
            asym_algorithm: ED25519_ALGORITHM.to_owned(),
            asym_key_version: self.ed25519.active_version().to_string(),
        }
    }

    /// Checks both signatures of `hash_hex`: the declared key version first, then
    /// every other version of the ring.
    pub fn verify(&self, hash_hex: &str, sigs: &Signatures) -> SignatureCheck {
        let message = hash_hex.as_bytes();
        let hmac = if sigs.signature_algorithm == HMAC_ALGORITHM {
            self.hmac
                .verify_hex(&sigs.key_version, message, &sigs.signature)
        } else {
            Err(unsupported(
                "signature_algorithm",
                &sigs.signature_algorithm,
                HMAC_ALGORITHM,
            ))
        };
        let asym = if sigs.asym_algorithm == ED25519_ALGORITHM {
            self.ed25519
                .verify_b64(&sigs.asym_key_version, message, &sigs.asym_signature)
        } else {
            Err(unsupported(
                "asym_algorithm",
                &sigs.asym_algorithm,
                ED25519_ALGORITHM,
            ))
        };
        SignatureCheck {
            signature_valid: hmac.is_ok(),
            asym_signature_valid: asym.is_ok(),
            signature_reason: hmac.err(),
            asym_signature_reason: asym.err(),
        }
    }
}

fn unsupported(field: &str, found: &str, expected: &str) -> String {
    let shown: String = found.chars().take(40).collect();
    format!("unsupported {field} {shown:?}, expected {expected}")
}

#[cfg(test)]
mod tests;
