//! MRV exports over REST (SPEC §8, §9, §14): creating one needs scope `export`, reading,
//! downloading and verifying need `read`. Payloads stream from their stored chunks; no handler
//! holds a whole payload.

pub mod download;
pub mod verify;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use greenos_core::mrv::{ExportPage, ExportRecord};
use greenos_core::services::Services;
use serde::Deserialize;

use crate::app::AppState;
use crate::context::Caller;
use crate::error::ApiError;
use crate::extract::StrictJson;

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
            "/api/v2/esg/mrv/export/{export_id}/evidence",
            get(download::evidence),
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
    State(services): State<Services>,
    Caller(ctx): Caller,
    StrictJson(body): StrictJson<CreateExportRequest>,
) -> Result<(StatusCode, Json<ExportRecord>), ApiError> {
    let record = services
        .mrv()
        .create_export(&ctx, &body.period, &body.period_end)
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// `GET /api/v2/esg/mrv/export?limit=&cursor=`: exports newest first, without payloads.
pub async fn list(
    State(services): State<Services>,
    Query(query): Query<ListQuery>,
) -> Result<Json<ExportPage>, ApiError> {
    let page = services
        .mrv()
        .list(None, query.limit, query.cursor.as_deref())
        .await?;
    Ok(Json(page))
}
