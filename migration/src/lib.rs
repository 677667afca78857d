//! GreenOS schema migrations, for SQLite and PostgreSQL alike.
//!
//! Migrations never import the `entity` crate: an old migration must keep compiling and meaning
//! the same thing when the entities change.

pub use sea_orm_migration::prelude::*;

mod append_only;
mod m20261123_000001_create_tables;
mod m20261123_000002_append_only;
mod m20261201_000003_dashboard_indexes;
mod m20261201_000004_outbox_pending_index;
mod m20261201_000005_transparency_log;
mod m20261203_000006_deferrable_chunk_key;
mod m20261206_000007_chunk_codec;

/// The ordered list of GreenOS migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tables::Migration),
            Box::new(m20261123_000002_append_only::Migration),
            Box::new(m20261201_000003_dashboard_indexes::Migration),
            Box::new(m20261201_000004_outbox_pending_index::Migration),
            Box::new(m20261201_000005_transparency_log::Migration),
            Box::new(m20261203_000006_deferrable_chunk_key::Migration),
            Box::new(m20261206_000007_chunk_codec::Migration),
        ]
    }
}

/// The tables whose rows may never be updated or deleted.
pub const APPEND_ONLY_TABLES: [&str; 4] = [
    "esg_impact_ledger",
    "esg_audit_metadata",
    "esg_mrv_exports",
    "esg_mrv_export_chunks",
];
