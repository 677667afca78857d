//! `esg_log_checkpoints`: every signed checkpoint of the log, append-only.

use sea_orm::entity::prelude::*;

/// The tree of `tree_size` leaves, its root and the signed note that commits to them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_log_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tree_size: i64,
    /// Lowercase hex of the 32-byte root hash.
    pub root_hash: String,
    /// The C2SP signed note (`tlog-checkpoint` text and its signature line).
    pub note: String,
    /// The Ed25519 key version that signed it.
    pub key_version: String,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
