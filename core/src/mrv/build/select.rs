//! The selection of SPEC §8 in SQL: every ledger row whose `event_timestamp` lies in the window
//! and that is a leaf of the log's tree the export binds to (SPEC §18), streamed in `trip_id`
//! code-point order with each trip's highest `ledger_seq` first, so that the first row of each
//! trip is the one the de-duplication keeps (`spool::write_impacts` keeps it and counts the
//! others). The window is read in time slices of about as many rows, one per core, side by
//! side, and the slices merged; the same SQL runs on SQLite and PostgreSQL.
//!
//! The rows are read straight from each driver, columns by index, and encoded where they are
//! read (`batch`), the hot loop of a build: PostgreSQL through sqlx in a read-only snapshot
//! (`postgres`), SQLite through rusqlite on a blocking thread of its own (`sqlite`), because
//! sqlx-sqlite hands every row from its worker thread to the caller one by one, which cost more
//! than SQLite's own work.

mod postgres;
mod sqlite;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement, Value};
use tokio::sync::mpsc;

use crate::mrv::build::batch::Batch;
use crate::mrv::error::MrvError;
use crate::mrv::period::ExportWindow;

/// The columns a slice reads; [`col`] names their indexes.
const COLUMNS: &str = "l.ledger_seq, l.trip_id, l.user_id, l.vehicle_id, l.country_code, \
     l.geo_hash, l.event_timestamp, l.distance_km_micro, l.thermal_factor_local_micro, \
     l.ev_factor_local_micro, l.co2_avoided_kg_micro, l.model_version, l.methodology_version, \
     l.event_hash, l.checksum, l.signature, l.signature_algorithm, l.key_version, \
     l.asym_signature, l.asym_algorithm, l.asym_key_version, l.correlation_id, l.created_at, \
     g.leaf_index";

/// The index of each column of [`COLUMNS`] in a row.
pub(crate) mod col {
    pub(crate) const LEDGER_SEQ: usize = 0;
    pub(crate) const TRIP_ID: usize = 1;
    pub(crate) const USER_ID: usize = 2;
    pub(crate) const VEHICLE_ID: usize = 3;
    pub(crate) const COUNTRY_CODE: usize = 4;
    pub(crate) const GEO_HASH: usize = 5;
    pub(crate) const EVENT_TIMESTAMP: usize = 6;
    pub(crate) const DISTANCE_KM_MICRO: usize = 7;
    pub(crate) const THERMAL_FACTOR_LOCAL_MICRO: usize = 8;
    pub(crate) const EV_FACTOR_LOCAL_MICRO: usize = 9;
    pub(crate) const CO2_AVOIDED_KG_MICRO: usize = 10;
    pub(crate) const MODEL_VERSION: usize = 11;
    pub(crate) const METHODOLOGY_VERSION: usize = 12;
    pub(crate) const EVENT_HASH: usize = 13;
    pub(crate) const CHECKSUM: usize = 14;
    pub(crate) const SIGNATURE: usize = 15;
    pub(crate) const SIGNATURE_ALGORITHM: usize = 16;
    pub(crate) const KEY_VERSION: usize = 17;
    pub(crate) const ASYM_SIGNATURE: usize = 18;
    pub(crate) const ASYM_ALGORITHM: usize = 19;
    pub(crate) const ASYM_KEY_VERSION: usize = 20;
    pub(crate) const CORRELATION_ID: usize = 21;
    pub(crate) const CREATED_AT: usize = 22;
    pub(crate) const LEAF_INDEX: usize = 23;
}

/// Every row of the window that is a leaf of the log's tree of `tree_size` leaves, the tree the
/// export binds to (a row committed after the export integrated the log is left out, as any
/// row committed after an export is).
fn in_window(tree_size: u64) -> String {
    format!(
        "FROM esg_impact_ledger l JOIN esg_log_leaves g ON g.ledger_seq = l.ledger_seq \
         WHERE l.event_timestamp >= $1 AND l.event_timestamp < $2 AND g.leaf_index < {tree_size}"
    )
}

/// The rows of a slice bound as `$1` and `$2`, in `trip_id` code-point order and each trip's
/// highest `ledger_seq` first.
fn slice_sql(backend: DbBackend, tree_size: u64) -> String {
    // PostgreSQL sorts text by the database collation unless told otherwise; "C" is byte
    // order, which for UTF-8 is code-point order. SQLite's default BINARY collation already is.
    let collate = if backend == DbBackend::Postgres {
        " COLLATE \"C\""
    } else {
        ""
    };
    format!(
        "SELECT {COLUMNS} {} ORDER BY l.trip_id{collate}, l.ledger_seq DESC",
        in_window(tree_size)
    )
}

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

/// Reads the rows of one time slice of the window and sends them to the writer thread in
/// batches of [`BATCH`]. A closed channel means the writer stopped; its result says why.
///
/// Every slice reads the same rows as one snapshot would: the rows an export takes are the
/// leaves below the tree size it bound to, committed before the build began, and neither the
/// ledger nor the log's leaves can change (SPEC §3's triggers).
pub(crate) async fn read_slice(
    db: DatabaseConnection,
    slice: TimeSlice,
    tree_size: u64,
    tx: mpsc::Sender<Batch>,
) -> Result<(), MrvError> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            postgres::read_slice(db.get_postgres_connection_pool(), slice, tree_size, &tx).await
        }
        DbBackend::Sqlite => {
            let path = db
                .get_sqlite_connection_pool()
                .connect_options()
                .get_filename()
                .to_owned();
            tokio::task::spawn_blocking(move || sqlite::read_slice(&path, slice, tree_size, &tx))
                .await
                .map_err(|e| MrvError::Task(e.to_string()))?
        }
        other => Err(MrvError::Storage(format!(
            "exports are built on SQLite or PostgreSQL, not {other:?}"
        ))),
    }
}

/// One row of [`COLUMNS`], read by column index ([`col`]) from the driver that holds it; text
/// is borrowed from the row, never copied.
pub(crate) trait Columns {
    fn int(&self, index: usize) -> Result<i64, MrvError>;
    fn text(&self, index: usize) -> Result<&str, MrvError>;
    fn optional_text(&self, index: usize) -> Result<Option<&str>, MrvError>;
    fn time(&self, index: usize) -> Result<DateTime<Utc>, MrvError>;
}
