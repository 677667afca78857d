//! Checkpoints: the C2SP `tlog-checkpoint` text (`<origin>\n<tree size>\n<base64 root hash>\n`)
//! signed as a C2SP `signed-note` with the active key of the Ed25519 ring. The key id is the
//! first 4 bytes of `SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ public key)` and the verifier key the
//! standard note string `<origin>+<8 hex key id>+<base64(0x01 ‖ public key)>`, as Go's
//! `sumdb/note` reads them.

use serde::{Deserialize, Serialize};
use signed_note::{Note, Signer, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::proof::{Ed25519Keyring, PublicKeyPayload, PublicKeyRing};

/// The log's public identity: `GET /api/v2/esg/log/key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// A checkpoint whose signature was checked: the tree it commits to.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenedCheckpoint {
    /// The log's name.
    pub origin: String,
    /// How many leaves the tree holds.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// Why a signed note is not a checkpoint of the log its verifier key names.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The verifier key is not a note verifier key (`<name>+<hex id>+<base64 key>`).
    #[error("the verifier key is malformed")]
    VerifierKey,
    /// No signature of the note verifies with the key (or one is forged).
    #[error("the checkpoint's signature does not verify with the log's key: {0}")]
    Signature(String),
    /// The signed text is not a `tlog-checkpoint` of the key's origin.
    #[error("the signed text is not a checkpoint of {origin:?}: {reason}")]
    Text {
        /// The origin the key names.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}

/// Checks `note`'s signature with `verifier_key` and reads the checkpoint it signs.
pub fn open_checkpoint(note: &str, verifier_key: &str) -> Result<OpenedCheckpoint, OpenError> {
    let verifier = StandardVerifier::new(verifier_key).map_err(|_| OpenError::VerifierKey)?;
    let origin = signed_note::Verifier::name(&verifier).to_owned();
    let parsed =
        Note::from_bytes(note.as_bytes()).map_err(|err| OpenError::Signature(err.to_string()))?;
    parsed
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|err| OpenError::Signature(err.to_string()))?;
    let text = |reason: String| OpenError::Text {
        origin: origin.clone(),
        reason,
    };
    let checkpoint = Checkpoint::from_bytes(parsed.text()).map_err(|err| text(err.to_string()))?;
    if checkpoint.origin() != origin {
        return Err(text(format!("it names {:?}", checkpoint.origin())));
    }
    Ok(OpenedCheckpoint {
        size: checkpoint.size(),
        root: *checkpoint.hash(),
        origin,
    })
}

/// Opens `note` as a checkpoint of `origin` with whichever key of `keys` signed it; answers
/// that key's version (`None` for a bare key) with the checkpoint.
pub fn open_with_ring(
    note: &str,
    origin: &str,
    keys: &PublicKeyRing,
) -> Result<(Option<String>, OpenedCheckpoint), OpenError> {
    let mut refused = OpenError::Signature("no key to check it with".to_owned());
    for (version, key) in keys.verifying_keys() {
        let verifier_key = signed_note::new_ed25519_verifier_key(origin, key);
        match open_checkpoint(note, &verifier_key) {
            Ok(opened) => return Ok((version.map(str::to_owned), opened)),
            Err(err) => refused = err,
        }
    }
    Err(refused)
}
