//! `esg_log_hashes`: the Merkle tree's stored hashes, append-only.

use sea_orm::entity::prelude::*;

/// The hash of one full subtree, at its stored-hash index (Go's `sumdb/tlog` layout).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_log_hashes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash_index: i64,
    /// 32 bytes.
    pub hash: Vec<u8>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
