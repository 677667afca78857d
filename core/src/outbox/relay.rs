//! The database side of the outbox relay: claiming due events (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several workers never publish the same row at once; inside the write lock
//! on SQLite), and settling each claimed event once its publication is known — published,
//! to be retried after a backoff, or dead-lettered — in the claim's own transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use greenos_entity::{esg_audit_metadata, esg_outbox_events};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, Statement, TransactionTrait,
};

use crate::outbox::OutboxStatus;
use crate::outbox::store::IS_PENDING;
use crate::proof::UtcMicros;

use esg_outbox_events::{Column, Entity};

/// One claimed event, as the relay publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The event's id (consumers de-duplicate on it).
    pub event_id: String,
    /// The stream name without prefix (`esg_calculated.v1`, ...).
    pub topic: String,
    /// The canonical envelope.
    pub payload: String,
    /// Publication attempts so far.
    pub attempts: i32,
    /// When the event was committed.
    pub created_at: UtcMicros,
}

/// What became of one claimed event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Written to its stream.
    Published,
    /// Refused by the stream; tried again after a backoff.
    Retry(String),
    /// Refused once too often; copied to the dead-letter stream.
    Dead(String),
}

/// How the relay retries an event its stream refused.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The first delay (`GREENOS_OUTBOX_BASE_DELAY_MS`), doubled at each attempt.
    pub base_delay: Duration,
    /// The longest delay (`GREENOS_OUTBOX_MAX_DELAY_MS`).
    pub max_delay: Duration,
    /// Attempts before the dead-letter stream (`GREENOS_OUTBOX_MAX_RETRIES`).
    pub max_retries: i32,
}

impl RetryPolicy {
    /// Whether an event refused at `attempts` (before this one) has had its last chance.
    pub fn exhausted(&self, attempts: i32) -> bool {
        attempts.saturating_add(1) >= self.max_retries
    }

    /// The delay before attempt `attempts + 1`: exponential, capped, with up to 50 % jitter
    /// so refused events do not come back in one wave.
    fn delay(&self, attempts: i32, jitter: f64) -> Duration {
        let exponent = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
        let full = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max_delay);
        full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A batch of claimed events and the transaction that holds them.
pub struct OutboxClaim {
    txn: DatabaseTransaction,
    /// The claimed events, oldest first.
    pub events: Vec<OutboxEvent>,
}

impl std::fmt::Debug for OutboxClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxClaim")
            .field("events", &self.events.len())
            .finish()
    }
}

#[derive(Debug, FromQueryResult)]
struct ClaimedRow {
    event_id: String,
    topic: String,
    payload: String,
    attempts: i32,
    created_at: DateTime<Utc>,
}

/// Claims up to `limit` due `PENDING` events, the longest due first: the order of the partial
/// index of pending rows, so a claim reads `limit` index entries whatever the backlog (new
/// events are due at their commit, so this is commit order for them).
pub(crate) async fn claim(db: &DatabaseConnection, limit: u64) -> Result<OutboxClaim, DbErr> {
    let backend = db.get_database_backend();
    let txn = match backend {
        DbBackend::Postgres => db.begin().await?,
        _ => crate::db::begin_write(db).await?,
    };
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "SELECT event_id, topic, payload, attempts, created_at FROM esg_outbox_events \
         WHERE {IS_PENDING} AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2{lock}"
    );
    let rows = ClaimedRow::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [
            UtcMicros::now().as_datetime().into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(&txn)
    .await?;
    Ok(OutboxClaim {
        txn,
        events: rows
            .into_iter()
            .map(|row| OutboxEvent {
                event_id: row.event_id,
                topic: row.topic,
                payload: row.payload,
                attempts: row.attempts,
                created_at: UtcMicros::truncating(row.created_at),
            })
            .collect(),
    })
}

impl OutboxClaim {
    /// Records what became of each claimed event (in `events` order) and commits.
    pub(crate) async fn settle(
        self,
        outcomes: &[Settled],
        policy: &RetryPolicy,
    ) -> Result<(), DbErr> {
        let now = UtcMicros::now().as_datetime();
        let published: Vec<String> = self
            .events
            .iter()
            .zip(outcomes)
            .filter(|(_, outcome)| **outcome == Settled::Published)
            .map(|(event, _)| event.event_id.clone())
            .collect();
        for ids in published.chunks(500) {
            Entity::update_many()
                .col_expr(
                    Column::Status,
                    Expr::value(OutboxStatus::Published.as_str()),
                )
                .col_expr(Column::PublishedAt, Expr::value(now))
                .col_expr(Column::UpdatedAt, Expr::value(now))
                .filter(Column::EventId.is_in(ids.iter().cloned()))
                .exec(&self.txn)
                .await?;
        }
        for (event, outcome) in self.events.iter().zip(outcomes) {
            let (status, error) = match outcome {
                Settled::Published => continue,
                Settled::Retry(error) => (OutboxStatus::Pending, error),
                Settled::Dead(error) => (OutboxStatus::Failed, error),
            };
            let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
            let next = now
                + chrono::Duration::from_std(policy.delay(event.attempts, jitter))
                    .unwrap_or_default();
            Entity::update_many()
                .col_expr(Column::Status, Expr::value(status.as_str()))
                .col_expr(
                    Column::Attempts,
                    Expr::value(event.attempts.saturating_add(1)),
                )
                .col_expr(Column::NextAttemptAt, Expr::value(next))
                .col_expr(
                    Column::LastError,
                    Expr::value(error.chars().take(1000).collect::<String>()),
                )
                .col_expr(Column::UpdatedAt, Expr::value(now))
                .filter(Column::EventId.eq(event.event_id.clone()))
                .exec(&self.txn)
                .await?;
            if status == OutboxStatus::Failed {
                audit(
                    &self.txn,
                    "OUTBOX_EVENT_DEAD_LETTERED",
                    &event.event_id,
                    error,
                    now,
                )
                .await?;
            }
        }
        self.txn.commit().await
    }

    /// Gives the claimed events back untouched (the stream could not be reached: that is not
    /// the events' fault, and no attempt is counted).
    pub(crate) async fn release(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

async fn audit(
    txn: &DatabaseTransaction,
    event_type: &str,
    event_id: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let details = crate::proof::to_canonical(&serde_json::json!({
        "event_id": event_id,
        "reason": reason.chars().take(1000).collect::<String>(),
    }))
    .ok()
    .and_then(|bytes| String::from_utf8(bytes).ok())
    .unwrap_or_default();
    esg_audit_metadata::Entity::insert(esg_audit_metadata::ActiveModel {
        audit_id: Set(uuid::Uuid::new_v4().to_string()),
        event_type: Set(event_type.to_owned()),
        subject_id: Set(event_id.to_owned()),
        details: Set(details),
        correlation_id: Set(None),
        created_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// How many events wait for publication.
pub(crate) async fn pending<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    Entity::find()
        .filter(Expr::cust(IS_PENDING))
        .count(db)
        .await
}

/// Puts `FAILED` events back in line (all of them, or those of `event_ids` / `topic`), with
/// their attempts reset and an audit row each; answers how many.
pub(crate) async fn replay(
    db: &DatabaseConnection,
    event_ids: &[String],
    topic: Option<&str>,
) -> Result<u64, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let mut query = Entity::find().filter(Column::Status.eq(OutboxStatus::Failed.as_str()));
    if !event_ids.is_empty() {
        query = query.filter(Column::EventId.is_in(event_ids.iter().cloned()));
    }
    if let Some(topic) = topic {
        query = query.filter(Column::Topic.eq(topic));
    }
    let failed = query.all(&txn).await?;
    let now = UtcMicros::now().as_datetime();
    for row in &failed {
        Entity::update_many()
            .col_expr(Column::Status, Expr::value(OutboxStatus::Pending.as_str()))
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::NextAttemptAt, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::EventId.eq(row.event_id.clone()))
            .exec(&txn)
            .await?;
        audit(
            &txn,
            "OUTBOX_EVENT_REPLAYED",
            &row.event_id,
            "replayed by an operator",
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(failed.len() as u64)
}

/// Deletes at most `limit` events published before `before` (transport, not evidence).
pub(crate) async fn prune(
    db: &DatabaseConnection,
    before: UtcMicros,
    limit: u64,
) -> Result<u64, DbErr> {
    use sea_orm::QuerySelect;
    let ids: Vec<String> = Entity::find()
        .select_only()
        .column(Column::EventId)
        .filter(Column::Status.eq(OutboxStatus::Published.as_str()))
        .filter(Column::PublishedAt.lt(before.as_datetime()))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let deleted = Entity::delete_many()
        .filter(Column::EventId.is_in(ids))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_bounded_jitter() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retries: 3,
        };
        assert_eq!(policy.delay(0, 0.0), Duration::from_millis(100));
        assert_eq!(policy.delay(3, 0.0), Duration::from_millis(800));
        assert_eq!(policy.delay(10, 0.0), Duration::from_secs(2));
        assert_eq!(policy.delay(10, 1.0), Duration::from_secs(1));
        assert!(!policy.exhausted(1));
        assert!(policy.exhausted(2));
    }
}
