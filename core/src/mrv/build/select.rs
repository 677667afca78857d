//! The selection of SPEC §8 in SQL: every ledger row whose `event_timestamp` lies in the window
//! and that is a leaf of the log's tree the export binds to (SPEC §18), streamed in `trip_id`
//! code-point order with each trip's highest `ledger_seq` first, so that the first row of each
//! trip is the one the de-duplication keeps (`spool::write_impacts` keeps it and counts the
//! others). The window is read in `trip_id` ranges, one per core, side by side; the same SQL
//! runs on SQLite and PostgreSQL.

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

/// A range of `trip_id`s, by code points: from `from` (included) to `to` (excluded), each
/// unbounded when `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TripRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl TripRange {
    /// `parts` consecutive ranges covering every `trip_id`, cut near the quantiles of the
    /// window's trips (sampled, so the parts are about, not exactly, even); fewer when the
    /// window has fewer distinct sampled trips.
    pub(crate) async fn split<C: ConnectionTrait>(
        db: &C,
        window: &ExportWindow,
        parts: usize,
    ) -> Result<Vec<TripRange>, MrvError> {
        let mut cuts = if parts > 1 {
            sample_trip_ids(db, window).await?
        } else {
            Vec::new()
        };
        cuts.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut bounds: Vec<String> = (1..parts)
            .filter_map(|k| cuts.get(k * cuts.len() / parts).cloned())
            .collect();
        bounds.dedup();
        let mut ranges = Vec::with_capacity(bounds.len() + 1);
        let mut from = None;
        for bound in bounds {
            ranges.push(TripRange {
                from: from.replace(bound.clone()),
                to: Some(bound),
            });
        }
        ranges.push(TripRange { from, to: None });
        Ok(ranges)
    }
}

/// Trip ids sampled across the window.
const SAMPLES: i32 = 64;

/// The `trip_id` of the window's first row at or after each of [`SAMPLES`] instants spread
/// evenly over the window: one index seek each on `event_timestamp`.
async fn sample_trip_ids<C: ConnectionTrait>(
    db: &C,
    window: &ExportWindow,
) -> Result<Vec<String>, MrvError> {
    #[derive(FromQueryResult)]
    struct Sample {
        trip_id: String,
    }
    let backend = db.get_database_backend();
    let (start, end) = (
        window.period_start.as_datetime(),
        window.period_end.as_datetime(),
    );
    let step = (end - start) / SAMPLES;
    let mut samples = Vec::with_capacity(SAMPLES as usize);
    for k in 0..SAMPLES {
        let at = start + step * k;
        let sample = Sample::find_by_statement(Statement::from_sql_and_values(
            backend,
            "SELECT trip_id FROM esg_impact_ledger WHERE event_timestamp >= $1 \
             AND event_timestamp < $2 ORDER BY event_timestamp LIMIT 1",
            [Value::from(at), Value::from(end)],
        ))
        .one(db)
        .await?;
        samples.extend(sample.map(|s| s.trip_id));
    }
    Ok(samples)
}

/// Every row of the window in the tree of `tree_size` leaves whose `trip_id` is in `range`, in
/// `trip_id` code-point order and each trip's highest `ledger_seq` first, as the database sends
/// them, each with its leaf index.
pub(crate) async fn window_rows<'a, C>(
    db: &'a C,
    window: &ExportWindow,
    tree_size: u64,
    range: &TripRange,
) -> Result<RowStream<'a>, MrvError>
where
    C: ConnectionTrait + StreamTrait + Send,
{
    let backend = ConnectionTrait::get_database_backend(db);
    // PostgreSQL sorts and compares text by the database collation unless told otherwise; "C"
    // is byte order, which for UTF-8 is code-point order. SQLite's default BINARY collation
    // already is.
    let collate = if backend == DbBackend::Postgres {
        " COLLATE \"C\""
    } else {
        ""
    };
    let mut values = window_values(window).to_vec();
    let mut sql = format!(
        "SELECT l.*, g.leaf_index AS log_leaf_index {}",
        in_window(tree_size)
    );
    for (bound, op) in [(&range.from, ">="), (&range.to, "<")] {
        if let Some(bound) = bound {
            values.push(bound.clone().into());
            sql.push_str(&format!(" AND l.trip_id{collate} {op} ${}", values.len()));
        }
    }
    sql.push_str(&format!(" ORDER BY l.trip_id{collate}, l.ledger_seq DESC"));
    let rows = db
        .stream_raw(Statement::from_sql_and_values(backend, &sql, values))
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

/// The window bounds, bound as `$1` and `$2` (numbered parameters work on both backends).
fn window_values(window: &ExportWindow) -> [Value; 2] {
    [
        window.period_start.as_datetime().into(),
        window.period_end.as_datetime().into(),
    ]
}
