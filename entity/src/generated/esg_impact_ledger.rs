//! `esg_impact_ledger`: one row per computed impact.

use sea_orm::entity::prelude::*;

/// One signed impact; decimal quantities are micro-units.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_impact_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub ledger_seq: i64,
    pub trip_id: String,
    pub user_id: String,
    pub vehicle_id: String,
    pub country_code: String,
    pub geo_hash: String,
    pub event_timestamp: DateTimeUtc,
    pub distance_km_micro: i64,
    pub thermal_factor_local_micro: i64,
    pub ev_factor_local_micro: i64,
    pub co2_avoided_kg_micro: i64,
    pub model_version: String,
    pub methodology_version: String,
    pub event_hash: String,
    pub checksum: String,
    pub signature: String,
    pub signature_algorithm: String,
    pub key_version: String,
    pub asym_signature: String,
    pub asym_algorithm: String,
    pub asym_key_version: String,
    pub correlation_id: Option<String>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
