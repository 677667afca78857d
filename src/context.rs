//! The request's correlation id and caller, established once per request: a middleware
//! applies core's correlation-id rule to the `x-request-id` header (so logs, rows, events and
//! the echoed header all carry the same id), and the [`Caller`] extractor hands handlers the
//! `RequestContext` every use case takes.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use greenos_core::auth::AuthContext;
use greenos_core::context::{CorrelationId, Door, RequestContext};

/// The header that carries the request (correlation) id in and out.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Keeps a client's `x-request-id` when core's rule accepts it, and replaces it (or sets a
/// missing one) with a fresh id otherwise, before anything else reads the request.
pub async fn normalise_request_id(mut request: Request, next: Next) -> Response {
    let sent = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .map(HeaderValue::as_bytes);
    let id = CorrelationId::from_client(sent);
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        request.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    request.extensions_mut().insert(id);
    next.run(request).await
}

/// The caller of a handler, as a `RequestContext`: the normalised correlation id and the
/// `AuthContext` the scope guard established (anonymous on public routes).
#[derive(Clone, Debug)]
pub struct Caller(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let correlation_id = parts
            .extensions
            .get::<CorrelationId>()
            .cloned()
            .unwrap_or_else(CorrelationId::generate);
        let auth = parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .unwrap_or(AuthContext::Anonymous);
        Ok(Caller(RequestContext::new(
            Door::Http,
            correlation_id,
            auth,
        )))
    }
}
