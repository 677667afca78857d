//! Trip verification (SPEC §9): re-compute `event_hash` and `checksum` from the stored fields,
//! and check both signatures of the stored `event_hash`.

use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::ledger::error::ImpactError;
use crate::ledger::impact::Impact;
use crate::ledger::store;
use crate::proof::{Sha256Hex, Signer, checksum, event_hash};

/// Every flag of one trip verification, with what was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TripVerification {
    /// All checks passed.
    pub verified: bool,
    /// The trip verified.
    pub trip_id: String,
    /// Its model version.
    pub model_version: String,
    /// The methodology recorded on the impact.
    pub methodology_version: String,
    /// Its position in the ledger.
    pub ledger_seq: i64,
    /// The stored `event_hash`.
    pub event_hash: String,
    /// `event_hash` re-computed from the stored fields.
    pub recomputed_event_hash: String,
    /// The re-computed hash equals the stored one.
    pub hash_valid: bool,
    /// The stored checksum matches the stored hash and identifiers.
    pub checksum_valid: bool,
    /// The HMAC-SHA256 signature of `event_hash` verifies.
    pub signature_valid: bool,
    /// The Ed25519 signature of `event_hash` verifies.
    pub asym_signature_valid: bool,
    /// The HMAC key version recorded on the impact.
    pub key_version: String,
    /// The Ed25519 key version recorded on the impact.
    pub asym_key_version: String,
    /// Why the HMAC signature failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_reason: Option<String>,
    /// Why the Ed25519 signature failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asym_signature_reason: Option<String>,
}

impl TripVerification {
    /// `Ok` when verified; otherwise `Tampered` (hash or checksum broken) or `InvalidSignature`.
    pub fn into_result(self) -> Result<TripVerification, ImpactError> {
        if !(self.hash_valid && self.checksum_valid) {
            Err(ImpactError::Tampered {
                verification: Box::new(self),
            })
        } else if !(self.signature_valid && self.asym_signature_valid) {
            Err(ImpactError::InvalidSignature {
                verification: Box::new(self),
            })
        } else {
            Ok(self)
        }
    }
}

/// Checks a stored impact against its own proofs.
pub fn verify_impact(impact: &Impact, signer: &Signer) -> TripVerification {
    let event = &impact.event;
    let recomputed = event_hash(event);
    let hash_valid = recomputed.as_str() == impact.event_hash;
    let checksum_valid = Sha256Hex::parse(&impact.event_hash).is_ok_and(|stored| {
        checksum(
            &stored,
            &event.trip_id,
            &event.model_version,
            &event.country_code,
        )
        .as_str()
            == impact.checksum
    });
    let signatures = signer.verify(&impact.event_hash, &impact.signatures);
    TripVerification {
        verified: hash_valid && checksum_valid && signatures.all_valid(),
        trip_id: event.trip_id.clone(),
        model_version: event.model_version.clone(),
        methodology_version: event.methodology_version.clone(),
        ledger_seq: impact.ledger_seq,
        event_hash: impact.event_hash.clone(),
        recomputed_event_hash: recomputed.as_str().to_owned(),
        hash_valid,
        checksum_valid,
        signature_valid: signatures.signature_valid,
        asym_signature_valid: signatures.asym_signature_valid,
        key_version: impact.signatures.key_version.clone(),
        asym_key_version: impact.signatures.asym_key_version.clone(),
        signature_reason: signatures.signature_reason,
        asym_signature_reason: signatures.asym_signature_reason,
    }
}

/// Loads the impact of `trip_id` (latest, or of `model_version`) and verifies it.
pub async fn verify(
    db: &DatabaseConnection,
    signer: &Signer,
    trip_id: &str,
    model_version: Option<&str>,
) -> Result<TripVerification, ImpactError> {
    let impact = store::find(db, trip_id, model_version).await?;
    verify_impact(&impact, signer).into_result()
}
