//! The SQLite write path: one thread of its own, the process's writer, appends through one
//! rusqlite connection. Each append is one `BEGIN IMMEDIATE` transaction (the write lock is
//! taken at once, so writers of other processes queue instead of failing on a lock upgrade):
//! the duplicate check, then one prepared `INSERT` stepped per row.
//!
//! **One connection.** SQLite discards a connection's page cache whenever another connection
//! has written since its last transaction, so appends that took whichever pooled connection was
//! free began with a cold cache every time; the one writer finds the ledger's index pages where
//! its last commit left them. Its page cache holds a whole append ([`WRITER_CACHE_KIB`]) and its
//! statement journals stay in memory (`temp_store = MEMORY`). The connection carries the pool's
//! per-connection settings ([`COPIED_PRAGMAS`], read from one of the pool's connections).
//!
//! **One thread, no hand-offs.** Through sqlx-sqlite every statement crossed to the
//! connection's worker thread with its arguments copied into an argument buffer, and every
//! multi-row statement was built and bound anew. Here the statements are prepared once per
//! connection and stay in rusqlite's statement cache; each value is bound straight from the
//! row. The outbox rows (the impact's canonical JSON) are built on a second thread while this
//! one writes the ledger rows. Holding the write lock, the transaction numbers its rows itself
//! (after the highest `ledger_seq` ever given, as `AUTOINCREMENT` would): nothing is read back.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};

use greenos_entity::esg_impact_ledger::{self, Column};
use greenos_entity::esg_outbox_events;
use rusqlite::{Connection, OpenFlags, Row, Transaction, TransactionBehavior};
use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, EntityName, IdenStatic, Value};
use tokio::sync::{OnceCell, oneshot};

use crate::bulk::sqlite::statement_sizes;
use crate::bulk::{quoted_names, set_columns, take_value};
use crate::db::sqlite::{self, parse_stored_time, stored_time};
use crate::ledger::compute::{ComputeContext, NewImpact, Prepared};
use crate::ledger::error::IngestError;
use crate::ledger::impact::Impact;
use crate::ledger::store::plan::plan;
use crate::ledger::store::{
    AppendOutcome, ConflictPolicy, by_trip_id, calculated_event_row, encode_error, sqlx_error,
};

/// The next `ledger_seq`: after the highest in the table and the highest ever handed out.
const NEXT_SEQ: &str = "SELECT MAX(COALESCE((SELECT MAX(ledger_seq) FROM esg_impact_ledger), 0), \
     COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'esg_impact_ledger'), 0)) + 1";

/// The writer's page cache: 64 MiB (`PRAGMA cache_size` takes a negative count as KiB). A
/// 1 000-trip append dirties about 3 MiB of pages; with SQLite's default of 2 MiB the writer
/// spilled dirty pages into the WAL before its commit (then wrote them again at the commit) and
/// read evicted index pages back. It grows only as far as the appends use it.
const WRITER_CACHE_KIB: i64 = -65_536;

/// The pool's per-connection settings that the writer's connection takes over.
const COPIED_PRAGMAS: [&str; 5] = [
    "busy_timeout",
    "synchronous",
    "foreign_keys",
    "wal_autocheckpoint",
    "journal_size_limit",
];

/// Statements the writer keeps prepared: the next `ledger_seq`, one `INSERT` per table and the
/// duplicate check's few sizes.
const STATEMENT_CACHE: usize = 32;

/// One append for the writer thread, and where its outcome goes.
struct Job {
    prepared: Vec<Prepared>,
    context: Arc<ComputeContext>,
    policy: ConflictPolicy,
    reply: oneshot::Sender<Result<AppendOutcome, IngestError>>,
}

/// A process's one SQLite writer: a thread started on the first append, which appends one call
/// at a time in the order they arrive. After a database error it closes its connection and the
/// next append opens a new one. The thread ends with the last handle.
#[derive(Default)]
pub(crate) struct SqliteWriter {
    jobs: OnceCell<mpsc::Sender<Job>>,
}

impl SqliteWriter {
    /// Appends in one immediate transaction on the writer's connection to `db`'s file, with the
    /// settings of `db`'s pool. Should the caller stop waiting, the append still happens, or
    /// not, as a whole.
    pub(crate) async fn append(
        &self,
        db: &DatabaseConnection,
        prepared: Vec<Prepared>,
        context: Arc<ComputeContext>,
        policy: ConflictPolicy,
    ) -> Result<AppendOutcome, IngestError> {
        let jobs = self.jobs.get_or_try_init(|| start(db)).await?;
        let (reply, outcome) = oneshot::channel();
        jobs.send(Job {
            prepared,
            context,
            policy,
            reply,
        })
        .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

fn stopped() -> IngestError {
    IngestError::Task("the SQLite writer thread has stopped".to_owned())
}

/// Where and how the writer connects: the pool's file and its per-connection settings.
#[derive(Debug)]
struct Settings {
    path: PathBuf,
    pragmas: Vec<(&'static str, i64)>,
}

impl Settings {
    /// Reads the settings off one of `db`'s pooled connections.
    async fn of(db: &DatabaseConnection) -> Result<Settings, IngestError> {
        let pool = db.get_sqlite_connection_pool();
        let mut pragmas = Vec::with_capacity(COPIED_PRAGMAS.len());
        for name in COPIED_PRAGMAS {
            let value: i64 =
                sea_orm::sqlx::query_scalar(sea_orm::sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                    .fetch_one(pool)
                    .await
                    .map_err(sqlx_error)?;
            pragmas.push((name, value));
        }
        Ok(Settings {
            path: pool.connect_options().get_filename().to_owned(),
            pragmas,
        })
    }

    /// A new writer connection: the pool's settings, a cache for a whole append and the
    /// statement journals in memory.
    fn open(&self) -> Result<Connection, IngestError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(database)?;
        for (name, value) in &self.pragmas {
            connection
                .pragma_update(None, name, value)
                .map_err(database)?;
        }
        connection
            .pragma_update(None, "cache_size", WRITER_CACHE_KIB)
            .map_err(database)?;
        connection
            .pragma_update(None, "temp_store", "memory")
            .map_err(database)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }
}

/// Starts the writer thread for `db`.
async fn start(db: &DatabaseConnection) -> Result<mpsc::Sender<Job>, IngestError> {
    let settings = Settings::of(db).await?;
    let (jobs, queue) = mpsc::channel();
    std::thread::Builder::new()
        .name("greenos-sqlite-writer".to_owned())
        .spawn(move || serve(&settings, &queue))
        .map_err(|e| IngestError::Task(format!("the SQLite writer thread cannot start: {e}")))?;
    Ok(jobs)
}

/// The writer thread: one job at a time until every handle is gone.
fn serve(settings: &Settings, queue: &mpsc::Receiver<Job>) {
    let mut connection: Option<Connection> = None;
    for job in queue {
        let appended = catch_unwind(AssertUnwindSafe(|| {
            let writer = match &mut connection {
                Some(writer) => writer,
                None => connection.insert(settings.open()?),
            };
            append(writer, &job.prepared, &job.context, job.policy)
        }))
        .unwrap_or_else(|_| Err(IngestError::Task("the SQLite append panicked".to_owned())));
        if matches!(
            appended,
            Err(IngestError::Database(_) | IngestError::Task(_))
        ) {
            connection = None;
        }
        // A caller that stopped waiting needs no answer: its trips were written as one, or not.
        let _unheard = job.reply.send(appended);
    }
}

/// Appends in one immediate transaction on `connection`.
fn append(
    connection: &mut Connection,
    prepared: &[Prepared],
    context: &ComputeContext,
    policy: ConflictPolicy,
) -> Result<AppendOutcome, IngestError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(database)?;
    let mut trip_ids: Vec<&str> = prepared.iter().map(Prepared::trip_id).collect();
    trip_ids.sort_unstable();
    trip_ids.dedup();
    let existing = by_trip_id(stored_rows(&tx, context.model_version(), &trip_ids)?);
    let plan = plan(prepared, &existing, policy, context)?;
    let to_write = plan.signed_to_insert(prepared);
    let mut inserted = HashMap::new();
    if !to_write.is_empty() {
        let first: i64 = tx
            .prepare_cached(NEXT_SEQ)
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(database)?;
        let numbered: Vec<(&NewImpact, i64)> = to_write
            .iter()
            .zip(first..)
            .map(|(&(_, impact), seq)| (impact, seq))
            .collect();
        inserted = std::thread::scope(|scope| {
            let events = scope.spawn(|| outbox_rows(&numbered));
            let rows = numbered
                .iter()
                .map(|(impact, seq)| impact.to_row(Some(*seq)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(encode_error)?;
            insert(&tx, rows)?;
            let (events, inserted) = events
                .join()
                .map_err(|_| IngestError::Task("building the outbox rows panicked".to_owned()))??;
            insert(&tx, events)?;
            Ok::<_, IngestError>(inserted)
        })?;
    }
    tx.commit().map_err(database)?;
    plan.finish(prepared, &existing, context, inserted)
}

/// The outbox rows of an append, and its new impacts by `trip_id`.
type Events = (Vec<esg_outbox_events::ActiveModel>, HashMap<String, Impact>);

/// The `esg_calculated.v1` outbox rows of the numbered new impacts, and those impacts by
/// `trip_id`.
fn outbox_rows(numbered: &[(&NewImpact, i64)]) -> Result<Events, IngestError> {
    let mut events = Vec::with_capacity(numbered.len());
    let mut inserted = HashMap::with_capacity(numbered.len());
    for &(impact, seq) in numbered {
        let impact = impact.clone().into_impact(seq);
        events.push(calculated_event_row(&impact)?);
        inserted.insert(impact.event.trip_id.clone(), impact);
    }
    Ok((events, inserted))
}

/// Inserts `rows` into their table with one prepared statement, stepped once per row; every row
/// must set the same columns.
fn insert<A: ActiveModelTrait>(tx: &Transaction<'_>, rows: Vec<A>) -> Result<(), IngestError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let columns = set_columns(first);
    let table = A::Entity::default().table_name().to_owned();
    // Only entity column names and placeholders go into the text; values are bound.
    let sql = format!(
        "INSERT INTO \"{table}\" ({}) VALUES ({})",
        quoted_names(&columns),
        vec!["?"; columns.len()].join(", ")
    );
    let mut statement = tx.prepare_cached(&sql).map_err(database)?;
    for mut row in rows {
        for (index, column) in columns.iter().enumerate() {
            let value = sql_value(take_value(&mut row, *column, &table)?)?;
            statement
                .raw_bind_parameter(index + 1, value)
                .map_err(database)?;
        }
        statement.raw_execute().map_err(database)?;
    }
    Ok(())
}

/// A value as sqlx-sqlite binds it for sea-orm, so that both write the same bytes.
fn sql_value(value: Value) -> Result<rusqlite::types::Value, IngestError> {
    use rusqlite::types::Value as Sql;
    Ok(match value {
        Value::String(v) => v.map_or(Sql::Null, Sql::Text),
        Value::BigInt(v) => v.map_or(Sql::Null, Sql::Integer),
        Value::Int(v) => v.map_or(Sql::Null, |v| Sql::Integer(v.into())),
        Value::ChronoDateTimeUtc(v) => v.map_or(Sql::Null, |time| Sql::Text(stored_time(time))),
        Value::Bytes(v) => v.map_or(Sql::Null, Sql::Blob),
        other => return Err(encode_error(format!("no SQLite binding for {other:?}"))),
    })
}

/// The stored rows of `trip_ids` under `model_version`.
fn stored_rows(
    tx: &Transaction<'_>,
    model_version: &str,
    trip_ids: &[&str],
) -> Result<Vec<esg_impact_ledger::Model>, IngestError> {
    let mut stored = Vec::new();
    let mut rest = trip_ids;
    for size in statement_sizes(trip_ids.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let placeholders = vec!["?"; chunk.len()].join(", ");
        // Only placeholders go into the text; values are bound.
        let mut statement = tx
            .prepare_cached(&format!(
                "SELECT * FROM esg_impact_ledger WHERE model_version = ? AND trip_id IN ({placeholders})"
            ))
            .map_err(database)?;
        statement
            .raw_bind_parameter(1, model_version)
            .map_err(database)?;
        for (index, trip_id) in chunk.iter().enumerate() {
            statement
                .raw_bind_parameter(index + 2, *trip_id)
                .map_err(database)?;
        }
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next().map_err(database)? {
            stored.push(stored_row(row)?);
        }
    }
    Ok(stored)
}

/// A stored ledger row, read by column name.
fn stored_row(row: &Row<'_>) -> Result<esg_impact_ledger::Model, IngestError> {
    let text = |column: Column| row.get::<_, String>(column.as_str()).map_err(database);
    let int = |column: Column| row.get::<_, i64>(column.as_str()).map_err(database);
    let time = |column: Column| {
        parse_stored_time(&text(column)?).ok_or_else(|| {
            IngestError::Database(DbErr::Custom(format!(
                "esg_impact_ledger.{} is not an RFC 3339 time",
                column.as_str()
            )))
        })
    };
    Ok(esg_impact_ledger::Model {
        ledger_seq: int(Column::LedgerSeq)?,
        trip_id: text(Column::TripId)?,
        user_id: text(Column::UserId)?,
        vehicle_id: text(Column::VehicleId)?,
        country_code: text(Column::CountryCode)?,
        geo_hash: text(Column::GeoHash)?,
        event_timestamp: time(Column::EventTimestamp)?,
        distance_km_micro: int(Column::DistanceKmMicro)?,
        thermal_factor_local_micro: int(Column::ThermalFactorLocalMicro)?,
        ev_factor_local_micro: int(Column::EvFactorLocalMicro)?,
        co2_avoided_kg_micro: int(Column::Co2AvoidedKgMicro)?,
        model_version: text(Column::ModelVersion)?,
        methodology_version: text(Column::MethodologyVersion)?,
        event_hash: text(Column::EventHash)?,
        checksum: text(Column::Checksum)?,
        signature: text(Column::Signature)?,
        signature_algorithm: text(Column::SignatureAlgorithm)?,
        key_version: text(Column::KeyVersion)?,
        asym_signature: text(Column::AsymSignature)?,
        asym_algorithm: text(Column::AsymAlgorithm)?,
        asym_key_version: text(Column::AsymKeyVersion)?,
        correlation_id: row
            .get::<_, Option<String>>(Column::CorrelationId.as_str())
            .map_err(database)?,
        created_at: time(Column::CreatedAt)?,
    })
}

/// A failed call of the writer's connection.
fn database(err: rusqlite::Error) -> IngestError {
    IngestError::Database(sqlite::error(&err, "SQLite ledger append failed"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectOptions, Database};

    use super::{COPIED_PRAGMAS, Settings, WRITER_CACHE_KIB};

    #[tokio::test]
    async fn the_writer_has_the_pools_settings_and_room_for_a_whole_append() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("writer.db").display()
        );
        let mut options = ConnectOptions::new(url);
        options.map_sqlx_sqlite_opts(|opts| {
            opts.busy_timeout(Duration::from_millis(7_250))
                .pragma("wal_autocheckpoint", "4321")
        });
        let db = Database::connect(options).await.expect("the database");
        let settings = Settings::of(&db).await.expect("the pool's settings");
        assert!(settings.pragmas.contains(&("busy_timeout", 7_250)));
        assert!(settings.pragmas.contains(&("wal_autocheckpoint", 4_321)));
        let writer = settings.open().expect("the writer's connection");
        let pragma = |name: &str| -> i64 {
            writer
                .pragma_query_value(None, name, |row| row.get(0))
                .expect("the pragma's value")
        };
        assert_eq!(settings.pragmas.len(), COPIED_PRAGMAS.len());
        for (name, pooled) in &settings.pragmas {
            assert_eq!(pragma(name), *pooled, "{name}");
        }
        assert_eq!(pragma("cache_size"), WRITER_CACHE_KIB);
        // 2 is MEMORY.
        assert_eq!(pragma("temp_store"), 2);
    }
}
