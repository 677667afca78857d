//! Requests refused at the edge, before routing: what no route may see. A NUL character in the
//! URI (`%00`) is text PostgreSQL cannot store and that C-based tools cut short; two
//! `Authorization` headers are an ambiguous credential (which one would a proxy have checked?);
//! an over-long URI; a body that arrives too slowly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use greenos_core::error_code::ErrorCode;
use greenos_core::services::Services;
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

use crate::error::ApiError;
use crate::server::MAX_URI_BYTES;

/// Refuses a URI holding `%00` and a request with more than one `Authorization` header with
/// `400 GREENOS_INVALID_REQUEST`.
pub async fn refuse_ambiguous_requests(request: Request, next: Next) -> Response {
    let uri_has_nul = request
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().contains("%00"));
    if uri_has_nul {
        return ApiError::new(
            ErrorCode::InvalidRequest,
            "The request URI holds a NUL character (%00), which no GreenOS text may contain.",
        )
        .into_response();
    }
    if request
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().len() > MAX_URI_BYTES)
    {
        return ApiError::new(
            ErrorCode::UriTooLong,
            format!("The request URI is longer than {MAX_URI_BYTES} bytes."),
        )
        .into_response();
    }
    if request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .count()
        > 1
    {
        return ApiError::new(
            ErrorCode::InvalidRequest,
            "The request carries more than one Authorization header; send exactly one credential.",
        )
        .into_response();
    }
    next.run(request).await
}

/// Gives every request body a deadline, `GREENOS_HTTP_BODY_TIMEOUT_S` from the moment the
/// head was read: a client that sends its body too slowly gets `408 GREENOS_REQUEST_TIMEOUT`
/// (whatever the handler made of the broken body) and the connection is closed.
pub async fn body_deadline(
    State((timeout, services)): State<(Duration, Services)>,
    request: Request,
    next: Next,
) -> Response {
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            inner: body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            expired: Arc::clone(&expired),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::SeqCst) {
        return response;
    }
    services.metrics().record_http_timeout("body");
    tracing::debug!("a client did not send its request body in time; connection closed");
    let mut response = ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "The request body did not arrive within {} s (GREENOS_HTTP_BODY_TIMEOUT_S).",
            timeout.as_secs()
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails once its deadline has passed.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::SeqCst);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The error a late body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;
