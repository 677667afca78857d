//! The foreign key from an export's chunks to its row may wait for the end of the export's
//! transaction (PostgreSQL: `DEFERRABLE INITIALLY IMMEDIATE`, so it is checked at once unless a
//! transaction asks with `SET CONSTRAINTS`). An export then writes its chunks while it hashes
//! them, and its row, which carries that hash, last. SQLite defers a transaction's foreign keys
//! with `PRAGMA defer_foreign_keys` whatever the schema says: nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ALTER: &str =
    "ALTER TABLE esg_mrv_export_chunks ALTER CONSTRAINT fk_esg_mrv_export_chunks_export";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        alter(manager, "DEFERRABLE INITIALLY IMMEDIATE").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        alter(manager, "NOT DEFERRABLE").await
    }
}

async fn alter(manager: &SchemaManager<'_>, to: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager
            .get_connection()
            .execute_unprepared(&format!("{ALTER} {to}"))
            .await?;
    }
    Ok(())
}
