//! Bearer-token authorisation of REST routes: each route group requires one scope.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use greenos_core::auth::{AuthError, Scope};
use greenos_core::error_code::ErrorCode;
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;

/// Lets the request through when its bearer token holds `scope` (or when auth is off in dev);
/// otherwise answers `401 GREENOS_UNAUTHENTICATED` or `403 GREENOS_FORBIDDEN`.
pub async fn require_scope(
    State(state): State<AppState>,
    scope: Scope,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(tokens) = &state.security.tokens else {
        return next.run(request).await;
    };
    let header_value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = tokens
        .authenticate(header_value)
        .and_then(|principal| principal.require(scope).map(|()| principal));
    match principal {
        Ok(principal) => {
            tracing::debug!(token = %principal.name, scope = %scope, "authorised");
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(err) => rejection(&err),
    }
}

fn rejection(err: &AuthError) -> Response {
    match err {
        AuthError::Unauthenticated => {
            let mut response =
                ApiError::new(ErrorCode::Unauthenticated, err.to_string()).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        AuthError::Forbidden { required } => ApiError::new(ErrorCode::Forbidden, err.to_string())
            .with_details(json!({"required_scope": required.as_str()}))
            .into_response(),
    }
}
