//! `esg_mrv_export_chunks`: an export's canonical payload bytes, in order.

use sea_orm::entity::prelude::*;

/// One chunk (at most 1 MiB) of an export's canonical payload.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "esg_mrv_export_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub export_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub chunk_index: i32,
    pub bytes: Vec<u8>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}
