//! An export's metadata as stored in `esg_mrv_exports` and as lists and events show it: the
//! payload itself lives in chunks and is never part of it.

use greenos_entity::esg_mrv_exports;
use sea_orm::ActiveValue::Set;
use serde::Serialize;
use serde_json::{Value, json};

use crate::mrv::error::MrvError;
use crate::mrv::period::Period;
use crate::proof::{Decimal6, Signatures, UtcMicros};

/// One materialised export, without its payload. Hashes and signatures are kept as stored
/// text, so that a row altered behind the service's back still reads, for verification to judge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportRecord {
    /// A UUID.
    pub export_id: String,
    /// The payload's schema, `greenos.mrv.v1`.
    pub schema_version: String,
    /// `3M`, `6M` or `12M`.
    pub period: Period,
    /// First instant of the window.
    pub period_start: UtcMicros,
    /// End of the window (excluded).
    pub period_end: UtcMicros,
    /// When the build took its snapshot.
    pub generated_at: UtcMicros,
    /// `sha256_hex` of the canonical payload bytes.
    pub verification_hash: String,
    /// Both signatures of `verification_hash`.
    #[serde(flatten)]
    pub signatures: Signatures,
    /// The methodology the export binds to.
    pub methodology_version: String,
    /// Its hash at generation time.
    pub methodology_hash: String,
    /// Model versions of the selected impacts, sorted.
    pub model_versions: Vec<String>,
    /// Impacts in the payload.
    pub impacts_count: i64,
    /// Sum of their distances.
    pub total_distance_km: Decimal6,
    /// Sum of their avoided CO2.
    pub total_co2_avoided_kg: Decimal6,
    /// The payload's `aggregation` object.
    pub aggregation: Value,
    /// Ledger rows in the window before de-duplication.
    pub raw_impacts_count: i64,
    /// Rows left out by de-duplication.
    pub duplicates_removed_count: i64,
    /// The proof's `proof_hash`.
    pub proof_hash: String,
    /// Length of the canonical payload.
    pub payload_size_bytes: i64,
    /// Number of stored chunks.
    pub chunk_count: i32,
    /// How the chunks are stored ([`ChunkCodec`](crate::mrv::ChunkCodec)'s name), as the row
    /// holds it: a name no reader knows makes the chunks unreadable, for verification to judge.
    /// Storage only: the payload and the artifact are the decompressed bytes.
    #[serde(skip)]
    pub chunk_codec: String,
    /// The request that created the export, when known.
    pub correlation_id: Option<String>,
    /// When the row was written.
    pub created_at: UtcMicros,
}

impl ExportRecord {
    /// The metadata carried by the `EXPORT_GENERATED` audit row and the `audit_generated.v1`
    /// event: identity, window, hash, signatures, methodology binding, count; never the payload.
    pub fn event_data(&self) -> Value {
        let s = &self.signatures;
        json!({
            "export_id": self.export_id,
            "period": self.period.as_str(),
            "period_start": self.period_start.to_string(),
            "period_end": self.period_end.to_string(),
            "verification_hash": self.verification_hash,
            "signature": s.signature,
            "signature_algorithm": s.signature_algorithm,
            "key_version": s.key_version,
            "asym_signature": s.asym_signature,
            "asym_algorithm": s.asym_algorithm,
            "asym_key_version": s.asym_key_version,
            "methodology_version": self.methodology_version,
            "methodology_hash": self.methodology_hash,
            "impacts_count": self.impacts_count,
        })
    }

    /// The row to insert.
    pub(crate) fn to_row(&self) -> Result<esg_mrv_exports::ActiveModel, MrvError> {
        let s = &self.signatures;
        let text = |value: &Value| -> Result<String, MrvError> {
            let bytes = crate::proof::to_canonical_vec(value)
                .map_err(|e| MrvError::Storage(e.to_string()))?;
            String::from_utf8(bytes).map_err(|e| MrvError::Storage(e.to_string()))
        };
        let micro = |d: Decimal6| d.to_micro().map_err(|e| MrvError::Storage(e.to_string()));
        Ok(esg_mrv_exports::ActiveModel {
            export_id: Set(self.export_id.clone()),
            schema_version: Set(self.schema_version.clone()),
            period: Set(self.period.as_str().to_owned()),
            period_start: Set(self.period_start.as_datetime()),
            period_end: Set(self.period_end.as_datetime()),
            generated_at: Set(self.generated_at.as_datetime()),
            verification_hash: Set(self.verification_hash.clone()),
            signature: Set(s.signature.clone()),
            signature_algorithm: Set(s.signature_algorithm.clone()),
            key_version: Set(s.key_version.clone()),
            asym_signature: Set(s.asym_signature.clone()),
            asym_algorithm: Set(s.asym_algorithm.clone()),
            asym_key_version: Set(s.asym_key_version.clone()),
            methodology_version: Set(self.methodology_version.clone()),
            methodology_hash: Set(self.methodology_hash.clone()),
            model_versions: Set(text(&Value::from(self.model_versions.clone()))?),
            impacts_count: Set(self.impacts_count),
            total_distance_km_micro: Set(micro(self.total_distance_km)?),
            total_co2_avoided_kg_micro: Set(micro(self.total_co2_avoided_kg)?),
            aggregation: Set(text(&self.aggregation)?),
            raw_impacts_count: Set(self.raw_impacts_count),
            duplicates_removed_count: Set(self.duplicates_removed_count),
            proof_hash: Set(self.proof_hash.clone()),
            payload_size_bytes: Set(self.payload_size_bytes),
            chunk_count: Set(self.chunk_count),
            chunk_codec: Set(self.chunk_codec.clone()),
            correlation_id: Set(self.correlation_id.clone()),
            created_at: Set(self.created_at.as_datetime()),
        })
    }

    /// Decodes a stored row.
    pub(crate) fn from_row(row: esg_mrv_exports::Model) -> Result<Self, MrvError> {
        let storage = |what: &str, e: &dyn std::fmt::Display| {
            MrvError::Storage(format!("export {}: {what}: {e}", row.export_id))
        };
        let period: Period = row.period.parse().map_err(|e| storage("period", &e))?;
        let model_versions: Vec<String> =
            serde_json::from_str(&row.model_versions).map_err(|e| storage("model_versions", &e))?;
        let aggregation: Value =
            serde_json::from_str(&row.aggregation).map_err(|e| storage("aggregation", &e))?;
        Ok(Self {
            schema_version: row.schema_version,
            period,
            period_start: UtcMicros::truncating(row.period_start),
            period_end: UtcMicros::truncating(row.period_end),
            generated_at: UtcMicros::truncating(row.generated_at),
            verification_hash: row.verification_hash,
            signatures: Signatures {
                signature: row.signature,
                signature_algorithm: row.signature_algorithm,
                key_version: row.key_version,
                asym_signature: row.asym_signature,
                asym_algorithm: row.asym_algorithm,
                asym_key_version: row.asym_key_version,
            },
            methodology_version: row.methodology_version,
            methodology_hash: row.methodology_hash,
            model_versions,
            impacts_count: row.impacts_count,
            total_distance_km: Decimal6::from_micro(row.total_distance_km_micro),
            total_co2_avoided_kg: Decimal6::from_micro(row.total_co2_avoided_kg_micro),
            aggregation,
            raw_impacts_count: row.raw_impacts_count,
            duplicates_removed_count: row.duplicates_removed_count,
            proof_hash: row.proof_hash,
            payload_size_bytes: row.payload_size_bytes,
            chunk_count: row.chunk_count,
            chunk_codec: row.chunk_codec,
            correlation_id: row.correlation_id,
            created_at: UtcMicros::truncating(row.created_at),
            export_id: row.export_id,
        })
    }
}
