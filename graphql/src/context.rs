//! What a resolver reads from the request: the service layer, and the caller's
//! `RequestContext` (correlation id and `AuthContext`) that the HTTP layer established.

use async_graphql::{Context, Result};
use greenos_core::context::{CorrelationId, Door, RequestContext};
use greenos_core::error_code::DomainError;
use greenos_core::services::Services;

use crate::error::coded;

/// The service layer of the schema.
pub fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    // The schema is always built with its services (`build_schema`).
    ctx.data_unchecked::<Services>()
}

/// The caller of this request (a fresh system-less context when the HTTP layer set none).
pub fn caller(ctx: &Context<'_>) -> RequestContext {
    ctx.data_opt::<RequestContext>()
        .cloned()
        .unwrap_or_else(|| {
            RequestContext::new(
                Door::Graphql,
                CorrelationId::generate(),
                greenos_core::auth::AuthContext::Anonymous,
            )
        })
}

/// A core result as a GraphQL result, the error through the one mapping.
pub fn answer<T, E: DomainError + 'static>(result: Result<T, E>) -> Result<T> {
    result.map_err(coded)
}
