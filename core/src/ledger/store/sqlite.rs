//! The SQLite write path: one `BEGIN IMMEDIATE` transaction (the write lock is taken at once, so
//! concurrent writers queue instead of failing on a lock upgrade), the duplicate check, then
//! multi-row `INSERT`s through sqlx directly.
//!
//! A process appends through one connection of its own, [`SqliteWriter`], opened with the
//! pool's options. SQLite discards a connection's page cache whenever another connection has
//! written since its last transaction, so appends that took whichever pooled connection was
//! free began with a cold cache every time and read the ledger's index pages back from the
//! operating system; the one writer finds them where its last commit left them.
//!
//! The writer has a page cache large enough for a whole append ([`WRITER_CACHE_KIB`]) and keeps
//! its statement journals in memory (`temp_store = MEMORY`): each multi-row `INSERT` saves the
//! pages it changes so that a failing row can undo the statement, and past 64 KiB SQLite spilled
//! that journal to a temporary file, which the writer then wrote on every statement.
//!
//! The statements come in a few fixed sizes (256 rows, then halves down to one), so each is
//! prepared once per connection and reused from sqlx's statement cache, whatever the batch
//! sizes. Holding the write lock, the transaction numbers its rows itself (after the highest
//! `ledger_seq` ever given, as `AUTOINCREMENT` would): nothing has to be read back.

use std::collections::HashMap;

use greenos_entity::esg_impact_ledger;
use sea_orm::sqlx::{AssertSqlSafe, ConnectOptions, Connection, SqliteConnection};
use sea_orm::{DatabaseConnection, FromQueryResult, QueryResult};

use crate::bulk::sqlite::{insert_rows, statement_sizes};
use crate::ledger::compute::{ComputeContext, Prepared};
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

/// A process's one SQLite connection for ledger appends, opened on first use. After a
/// database error it is closed, and the next append opens a new one.
#[derive(Default)]
pub(crate) struct SqliteWriter {
    connection: Option<SqliteConnection>,
}

impl SqliteWriter {
    /// Appends in one immediate transaction on this writer's connection, with the options of
    /// `db`'s pool.
    pub(crate) async fn append(
        &mut self,
        db: &DatabaseConnection,
        prepared: &[Prepared],
        context: &ComputeContext,
        policy: ConflictPolicy,
    ) -> Result<AppendOutcome, IngestError> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self.connection.insert(open(db).await?),
        };
        let appended = append(connection, prepared, context, policy).await;
        if matches!(appended, Err(IngestError::Database(_))) {
            self.connection = None;
        }
        appended
    }
}

/// A new writer connection: the options of `db`'s pool, a cache for a whole append and the
/// statement journals in memory.
async fn open(db: &DatabaseConnection) -> Result<SqliteConnection, IngestError> {
    (*db.get_sqlite_connection_pool().connect_options())
        .clone()
        .pragma("cache_size", WRITER_CACHE_KIB.to_string())
        .pragma("temp_store", "memory")
        .connect()
        .await
        .map_err(sqlx_error)
}

/// Appends in one immediate transaction on `connection`.
async fn append(
    connection: &mut SqliteConnection,
    prepared: &[Prepared],
    context: &ComputeContext,
    policy: ConflictPolicy,
) -> Result<AppendOutcome, IngestError> {
    let mut tx = connection
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(sqlx_error)?;
    let mut trip_ids: Vec<&str> = prepared.iter().map(Prepared::trip_id).collect();
    trip_ids.sort_unstable();
    trip_ids.dedup();
    let existing = by_trip_id(stored_rows(&mut tx, context.model_version(), &trip_ids).await?);
    let plan = plan(prepared, &existing, policy, context)?;
    let to_write = plan.signed_to_insert(prepared);
    let mut inserted: HashMap<String, Impact> = HashMap::with_capacity(to_write.len());
    if !to_write.is_empty() {
        let first: i64 = sea_orm::sqlx::query_scalar(NEXT_SEQ)
            .fetch_one(&mut *tx)
            .await
            .map_err(sqlx_error)?;
        let numbered: Vec<_> = to_write
            .iter()
            .zip(first..)
            .map(|(&(_, impact), seq)| (impact, seq))
            .collect();
        let rows = numbered
            .iter()
            .map(|(impact, seq)| impact.to_row(Some(*seq)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(encode_error)?;
        // The outbox rows are built here while SQLite writes the ledger rows on its thread.
        let build_events = async {
            let mut events = Vec::with_capacity(numbered.len());
            for (impact, seq) in &numbered {
                let impact = (*impact).clone().into_impact(*seq);
                events.push(calculated_event_row(&impact)?);
                inserted.insert(impact.event.trip_id.clone(), impact);
            }
            Ok::<_, IngestError>(events)
        };
        let (written, events) = futures::join!(insert_rows(&mut tx, rows), build_events);
        written?;
        insert_rows(&mut tx, events?).await?;
    }
    tx.commit().await.map_err(sqlx_error)?;
    plan.finish(prepared, &existing, context, inserted)
}

/// The stored rows of `trip_ids` under `model_version`.
async fn stored_rows(
    tx: &mut SqliteConnection,
    model_version: &str,
    trip_ids: &[&str],
) -> Result<Vec<esg_impact_ledger::Model>, IngestError> {
    let mut stored = Vec::new();
    let mut rest = trip_ids;
    for size in statement_sizes(trip_ids.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT * FROM esg_impact_ledger WHERE model_version = ? AND trip_id IN ({placeholders})"
        );
        // Only placeholders go into the text; values are bound.
        let mut query = sea_orm::sqlx::query(AssertSqlSafe(sql)).bind(model_version);
        for trip_id in chunk {
            query = query.bind(*trip_id);
        }
        for row in query.fetch_all(&mut *tx).await.map_err(sqlx_error)? {
            stored.push(
                esg_impact_ledger::Model::from_query_result(&QueryResult::from(row), "")
                    .map_err(IngestError::Database)?,
            );
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::sqlx::{Sqlite, SqliteConnection, query_scalar};
    use sea_orm::{ConnectOptions, Database};

    use super::{WRITER_CACHE_KIB, open};

    async fn pragma(connection: &mut SqliteConnection, name: &str) -> i64 {
        query_scalar::<Sqlite, i64>(sea_orm::sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
            .fetch_one(connection)
            .await
            .expect("the pragma's value")
    }

    #[tokio::test]
    async fn the_writer_has_the_pools_options_and_room_for_a_whole_append() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("writer.db").display()
        );
        let mut options = ConnectOptions::new(url);
        options.map_sqlx_sqlite_opts(|opts| opts.busy_timeout(Duration::from_millis(7_250)));
        let db = Database::connect(options).await.expect("the database");
        let mut writer = open(&db).await.expect("the writer's connection");
        assert_eq!(pragma(&mut writer, "busy_timeout").await, 7_250);
        assert_eq!(pragma(&mut writer, "cache_size").await, WRITER_CACHE_KIB);
        // 2 is MEMORY.
        assert_eq!(pragma(&mut writer, "temp_store").await, 2);
        let mut pooled = db
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .expect("a pooled connection");
        assert_ne!(pragma(&mut pooled, "cache_size").await, WRITER_CACHE_KIB);
    }
}
