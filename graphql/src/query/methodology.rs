//! `methodology` and `methodologies`.

use async_graphql::{Context, Object, Result};
use greenos_core::auth::Scope;
use greenos_core::methodology::MethodologyError;

use crate::context::{answer, services};
use crate::guard::ScopeGuard;
use crate::types::methodology::Methodology;

/// The registry's queries.
#[derive(Default)]
pub struct MethodologyQuery;

#[Object]
impl MethodologyQuery {
    /// One version, or the ACTIVE one when `version` is omitted; null when there is none.
    #[graphql(guard = "ScopeGuard(Scope::Read)")]
    async fn methodology(
        &self,
        ctx: &Context<'_>,
        version: Option<String>,
    ) -> Result<Option<Methodology>> {
        let registry = services(ctx).methodology();
        let found = match version {
            Some(version) => registry.get(&version).await,
            None => registry.current().await,
        };
        match found {
            Ok(methodology) => Ok(Some(Methodology(methodology))),
            Err(MethodologyError::NotFound { .. } | MethodologyError::NoActive) => Ok(None),
            Err(err) => Err(crate::error::coded(err)),
        }
    }

    /// Every version, newest first.
    #[graphql(guard = "ScopeGuard(Scope::Read)")]
    async fn methodologies(&self, ctx: &Context<'_>) -> Result<Vec<Methodology>> {
        let all = answer(services(ctx).methodology().list().await)?;
        Ok(all.into_iter().map(Methodology).collect())
    }
}
