//! The outbox's use cases.

use std::time::Duration;

use crate::outbox::{self, OutboxClaim, OutboxStats, RetryPolicy, Settled};
use crate::proof::UtcMicros;
use crate::services::Services;

/// The outbox's use cases.
pub struct OutboxService<'a> {
    services: &'a Services,
}

impl<'a> OutboxService<'a> {
    pub(super) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// Claims up to `limit` due events for publication; settle or release the claim.
    pub async fn claim(&self, limit: u64) -> Result<OutboxClaim, OutboxError> {
        Ok(outbox::claim(self.services.database(), limit).await?)
    }

    /// Records what became of a claim's events, and counts it: published, retried, failed,
    /// and the commit-to-publish delay of the published ones.
    pub async fn settle(
        &self,
        claim: OutboxClaim,
        outcomes: &[Settled],
        policy: &RetryPolicy,
    ) -> Result<(), OutboxError> {
        let now = UtcMicros::now().as_datetime();
        let delays: Vec<Duration> = claim
            .events
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| **o == Settled::Published)
            .map(|(e, _)| {
                (now - e.created_at.as_datetime())
                    .to_std()
                    .unwrap_or_default()
            })
            .collect();
        claim.settle(outcomes, policy).await?;
        let retried = outcomes
            .iter()
            .filter(|o| matches!(o, Settled::Retry(_)))
            .count();
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o, Settled::Dead(_)))
            .count();
        self.services
            .metrics()
            .record_outbox(&delays, retried, failed);
        Ok(())
    }

    /// Gives a claim back untouched (its stream could not be reached; no attempt counts).
    pub async fn release(&self, claim: OutboxClaim) -> Result<(), OutboxError> {
        Ok(claim.release().await?)
    }

    /// Refreshes `greenos_outbox_pending` and answers it.
    pub async fn refresh_pending(&self) -> Result<u64, OutboxError> {
        let pending = outbox::pending(self.services.database()).await?;
        self.services.metrics().set_outbox_pending(pending);
        Ok(pending)
    }

    /// Refreshes the stream gauges (dead-letter length, consumer pending and lag) when the
    /// streams can be read; a failure is logged and leaves them as they were.
    pub async fn refresh_streams(&self) {
        let Some(probe) = self.services.stream_probe() else {
            return;
        };
        match probe.probe().await {
            Ok(streams) => self.services.metrics().set_streams(
                streams.dlq_length,
                Some(streams.consumer_pending),
                streams.consumer_lag,
            ),
            Err(err) => tracing::warn!(error = %err, "cannot read the streams' lengths"),
        }
    }

    /// Puts `FAILED` events back in line (all, or those named, or those of a topic).
    pub async fn replay(
        &self,
        event_ids: &[String],
        topic: Option<&str>,
    ) -> Result<u64, OutboxError> {
        let replayed = outbox::replay(self.services.database(), event_ids, topic).await?;
        tracing::info!(replayed, "FAILED outbox events re-queued");
        Ok(replayed)
    }

    /// Deletes up to `limit` events published more than `retention` ago.
    pub async fn prune(
        &self,
        retention: std::time::Duration,
        limit: u64,
    ) -> Result<u64, OutboxError> {
        let before = chrono::Duration::from_std(retention)
            .ok()
            .and_then(|r| UtcMicros::now().as_datetime().checked_sub_signed(r))
            .map_or(UtcMicros::now(), UtcMicros::truncating);
        Ok(outbox::prune(self.services.database(), before, limit).await?)
    }

    /// Counts by topic and status, the oldest pending event's age, and (when the streams can
    /// be read) the dead-letter stream's length and the trip consumer group's pending count
    /// and lag.
    pub async fn stats(&self) -> Result<OutboxStats, OutboxError> {
        let mut stats = outbox::stats(self.services.database()).await?;
        if let Some(probe) = self.services.stream_probe() {
            match probe.probe().await {
                Ok(streams) => {
                    self.services.metrics().set_streams(
                        streams.dlq_length,
                        Some(streams.consumer_pending),
                        streams.consumer_lag,
                    );
                    stats.dlq_length = Some(streams.dlq_length);
                    stats.consumer_pending = Some(streams.consumer_pending);
                    stats.consumer_lag = streams.consumer_lag;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the streams for the outbox stats")
                }
            }
        }
        Ok(stats)
    }
}

/// The outbox table could not be read.
#[derive(Debug, thiserror::Error)]
#[error("outbox database error")]
pub struct OutboxError(#[from] sea_orm::DbErr);

impl crate::error_code::DomainError for OutboxError {
    fn code(&self) -> crate::error_code::ErrorCode {
        crate::db::error_code(&self.0)
    }
}
