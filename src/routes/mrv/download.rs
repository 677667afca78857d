//! Downloading an export: the artifact JSON, the CSV of its impacts and the evidence package,
//! all streamed by core from the stored chunks.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use greenos_core::services::Services;

use crate::context::Caller;
use crate::error::ApiError;

/// `GET /api/v2/esg/mrv/export/{export_id}`: the artifact, its payload streamed from the chunks.
pub async fn artifact(
    State(services): State<Services>,
    Path(export_id): Path<String>,
) -> Result<Response, ApiError> {
    let download = services.mrv().artifact(&export_id).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(download.length)),
        ],
        Body::from_stream(download.bytes),
    )
        .into_response())
}

/// `GET /api/v2/esg/mrv/export/{export_id}/impacts.csv`: one row per impact, header first.
pub async fn impacts_csv(
    State(services): State<Services>,
    Path(export_id): Path<String>,
) -> Result<Response, ApiError> {
    let csv = services.mrv().impacts_csv(&export_id).await?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{export_id}-impacts.csv\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(csv),
    )
        .into_response())
}

/// `GET /api/v2/esg/mrv/export/{export_id}/evidence`: the auditor's evidence package, a ZIP
/// archive streamed as core writes it (the same export gives the same bytes).
pub async fn evidence(
    State(services): State<Services>,
    Caller(ctx): Caller,
    Path(export_id): Path<String>,
) -> Result<Response, ApiError> {
    let archive = services.mrv().evidence(&ctx, &export_id).await?;
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{export_id}-evidence.zip\""
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(archive),
    )
        .into_response())
}
