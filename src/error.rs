//! The HTTP error envelope `{"error":{"code","message","details"}}` of SPEC §10.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use greenos_core::error_code::{DomainError, ErrorCode};
use serde_json::{Value, json};

/// An error answered to a client; its status comes from the code registry.
#[derive(Debug)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// A human sentence.
    pub message: String,
    /// Machine-readable specifics (failing flags, offending fields).
    pub details: Value,
}

impl ApiError {
    /// An error with empty details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: json!({}),
        }
    }

    /// Attaches details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// An internal failure: logged once here, answered with a generic sentence so that no
    /// database or library message reaches a client.
    pub fn internal(context: &str, err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(
            ErrorCode::Internal,
            "An internal error occurred; it has been logged.",
        )
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The envelope body for a code, message and details.
pub fn envelope(code: ErrorCode, message: &str, details: &Value) -> Value {
    json!({"error": {"code": code.as_str(), "message": message, "details": details}})
}

impl<E: DomainError> From<E> for ApiError {
    fn from(err: E) -> Self {
        match err.code() {
            ErrorCode::Internal => Self::internal("request failed", &err),
            code => Self::new(code, err.to_string()).with_details(err.details()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(envelope(self.code, &self.message, &self.details)),
        )
            .into_response()
    }
}

/// The code used to wrap a bare error response (one a framework layer produced) by status.
pub fn code_for_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::NOT_FOUND => ErrorCode::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
        s if s.is_client_error() => ErrorCode::InvalidRequest,
        _ => ErrorCode::Internal,
    }
}
