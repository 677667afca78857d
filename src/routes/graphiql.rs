//! GraphiQL for developers, on `GET /graphql` in `dev` when a browser asks for HTML: the page
//! and its scripts are vendored (see `graphiql/README.md`) and served from the binary, so it
//! loads nothing from outside.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use greenos_core::error_code::ErrorCode;

use crate::error::ApiError;

/// The page.
pub const PAGE: &str = include_str!("graphiql/page.html");

/// Every asset the page loads: name, content type, bytes.
const ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/react-dom.production.min.js"),
    ),
    (
        "greenos-graphiql.js",
        "text/javascript; charset=utf-8",
        include_bytes!("graphiql/greenos-graphiql.js"),
    ),
];

/// Whether a `GET /graphql` comes from a browser that wants the page.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The GraphiQL page.
pub fn page() -> Response {
    Html(PAGE).into_response()
}

/// `GET /graphql/assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => ApiError::new(
            ErrorCode::RouteNotFound,
            format!("No GraphiQL asset is called {file:?}."),
        )
        .into_response(),
    }
}
