//! `logCheckpoint` (public, as its REST twin) and `inclusionProof` (scope `read`).

use async_graphql::{Context, Object, Result};
use greenos_core::auth::Scope;

use crate::context::{answer, services};
use crate::guard::ScopeGuard;
use crate::types::log::{InclusionProof, LogCheckpoint};

/// The transparency log's queries.
#[derive(Default)]
pub struct LogQuery;

#[Object]
impl LogQuery {
    /// The latest signed checkpoint of the transparency log.
    async fn log_checkpoint(&self, ctx: &Context<'_>) -> Result<LogCheckpoint> {
        let log = services(ctx).log();
        let checkpoint = answer(log.checkpoint().await)?;
        Ok(LogCheckpoint::new(log.key().origin, checkpoint))
    }

    /// The inclusion proof of an impact (of `modelVersion`, or of the latest model version) in
    /// the tree of `treeSize` leaves (the latest checkpoint's by default).
    #[graphql(guard = "ScopeGuard(Scope::Read)")]
    async fn inclusion_proof(
        &self,
        ctx: &Context<'_>,
        trip_id: String,
        model_version: Option<String>,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof> {
        let proof = services(ctx)
            .log()
            .inclusion(&trip_id, model_version.as_deref(), tree_size)
            .await;
        Ok(answer(proof)?.into())
    }
}
