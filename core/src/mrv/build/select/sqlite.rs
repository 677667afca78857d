//! A slice read from SQLite with rusqlite, on the blocking thread that encodes it: one
//! statement stepped where its rows are encoded, columns read by index, on a read-only
//! connection of its own to the database file. In WAL mode it never waits for a writer, and
//! one statement reads one snapshot. (sqlx-sqlite would hand each row over from its
//! connection's worker thread, copying every column under a mutex and waking the reader per
//! row, which cost more than SQLite's own work: `docs/PERFORMANCE.md`.)
//!
//! rusqlite links the SQLite that sqlx-sqlite links (one `libsqlite3-sys`).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSqlError, ValueRef};
use rusqlite::{Connection, OpenFlags, Row};
use sea_orm::DbBackend;
use tokio::sync::mpsc;

use crate::db::sqlite::{self, stored_time};
use crate::mrv::build::batch::Batch;
use crate::mrv::build::select::{Columns, TimeSlice, slice_sql};
use crate::mrv::error::MrvError;

/// How long the connection waits when the database is momentarily locked (a WAL reset).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// See [`super::read_slice`].
pub(super) fn read_slice(
    path: &Path,
    slice: TimeSlice,
    tree_size: u64,
    tx: &mpsc::Sender<Batch>,
) -> Result<(), MrvError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(error)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
    let mut statement = connection
        .prepare(&slice_sql(DbBackend::Sqlite, tree_size))
        .map_err(error)?;
    let mut rows = statement
        .query([stored_time(slice.from), stored_time(slice.to)])
        .map_err(error)?;
    let mut batch = Batch::new();
    while let Some(row) = rows.next().map_err(error)? {
        batch.push(row)?;
        if batch.is_full() && tx.blocking_send(batch.take()).is_err() {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        // A closed channel means the writer stopped; its result says why.
        let _stopped = tx.blocking_send(batch);
    }
    Ok(())
}

/// A failed read, as the database error it is (`crate::db::sqlite::error`).
fn error(err: rusqlite::Error) -> MrvError {
    MrvError::Database(sqlite::error(
        &err,
        "SQLite read of the export window failed",
    ))
}

impl Columns for Row<'_> {
    fn int(&self, index: usize) -> Result<i64, MrvError> {
        self.get(index).map_err(error)
    }

    fn text(&self, index: usize) -> Result<&str, MrvError> {
        self.get_ref(index)
            .map_err(error)?
            .as_str()
            .map_err(|e| not_text(index, &e))
    }

    fn optional_text(&self, index: usize) -> Result<Option<&str>, MrvError> {
        self.get_ref(index)
            .map_err(error)?
            .as_str_or_null()
            .map_err(|e| not_text(index, &e))
    }

    fn time(&self, index: usize) -> Result<DateTime<Utc>, MrvError> {
        let text = match self.get_ref(index).map_err(error)? {
            ValueRef::Text(text) => std::str::from_utf8(text).ok(),
            _ => None,
        };
        text.and_then(sqlite::parse_stored_time).ok_or_else(|| {
            MrvError::Storage(format!(
                "column {index} of the ledger is not an RFC 3339 time"
            ))
        })
    }
}

fn not_text(index: usize, err: &FromSqlError) -> MrvError {
    MrvError::Storage(format!("column {index} of the ledger is not text: {err}"))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use tokio::sync::mpsc;

    use super::read_slice;
    use crate::error_code::{DomainError, ErrorCode};
    use crate::mrv::build::select::TimeSlice;

    #[test]
    fn a_database_that_cannot_be_opened_is_unavailable() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let slice = TimeSlice {
            from: Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("instant"),
            to: Utc
                .with_ymd_and_hms(2026, 4, 1, 0, 0, 0)
                .single()
                .expect("instant"),
        };
        let (tx, _rx) = mpsc::channel(1);
        let err = read_slice(&dir.path().join("missing.db"), slice, 1, &tx)
            .expect_err("no database there");
        assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    }
}
