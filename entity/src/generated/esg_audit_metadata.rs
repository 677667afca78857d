//! `esg_audit_metadata`: append-only audit snapshots.

use sea_orm::entity::prelude::*;

/// One audit event (export generated, methodology changed, key rotated, verification run).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_audit_metadata")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub audit_seq: i64,
    #[sea_orm(unique)]
    pub audit_id: String,
    pub event_type: String,
    pub subject_id: String,
    /// Canonical JSON describing the event.
    pub details: String,
    pub correlation_id: Option<String>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
