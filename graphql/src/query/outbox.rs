//! `outboxStats` (scope `admin`).

use async_graphql::{Context, Object, Result};
use greenos_core::auth::Scope;

use crate::context::{answer, services};
use crate::guard::ScopeGuard;
use crate::types::outbox::OutboxStats;

/// The outbox query.
#[derive(Default)]
pub struct OutboxQuery;

#[Object]
impl OutboxQuery {
    /// Counts by topic and status, and the oldest pending event's age.
    #[graphql(guard = "ScopeGuard(Scope::Admin)")]
    async fn outbox_stats(&self, ctx: &Context<'_>) -> Result<OutboxStats> {
        Ok(answer(services(ctx).outbox().stats().await)?.into())
    }
}
