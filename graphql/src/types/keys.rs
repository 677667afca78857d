//! The public Ed25519 keys, as `GET /api/v2/esg/public-key(s)` give them.

use async_graphql::SimpleObject;
use greenos_core::proof::PublicKeyPayload;

/// One public key of the ring.
#[derive(Clone, Debug, SimpleObject)]
pub struct PublicKey {
    /// Raw 32-byte key, standard base64.
    pub public_key: String,
    /// Lowercase hex SHA-256 of the raw key.
    pub fingerprint_sha256: String,
    /// `ED25519`.
    pub signature_algorithm: String,
    /// The key's version in the ring.
    pub key_version: String,
    /// `base64`.
    pub encoding: String,
}

impl From<PublicKeyPayload> for PublicKey {
    fn from(key: PublicKeyPayload) -> PublicKey {
        PublicKey {
            public_key: key.public_key,
            fingerprint_sha256: key.fingerprint_sha256,
            signature_algorithm: key.signature_algorithm,
            key_version: key.key_version,
            encoding: key.encoding,
        }
    }
}

/// Every key of the ring.
#[derive(Clone, Debug, SimpleObject)]
pub struct PublicKeys {
    /// The version new artifacts are signed with.
    pub active_key_version: String,
    /// One key per version, sorted by version.
    pub keys: Vec<PublicKey>,
}
