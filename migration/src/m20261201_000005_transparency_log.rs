//! The transparency log's three append-only tables (SPEC §3, §18): the leaf order
//! (`leaf_index` → `ledger_seq`, no gaps, each ledger row once), the Merkle tree's stored hashes
//! (32 bytes each, by stored-hash index, Go's `sumdb/tlog` layout) and every signed checkpoint
//! (by tree size). Each gets the ledger's triggers (`append_only.rs`): `UPDATE` and `DELETE`
//! (and, on PostgreSQL, `TRUNCATE`) are refused. The leaves carry no foreign key to the ledger
//! on purpose: the log must outlive, and expose, a ledger row deleted behind its back.

use sea_orm_migration::{prelude::*, schema::*};

use crate::append_only;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The log's tables, append-only like the ledger.
const LOG_TABLES: [&str; 3] = ["esg_log_leaves", "esg_log_hashes", "esg_log_checkpoints"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [leaves(), hashes(), checkpoints()] {
            manager.create_table(table).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("uq_esg_log_leaves_ledger_seq")
                    .table("esg_log_leaves")
                    .col("ledger_seq")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        append_only::execute(
            manager,
            || {
                LOG_TABLES
                    .into_iter()
                    .flat_map(append_only::sqlite_triggers)
                    .collect()
            },
            || {
                LOG_TABLES
                    .into_iter()
                    .flat_map(append_only::postgres_triggers)
                    .collect()
            },
        )
        .await
    }
}

fn leaves() -> TableCreateStatement {
    Table::create()
        .table("esg_log_leaves")
        .if_not_exists()
        .col(big_integer("leaf_index").primary_key())
        .col(big_integer("ledger_seq"))
        .col(timestamp_with_time_zone("created_at"))
        .to_owned()
}

fn hashes() -> TableCreateStatement {
    Table::create()
        .table("esg_log_hashes")
        .if_not_exists()
        .col(big_integer("hash_index").primary_key())
        .col(binary_len("hash", 32))
        .to_owned()
}

fn checkpoints() -> TableCreateStatement {
    Table::create()
        .table("esg_log_checkpoints")
        .if_not_exists()
        .col(big_integer("tree_size").primary_key())
        .col(string_len("root_hash", 64))
        .col(text("note"))
        .col(string_len("key_version", 64))
        .col(timestamp_with_time_zone("created_at"))
        .to_owned()
}
