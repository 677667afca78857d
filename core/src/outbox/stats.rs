//! What the outbox table holds: counts by topic and status, and how long the oldest pending
//! event has waited.

use greenos_entity::esg_outbox_events::{Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};
use serde::Serialize;

use crate::outbox::store::IS_PENDING;
use crate::proof::UtcMicros;

/// Events of one topic in one status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct TopicCount {
    /// The stream the events go to.
    pub topic: String,
    /// `PENDING`, `PUBLISHED` or `FAILED`.
    pub status: String,
    /// How many.
    pub count: i64,
}

/// The outbox at a glance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutboxStats {
    /// Counts by topic and status, sorted.
    pub counts: Vec<TopicCount>,
    /// Seconds the oldest `PENDING` event has waited; `null` when none waits.
    pub oldest_pending_age_seconds: Option<f64>,
    /// Entries of the dead-letter stream; `null` when the streams cannot be read.
    pub dlq_length: Option<u64>,
    /// Entries the trip consumer group has read but not acknowledged.
    pub consumer_pending: Option<u64>,
    /// Entries of `trip_completed.v1` the group has not read yet.
    pub consumer_lag: Option<u64>,
}

/// What the streams say, read by whoever can reach them (core never talks to Redis).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Entries of the dead-letter stream.
    pub dlq_length: u64,
    /// Entries the trip consumer group has read but not acknowledged.
    pub consumer_pending: u64,
    /// Entries the group has not read yet, when the server reports it.
    pub consumer_lag: Option<u64>,
}

/// Reads [`StreamStats`] (the worker crate implements it over Redis).
#[async_trait::async_trait]
pub trait StreamProbe: Send + Sync {
    /// The current figures, or why they cannot be read.
    async fn probe(&self) -> Result<StreamStats, String>;
}

#[derive(Debug, FromQueryResult)]
struct Oldest {
    oldest: Option<chrono::DateTime<chrono::Utc>>,
}

/// Reads the counts and the oldest pending event.
pub(crate) async fn stats<C: ConnectionTrait>(db: &C) -> Result<OutboxStats, DbErr> {
    let mut counts = Entity::find()
        .select_only()
        .column(Column::Topic)
        .column(Column::Status)
        .column_as(Expr::col(Column::EventId).count(), "count")
        .group_by(Column::Topic)
        .group_by(Column::Status)
        .into_model::<TopicCount>()
        .all(db)
        .await?;
    counts.sort_by(|a, b| (&a.topic, &a.status).cmp(&(&b.topic, &b.status)));
    let oldest = Entity::find()
        .select_only()
        .column_as(Expr::col(Column::CreatedAt).min(), "oldest")
        .filter(Expr::cust(IS_PENDING))
        .into_model::<Oldest>()
        .one(db)
        .await?
        .and_then(|row| row.oldest);
    let now = UtcMicros::now().as_datetime();
    Ok(OutboxStats {
        counts,
        oldest_pending_age_seconds: oldest
            .map(|at| (now - at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6),
        dlq_length: None,
        consumer_pending: None,
        consumer_lag: None,
    })
}
