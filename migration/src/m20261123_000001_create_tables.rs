//! The six GreenOS tables of SPEC §3, their keys and their indexes.
//!
//! Decimal quantities are BIGINT micro-units (`*_micro`) so that storage and `SUM` are exact on
//! both backends; export payloads live in ordered chunks, never in one column value.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ledger(),
            audit_metadata(),
            mrv_exports(),
            mrv_export_chunks(),
            methodology(),
            outbox(),
        ] {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        // A partial unique index: at most one row may be ACTIVE, whatever the code does.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS uq_esg_mrv_methodology_single_active \
                 ON esg_mrv_methodology (status) WHERE status = 'ACTIVE'",
            )
            .await?;
        Ok(())
    }
}

fn hash_col(name: &'static str) -> ColumnDef {
    char_len(name, 64)
}

fn ledger() -> TableCreateStatement {
    Table::create()
        .table("esg_impact_ledger")
        .if_not_exists()
        .col(big_pk_auto("ledger_seq"))
        .col(string_len("trip_id", 128))
        .col(string_len("user_id", 128))
        .col(string_len("vehicle_id", 128))
        .col(char_len("country_code", 2))
        .col(string_len("geo_hash", 12))
        .col(timestamp_with_time_zone("event_timestamp"))
        .col(big_integer("distance_km_micro"))
        .col(big_integer("thermal_factor_local_micro"))
        .col(big_integer("ev_factor_local_micro"))
        .col(big_integer("co2_avoided_kg_micro"))
        .col(string_len("model_version", 64))
        .col(string_len("methodology_version", 64))
        .col(hash_col("event_hash"))
        .col(hash_col("checksum"))
        .col(string_len("signature", 128))
        .col(string_len("signature_algorithm", 32))
        .col(string_len("key_version", 64))
        .col(string_len("asym_signature", 128))
        .col(string_len("asym_algorithm", 32))
        .col(string_len("asym_key_version", 64))
        .col(string_len_null("correlation_id", 128))
        .col(timestamp_with_time_zone("created_at"))
        .to_owned()
}

fn audit_metadata() -> TableCreateStatement {
    Table::create()
        .table("esg_audit_metadata")
        .if_not_exists()
        .col(big_pk_auto("audit_seq"))
        .col(string_len_uniq("audit_id", 36))
        .col(string_len("event_type", 64))
        .col(string_len("subject_id", 128))
        .col(text("details"))
        .col(string_len_null("correlation_id", 128))
        .col(timestamp_with_time_zone("created_at"))
        .to_owned()
}

fn mrv_exports() -> TableCreateStatement {
    Table::create()
        .table("esg_mrv_exports")
        .if_not_exists()
        .col(string_len("export_id", 36).primary_key())
        .col(string_len("schema_version", 32))
        .col(string_len("period", 8))
        .col(timestamp_with_time_zone("period_start"))
        .col(timestamp_with_time_zone("period_end"))
        .col(timestamp_with_time_zone("generated_at"))
        .col(hash_col("verification_hash"))
        .col(string_len("signature", 128))
        .col(string_len("signature_algorithm", 32))
        .col(string_len("key_version", 64))
        .col(string_len("asym_signature", 128))
        .col(string_len("asym_algorithm", 32))
        .col(string_len("asym_key_version", 64))
        .col(string_len("methodology_version", 64))
        .col(hash_col("methodology_hash"))
        .col(text("model_versions"))
        .col(big_integer("impacts_count"))
        .col(big_integer("total_distance_km_micro"))
        .col(big_integer("total_co2_avoided_kg_micro"))
        .col(text("aggregation"))
        .col(big_integer("raw_impacts_count"))
        .col(big_integer("duplicates_removed_count"))
        .col(hash_col("proof_hash"))
        .col(big_integer("payload_size_bytes"))
        .col(integer("chunk_count"))
        .col(string_len_null("correlation_id", 128))
        .col(timestamp_with_time_zone("created_at"))
        .index(
            Index::create()
                .name("uq_esg_mrv_exports_period")
                .col("period_start")
                .col("period_end")
                .unique(),
        )
        .to_owned()
}

fn mrv_export_chunks() -> TableCreateStatement {
    Table::create()
        .table("esg_mrv_export_chunks")
        .if_not_exists()
        .col(string_len("export_id", 36))
        .col(integer("chunk_index"))
        .col(blob("bytes"))
        .primary_key(Index::create().col("export_id").col("chunk_index"))
        .foreign_key(
            ForeignKey::create()
                .name("fk_esg_mrv_export_chunks_export")
                .from("esg_mrv_export_chunks", "export_id")
                .to("esg_mrv_exports", "export_id"),
        )
        .to_owned()
}

fn methodology() -> TableCreateStatement {
    Table::create()
        .table("esg_mrv_methodology")
        .if_not_exists()
        .col(string_len("methodology_version", 64).primary_key())
        .col(string_len("status", 16).check(Expr::col("status").is_in([
            "DRAFT",
            "ACTIVE",
            "DEPRECATED",
        ])))
        .col(text("baseline_reference"))
        .col(text("factor_references"))
        .col(text("geographic_scope"))
        .col(text("country_factors"))
        .col(text("formula"))
        .col(string_len("rounding", 64))
        .col(hash_col("methodology_hash"))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone_null("activated_at"))
        .col(timestamp_with_time_zone_null("deprecated_at"))
        .to_owned()
}

fn outbox() -> TableCreateStatement {
    Table::create()
        .table("esg_outbox_events")
        .if_not_exists()
        .col(string_len("event_id", 36).primary_key())
        .col(string_len("topic", 128))
        .col(string_len("aggregate_id", 128))
        .col(text("payload"))
        .col(
            string_len("status", 16)
                .default("PENDING")
                .check(Expr::col("status").is_in(["PENDING", "PUBLISHED", "FAILED"])),
        )
        .col(integer("attempts").default(0))
        .col(timestamp_with_time_zone("next_attempt_at"))
        .col(text_null("last_error"))
        .col(string_len_null("correlation_id", 128))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(timestamp_with_time_zone_null("published_at"))
        .to_owned()
}

fn index(name: &'static str, table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for col in cols {
        index.col(*col);
    }
    index.to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    let mut unique_trip = index(
        "uq_esg_impact_ledger_trip_model",
        "esg_impact_ledger",
        &["trip_id", "model_version"],
    );
    unique_trip.unique();
    vec![
        unique_trip,
        index(
            "ix_esg_impact_ledger_event_timestamp",
            "esg_impact_ledger",
            &["event_timestamp"],
        ),
        index(
            "ix_esg_impact_ledger_country_code",
            "esg_impact_ledger",
            &["country_code"],
        ),
        index(
            "ix_esg_audit_metadata_subject",
            "esg_audit_metadata",
            &["subject_id"],
        ),
        index(
            "ix_esg_mrv_exports_created_at",
            "esg_mrv_exports",
            &["created_at"],
        ),
        index(
            "ix_esg_outbox_events_due",
            "esg_outbox_events",
            &["status", "next_attempt_at"],
        ),
    ]
}
