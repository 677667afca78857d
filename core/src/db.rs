//! What every store of `core` shares about the database: how a write transaction starts, and
//! how a unique-key violation is told apart from any other failure.

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqlErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

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
