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
        }
    }
}
