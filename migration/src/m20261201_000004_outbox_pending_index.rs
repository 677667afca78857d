//! The relay's claims read only `PENDING` rows in `next_attempt_at` order: a partial index of
//! exactly those rows replaces the index on `(status, next_attempt_at)`. Marking a row
//! `PUBLISHED` then adds no entry to it (the old index gained one per published row, for
//! good), and a claim walks an index as small as the backlog. Queries that should use it spell
//! `status = 'PENDING'` as a literal, so that a generic plan can prove the predicate.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "esg_outbox_events";
const OLD_INDEX: &str = "ix_esg_outbox_events_due";
const PENDING_INDEX: &str = "ix_esg_outbox_events_pending";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same statement on PostgreSQL and SQLite.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {PENDING_INDEX} ON {TABLE} (next_attempt_at) \
                 WHERE status = 'PENDING'"
            ))
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_INDEX)
                    .table(TABLE)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD_INDEX)
                    .table(TABLE)
                    .col("status")
                    .col("next_attempt_at")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(PENDING_INDEX)
                    .table(TABLE)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
