//! `esg_log_leaves`: the transparency log's leaf order, append-only.

use sea_orm::entity::prelude::*;

/// Leaf `leaf_index` of the log is the ledger row `ledger_seq` (no gaps, each row once).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_log_leaves")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub leaf_index: i64,
    #[sea_orm(unique)]
    pub ledger_seq: i64,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
