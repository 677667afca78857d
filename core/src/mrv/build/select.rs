//! The selection of SPEC §8 in SQL: every ledger row whose `event_timestamp` lies in the window
//! and that is a leaf of the log's tree the export binds to (SPEC §18), streamed in `trip_id`
//! code-point order with each trip's highest `ledger_seq` first, so that the first row of each
//! trip is the one the de-duplication keeps (`spool::write_impacts` keeps it and counts the
//! others). The window is read in time slices of about as many rows, one per core, side by
//! side, and the slices merged; the same SQL runs on SQLite and PostgreSQL.
//!
//! The rows are read straight from each driver and decoded by column index, the hot loop of a
//! build: PostgreSQL through sqlx in a read-only snapshot (`postgres`), SQLite through rusqlite
//! on a blocking thread of its own (`sqlite`), because sqlx-sqlite hands every row from its
//! worker thread to the caller one by one, which cost more than SQLite's own work.

mod postgres;
mod sqlite;

use chrono::{DateTime, Utc};
use greenos_entity::esg_impact_ledger;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement, Value};
use tokio::sync::mpsc;

use crate::ledger::Impact;
use crate::mrv::error::MrvError;
use crate::mrv::period::ExportWindow;

/// Impacts handed to the writer thread at a time.
const BATCH: usize = 512;

/// A batch of the window's impacts, each with its leaf index in the log.
pub(crate) type Batch = Vec<(Impact, u64)>;

/// The columns a slice reads, in the order [`Columns`] decodes them.
const COLUMNS: &str = "l.ledger_seq, l.trip_id, l.user_id, l.vehicle_id, l.country_code, \
     l.geo_hash, l.event_timestamp, l.distance_km_micro, l.thermal_factor_local_micro, \
     l.ev_factor_local_micro, l.co2_avoided_kg_micro, l.model_version, l.methodology_version, \
     l.event_hash, l.checksum, l.signature, l.signature_algorithm, l.key_version, \
     l.asym_signature, l.asym_algorithm, l.asym_key_version, l.correlation_id, l.created_at, \
     g.leaf_index";

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

/// One row of [`COLUMNS`], read by column index from the driver that holds it.
trait Columns {
    fn int(&self, index: usize) -> Result<i64, MrvError>;
    fn text(&self, index: usize) -> Result<String, MrvError>;
    fn optional_text(&self, index: usize) -> Result<Option<String>, MrvError>;
    fn time(&self, index: usize) -> Result<DateTime<Utc>, MrvError>;
}

/// The impact of a row of [`COLUMNS`], with its leaf index.
fn decode(row: &impl Columns) -> Result<(Impact, u64), MrvError> {
    let model = esg_impact_ledger::Model {
        ledger_seq: row.int(0)?,
        trip_id: row.text(1)?,
        user_id: row.text(2)?,
        vehicle_id: row.text(3)?,
        country_code: row.text(4)?,
        geo_hash: row.text(5)?,
        event_timestamp: row.time(6)?,
        distance_km_micro: row.int(7)?,
        thermal_factor_local_micro: row.int(8)?,
        ev_factor_local_micro: row.int(9)?,
        co2_avoided_kg_micro: row.int(10)?,
        model_version: row.text(11)?,
        methodology_version: row.text(12)?,
        event_hash: row.text(13)?,
        checksum: row.text(14)?,
        signature: row.text(15)?,
        signature_algorithm: row.text(16)?,
        key_version: row.text(17)?,
        asym_signature: row.text(18)?,
        asym_algorithm: row.text(19)?,
        asym_key_version: row.text(20)?,
        correlation_id: row.optional_text(21)?,
        created_at: row.time(22)?,
    };
    Ok((Impact::from_row(model), row.int(23)?.unsigned_abs()))
}

/// Gathers decoded rows into batches of [`BATCH`].
struct Batching {
    batch: Batch,
}

impl Batching {
    fn new() -> Batching {
        Batching {
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// Adds a row; returns the batch once it is full.
    fn push(&mut self, row: (Impact, u64)) -> Option<Batch> {
        self.batch.push(row);
        (self.batch.len() == BATCH)
            .then(|| std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH)))
    }

    /// The last, partly filled batch, if any.
    fn rest(self) -> Option<Batch> {
        (!self.batch.is_empty()).then_some(self.batch)
    }
}
