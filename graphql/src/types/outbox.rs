//! `outboxStats`: what the outbox table holds.

use async_graphql::SimpleObject;
use greenos_core::outbox::OutboxStats as CoreStats;

/// Events of one topic in one status.
#[derive(Clone, Debug, SimpleObject)]
pub struct TopicCount {
    /// The stream the events go to.
    pub topic: String,
    /// `PENDING`, `PUBLISHED` or `FAILED`.
    pub status: String,
    /// How many.
    pub count: i64,
}

/// The outbox at a glance.
#[derive(Clone, Debug, SimpleObject)]
pub struct OutboxStats {
    /// Counts by topic and status.
    pub counts: Vec<TopicCount>,
    /// Seconds the oldest pending event has waited.
    pub oldest_pending_age_seconds: Option<f64>,
    /// Entries of the dead-letter stream (null when the streams cannot be read).
    pub dlq_length: Option<u64>,
    /// Entries the trip consumer group has read but not acknowledged.
    pub consumer_pending: Option<u64>,
    /// Entries of `trip_completed.v1` the group has not read yet.
    pub consumer_lag: Option<u64>,
}

impl From<CoreStats> for OutboxStats {
    fn from(stats: CoreStats) -> OutboxStats {
        OutboxStats {
            counts: stats
                .counts
                .into_iter()
                .map(|c| TopicCount {
                    topic: c.topic,
                    status: c.status,
                    count: c.count,
                })
                .collect(),
            oldest_pending_age_seconds: stats.oldest_pending_age_seconds,
            dlq_length: stats.dlq_length,
            consumer_pending: stats.consumer_pending,
            consumer_lag: stats.consumer_lag,
        }
    }
}
