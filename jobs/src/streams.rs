//! The streams' side of the outbox stats: the dead-letter stream's length and the trip
//! consumer group's pending count and lag, read from Redis.

use greenos_core::outbox::{StreamProbe, StreamStats};
use redis::AsyncCommands;
use redis::streams::StreamInfoGroupsReply;

use crate::consumer::{ConsumerSettings, TRIP_STREAM};
use crate::relay::DLQ_STREAM;

/// Reads the stream figures from Redis.
pub struct RedisStreamProbe {
    client: redis::Client,
    dlq: String,
    trips: String,
    group: String,
}

impl RedisStreamProbe {
    /// A probe over the streams the consumer settings name.
    pub fn new(client: redis::Client, settings: &ConsumerSettings) -> RedisStreamProbe {
        RedisStreamProbe {
            client,
            dlq: format!("{}{DLQ_STREAM}", settings.stream_prefix),
            trips: format!("{}{TRIP_STREAM}", settings.stream_prefix),
            group: settings.group.clone(),
        }
    }
}

#[async_trait::async_trait]
impl StreamProbe for RedisStreamProbe {
    async fn probe(&self) -> Result<StreamStats, String> {
        let read = async {
            let mut conn = self.client.get_multiplexed_async_connection().await?;
            let dlq_length: u64 = conn.xlen(&self.dlq).await?;
            let exists: bool = conn.exists(&self.trips).await?;
            let group = if exists {
                let groups: StreamInfoGroupsReply = conn.xinfo_groups(&self.trips).await?;
                groups.groups.into_iter().find(|g| g.name == self.group)
            } else {
                None
            };
            Ok::<_, redis::RedisError>(StreamStats {
                dlq_length,
                consumer_pending: group.as_ref().map_or(0, |g| g.pending as u64),
                consumer_lag: group.and_then(|g| g.lag).map(|lag| lag as u64),
            })
        };
        match tokio::time::timeout(std::time::Duration::from_secs(1), read).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("timed out reading the streams".to_owned()),
        }
    }
}
