//! `esg_mrv_exports`: one row per materialised MRV export (its payload lives in chunks).

use sea_orm::entity::prelude::*;

/// Export metadata: period, hashes, signatures, methodology binding, totals, payload size.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_mrv_exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub export_id: String,
    pub schema_version: String,
    pub period: String,
    pub period_start: DateTimeUtc,
    pub period_end: DateTimeUtc,
    pub generated_at: DateTimeUtc,
    pub verification_hash: String,
    pub signature: String,
    pub signature_algorithm: String,
    pub key_version: String,
    pub asym_signature: String,
    pub asym_algorithm: String,
    pub asym_key_version: String,
    pub methodology_version: String,
    pub methodology_hash: String,
    /// JSON array of the model versions in the export, sorted.
    pub model_versions: String,
    pub impacts_count: i64,
    pub total_distance_km_micro: i64,
    pub total_co2_avoided_kg_micro: i64,
    /// The payload's `aggregation` object as canonical JSON.
    pub aggregation: String,
    pub raw_impacts_count: i64,
    pub duplicates_removed_count: i64,
    pub proof_hash: String,
    pub payload_size_bytes: i64,
    pub chunk_count: i32,
    /// How the chunks are stored: `zstd` (one frame per chunk) or `none`.
    pub chunk_codec: String,
    pub correlation_id: Option<String>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
