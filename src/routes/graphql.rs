//! `POST /graphql` (and `GET` for queries): the dashboards' door. The bearer token is read
//! here and each field's guard asks for its scope; latency is recorded by operation type and
//! root field (never by the client's free-text operation name).

use std::time::Instant;

use async_graphql::parser::types::{OperationType, Selection};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use greenos_core::context::RequestContext;
use greenos_core::error_code::{ErrorCode, PublicError};

use axum::response::{IntoResponse, Response};

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
    let started = Instant::now();
    let request = request.into_inner();
    let (operation, root_field) = shape(&state, &request);
    if method == Method::GET && operation == "mutation" {
        let refused = PublicError::new(
            ErrorCode::GraphqlQueryRefused,
            "Mutations are sent with POST, never GET.",
        );
        return async_graphql::Response::from_errors(vec![
            greenos_graphql::error::to_graphql(refused).into_server_error(Default::default()),
        ])
        .into();
    }
    let caller = RequestContext::new(ctx.correlation_id, authenticate(&state, &headers));
    let response = state.graphql.execute(request, caller).await;
    state
        .services
        .metrics()
        .graphql_request_duration_seconds
        .with_label_values(&[operation, root_field.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response.into()
}

/// The operation type and first root field of the request, as bounded labels.
fn shape(state: &AppState, request: &async_graphql::Request) -> (&'static str, String) {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return ("invalid", "none".to_owned());
    };
    let operation = match &request.operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => document.operations.iter().next(),
    };
    let Some((_, operation)) = operation else {
        return ("invalid", "none".to_owned());
    };
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let field = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
        .filter(|name| state.graphql.is_root_field(name))
        .unwrap_or_else(|| "unknown".to_owned());
    (kind, field)
}
