//! Checkpoints: the C2SP `tlog-checkpoint` text (`<origin>\n<tree size>\n<base64 root hash>\n`)
//! signed as a C2SP `signed-note` with the active key of the Ed25519 ring. The key id is the
//! first 4 bytes of `SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ public key)` and the verifier key the
//! standard note string `<origin>+<8 hex key id>+<base64(0x01 ‖ public key)>`, as Go's
//! `sumdb/note` reads them.

use serde::Serialize;
use signed_note::{Note, Signer};
use tlog_tiles::{Checkpoint, Hash};

use crate::proof::{Ed25519Keyring, PublicKeyPayload};

/// The log's public identity: `GET /api/v2/esg/log/key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogKey {
    /// The log's name (`GREENOS_LOG_ORIGIN`).
    pub origin: String,
    /// `<origin>+<8 hex key id>+<base64(0x01 ‖ public key)>`.
    pub verifier_key: String,
    /// The Ed25519 key version that signs checkpoints.
    pub key_version: String,
    /// Standard base64 of the raw 32-byte public key.
    pub public_key: String,
    /// Lowercase hex SHA-256 of the raw public key.
    pub fingerprint_sha256: String,
}

impl LogKey {
    /// The identity of the log `origin` signed by the ring's active key.
    pub fn new(origin: &str, ring: &Ed25519Keyring) -> LogKey {
        let PublicKeyPayload {
            public_key,
            fingerprint_sha256,
            key_version,
            ..
        } = ring.active_public_key();
        LogKey {
            origin: origin.to_owned(),
            verifier_key: signed_note::new_ed25519_verifier_key(
                origin,
                &ring.active_verifying_key(),
            ),
            key_version,
            public_key,
            fingerprint_sha256,
        }
    }
}

/// Why a checkpoint could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The origin is not a valid note name (empty, or with a space or a `+`).
    #[error("the log origin {0:?} is not a valid name (no spaces, no `+`)")]
    Origin(String),
}

/// Signs with the ring's active key under the log's name.
struct NoteSigner<'a> {
    origin: &'a str,
    key_id: u32,
    ring: &'a Ed25519Keyring,
}

impl Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        self.origin
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.ring.sign_raw(msg).to_vec())
    }
}

/// The signed note of the checkpoint of the tree of `size` leaves and root `root`.
pub fn sign_checkpoint(
    origin: &str,
    size: u64,
    root: Hash,
    ring: &Ed25519Keyring,
) -> Result<String, CheckpointError> {
    let invalid = || CheckpointError::Origin(origin.to_owned());
    if !signed_note::is_key_name_valid(origin) {
        return Err(invalid());
    }
    let text = Checkpoint::new(origin, size, root, "")
        .map_err(|_| invalid())?
        .to_bytes();
    let public = [&[1u8][..], ring.active_verifying_key().as_bytes()].concat();
    let signer = NoteSigner {
        origin,
        key_id: signed_note::key_id(origin, &public),
        ring,
    };
    let mut note = Note::new(&text, &[]).map_err(|_| invalid())?;
    note.add_sigs(&[&signer]).map_err(|_| invalid())?;
    String::from_utf8(note.to_bytes()).map_err(|_| invalid())
}
