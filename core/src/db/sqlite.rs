//! What the rusqlite connections of `core` (the export's reader, the ledger's writer) share
//! with the sqlx pool they sit beside: the text a stored time is, and how a failure answers.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{DbErr, RuntimeErr};

/// A time as the rows hold it: the text sqlx-sqlite writes for a `DateTime<Utc>` (its
/// `Encode<Sqlite>`), so that rusqlite's writes and text comparisons agree with sqlx's.
pub(crate) fn stored_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A stored time read back; `None` unless it is RFC 3339 text.
pub(crate) fn parse_stored_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// A failed rusqlite call, as the database error it is: the database unavailable (it cannot be
/// opened, stays locked past the busy timeout, or fails to read or write) is a connection
/// failure, answered `503` and worth a retry; anything else is a failed statement.
pub(crate) fn error(err: &rusqlite::Error, what: &str) -> DbErr {
    use rusqlite::ErrorCode;
    let message = format!("{what}: {err}");
    match err.sqlite_error_code() {
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure,
        ) => DbErr::Conn(RuntimeErr::Internal(message)),
        _ => DbErr::Query(RuntimeErr::Internal(message)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn a_stored_time_reads_back_as_itself() {
        let time = Utc
            .timestamp_opt(1_767_225_600, 123_456_000)
            .single()
            .expect("instant");
        let text = stored_time(time);
        assert_eq!(text, "2026-01-01T00:00:00.123456+00:00");
        assert_eq!(parse_stored_time(&text), Some(time));
        assert_eq!(parse_stored_time("2026-01-01 00:00:00"), None);
    }

    #[test]
    fn a_locked_database_is_unavailable_and_a_bad_statement_is_not() {
        let connection = rusqlite::Connection::open_in_memory().expect("a database");
        let bad = connection
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .expect_err("no such table");
        assert!(!crate::db::is_unavailable(&error(&bad, "insert")));
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let err = error(&busy, "append");
        assert!(crate::db::is_unavailable(&err), "{err}");
        assert!(err.to_string().contains("append"), "{err}");
    }
}
