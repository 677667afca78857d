//! `esg_mrv_methodology`: the versioned methodology registry.

use sea_orm::entity::prelude::*;

/// One methodology version; list and map fields are canonical JSON text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_mrv_methodology")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub methodology_version: String,
    pub status: String,
    pub baseline_reference: String,
    pub factor_references: String,
    pub geographic_scope: String,
    pub country_factors: String,
    pub formula: String,
    pub rounding: String,
    pub methodology_hash: String,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    pub deprecated_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
