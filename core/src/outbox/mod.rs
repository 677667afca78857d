//! The transactional outbox (SPEC §11): versioned event envelopes, written as rows in the same
//! database transaction as the change that caused them. Publishing to Redis Streams is the
//! relay's job, not this module's.

mod envelope;
mod relay;
mod stats;
mod store;

pub use envelope::{AUDIT_GENERATED_V1, ESG_CALCULATED_V1, Envelope};
pub use relay::{OutboxClaim, OutboxEvent, RetryPolicy, Settled};
pub(crate) use relay::{claim, pending, prune, replay};
pub(crate) use stats::stats;
pub use stats::{OutboxStats, StreamProbe, StreamStats, TopicCount};
pub use store::OutboxStatus;
pub(crate) use store::{insert_rows, pending_row};
