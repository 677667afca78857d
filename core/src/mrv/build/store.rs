//! Writing an export: one short transaction holds its payload chunks (the spool's head, impacts
//! file and tail, cut in chunks and hashed as they are written), then the export row that
//! carries that hash, the `EXPORT_GENERATED` audit row and the `audit_generated.v1` outbox row. On SQLite it begins `IMMEDIATE` (the write lock at once,
//! so concurrent writers queue on the busy timeout), on a connection whose commit leaves the
//! WAL's checkpoint to the background task; the unique `(period_start, period_end)` index
//! decides races on both backends.

use std::time::Instant;

use greenos_entity::{esg_audit_metadata, esg_mrv_export_chunks, esg_mrv_exports};
use sea_orm::ActiveValue::Set;
use sea_orm::sqlx::sqlite::SqlitePoolOptions;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    SqlxSqliteConnector, Statement,
};
use tokio::sync::mpsc;

use crate::mrv::build::spool::Payload;
use crate::mrv::error::MrvError;
use crate::mrv::record::ExportRecord;
use crate::outbox::{AUDIT_GENERATED_V1, Envelope, insert_rows, pending_row};
use crate::proof::{Sha256Hex, UtcMicros, to_canonical};

/// The audit event of a generated export.
pub const EXPORT_GENERATED: &str = "EXPORT_GENERATED";
/// The largest stored chunk of a payload.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// Chunks read and hashed ahead of the one being written.
const CHUNKS_IN_FLIGHT: usize = 2;

/// How many chunks a payload of `size_bytes` is stored in.
pub(crate) fn chunk_count(size_bytes: u64) -> Result<i32, MrvError> {
    i32::try_from(size_bytes.div_ceil(CHUNK_BYTES as u64))
        .map_err(|_| MrvError::Storage(format!("a payload of {size_bytes} bytes is too large")))
}

/// Stores the export `export_id`: its payload as chunks, hashed as they are written, then the
/// export row `finish` makes from the payload's hash, the audit row and the outbox row, in one
/// transaction; returns the row stored.
///
/// On SQLite the transaction runs on a connection of its own whose commit does not checkpoint.
/// An export appends its whole payload to the WAL (hundreds of MiB for a large window), and a
/// pooled connection would then copy all of it into the database file before `COMMIT`
/// returned (the WAL is past the writers' bound, `wal_autocheckpoint`); the background
/// checkpoint task that already runs beside every writer (`src/db.rs`) copies it instead. The
/// WAL is no larger for it: it is reset once that checkpoint is complete, as before.
pub(crate) async fn insert(
    db: &DatabaseConnection,
    export_id: &str,
    payload: Payload,
    finish: impl FnOnce(Sha256Hex) -> Result<ExportRecord, MrvError>,
) -> Result<ExportRecord, MrvError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return write(db, export_id, payload, finish).await;
    }
    let options = (*db.get_sqlite_connection_pool().connect_options())
        .clone()
        .pragma("wal_autocheckpoint", "0");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let own = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
    let written = write(&own, export_id, payload, finish).await;
    let closed = own.close().await;
    let record = written?;
    closed?;
    Ok(record)
}

/// The transaction of [`insert`], on `db`. The chunks' foreign key to the export row is checked
/// at commit, so that the row, which carries the payload's hash, is written after them; a
/// blocking thread reads and hashes the payload while the chunks before are being written.
async fn write(
    db: &DatabaseConnection,
    export_id: &str,
    payload: Payload,
    finish: impl FnOnce(Sha256Hex) -> Result<ExportRecord, MrvError>,
) -> Result<ExportRecord, MrvError> {
    let txn = crate::db::begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        prefer_lz4(&txn).await?;
        txn.execute_unprepared("SET CONSTRAINTS fk_esg_mrv_export_chunks_export DEFERRED")
            .await?;
    } else {
        txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
            .await?;
    }
    let (tx, mut chunks) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let reading = tokio::task::spawn_blocking(move || payload.send_in_pieces(CHUNK_BYTES, &tx));
    let started = Instant::now();
    let mut written: i32 = 0;
    while let Some(bytes) = chunks.recv().await {
        esg_mrv_export_chunks::Entity::insert(esg_mrv_export_chunks::ActiveModel {
            export_id: Set(export_id.to_owned()),
            chunk_index: Set(written),
            bytes: Set(bytes),
        })
        .exec_without_returning(&txn)
        .await?;
        written += 1;
    }
    let inserting = started.elapsed();
    let verification_hash = reading.await.map_err(|e| MrvError::Task(e.to_string()))??;
    let record = finish(verification_hash)?;
    if written != record.chunk_count {
        return Err(MrvError::Storage(format!(
            "export {export_id}: wrote {written} chunks, expected {}",
            record.chunk_count
        )));
    }
    esg_mrv_exports::Entity::insert(record.to_row()?)
        .exec_without_returning(&txn)
        .await
        .map_err(|err| conflict_or(err, &record))?;
    let data = record.event_data();
    let details = to_canonical(&data).map_err(|e| MrvError::Storage(e.to_string()))?;
    let details = String::from_utf8(details).map_err(|e| MrvError::Storage(e.to_string()))?;
    esg_audit_metadata::Entity::insert(esg_audit_metadata::ActiveModel {
        audit_id: Set(uuid::Uuid::new_v4().to_string()),
        event_type: Set(EXPORT_GENERATED.to_owned()),
        subject_id: Set(record.export_id.clone()),
        details: Set(details),
        correlation_id: Set(record.correlation_id.clone()),
        created_at: Set(record.created_at.as_datetime()),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    let envelope = Envelope::new(
        AUDIT_GENERATED_V1,
        record.created_at,
        record.export_id.clone(),
        record.correlation_id.clone(),
        data,
    );
    let row =
        pending_row(&envelope, UtcMicros::now()).map_err(|e| MrvError::Storage(e.to_string()))?;
    insert_rows(&txn, vec![row]).await?;
    let committing = Instant::now();
    txn.commit().await?;
    tracing::debug!(
        export_id = %record.export_id,
        chunks = written,
        chunk_insert_ms = inserting.as_millis(),
        commit_ms = committing.elapsed().as_millis(),
        "MRV export stored"
    );
    Ok(record)
}

/// Compresses this transaction's chunks with lz4 where the server supports it: about four
/// times faster than the default pglz on payload JSON, and no larger. Old chunks stay readable
/// whatever their compression.
async fn prefer_lz4(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    let supported = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 AS lz4 FROM pg_settings \
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
        ))
        .await?
        .is_some();
    if supported {
        txn.execute_unprepared("SET LOCAL default_toast_compression = 'lz4'")
            .await?;
    }
    Ok(())
}

/// A unique violation on the export row means another export of the window committed first.
fn conflict_or(err: DbErr, record: &ExportRecord) -> MrvError {
    if crate::db::is_unique_violation(&err) {
        MrvError::ExportConflict {
            period_start: record.period_start.to_string(),
            period_end: record.period_end.to_string(),
            export_id: None,
        }
    } else {
        err.into()
    }
}
