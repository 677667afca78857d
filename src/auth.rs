//! Bearer-token authorisation of REST routes: each route group requires one scope; the caller
//! it establishes (`greenos_core::auth::AuthContext`) travels in the request's extensions to
//! the [`crate::extract::Caller`] extractor.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use greenos_core::auth::{AuthContext, AuthError, Scope};

use crate::app::AppState;
use crate::error::ApiError;

/// Who is calling, from the `Authorization` header (auth off when no tokens are configured).
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> AuthContext {
    let Some(tokens) = &state.security.tokens else {
        return AuthContext::Disabled;
    };
    let header_value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match tokens.authenticate(header_value) {
        Ok(principal) => AuthContext::Authenticated(principal),
        Err(_) => AuthContext::Anonymous,
    }
}

/// Lets the request through when its caller may use `scope`; otherwise answers
/// `401 GREENOS_UNAUTHENTICATED` or `403 GREENOS_FORBIDDEN`.
pub async fn require_scope(
    State(state): State<AppState>,
    scope: Scope,
    mut request: Request,
    next: Next,
) -> Response {
    let auth = authenticate(&state, request.headers());
    match auth.require(scope) {
        Ok(()) => {
            tracing::debug!(actor = %auth.actor(), scope = %scope, "authorised");
            request.extensions_mut().insert(auth);
            next.run(request).await
        }
        Err(err) => rejection(err),
    }
}

fn rejection(err: AuthError) -> Response {
    let unauthenticated = err == AuthError::Unauthenticated;
    let mut response = ApiError::from(err).into_response();
    if unauthenticated {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
