//! The export artifact of SPEC §8 (what `GET /api/v2/esg/mrv/export/{export_id}` returns and
//! what an auditor holds): the payload plus the declared fields around it. The artifact is
//! written as a prefix, the stored payload chunks, and a suffix, so it is never assembled in
//! memory.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mrv::error::MrvError;
use crate::mrv::record::ExportRecord;
use crate::proof::{Signatures, to_canonical_vec};

/// Every field of an artifact except `payload`, as declared (verification judges them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactHeader {
    /// The export's id.
    pub export_id: String,
    /// `3M`, `6M` or `12M`.
    pub period: String,
    /// First instant of the window.
    pub period_start: String,
    /// End of the window (excluded).
    pub period_end: String,
    /// Declared `sha256_hex` of the canonical payload.
    pub verification_hash: String,
    /// HMAC-SHA256 of `verification_hash`, lowercase hex.
    pub signature: String,
    /// `HMAC-SHA256`.
    pub signature_algorithm: String,
    /// HMAC key version.
    pub key_version: String,
    /// Ed25519 signature of `verification_hash`, base64.
    pub asym_signature: String,
    /// `ED25519`.
    pub asym_algorithm: String,
    /// Ed25519 key version.
    pub asym_key_version: String,
    /// The methodology the export binds to.
    pub methodology_version: String,
    /// That methodology's hash at generation time.
    pub methodology_hash: String,
    /// When the export was stored.
    pub created_at: String,
}

impl ArtifactHeader {
    /// The declared fields of a stored export.
    pub fn from_record(record: &ExportRecord) -> Self {
        let s = &record.signatures;
        Self {
            export_id: record.export_id.clone(),
            period: record.period.as_str().to_owned(),
            period_start: record.period_start.to_string(),
            period_end: record.period_end.to_string(),
            verification_hash: record.verification_hash.clone(),
            signature: s.signature.clone(),
            signature_algorithm: s.signature_algorithm.clone(),
            key_version: s.key_version.clone(),
            asym_signature: s.asym_signature.clone(),
            asym_algorithm: s.asym_algorithm.clone(),
            asym_key_version: s.asym_key_version.clone(),
            methodology_version: record.methodology_version.clone(),
            methodology_hash: record.methodology_hash.clone(),
            created_at: record.created_at.to_string(),
        }
    }

    /// The six signature fields.
    pub fn signatures(&self) -> Signatures {
        Signatures {
            signature: self.signature.clone(),
            signature_algorithm: self.signature_algorithm.clone(),
            key_version: self.key_version.clone(),
            asym_signature: self.asym_signature.clone(),
            asym_algorithm: self.asym_algorithm.clone(),
            asym_key_version: self.asym_key_version.clone(),
        }
    }

    /// The artifact's bytes before and after the payload: `{...,"payload":` and `,...}`,
    /// keys in code-point order, so that prefix + payload + suffix is canonical JSON.
    pub fn frame(&self) -> Result<(Vec<u8>, Vec<u8>), MrvError> {
        let Value::Object(fields) =
            serde_json::to_value(self).map_err(|e| MrvError::Storage(e.to_string()))?
        else {
            return Err(MrvError::Storage(
                "artifact header is not an object".to_owned(),
            ));
        };
        let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
        fields.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let (before, after): (Vec<_>, Vec<_>) = fields
            .into_iter()
            .partition(|(key, _)| key.as_bytes() < b"payload".as_slice());
        let mut prefix = b"{".to_vec();
        for (key, value) in before {
            prefix.extend(member(&key, &value)?);
            prefix.push(b',');
        }
        prefix.extend_from_slice(b"\"payload\":");
        let mut suffix = Vec::new();
        for (key, value) in after {
            suffix.push(b',');
            suffix.extend(member(&key, &value)?);
        }
        suffix.push(b'}');
        Ok((prefix, suffix))
    }
}

fn member(key: &str, value: &Value) -> Result<Vec<u8>, MrvError> {
    let mut out = to_canonical_vec(&Value::String(key.to_owned()))
        .map_err(|e| MrvError::Storage(e.to_string()))?;
    out.push(b':');
    out.extend(to_canonical_vec(value).map_err(|e| MrvError::Storage(e.to_string()))?);
    Ok(out)
}
