//! The PostgreSQL write path: one transaction with the duplicate check as a single query (one
//! index probe per id), `ledger_seq` values drawn from the column's sequence in input order, and
//! each table written with one statement. The ledger rows go in `trip_id` order: concurrent
//! batches whose trips overlap wait for each other in one global order (never a deadlock).
//!
//! A batch of [`COPY_FROM`] trips or more writes both tables with binary `COPY` (about half
//! the server CPU of an `INSERT` per row). `COPY` cannot skip a row: when another transaction
//! committed one of the trips first, the unique index refuses the `COPY`, the transaction is
//! rolled back, and the batch is written again the other way. Smaller batches, and that second
//! attempt, use `INSERT ... SELECT * FROM UNNEST(arrays) ON CONFLICT DO NOTHING`, one round trip
//! fewer than `COPY`; a trip another transaction committed first is classified again
//! (duplicate or conflict), never an error.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use greenos_entity::esg_impact_ledger;
use sea_orm::sqlx::{PgConnection, Row};
use sea_orm::{DatabaseConnection, DbErr, FromQueryResult, QueryResult};

use crate::bulk::copy::copy_in;
use crate::ledger::compute::{ComputeContext, NewImpact, Prepared};
use crate::ledger::error::IngestError;
use crate::ledger::impact::Impact;
use crate::ledger::store::plan::plan;
use crate::ledger::store::unnest::insert_unnest;
use crate::ledger::store::{
    AppendOutcome, ConflictPolicy, by_trip_id, calculated_event_row, encode_error, sqlx_error,
};

/// Batches of this many trips or more are written with `COPY`.
const COPY_FROM: usize = 64;

/// How a transaction writes its rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    /// Binary `COPY`; a trip committed meanwhile by another transaction refuses it.
    Copy,
    /// `INSERT ... ON CONFLICT DO NOTHING`.
    Insert,
}

/// Appends in one transaction (two when a `COPY` met a concurrent writer of the same trips).
pub(super) async fn append(
    db: &DatabaseConnection,
    prepared: &[Prepared],
    context: &ComputeContext,
    policy: ConflictPolicy,
) -> Result<AppendOutcome, IngestError> {
    if prepared.len() >= COPY_FROM {
        if let Some(outcome) = attempt(db, prepared, context, policy, Write::Copy).await? {
            return Ok(outcome);
        }
        tracing::debug!(
            trips = prepared.len(),
            "another transaction wrote some of these trips first: written again with ON CONFLICT"
        );
    }
    attempt(db, prepared, context, policy, Write::Insert)
        .await?
        .ok_or_else(|| encode_error("an INSERT attempt answered like a refused COPY"))
}

/// One transaction; `None` when `Write::Copy` met a trip another transaction committed first
/// (nothing was written).
async fn attempt(
    db: &DatabaseConnection,
    prepared: &[Prepared],
    context: &ComputeContext,
    policy: ConflictPolicy,
    write: Write,
) -> Result<Option<AppendOutcome>, IngestError> {
    let started = Instant::now();
    let mut tx = db
        .get_postgres_connection_pool()
        .begin()
        .await
        .map_err(sqlx_error)?;
    let mut trip_ids: Vec<&str> = prepared.iter().map(Prepared::trip_id).collect();
    trip_ids.sort_unstable();
    trip_ids.dedup();
    let mut existing = by_trip_id(stored_rows(&mut tx, context.model_version(), &trip_ids).await?);
    let checked = started.elapsed();
    let mut plan = plan(prepared, &existing, policy, context)?;
    let mut inserted: HashMap<String, Impact> = HashMap::with_capacity(plan.to_insert.len());
    let to_write = plan.signed_to_insert(prepared);
    if !to_write.is_empty() {
        let count = i64::try_from(to_write.len()).map_err(encode_error)?;
        // The transaction takes its id before it draws sequence values: the log's integrator
        // relies on that to know when no older value can still commit (`log/store.rs`).
        let mut seqs: Vec<i64> = sea_orm::sqlx::query_scalar(
            "SELECT nextval(pg_get_serial_sequence('esg_impact_ledger', 'ledger_seq')) \
             FROM generate_series(1, $1::bigint) WHERE pg_current_xact_id() IS NOT NULL",
        )
        .bind(count)
        .fetch_all(&mut *tx)
        .await
        .map_err(sqlx_error)?;
        seqs.sort_unstable();
        // Sequence numbers follow the input order; rows are written in trip_id order, the one
        // lock order every transaction shares.
        let mut numbered: Vec<(&NewImpact, i64)> = to_write
            .iter()
            .zip(&seqs)
            .map(|(&(_, impact), &seq)| (impact, seq))
            .collect();
        numbered.sort_unstable_by(|a, b| a.0.event.trip_id.cmp(&b.0.event.trip_id));
        let rows = numbered
            .iter()
            .map(|(impact, seq)| impact.to_row(Some(*seq)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(encode_error)?;
        let written: HashSet<String> = match write {
            Write::Copy => match copy_in(&mut tx, rows).await {
                Ok(_) => numbered
                    .iter()
                    .map(|(impact, _)| impact.event.trip_id.clone())
                    .collect(),
                Err(err) if crate::db::is_unique_violation(&err) => return Ok(None),
                Err(err) => return Err(err.into()),
            },
            Write::Insert => insert_unnest(&mut tx, rows, ON_CONFLICT_RETURNING)
                .await?
                .iter()
                .map(|row| row.try_get::<String, _>("trip_id"))
                .collect::<Result<_, _>>()
                .map_err(sqlx_error)?,
        };
        if written.len() < numbered.len() {
            // Another transaction committed some of these trips first (the insert waited for
            // it): classify them again against its rows.
            let lost: Vec<&str> = numbered
                .iter()
                .map(|(impact, _)| impact.event.trip_id.as_str())
                .filter(|trip_id| !written.contains(*trip_id))
                .collect();
            existing.extend(by_trip_id(
                stored_rows(&mut tx, context.model_version(), &lost).await?,
            ));
            plan = super::plan::plan(prepared, &existing, policy, context)?;
        }
        for (impact, seq) in numbered {
            if written.contains(&impact.event.trip_id) {
                let impact = impact.clone().into_impact(seq);
                inserted.insert(impact.event.trip_id.clone(), impact);
            }
        }
        let events = inserted
            .values()
            .map(calculated_event_row)
            .collect::<Result<Vec<_>, _>>()?;
        match write {
            Write::Copy => {
                copy_in(&mut tx, events).await?;
            }
            Write::Insert => {
                insert_unnest(&mut tx, events, "").await?;
            }
        }
    }
    let written = started.elapsed();
    tx.commit().await.map_err(sqlx_error)?;
    tracing::debug!(
        trips = prepared.len(),
        checked_us = checked.as_micros(),
        written_us = written.as_micros(),
        committed_us = started.elapsed().as_micros(),
        "ledger append timings (cumulative)"
    );
    plan.finish(prepared, &existing, context, inserted)
        .map(Some)
}

/// Rows that lost the race are not inserted, and their trip ids are not returned.
const ON_CONFLICT_RETURNING: &str =
    " ON CONFLICT (trip_id, model_version) DO NOTHING RETURNING trip_id";

/// The stored rows of `trip_ids` under `model_version`, one unique-index probe per id, whatever
/// the planner believes about the table: with `trip_id = ANY($2)` or a plain join it may scan
/// the whole ledger (a cost that grows with every batch) when statistics are missing or stale;
/// `LIMIT 1` keeps the lateral subquery from being flattened into such a join.
async fn stored_rows(
    tx: &mut PgConnection,
    model_version: &str,
    trip_ids: &[&str],
) -> Result<Vec<esg_impact_ledger::Model>, IngestError> {
    sea_orm::sqlx::query(
        "SELECT l.* FROM UNNEST($2::text[]) AS wanted(trip_id) \
         CROSS JOIN LATERAL (SELECT * FROM esg_impact_ledger \
           WHERE trip_id = wanted.trip_id AND model_version = $1 LIMIT 1) AS l",
    )
    .bind(model_version)
    .bind(trip_ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(sqlx_error)?
    .into_iter()
    .map(|row| esg_impact_ledger::Model::from_query_result(&QueryResult::from(row), ""))
    .collect::<Result<Vec<_>, DbErr>>()
    .map_err(IngestError::Database)
}
