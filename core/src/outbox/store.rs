//! Outbox rows: an envelope becomes a `PENDING` row, due now, in the caller's transaction.

use greenos_entity::esg_outbox_events;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::outbox::envelope::Envelope;
use crate::proof::{CanonicalError, UtcMicros};

/// Where an outbox row is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for (another) publication attempt.
    Pending,
    /// Written to its stream.
    Published,
    /// Retries exhausted; copied to the dead-letter stream.
    Failed,
}

impl OutboxStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Published => "PUBLISHED",
            Self::Failed => "FAILED",
        }
    }
}

/// `status = 'PENDING'` as a literal, the predicate of the partial index of pending rows: a
/// bound parameter would keep a generic plan from using that index.
pub(crate) const IS_PENDING: &str = "status = 'PENDING'";

/// The `PENDING` row of `envelope`: zero attempts, due at `now`.
pub(crate) fn pending_row(
    envelope: &Envelope,
    now: UtcMicros,
) -> Result<esg_outbox_events::ActiveModel, CanonicalError> {
    let now = now.as_datetime();
    Ok(esg_outbox_events::ActiveModel {
        event_id: Set(envelope.event_id.clone()),
        topic: Set(envelope.schema_version.to_owned()),
        aggregate_id: Set(envelope.aggregate_id.clone()),
        payload: Set(envelope.to_canonical_string()?),
        status: Set(OutboxStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        correlation_id: Set(envelope.correlation_id.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set(None),
    })
}

/// Inserts rows with multi-row `INSERT`s sized under SQLite's bind-parameter limit; call it on
/// the transaction that writes the change the events describe.
pub(crate) async fn insert_rows<C: ConnectionTrait>(
    db: &C,
    rows: Vec<esg_outbox_events::ActiveModel>,
) -> Result<(), DbErr> {
    /// 12 columns per row: 400 rows stay far below 32 766 parameters.
    const ROWS_PER_INSERT: usize = 400;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        esg_outbox_events::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
