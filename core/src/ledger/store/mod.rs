//! Appending impacts to the ledger, with their `esg_calculated.v1` outbox rows, in one
//! transaction per call; reading impacts back.
//!
//! Idempotency: a trip whose `(trip_id, model_version)` is already in the ledger with the same
//! content is a duplicate (the stored impact is answered, nothing is written); with different
//! content it is a conflict. Within one call, a repeated identical trip counts once and a
//! repeated different one is a conflict. Concurrent writers of the same trip meet at the unique
//! key without an error or a retry: on PostgreSQL every transaction inserts in `trip_id` order
//! with `ON CONFLICT DO NOTHING` (one global lock order, so no deadlock), and the trips another
//! transaction committed first are classified again against its rows; SQLite has one writer.

mod plan;
mod postgres;
mod sqlite;
mod unnest;

pub(crate) use sqlite::SqliteWriter;

use greenos_entity::esg_impact_ledger::{self, Column, Entity};
use greenos_entity::esg_outbox_events;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::ledger::compute::{ComputeContext, Prepared, Refusal};
use crate::ledger::error::{Conflict, ImpactError, IngestError};
use crate::ledger::impact::Impact;
use crate::outbox::{ESG_CALCULATED_V1, Envelope, pending_row};

/// What to do with conflicting trips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// Any conflict refuses the whole call (`409 GREENOS_DUPLICATE_IMPACT`), nothing written.
    RejectAll,
    /// Conflicting trips are reported and left out; the others are written (bulk files).
    SkipConflicting,
}

/// The fate of one submitted trip, in input order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Newly written to the ledger.
    Accepted(Impact),
    /// Already recorded with the same content (in the ledger, or earlier in the same call).
    Duplicate(Impact),
    /// A different impact exists for this trip; only with `SkipConflicting`.
    Conflict(Conflict),
    /// Left out, with why (no factors for its country, a future timestamp); only with
    /// `SkipConflicting` (otherwise the call is refused).
    Refused(Refusal),
}

impl Appended {
    /// The impact, unless the trip was a skipped conflict.
    pub fn impact(&self) -> Option<&Impact> {
        match self {
            Self::Accepted(impact) | Self::Duplicate(impact) => Some(impact),
            Self::Conflict(_) | Self::Refused(_) => None,
        }
    }
}

/// The result of one append, one entry per submitted trip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// In input order.
    pub items: Vec<Appended>,
}

impl AppendOutcome {
    /// Trips newly written.
    pub fn accepted(&self) -> usize {
        self.count(|a| matches!(a, Appended::Accepted(_)))
    }

    /// Trips that were already recorded.
    pub fn duplicates(&self) -> usize {
        self.count(|a| matches!(a, Appended::Duplicate(_)))
    }

    /// Trips skipped: conflicts, and trips without factors.
    pub fn skipped(&self) -> usize {
        self.count(|a| matches!(a, Appended::Conflict(_) | Appended::Refused(_)))
    }

    fn count(&self, pred: impl Fn(&Appended) -> bool) -> usize {
        self.items.iter().filter(|a| pred(a)).count()
    }
}

/// Appends the signed trips of `prepared` (all under the model version of `context`) and one
/// `esg_calculated.v1` outbox row per new impact, in one PostgreSQL transaction: one `COPY`
/// (or, for small batches, one `UNNEST` insert) per table. On SQLite, appends go through the
/// process's [`SqliteWriter`] instead (its own thread and rusqlite connection).
pub async fn append(
    db: &DatabaseConnection,
    prepared: &[Prepared],
    context: &ComputeContext,
    policy: ConflictPolicy,
) -> Result<AppendOutcome, IngestError> {
    postgres::append(db, prepared, context, policy).await
}

/// The latest impact of `trip_id` (highest `ledger_seq`), or the one of `model_version`.
pub async fn find(
    db: &DatabaseConnection,
    trip_id: &str,
    model_version: Option<&str>,
) -> Result<Impact, ImpactError> {
    let mut query = Entity::find().filter(Column::TripId.eq(trip_id));
    if let Some(model_version) = model_version {
        query = query.filter(Column::ModelVersion.eq(model_version));
    }
    query
        .order_by_desc(Column::LedgerSeq)
        .one(db)
        .await?
        .map(Impact::from_row)
        .ok_or_else(|| ImpactError::NotFound {
            trip_id: trip_id.to_owned(),
            model_version: model_version.map(str::to_owned),
        })
}

/// A row of the ledger that cannot be encoded (a quantity beyond `i64` micro-units).
fn encode_error(err: impl std::fmt::Display) -> IngestError {
    IngestError::Database(DbErr::Custom(format!(
        "impact cannot be encoded as a ledger row: {err}"
    )))
}

/// A driver error, as the database error it is.
fn sqlx_error(err: sea_orm::sqlx::Error) -> IngestError {
    IngestError::Database(crate::bulk::sqlx_error(err))
}

/// The `esg_calculated.v1` outbox row of a new impact: its data is the impact exactly as
/// `GET /impact` returns it.
fn calculated_event_row(impact: &Impact) -> Result<esg_outbox_events::ActiveModel, IngestError> {
    let envelope = Envelope::with_canonical_data(
        ESG_CALCULATED_V1,
        impact.created_at,
        impact.event.trip_id.clone(),
        impact.correlation_id.clone(),
        impact.to_canonical_json(),
    );
    pending_row(&envelope, impact.created_at).map_err(encode_error)
}

/// Reads stored rows into impacts keyed by `trip_id`.
fn by_trip_id(rows: Vec<esg_impact_ledger::Model>) -> std::collections::HashMap<String, Impact> {
    rows.into_iter()
        .map(|row| (row.trip_id.clone(), Impact::from_row(row)))
        .collect()
}
