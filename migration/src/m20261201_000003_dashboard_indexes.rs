//! Indexes the dashboards' keyset pages and totals need: impacts ordered by time page through
//! `(event_timestamp, ledger_seq)` (which also serves every time-window filter, so it replaces
//! the index on `event_timestamp` alone), and "the latest row of a trip" is one probe of
//! `(trip_id, ledger_seq)`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "esg_impact_ledger";
const OLD_TIME_INDEX: &str = "ix_esg_impact_ledger_event_timestamp";
const TIME_INDEX: &str = "ix_esg_impact_ledger_event_timestamp_seq";
const TRIP_INDEX: &str = "ix_esg_impact_ledger_trip_seq";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(TIME_INDEX)
                    .table(TABLE)
                    .col("event_timestamp")
                    .col("ledger_seq")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(TRIP_INDEX)
                    .table(TABLE)
                    .col("trip_id")
                    .col("ledger_seq")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_TIME_INDEX)
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
                    .name(OLD_TIME_INDEX)
                    .table(TABLE)
                    .col("event_timestamp")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        for name in [TRIP_INDEX, TIME_INDEX] {
            manager
                .drop_index(Index::drop().name(name).table(TABLE).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
