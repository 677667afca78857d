//! An export's chunks may be stored compressed (SPEC §3): the export row names their codec,
//! `chunk_codec`, which is `none` for the exports stored before (their chunks are the payload
//! bytes as they are) and `zstd` for those GreenOS writes now (one zstd frame per chunk).
//! PostgreSQL keeps chunk bytes out of line without compressing them again
//! (`STORAGE EXTERNAL`): its own compression of an already compressed chunk only costs time.
//! Chunks stored before keep the form they were stored in, and read the same.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const EXPORTS: &str = "esg_mrv_exports";
const CODEC: &str = "chunk_codec";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EXPORTS)
                    .add_column(
                        ColumnDef::new(CODEC)
                            .string_len(16)
                            .not_null()
                            .default("none"),
                    )
                    .to_owned(),
            )
            .await?;
        storage(manager, "EXTERNAL").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        storage(manager, "EXTENDED").await?;
        manager
            .alter_table(Table::alter().table(EXPORTS).drop_column(CODEC).to_owned())
            .await
    }
}

async fn storage(manager: &SchemaManager<'_>, to: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE esg_mrv_export_chunks ALTER COLUMN bytes SET STORAGE {to}"
            ))
            .await?;
    }
    Ok(())
}
