//! The schema of SPEC §3 and its guarantees, enforced by the database itself.

use chrono::Utc;
use greenos::db;
use greenos_entity::{
    esg_audit_metadata, esg_impact_ledger, esg_log_checkpoints, esg_log_hashes, esg_log_leaves,
    esg_mrv_export_chunks, esg_mrv_exports, esg_mrv_methodology, esg_outbox_events,
};
use greenos_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, ModelTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    migrations_apply_from_empty_and_are_idempotent,
    append_only_tables_reject_raw_update_and_delete,
    append_only_tables_reject_orm_update_and_delete,
    database_allows_at_most_one_active_methodology,
    methodology_content_is_frozen_but_status_moves,
    ledger_seq_increases_and_trip_model_is_unique,
    export_chunks_need_their_export_row_by_commit,
    the_chunk_codec_migration_reverts_and_applies_again,
);

const TABLES: [&str; 9] = [
    "esg_impact_ledger",
    "esg_audit_metadata",
    "esg_mrv_exports",
    "esg_mrv_export_chunks",
    "esg_mrv_methodology",
    "esg_outbox_events",
    "esg_log_leaves",
    "esg_log_hashes",
    "esg_log_checkpoints",
];

fn ledger_row(trip_id: &str, model_version: &str) -> esg_impact_ledger::ActiveModel {
    let now = Utc::now();
    esg_impact_ledger::ActiveModel {
        trip_id: Set(trip_id.to_owned()),
        user_id: Set("u-1".to_owned()),
        vehicle_id: Set("ev-1".to_owned()),
        country_code: Set("CI".to_owned()),
        geo_hash: Set("s0t5q".to_owned()),
        event_timestamp: Set(now),
        distance_km_micro: Set(12_500_000),
        thermal_factor_local_micro: Set(192_000),
        ev_factor_local_micro: Set(48_000),
        co2_avoided_kg_micro: Set(1_800_000),
        model_version: Set(model_version.to_owned()),
        methodology_version: Set("m-1".to_owned()),
        event_hash: Set("a".repeat(64)),
        checksum: Set("b".repeat(64)),
        signature: Set("c".repeat(64)),
        signature_algorithm: Set("HMAC-SHA256".to_owned()),
        key_version: Set("v1".to_owned()),
        asym_signature: Set("sig".to_owned()),
        asym_algorithm: Set("ED25519".to_owned()),
        asym_key_version: Set("v1".to_owned()),
        correlation_id: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
}

fn methodology_row(version: &str, status: &str) -> esg_mrv_methodology::ActiveModel {
    esg_mrv_methodology::ActiveModel {
        methodology_version: Set(version.to_owned()),
        status: Set(status.to_owned()),
        baseline_reference: Set("distance_km * thermal_factor_local baseline".to_owned()),
        factor_references: Set(r#"["ref"]"#.to_owned()),
        geographic_scope: Set(r#"["CI"]"#.to_owned()),
        country_factors: Set("{}".to_owned()),
        formula: Set("f".to_owned()),
        rounding: Set("half_even_6".to_owned()),
        methodology_hash: Set("d".repeat(64)),
        created_at: Set(Utc::now()),
        activated_at: Set(None),
        deprecated_at: Set(None),
    }
}

/// The application bootstraps an ACTIVE methodology at start; retire it so that these tests
/// decide which row is ACTIVE.
async fn retire_bootstrapped_methodology(db: &DatabaseConnection) {
    db.execute_unprepared(
        "UPDATE esg_mrv_methodology SET status = 'DEPRECATED' WHERE status = 'ACTIVE'",
    )
    .await
    .expect("retire the bootstrapped methodology");
}

fn export_row(export_id: &str) -> esg_mrv_exports::ActiveModel {
    let now = Utc::now();
    esg_mrv_exports::ActiveModel {
        export_id: Set(export_id.to_owned()),
        schema_version: Set("greenos.mrv.v1".to_owned()),
        period: Set("3M".to_owned()),
        period_start: Set(now),
        period_end: Set(now),
        generated_at: Set(now),
        verification_hash: Set("e".repeat(64)),
        signature: Set("s".to_owned()),
        signature_algorithm: Set("HMAC-SHA256".to_owned()),
        key_version: Set("v1".to_owned()),
        asym_signature: Set("a".to_owned()),
        asym_algorithm: Set("ED25519".to_owned()),
        asym_key_version: Set("v1".to_owned()),
        methodology_version: Set("m-1".to_owned()),
        methodology_hash: Set("d".repeat(64)),
        model_versions: Set("[]".to_owned()),
        impacts_count: Set(0),
        total_distance_km_micro: Set(0),
        total_co2_avoided_kg_micro: Set(0),
        aggregation: Set("{}".to_owned()),
        raw_impacts_count: Set(0),
        duplicates_removed_count: Set(0),
        proof_hash: Set("f".repeat(64)),
        payload_size_bytes: Set(2),
        chunk_count: Set(1),
        chunk_codec: Set("none".to_owned()),
        correlation_id: Set(None),
        created_at: Set(now),
    }
}

/// Inserts one row in each append-only table; answers `(table, key column, key value)`.
async fn seed_append_only_rows(
    db: &DatabaseConnection,
) -> Vec<(&'static str, &'static str, String)> {
    let ledger = ledger_row("trip-1", "co2-v1")
        .insert(db)
        .await
        .expect("ledger insert");
    let audit = esg_audit_metadata::ActiveModel {
        audit_id: Set(uuid::Uuid::new_v4().to_string()),
        event_type: Set("EXPORT_GENERATED".to_owned()),
        subject_id: Set("x".to_owned()),
        details: Set("{}".to_owned()),
        correlation_id: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("audit insert");
    export_row("exp-1").insert(db).await.expect("export insert");
    esg_mrv_export_chunks::ActiveModel {
        export_id: Set("exp-1".to_owned()),
        chunk_index: Set(0),
        bytes: Set(b"{}".to_vec()),
    }
    .insert(db)
    .await
    .expect("chunk insert");
    esg_log_leaves::ActiveModel {
        leaf_index: Set(0),
        ledger_seq: Set(ledger.ledger_seq),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .expect("leaf insert");
    esg_log_hashes::ActiveModel {
        hash_index: Set(0),
        hash: Set(vec![0xab; 32]),
    }
    .insert(db)
    .await
    .expect("hash insert");
    esg_log_checkpoints::ActiveModel {
        tree_size: Set(1),
        root_hash: Set("cd".repeat(32)),
        note: Set("note".to_owned()),
        key_version: Set("v1".to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .expect("checkpoint insert");
    vec![
        (
            "esg_impact_ledger",
            "ledger_seq",
            ledger.ledger_seq.to_string(),
        ),
        (
            "esg_audit_metadata",
            "audit_seq",
            audit.audit_seq.to_string(),
        ),
        ("esg_mrv_exports", "export_id", "'exp-1'".to_owned()),
        ("esg_mrv_export_chunks", "export_id", "'exp-1'".to_owned()),
        ("esg_log_leaves", "leaf_index", "0".to_owned()),
        ("esg_log_hashes", "hash_index", "0".to_owned()),
        ("esg_log_checkpoints", "tree_size", "1".to_owned()),
    ]
}

async fn migrations_apply_from_empty_and_are_idempotent(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Spawning migrated from empty; a second (and third) run must be a no-op.
    db::migrate(&app.db).await.expect("second migration run");
    db::migrate(&app.db).await.expect("third migration run");
    for table in TABLES {
        app.db
            .execute_unprepared(&format!("SELECT COUNT(*) FROM {table}"))
            .await
            .unwrap_or_else(|e| panic!("{table} exists: {e}"));
    }
}

/// The last migration (the chunks' codec) goes down and up again on a schema with an export:
/// the column goes and comes back, rows stored before it read as `none`.
async fn the_chunk_codec_migration_reverts_and_applies_again(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Migrator::down(&app.db, Some(1)).await.expect("down");
    app.db
        .execute_unprepared("SELECT chunk_codec FROM esg_mrv_exports")
        .await
        .expect_err("the column is gone");
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO esg_mrv_exports (export_id, schema_version, period, period_start, \
             period_end, generated_at, verification_hash, signature, signature_algorithm, \
             key_version, asym_signature, asym_algorithm, asym_key_version, methodology_version, \
             methodology_hash, model_versions, impacts_count, total_distance_km_micro, \
             total_co2_avoided_kg_micro, aggregation, raw_impacts_count, \
             duplicates_removed_count, proof_hash, payload_size_bytes, chunk_count, created_at) \
             VALUES ('exp-old', 'greenos.mrv.v1', '3M', '{now}', '{now}', '{now}', 'e', 's', \
             'HMAC-SHA256', 'v1', 'a', 'ED25519', 'v1', 'm-1', 'd', '[]', 0, 0, 0, '{{}}', 0, 0, \
             'f', 2, 1, '{now}')",
            now = "2026-01-01T00:00:00+00:00"
        ))
        .await
        .expect("an export row stored before the codec");
    Migrator::up(&app.db, None).await.expect("up again");
    let old = esg_mrv_exports::Entity::find_by_id("exp-old")
        .one(&app.db)
        .await
        .expect("read")
        .expect("the row");
    assert_eq!(old.chunk_codec, "none");
}

async fn append_only_tables_reject_raw_update_and_delete(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let rows = seed_append_only_rows(&app.db).await;
    for (table, key, value) in rows {
        let update = app
            .db
            .execute_unprepared(&format!(
                "UPDATE {table} SET {key} = {key} WHERE {key} = {value}"
            ))
            .await
            .expect_err(&format!("UPDATE on {table} must fail"));
        assert!(
            update.to_string().contains("GREENOS_APPEND_ONLY"),
            "{table}: {update}"
        );
        assert!(update.to_string().contains(table), "{table}: {update}");
        let delete = app
            .db
            .execute_unprepared(&format!("DELETE FROM {table} WHERE {key} = {value}"))
            .await
            .expect_err(&format!("DELETE on {table} must fail"));
        assert!(
            delete.to_string().contains("GREENOS_APPEND_ONLY"),
            "{table}: {delete}"
        );
    }
    if backend == Backend::Postgres {
        let truncate = app
            .db
            .execute_unprepared("TRUNCATE esg_impact_ledger")
            .await
            .expect_err("TRUNCATE must fail");
        assert!(truncate.to_string().contains("GREENOS_APPEND_ONLY"));
    }
    let count = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM esg_impact_ledger",
        ))
        .await
        .expect("count")
        .expect("one row")
        .try_get::<i64>("", "n")
        .expect("n");
    assert_eq!(count, 1, "the refused statements changed nothing");
}

async fn append_only_tables_reject_orm_update_and_delete(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ledger = ledger_row("trip-orm", "co2-v1")
        .insert(&app.db)
        .await
        .expect("insert");
    let ledger_seq = ledger.ledger_seq;
    let mut changed: esg_impact_ledger::ActiveModel = ledger.clone().into();
    changed.distance_km_micro = Set(1);
    let err = changed
        .update(&app.db)
        .await
        .expect_err("ORM update refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = ledger
        .delete(&app.db)
        .await
        .expect_err("ORM delete refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let export = export_row("exp-orm").insert(&app.db).await.expect("insert");
    let mut changed: esg_mrv_exports::ActiveModel = export.into();
    changed.verification_hash = Set("0".repeat(64));
    assert!(changed.update(&app.db).await.is_err());
    let leaf = esg_log_leaves::ActiveModel {
        leaf_index: Set(0),
        ledger_seq: Set(ledger_seq),
        created_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .expect("leaf insert");
    let mut moved: esg_log_leaves::ActiveModel = leaf.clone().into();
    moved.ledger_seq = Set(ledger_seq + 1);
    let err = moved.update(&app.db).await.expect_err("ORM update refused");
    assert!(err.to_string().contains("esg_log_leaves"), "{err}");
    let err = leaf.delete(&app.db).await.expect_err("ORM delete refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let hash = esg_log_hashes::ActiveModel {
        hash_index: Set(0),
        hash: Set(vec![0; 32]),
    }
    .insert(&app.db)
    .await
    .expect("hash insert");
    let mut rewritten: esg_log_hashes::ActiveModel = hash.into();
    rewritten.hash = Set(vec![1; 32]);
    assert!(rewritten.update(&app.db).await.is_err());
    let checkpoint = esg_log_checkpoints::ActiveModel {
        tree_size: Set(1),
        root_hash: Set("00".repeat(32)),
        note: Set("note".to_owned()),
        key_version: Set("v1".to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .expect("checkpoint insert");
    assert!(checkpoint.delete(&app.db).await.is_err());
    // The outbox is the one table whose rows move (PENDING → PUBLISHED).
    let now = Utc::now();
    let event = esg_outbox_events::ActiveModel {
        event_id: Set(uuid::Uuid::new_v4().to_string()),
        topic: Set("esg_calculated.v1".to_owned()),
        aggregate_id: Set("trip-orm".to_owned()),
        payload: Set("{}".to_owned()),
        status: Set("PENDING".to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        correlation_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set(None),
    }
    .insert(&app.db)
    .await
    .expect("outbox insert");
    let mut published: esg_outbox_events::ActiveModel = event.into();
    published.status = Set("PUBLISHED".to_owned());
    published.update(&app.db).await.expect("outbox rows move");
}

async fn database_allows_at_most_one_active_methodology(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    retire_bootstrapped_methodology(&app.db).await;
    methodology_row("m-1", "ACTIVE")
        .insert(&app.db)
        .await
        .expect("first ACTIVE");
    methodology_row("m-2", "DEPRECATED")
        .insert(&app.db)
        .await
        .expect("a DEPRECATED one");
    let err = methodology_row("m-3", "ACTIVE")
        .insert(&app.db)
        .await
        .expect_err("a second ACTIVE row is refused by the database");
    assert!(
        matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ),
        "{err}"
    );
    // Raw SQL cannot sneak one in either.
    let err = app
        .db
        .execute_unprepared(
            "UPDATE esg_mrv_methodology SET status = 'ACTIVE' WHERE methodology_version = 'm-2'",
        )
        .await
        .expect_err("raw promotion refused");
    assert!(err.to_string().to_lowercase().contains("unique"), "{err}");
    let err = methodology_row("m-4", "BOGUS")
        .insert(&app.db)
        .await
        .expect_err("unknown status");
    assert!(err.to_string().to_lowercase().contains("check"), "{err}");
}

async fn methodology_content_is_frozen_but_status_moves(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    retire_bootstrapped_methodology(&app.db).await;
    methodology_row("m-1", "ACTIVE")
        .insert(&app.db)
        .await
        .expect("insert");
    let err = app
        .db
        .execute_unprepared("UPDATE esg_mrv_methodology SET baseline_reference = 'other' WHERE methodology_version = 'm-1'")
        .await
        .expect_err("hashed content is immutable");
    assert!(err.to_string().contains("GREENOS_APPEND_ONLY"), "{err}");
    app.db
        .execute_unprepared("UPDATE esg_mrv_methodology SET status = 'DEPRECATED' WHERE methodology_version = 'm-1'")
        .await
        .expect("status may move");
    let err = app
        .db
        .execute_unprepared("DELETE FROM esg_mrv_methodology WHERE methodology_version = 'm-1'")
        .await
        .expect_err("never deleted");
    assert!(err.to_string().contains("GREENOS_APPEND_ONLY"), "{err}");
}

async fn ledger_seq_increases_and_trip_model_is_unique(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let a = ledger_row("t-a", "co2-v1")
        .insert(&app.db)
        .await
        .expect("a");
    let b = ledger_row("t-b", "co2-v1")
        .insert(&app.db)
        .await
        .expect("b");
    let c = ledger_row("t-a", "co2-v2")
        .insert(&app.db)
        .await
        .expect("same trip, other model");
    assert!(a.ledger_seq < b.ledger_seq && b.ledger_seq < c.ledger_seq);
    let err = ledger_row("t-a", "co2-v1")
        .insert(&app.db)
        .await
        .expect_err("duplicate");
    assert!(
        matches!(
            err.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ),
        "{err}"
    );
    let all = esg_impact_ledger::Entity::find()
        .all(&app.db)
        .await
        .expect("read");
    assert_eq!(all.len(), 3);
}

/// An export writes its chunks before its row (the row carries the hash of the chunks), so its
/// transaction defers the chunks' foreign key to commit, as `core/src/mrv/build/store.rs` does;
/// the key is still checked then, and at once everywhere else.
async fn export_chunks_need_their_export_row_by_commit(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let chunk = |export_id: &str| esg_mrv_export_chunks::ActiveModel {
        export_id: Set(export_id.to_owned()),
        chunk_index: Set(0),
        bytes: Set(b"{}".to_vec()),
    };
    chunk("exp-none")
        .insert(&app.db)
        .await
        .expect_err("a chunk without its export row is refused at once");
    let defer = match backend {
        Backend::Sqlite => "PRAGMA defer_foreign_keys = ON",
        Backend::Postgres => "SET CONSTRAINTS fk_esg_mrv_export_chunks_export DEFERRED",
    };
    let txn = app.db.begin().await.expect("begin");
    txn.execute_unprepared(defer).await.expect("the key defers");
    chunk("exp-late")
        .insert(&txn)
        .await
        .expect("the chunk first");
    export_row("exp-late")
        .insert(&txn)
        .await
        .expect("then its row");
    txn.commit().await.expect("committed");

    let txn = app.db.begin().await.expect("begin");
    txn.execute_unprepared(defer).await.expect("the key defers");
    chunk("exp-never")
        .insert(&txn)
        .await
        .expect("checked at commit");
    txn.commit()
        .await
        .expect_err("a chunk without its export row is refused at commit");
    let chunks = |export_id: &'static str| {
        esg_mrv_export_chunks::Entity::find()
            .filter(esg_mrv_export_chunks::Column::ExportId.eq(export_id))
            .count(&app.db)
    };
    assert_eq!(chunks("exp-late").await.expect("count"), 1);
    assert_eq!(chunks("exp-never").await.expect("count"), 0);
}
