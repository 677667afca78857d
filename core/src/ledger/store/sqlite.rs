//! The SQLite write path: one `BEGIN IMMEDIATE` transaction (the write lock is taken at once, so
//! concurrent writers queue on the busy timeout instead of failing on a lock upgrade), the
//! duplicate check, then multi-row `INSERT`s sized under the bind-parameter limit.

use std::collections::HashMap;

use greenos_entity::esg_impact_ledger::{Column, Entity};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::ledger::compute::{ComputeContext, Prepared};
use crate::ledger::error::IngestError;
use crate::ledger::impact::Impact;
use crate::ledger::store::plan::plan;
use crate::ledger::store::{
    AppendOutcome, ConflictPolicy, by_trip_id, calculated_event_row, encode_error,
};
use crate::outbox;

/// 23 columns per ledger row: 400 rows stay far below SQLite's 32 766 bound parameters.
const ROWS_PER_STATEMENT: usize = 400;

/// Appends in one immediate transaction.
pub(super) async fn append(
    db: &DatabaseConnection,
    prepared: &[Prepared],
    context: &ComputeContext,
    policy: ConflictPolicy,
) -> Result<AppendOutcome, IngestError> {
    let txn = crate::db::begin_write(db).await?;
    let mut trip_ids: Vec<&str> = prepared.iter().map(Prepared::trip_id).collect();
    trip_ids.sort_unstable();
    trip_ids.dedup();
    let mut stored = Vec::new();
    for chunk in trip_ids.chunks(ROWS_PER_STATEMENT) {
        stored.extend(
            Entity::find()
                .filter(Column::ModelVersion.eq(context.model_version()))
                .filter(Column::TripId.is_in(chunk.iter().copied()))
                .all(&txn)
                .await?,
        );
    }
    let existing = by_trip_id(stored);
    let plan = plan(prepared, &existing, policy, context)?;
    let rows = plan
        .signed_to_insert(prepared)
        .into_iter()
        .map(|(_, impact)| impact.to_row(None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(encode_error)?;
    let mut inserted: HashMap<String, Impact> = HashMap::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        for row in Entity::insert_many(chunk).exec_with_returning(&txn).await? {
            inserted.insert(row.trip_id.clone(), Impact::from_row(row));
        }
    }
    let events = plan
        .signed_to_insert(prepared)
        .into_iter()
        .filter_map(|(_, impact)| inserted.get(impact.event.trip_id.as_str()))
        .map(calculated_event_row)
        .collect::<Result<Vec<_>, _>>()?;
    outbox::insert_rows(&txn, events).await?;
    txn.commit().await?;
    plan.finish(prepared, &existing, context, inserted)
}
