//! Writing an export: one short transaction holds its payload chunks (the spool's head, impacts
//! file and tail, cut in pieces and hashed as they are read, compressed side by side, written in
//! order), then the export row that
//! carries that hash, the `EXPORT_GENERATED` audit row and the `audit_generated.v1` outbox row. On SQLite it begins `IMMEDIATE` (the write lock at once,
//! so concurrent writers queue on the busy timeout), on a connection whose commit leaves the
//! WAL's checkpoint to the background task; the unique `(period_start, period_end)` index
//! decides races on both backends.

use std::time::Instant;

use futures::StreamExt;
use greenos_entity::{esg_audit_metadata, esg_mrv_export_chunks, esg_mrv_exports};
use sea_orm::ActiveValue::Set;
use sea_orm::sqlx::sqlite::SqlitePoolOptions;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, SqlxSqliteConnector,
};
use tokio::sync::mpsc;

use crate::mrv::build::spool::Payload;
use crate::mrv::chunk::{CHUNK_BYTES, ChunkCodec};
use crate::mrv::error::MrvError;
use crate::mrv::record::ExportRecord;
use crate::outbox::{AUDIT_GENERATED_V1, Envelope, insert_rows, pending_row};
use crate::proof::{Sha256Hex, UtcMicros, to_canonical};

/// The audit event of a generated export.
pub const EXPORT_GENERATED: &str = "EXPORT_GENERATED";
/// Pieces read and hashed ahead of those being compressed.
const PIECES_IN_FLIGHT: usize = 2;
/// Pieces compressed side by side on blocking threads, ahead of the chunk being written.
const PIECES_COMPRESSING: usize = 4;

/// Stores the export `export_id`: its payload as chunks, hashed as they are written, then the
/// export row `finish` makes from the payload's hash and the chunks' codec, the audit row and
/// the outbox row, in one transaction; returns the row stored.
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
    finish: impl FnOnce(Sha256Hex, ChunkCodec) -> Result<ExportRecord, MrvError>,
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
/// blocking thread reads and hashes the payload, and others compress its pieces, while the
/// chunks before are being written. PostgreSQL stores the compressed chunks as they come
/// (`STORAGE EXTERNAL`: it does not try to compress them again).
async fn write(
    db: &DatabaseConnection,
    export_id: &str,
    payload: Payload,
    finish: impl FnOnce(Sha256Hex, ChunkCodec) -> Result<ExportRecord, MrvError>,
) -> Result<ExportRecord, MrvError> {
    let txn = crate::db::begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET CONSTRAINTS fk_esg_mrv_export_chunks_export DEFERRED")
            .await?;
    } else {
        txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
            .await?;
    }
    let codec = ChunkCodec::STORED;
    let (tx, mut pieces) = mpsc::channel(PIECES_IN_FLIGHT);
    let reading = tokio::task::spawn_blocking(move || payload.send_in_pieces(CHUNK_BYTES, &tx));
    let mut chunks = futures::stream::poll_fn(|cx| pieces.poll_recv(cx))
        .map(|piece| tokio::task::spawn_blocking(move || codec.encode(piece)))
        .buffered(PIECES_COMPRESSING);
    let started = Instant::now();
    let mut written: i32 = 0;
    let mut stored_bytes: usize = 0;
    while let Some(bytes) = chunks.next().await {
        let bytes = bytes
            .map_err(|e| MrvError::Task(e.to_string()))?
            .map_err(|e| MrvError::Storage(format!("export {export_id}: a chunk: {e}")))?;
        stored_bytes += bytes.len();
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
    let record = finish(verification_hash, codec)?;
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
        codec = %codec,
        stored_bytes,
        chunk_insert_ms = inserting.as_millis(),
        commit_ms = committing.elapsed().as_millis(),
        "MRV export stored"
    );
    Ok(record)
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
