//! The verdict on an export (SPEC §9, auditor guide A–E), built from independent checks. The
//! stored-export route, the artifact route and the offline command run the checks that apply
//! to what they hold, through these same functions.

pub(crate) mod consistency;
pub(crate) mod impacts;
pub(crate) mod pool;
pub(crate) mod reading;
pub(crate) mod scan;
pub(crate) mod stored;

use serde::Serialize;

use crate::methodology::Methodology;
use crate::metrics::{FailedCheck, Metrics};
use crate::mrv::build::payload::{LogBinding, MethodologyBinding};
use crate::mrv::error::MrvError;
use crate::mrv::read::artifact::ArtifactHeader;
use crate::mrv::verify::consistency::ProofReport;
use crate::mrv::verify::impacts::SignatureTally;
use crate::mrv::verify::reading::ArtifactReading;
use crate::proof::ed25519_ring::ED25519_ALGORITHM;
use crate::proof::{PublicKeyRing, Sha256Hex, Signer};

/// Every flag of one export verification, with what was compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportVerification {
    /// Every check that ran passed.
    pub verified: bool,
    /// The export verified.
    pub export_id: String,
    /// The declared hash of the payload.
    pub verification_hash: String,
    /// The hash re-computed from the payload bytes, when they could be read.
    pub recomputed_verification_hash: Option<String>,
    /// The re-computed hash equals the declared one.
    pub hash_valid: bool,
    /// The HMAC-SHA256 signature of `verification_hash` verifies (absent offline: it needs
    /// the secret key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_valid: Option<bool>,
    /// The Ed25519 signature of `verification_hash` verifies.
    pub asym_signature_valid: bool,
    /// The methodology binding holds (payload, artifact and registry agree).
    pub methodology_valid: bool,
    /// The non-double-counting proof and the payload's totals hold (checked on artifacts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof_valid: Option<bool>,
    /// Every impact's Ed25519 signature of its `event_hash` verifies (checked offline, where
    /// the published keys are at hand).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact_signatures_valid: Option<bool>,
    /// How many impact signatures were checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact_signatures_checked: Option<u64>,
    /// The transparency-log checkpoint a `greenos.mrv.v2` payload binds to is signed by a
    /// key of the ring and names the payload's tree (absent for `greenos.mrv.v1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_checkpoint_valid: Option<bool>,
    /// The declared methodology version.
    pub methodology_version: String,
    /// The declared methodology hash.
    pub methodology_hash: String,
    /// The hash re-computed from the registry row of that version, when consulted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recomputed_methodology_hash: Option<String>,
    /// The HMAC key version declared.
    pub key_version: String,
    /// The Ed25519 key version declared.
    pub asym_key_version: String,
    /// Bytes of payload read.
    pub payload_size_bytes: u64,
    /// Why each failing check failed, in plain words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl ExportVerification {
    /// Starts a verification of `header`: the payload hash is compared at once.
    pub fn new(
        header: &ArtifactHeader,
        recomputed_hash: Option<&Sha256Hex>,
        payload_size_bytes: u64,
    ) -> Self {
        let hash_valid = recomputed_hash.is_some_and(|h| h.as_str() == header.verification_hash);
        let mut verification = Self {
            verified: false,
            export_id: header.export_id.clone(),
            verification_hash: header.verification_hash.clone(),
            recomputed_verification_hash: recomputed_hash.map(|h| h.as_str().to_owned()),
            hash_valid,
            signature_valid: None,
            asym_signature_valid: false,
            methodology_valid: true,
            proof_valid: None,
            impact_signatures_valid: None,
            impact_signatures_checked: None,
            log_checkpoint_valid: None,
            methodology_version: header.methodology_version.clone(),
            methodology_hash: header.methodology_hash.clone(),
            recomputed_methodology_hash: None,
            key_version: header.key_version.clone(),
            asym_key_version: header.asym_key_version.clone(),
            payload_size_bytes,
            problems: Vec::new(),
        };
        if !hash_valid {
            verification.problems.push(match recomputed_hash {
                Some(h) => format!(
                    "the payload hashes to {h}, not to the declared verification_hash {}",
                    header.verification_hash
                ),
                None => "the payload bytes could not be read in full".to_owned(),
            });
        }
        verification
    }

    /// Checks both signatures of the declared hash with the service's keyrings.
    pub fn check_signatures(&mut self, header: &ArtifactHeader, signer: &Signer) -> &mut Self {
        let check = signer.verify(&header.verification_hash, &header.signatures());
        self.signature_valid = Some(check.signature_valid);
        self.asym_signature_valid = check.asym_signature_valid;
        self.problems
            .extend(check.signature_reason.map(|r| format!("HMAC: {r}")));
        self.problems
            .extend(check.asym_signature_reason.map(|r| format!("Ed25519: {r}")));
        self
    }

    /// Checks the Ed25519 signature with published keys alone (offline); HMAC stays unchecked.
    pub fn check_ed25519(&mut self, header: &ArtifactHeader, keys: &PublicKeyRing) -> &mut Self {
        let outcome = if header.asym_algorithm == ED25519_ALGORITHM {
            keys.verify(
                &header.asym_key_version,
                header.verification_hash.as_bytes(),
                &header.asym_signature,
            )
        } else {
            Err(format!("asym_algorithm is {:?}", header.asym_algorithm))
        };
        self.asym_signature_valid = outcome.is_ok();
        if let Err(reason) = outcome {
            self.problems.push(format!("Ed25519: {reason}"));
        }
        self
    }

    /// Records the check of every impact's Ed25519 signature.
    pub fn check_impact_signatures(&mut self, tally: &SignatureTally) -> &mut Self {
        self.impact_signatures_valid = Some(tally.failed == 0);
        self.impact_signatures_checked = Some(tally.checked);
        self.problems.extend(tally.problems.iter().cloned());
        if tally.failed as usize > tally.problems.len() {
            self.problems.push(format!(
                "{} impact signatures in all do not verify",
                tally.failed
            ));
        }
        self
    }

    /// Checks the payload's transparency-log checkpoint: when `expected` (a `greenos.mrv.v2`
    /// payload) it must be there, its signed note must open with a key of `keys` under its
    /// origin, and the note must commit to the tree the payload names.
    pub fn check_log_checkpoint(
        &mut self,
        expected: bool,
        log: Option<&LogBinding>,
        keys: &PublicKeyRing,
    ) -> &mut Self {
        let outcome = match log {
            None if !expected => return self,
            None => Err("the payload carries no readable log_checkpoint".to_owned()),
            Some(log) => crate::log::open_with_ring(&log.note, &log.origin, keys)
                .map_err(|err| err.to_string())
                .and_then(|(_, opened)| {
                    if opened.size == log.tree_size && hex::encode(opened.root.0) == log.root_hash
                    {
                        Ok(())
                    } else {
                        Err(format!(
                            "the signed note is for {} leaves and root {}, the payload names {} and {}",
                            opened.size,
                            hex::encode(opened.root.0),
                            log.tree_size,
                            log.root_hash
                        ))
                    }
                }),
        };
        self.log_checkpoint_valid = Some(outcome.is_ok());
        if let Err(reason) = outcome {
            self.problems.push(format!("log checkpoint: {reason}"));
        }
        self
    }

    /// Checks the declared binding against the registry row of that version: the row must
    /// exist and its content must hash to the declared `methodology_hash`.
    pub fn check_registry(&mut self, registry_row: Option<&Methodology>) -> &mut Self {
        self.check_methodology_row(registry_row, "the registry")
    }

    /// The same check against a methodology snapshot held outside the service (an evidence
    /// package's `methodology.json`).
    pub fn check_snapshot(&mut self, snapshot: Option<&Methodology>) -> &mut Self {
        self.check_methodology_row(snapshot, "the methodology snapshot")
    }

    fn check_methodology_row(&mut self, row: Option<&Methodology>, source: &str) -> &mut Self {
        match row {
            None => self.methodology_mismatch(format!(
                "methodology version {:?} is not in {source}",
                self.methodology_version
            )),
            Some(row) => {
                let recomputed = row.recompute_hash();
                if recomputed.as_str() != self.methodology_hash {
                    self.methodology_mismatch(format!(
                        "{source}'s {} hashes to {recomputed}, the export declares {}",
                        row.methodology_version, self.methodology_hash
                    ));
                }
                self.recomputed_methodology_hash = Some(recomputed.as_str().to_owned());
            }
        }
        self
    }

    /// Checks that the payload's own `methodology` block names the declared version and hash.
    pub fn check_payload_binding(&mut self, binding: Option<&MethodologyBinding>) -> &mut Self {
        match binding {
            None => self.methodology_mismatch(
                "the payload carries no readable methodology block".to_owned(),
            ),
            Some(b)
                if b.methodology_version == self.methodology_version
                    && b.methodology_hash == self.methodology_hash => {}
            Some(b) => self.methodology_mismatch(format!(
                "the payload binds {} ({}), the artifact declares {} ({})",
                b.methodology_version,
                b.methodology_hash,
                self.methodology_version,
                self.methodology_hash
            )),
        }
        self
    }

    /// Records the audit of the payload's proof and totals.
    pub fn check_proof(&mut self, report: &ProofReport) -> &mut Self {
        self.proof_valid = Some(report.valid());
        self.problems.extend(report.problems.iter().cloned());
        self
    }

    fn methodology_mismatch(&mut self, problem: String) {
        self.methodology_valid = false;
        self.problems
            .push(format!("methodology mismatch: {problem}"));
    }

    /// Settles `verified` once every applicable check ran.
    pub fn finish(mut self) -> Self {
        self.verified = self.hash_valid
            && self.signature_valid != Some(false)
            && self.asym_signature_valid
            && self.methodology_valid
            && self.proof_valid != Some(false)
            && self.impact_signatures_valid != Some(false)
            && self.log_checkpoint_valid != Some(false);
        self
    }

    /// `Ok` when verified; otherwise the error of the first failing check in the order of
    /// SPEC §9: payload (hash or proof), then signatures, then methodology.
    pub fn into_result(self) -> Result<Self, MrvError> {
        let verification = Box::new(self);
        if !verification.hash_valid || verification.proof_valid == Some(false) {
            Err(MrvError::Tampered { verification })
        } else if verification.signature_valid == Some(false)
            || !verification.asym_signature_valid
            || verification.impact_signatures_valid == Some(false)
            || verification.log_checkpoint_valid == Some(false)
        {
            Err(MrvError::InvalidSignature { verification })
        } else if !verification.methodology_valid {
            Err(MrvError::MethodologyMismatch { verification })
        } else {
            Ok(*verification)
        }
    }

    /// The first check that failed, in the order of [`Self::into_result`].
    pub fn failed_check(&self) -> Option<FailedCheck> {
        if !self.hash_valid || self.proof_valid == Some(false) {
            Some(FailedCheck::Payload)
        } else if self.signature_valid == Some(false) {
            Some(FailedCheck::Signature)
        } else if !self.asym_signature_valid
            || self.impact_signatures_valid == Some(false)
            || self.log_checkpoint_valid == Some(false)
        {
            Some(FailedCheck::AsymSignature)
        } else if !self.methodology_valid {
            Some(FailedCheck::Methodology)
        } else {
            None
        }
    }

    /// The problems in one sentence.
    pub fn summary(&self) -> String {
        if self.problems.is_empty() {
            "no problem found".to_owned()
        } else {
            self.problems.join("; ")
        }
    }
}

/// Counts a verification that reached a verdict in `greenos_mrv_verifications_total`, its
/// latency, and a failure by its first failed check (a methodology mismatch also in
/// `greenos_mrv_methodology_mismatch_total`).
pub fn record_outcome(
    metrics: &Metrics,
    elapsed: std::time::Duration,
    result: &Result<ExportVerification, MrvError>,
) {
    let verification = match result {
        Ok(verification) => verification,
        Err(err) => match err.verification() {
            Some(verification) => verification,
            None => return,
        },
    };
    metrics.record_verification(
        crate::metrics::VerificationKind::Mrv,
        elapsed,
        verification.failed_check(),
    );
}

/// Verifies an artifact held outside the service (`POST /api/v2/esg/mrv/verify`): the payload
/// hash, both signatures with the service's keyrings, the proof and totals, and the binding to
/// the payload's block and to `registry_row` (the registry's row of the declared version).
pub fn verify_artifact(
    reading: &ArtifactReading,
    signer: &Signer,
    registry_row: Option<&Methodology>,
) -> Result<ExportVerification, MrvError> {
    let header = &reading.header;
    let mut verification = ExportVerification::new(
        header,
        Some(&reading.recomputed_hash),
        reading.payload_size_bytes,
    );
    verification
        .check_proof(&reading.proof)
        .check_signatures(header, signer)
        .check_log_checkpoint(
            false,
            reading.proof.log.as_ref(),
            &signer.ed25519().public_ring(),
        )
        .check_payload_binding(reading.proof.binding.as_ref())
        .check_registry(registry_row);
    verification.finish().into_result()
}

/// Verifies an artifact offline with published keys alone (`greenos verify`): the payload
/// hash, the Ed25519 signature, the proof and totals, every impact's signature when the reading
/// checked them, and the binding between artifact and payload (and to `snapshot`, an evidence
/// package's methodology, when given). HMAC needs the secret key: it stays unchecked.
pub fn verify_artifact_offline(
    reading: &ArtifactReading,
    keys: &PublicKeyRing,
    snapshot: Option<Option<&Methodology>>,
) -> ExportVerification {
    let header = &reading.header;
    let mut verification = ExportVerification::new(
        header,
        Some(&reading.recomputed_hash),
        reading.payload_size_bytes,
    );
    verification
        .check_proof(&reading.proof)
        .check_ed25519(header, keys)
        .check_log_checkpoint(false, reading.proof.log.as_ref(), keys)
        .check_payload_binding(reading.proof.binding.as_ref());
    if let Some(tally) = &reading.proof.impact_signatures {
        verification.check_impact_signatures(tally);
    }
    if let Some(snapshot) = snapshot {
        verification.check_snapshot(snapshot);
    }
    verification.finish()
}
