//! The selection of SPEC §8 in SQL: every ledger row whose `event_timestamp` lies in the window
//! and that is a leaf of the log's tree the export binds to (SPEC §18), streamed in `trip_id`
//! code-point order with each trip's highest `ledger_seq` first, so that the first row of each
//! trip is the one the de-duplication keeps (`spool::write_impacts` keeps it and counts the
//! others). The window is read in time slices of about as many rows, one per core, side by
//! side, and the slices merged; the same SQL runs on SQLite and PostgreSQL.

use std::pin::Pin;

use chrono::{DateTime, Utc};
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

/// A slice of the window by `event_timestamp`: from `from` (included) to `to` (excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeSlice {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl TimeSlice {
    /// The whole window.
    fn whole(window: &ExportWindow) -> TimeSlice {
        TimeSlice {
            from: window.period_start.as_datetime(),
            to: window.period_end.as_datetime(),
        }
    }

    /// The bounds, bound as `$1` and `$2` (numbered parameters work on both backends).
    fn values(&self) -> [Value; 2] {
        [self.from.into(), self.to.into()]
    }

    /// `parts` consecutive slices covering the window with about as many rows each, cut at the
    /// quantiles of the window's `event_timestamp`s (read on its index); fewer when rows share
    /// a timestamp across a cut.
    pub(crate) async fn split<C: ConnectionTrait>(
        db: &C,
        window: &ExportWindow,
        parts: usize,
    ) -> Result<Vec<TimeSlice>, MrvError> {
        #[derive(FromQueryResult)]
        struct Count {
            rows: i64,
        }
        #[derive(FromQueryResult)]
        struct Cut {
            event_timestamp: DateTime<Utc>,
        }
        let backend = db.get_database_backend();
        let whole = TimeSlice::whole(window);
        let mut cuts = Vec::new();
        if parts > 1 {
            let rows = Count::find_by_statement(Statement::from_sql_and_values(
                backend,
                "SELECT COUNT(*) AS rows FROM esg_impact_ledger \
                 WHERE event_timestamp >= $1 AND event_timestamp < $2",
                whole.values(),
            ))
            .one(db)
            .await?
            .map_or(0, |count| count.rows);
            let parts = i64::try_from(parts).unwrap_or(i64::MAX);
            for k in 1..parts {
                let offset = rows / parts * k;
                let cut = Cut::find_by_statement(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "SELECT event_timestamp FROM esg_impact_ledger \
                         WHERE event_timestamp >= $1 AND event_timestamp < $2 \
                         ORDER BY event_timestamp LIMIT 1 OFFSET {offset}"
                    ),
                    whole.values(),
                ))
                .one(db)
                .await?;
                cuts.extend(cut.map(|cut| cut.event_timestamp));
            }
        }
        cuts.retain(|cut| *cut > whole.from && *cut < whole.to);
        cuts.dedup();
        let mut slices = Vec::with_capacity(cuts.len() + 1);
        let mut from = whole.from;
        for cut in cuts {
            slices.push(TimeSlice { from, to: cut });
            from = cut;
        }
        slices.push(TimeSlice { from, to: whole.to });
        Ok(slices)
    }
}

/// Every row of the window slice `slice` in the tree of `tree_size` leaves, in `trip_id`
/// code-point order and each trip's highest `ledger_seq` first, as the database sends them,
/// each with its leaf index.
pub(crate) async fn slice_rows<'a, C>(
    db: &'a C,
    slice: TimeSlice,
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
    let rows = db
        .stream_raw(Statement::from_sql_and_values(
            backend,
            &sql,
            slice.values(),
        ))
        .await?;
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
