//! `POST /graphql` (and `GET` for queries): the dashboards' door. The bearer token is read
//! here; each field's guard asks for its scope, and the schema records the latency.

use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use greenos_core::context::{Door, RequestContext};
use greenos_graphql::Transport;

use crate::app::AppState;
use crate::auth::authenticate;
use crate::config::Environment;
use crate::context::Caller;
use crate::routes::graphiql;

/// `GET /graphql`: GraphiQL for a browser in `dev`, otherwise a query in the URL.
pub async fn get(
    state: State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    if state.config.environment == Environment::Dev && graphiql::wants_page(&headers) {
        return graphiql::page();
    }
    match request {
        Ok(request) => graphql(state, caller, method, headers, request)
            .await
            .into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

/// Runs one GraphQL request.
pub async fn graphql(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    method: Method,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let transport = if method == Method::GET {
        Transport::Get
    } else {
        Transport::Post
    };
    let caller = RequestContext::new(
        Door::Graphql,
        ctx.correlation_id,
        authenticate(&state, &headers),
    );
    state
        .graphql
        .execute(request.into_inner(), caller, transport)
        .await
        .into()
}
