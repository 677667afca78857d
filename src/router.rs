//! The HTTP router: routes, request ids, tracing, metrics, limits and the error envelope for
//! whatever a framework layer answers on its own.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;

use greenos_core::auth::Scope;
use greenos_core::services::Services;

use crate::app::AppState;
use crate::config::Environment;
use crate::context::{REQUEST_ID_HEADER, normalise_request_id};
use crate::error::{ApiError, code_for_status, envelope};
use crate::routes;
use crate::{auth, edge};

/// Builds the complete router.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.http.max_body_bytes;
    let public = Router::new()
        .route("/health", get(routes::health::health))
        .route("/api/v2/esg/public-key", get(routes::keys::public_key))
        .route(
            "/.well-known/greenos-public-key",
            get(routes::keys::public_key),
        )
        .route("/api/v2/esg/public-keys", get(routes::keys::public_keys))
        .route("/api/v2/esg/log/key", get(routes::log::key))
        .route("/api/v2/esg/log/checkpoint", get(routes::log::checkpoint))
        .route("/api/v2/esg/log/tile/{*path}", get(routes::log::tile))
        .route(
            "/api/v2/esg/log/proof/consistency",
            get(routes::log::consistency),
        )
        // Each GraphQL field asks for its own scope; public keys stay public, as in REST.
        .route(
            "/graphql",
            get(routes::graphql::get).post(routes::graphql::graphql),
        );
    let public = if state.config.environment == Environment::Dev {
        public.route("/graphql/assets/{file}", get(routes::graphiql::asset))
    } else {
        public
    };
    let read = Router::new()
        .route("/metrics", get(routes::metrics::metrics))
        .route("/api/v2/esg/impact/{trip_id}", get(routes::impact::impact))
        .route("/api/v2/esg/verify/{trip_id}", get(routes::impact::verify))
        .route(
            "/api/v2/esg/log/proof/inclusion",
            get(routes::log::inclusion),
        )
        .route(
            "/api/v2/esg/mrv/methodology",
            get(routes::methodology::list),
        )
        .route(
            "/api/v2/esg/mrv/methodology/current",
            get(routes::methodology::current),
        )
        .route(
            "/api/v2/esg/mrv/methodology/{version}",
            get(routes::methodology::by_version),
        );
    let ingest = Router::new().route("/api/v2/esg/trips", post(routes::trips::ingest));
    let admin = Router::new()
        .route(
            "/api/v2/esg/internal/secrets/status",
            get(routes::secrets::status),
        )
        .route("/api/v2/esg/outbox/stats", get(routes::outbox::stats))
        .route(
            "/api/v2/esg/mrv/methodology",
            post(routes::methodology::create),
        )
        .route(
            "/api/v2/esg/mrv/methodology/{version}/activate",
            post(routes::methodology::activate),
        );
    Router::new()
        .merge(public)
        .merge(scoped(&state, Scope::Read, read))
        .merge(scoped(&state, Scope::Ingest, ingest))
        .merge(scoped(
            &state,
            Scope::Read,
            routes::mrv::read_routes(state.config.http.verify_max_body_bytes),
        ))
        .merge(scoped(&state, Scope::Export, routes::mrv::export_routes()))
        .merge(scoped(&state, Scope::Admin, admin))
        .fallback(route_not_found)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            (state.config.http.body_timeout, state.services.clone()),
            edge::body_deadline,
        ))
        .layer(middleware::from_fn(edge::refuse_ambiguous_requests))
        .layer(middleware::from_fn_with_state(state.services.clone(), record_metrics))
        .layer(middleware::from_fn(envelope_bare_errors))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(normalise_request_id))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                        // The id the ledger rows, outbox events and exports record: every log
                        // line of the request carries it.
                        let correlation_id = request
                            .headers()
                            .get(REQUEST_ID_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        tracing::info_span!("http", method = %request.method(), uri = %request.uri(), correlation_id)
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::internal("a request handler panicked", &Panicked).into_response()
                })),
        )
        .with_state(state)
}

/// The router of `GREENOS_METRICS_BIND`: `GET /metrics` alone, without a token (the listener
/// is for a private network), with the envelope for anything else.
pub fn metrics_router(state: &AppState) -> Router {
    Router::new()
        .route("/metrics", get(routes::metrics::metrics))
        .fallback(route_not_found)
        .with_state(state.services.clone())
}

/// What a caught panic is logged as.
#[derive(Debug, thiserror::Error)]
#[error("panic")]
struct Panicked;

/// Guards every route of `routes` with `scope`.
fn scoped(state: &AppState, scope: Scope, routes: Router<AppState>) -> Router<AppState> {
    routes.route_layer(middleware::from_fn_with_state(
        state.clone(),
        move |state, request, next| auth::require_scope(state, scope, request, next),
    ))
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::new(
        greenos_core::error_code::ErrorCode::RouteNotFound,
        format!(
            "No route for {} {}.",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Records the request count and latency, labelled by the matched route template (bounded).
async fn record_metrics(
    State(services): State<Services>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed: Duration = started.elapsed();
    services
        .metrics()
        .record_http(&method, &route, response.status().as_u16(), elapsed);
    response
}

/// Framework layers (body limits, method routing, extractor rejections) answer errors in plain
/// text; every error a client sees must be the GREENOS envelope, so wrap those.
async fn envelope_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let code = code_for_status(status);
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            "The request body is larger than this route accepts.".to_owned()
        }
        StatusCode::METHOD_NOT_ALLOWED => "This route does not accept that method.".to_owned(),
        _ if text.trim().is_empty() => status.canonical_reason().unwrap_or("Error").to_owned(),
        _ => text,
    };
    let body = envelope(code, &message, &serde_json::json!({}));
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}
