//! The public Ed25519 keys auditors verify with.

use serde::Serialize;

use crate::proof::PublicKeyPayload;
use crate::services::Services;

/// The key use cases.
pub struct KeyService<'a> {
    services: &'a Services,
}

/// Every key of the ring, for verifying historical artifacts.
#[derive(Debug, Serialize)]
pub struct PublicKeys {
    /// The version new artifacts are signed with.
    pub active_key_version: String,
    /// One payload per version, sorted by version.
    pub keys: Vec<PublicKeyPayload>,
}

impl<'a> KeyService<'a> {
    pub(super) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// The active public key.
    pub fn public_key(&self) -> PublicKeyPayload {
        self.services.signer().ed25519().active_public_key()
    }

    /// Every public key of the ring.
    pub fn public_keys(&self) -> PublicKeys {
        let ring = self.services.signer().ed25519();
        PublicKeys {
            active_key_version: ring.active_version().as_str().to_owned(),
            keys: ring.public_keys(),
        }
    }
}
