//! MRV exports over REST (SPEC §8, §9, §14): creating one needs scope `export`, reading,
//! downloading and verifying need `read`. Payloads stream from their stored chunks; no handler
//! holds a whole payload.

pub mod download;
pub mod verify;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use greenos_core::mrv::{self, DEFAULT_PAGE_SIZE, ExportPage, ExportRecord, ExportWindow};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::StrictJson;
use crate::router::REQUEST_ID_HEADER;

/// The routes that need scope `read`; the artifact route gets its own body limit.
pub fn read_routes(verify_max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/api/v2/esg/mrv/export", get(list))
        .route(
            "/api/v2/esg/mrv/export/{export_id}",
            get(download::artifact),
        )
        .route(
            "/api/v2/esg/mrv/export/{export_id}/impacts.csv",
            get(download::impacts_csv),
        )
        .route(
            "/api/v2/esg/mrv/export/{export_id}/verify",
            get(verify::stored),
        )
        .route(
            "/api/v2/esg/mrv/verify",
            post(verify::artifact).layer(DefaultBodyLimit::max(verify_max_body_bytes)),
        )
}

/// The routes that need scope `export`.
pub fn export_routes() -> Router<AppState> {
    Router::new().route("/api/v2/esg/mrv/export", post(create))
}

/// Body of `POST /api/v2/esg/mrv/export`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateExportRequest {
    /// `3M`, `6M` or `12M`.
    pub period: String,
    /// The end of the window, a calendar boundary: `2026-04-01T00:00:00Z` (or `2026-04-01`).
    pub period_end: String,
}

/// Query of `GET /api/v2/esg/mrv/export`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `POST /api/v2/esg/mrv/export` (scope `export`): builds, signs and stores the export of the
/// window, `201` with its metadata.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    StrictJson(body): StrictJson<CreateExportRequest>,
) -> Result<(StatusCode, Json<ExportRecord>), ApiError> {
    let window = ExportWindow::parse(&body.period, &body.period_end)?;
    let correlation_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let record = mrv::create_export(
        &state.db,
        &state.security.signer,
        &state.metrics,
        window,
        correlation_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// `GET /api/v2/esg/mrv/export?limit=&cursor=`: exports newest first, without payloads.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<ExportPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    Ok(Json(
        mrv::list(&state.db, limit, query.cursor.as_deref()).await?,
    ))
}
