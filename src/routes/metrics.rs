//! `GET /metrics`: the Prometheus text exposition of the application's registry.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use greenos_core::services::Services;

use crate::error::ApiError;

/// Renders every metric.
pub async fn metrics(State(services): State<Services>) -> Response {
    match services.metrics().render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => ApiError::internal("cannot render the metrics", &err).into_response(),
    }
}
