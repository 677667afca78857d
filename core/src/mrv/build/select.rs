//! The selection of SPEC §8 in SQL: every ledger row whose `event_timestamp` lies in the window
//! and that is a leaf of the log's tree the export binds to (SPEC §18), streamed in `trip_id`
//! code-point order with each trip's highest `ledger_seq` first, so that the first row of each
//! trip is the one the de-duplication keeps (`spool::write_impacts` keeps it and counts the
//! others). One read, one sort; the same SQL runs on SQLite and PostgreSQL.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use greenos_entity::esg_impact_ledger;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, StreamTrait, Value};

use crate::mrv::error::MrvError;
use crate::mrv::period::ExportWindow;

/// Every row of the window that is a leaf of the log's tree of `tree_size` leaves, the tree the
/// export binds to (a row committed after the export integrated the log is left out, as any
/// row committed after an export is).
fn in_window(tree_size: u64) -> String {
    format!(
        "FROM esg_impact_ledger l JOIN esg_log_leaves g ON g.ledger_seq = l.ledger_seq \
         WHERE l.event_timestamp >= $1 AND l.event_timestamp < $2 AND g.leaf_index < {tree_size}"
    )
}

/// A stream of ledger rows, each with its leaf index in the log.
pub(crate) type RowStream<'a> =
    Pin<Box<dyn Stream<Item = Result<(esg_impact_ledger::Model, u64), DbErr>> + Send + 'a>>;

/// Every row of the window in the tree of `tree_size` leaves, in `trip_id` code-point order
/// and each trip's highest `ledger_seq` first, as the database sends them, each with its leaf
/// index.
pub(crate) async fn window_rows<'a, C>(
    db: &'a C,
    window: &ExportWindow,
    tree_size: u64,
) -> Result<RowStream<'a>, MrvError>
where
    C: ConnectionTrait + StreamTrait + Send,
{
    let backend = ConnectionTrait::get_database_backend(db);
    // PostgreSQL sorts text by the database collation unless told otherwise; "C" is byte
    // order, which for UTF-8 is code-point order. SQLite's default BINARY collation already is.
    let collate = if backend == DbBackend::Postgres {
        " COLLATE \"C\""
    } else {
        ""
    };
    let sql = format!(
        "SELECT l.*, g.leaf_index AS log_leaf_index {} ORDER BY l.trip_id{collate}, l.ledger_seq DESC",
        in_window(tree_size)
    );
    let rows = db.stream_raw(statement(backend, &sql, window)).await?;
    Ok(Box::pin(rows.map(|row| {
        row.and_then(|row| {
            let leaf: i64 = row.try_get("", "log_leaf_index")?;
            Ok((
                esg_impact_ledger::Model::from_query_result(&row, "")?,
                leaf.unsigned_abs(),
            ))
        })
    })))
}

/// Binds the window bounds as `$1` and `$2` (numbered parameters work on both backends).
fn statement(backend: DbBackend, sql: &str, window: &ExportWindow) -> Statement {
    let values: [Value; 2] = [
        window.period_start.as_datetime().into(),
        window.period_end.as_datetime().into(),
    ];
    Statement::from_sql_and_values(backend, sql, values)
}
