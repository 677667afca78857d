//! What every store of `core` shares about the database: how a write transaction starts, and
//! how a unique-key violation is told apart from any other failure.

pub(crate) mod sqlite;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, RuntimeErr, SqlErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::error_code::ErrorCode;

/// Opens a transaction that will write.
///
/// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken at once, so concurrent writers
/// queue on the busy timeout; a deferred transaction that read first would fail with
/// `SQLITE_BUSY` when it tried to write. On PostgreSQL it is a plain `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Whether `err` is a unique-key violation (a concurrent writer committed the same key first).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether `err` says the database cannot be reached right now (no connection within the
/// acquire timeout, a connection lost mid-statement, the server shutting down), as opposed to a
/// statement that failed: the first is answered `503 GREENOS_UNAVAILABLE` and worth a retry.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            match sqlx.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => true,
                // Class 08 (connection exception) and 57P01..57P03 (the server is shutting down
                // or starting).
                Sqlx::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The code a database failure is answered with: `GREENOS_UNAVAILABLE` when the database
/// cannot be reached, `GREENOS_INTERNAL` otherwise.
pub fn error_code(err: &DbErr) -> ErrorCode {
    if is_unavailable(err) {
        ErrorCode::Unavailable
    } else {
        ErrorCode::Internal
    }
}
