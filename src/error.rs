//! The HTTP error envelope `{"error":{"code","message","details"}}` of SPEC §10: the REST
//! rendering of `greenos_core::error_code::PublicError`, the one mapping of every error.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use greenos_core::error_code::{DomainError, ErrorCode, PublicError};
use serde_json::{Value, json};

/// An error answered to a client; its status comes from the code registry.
#[derive(Debug)]
pub struct ApiError(pub PublicError);

impl ApiError {
    /// An error with empty details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(PublicError::new(code, message))
    }

    /// Attaches details.
    pub fn with_details(self, details: Value) -> Self {
        Self(self.0.with_details(details))
    }

    /// An internal failure: logged once, answered with a generic sentence.
    pub fn internal(context: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        Self(PublicError::internal(context, err))
    }

    /// The code of this error.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The envelope body for a code, message and details.
pub fn envelope(code: ErrorCode, message: &str, details: &Value) -> Value {
    json!({"error": {"code": code.as_str(), "message": message, "details": details}})
}

impl<E: DomainError + 'static> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(PublicError::from_domain(&err))
    }
}

/// How long a client is asked to wait before retrying a `503`.
const RETRY_AFTER_S: &str = "2";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let PublicError {
            code,
            message,
            details,
        } = self.0;
        let mut response = (status, Json(envelope(code, &message, &details))).into_response();
        if code == ErrorCode::Unavailable {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
        }
        response
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
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_client_error() => ErrorCode::InvalidRequest,
        _ => ErrorCode::Internal,
    }
}
