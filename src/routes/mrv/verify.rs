//! Verifying exports (SPEC §9, auditor guide A–E): the stored copy by id, or an artifact sent
//! in the body. Both answer `200 {"verified":true,...}` or the §9 error with every flag in
//! `error.details`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use greenos_core::error_code::ErrorCode;
use greenos_core::mrv::ExportVerification;

use crate::app::AppState;
use crate::context::Caller;
use crate::error::ApiError;

/// `GET /api/v2/esg/mrv/export/{export_id}/verify`: re-hash the stored chunks, check both
/// signatures and the methodology binding.
pub async fn stored(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    Path(export_id): Path<String>,
) -> Result<Json<ExportVerification>, ApiError> {
    Ok(Json(state.services.mrv().verify(&ctx, &export_id).await?))
}

/// `POST /api/v2/esg/mrv/verify`: verify the artifact in the body against its own payload,
/// the keyrings and the registry, without the database copy. Bodies above
/// `GREENOS_VERIFY_MAX_BODY_BYTES` get `413`: the offline command has no size limit.
pub async fn artifact(
    State(state): State<AppState>,
    Caller(ctx): Caller,
    request: Request,
) -> Result<Json<ExportVerification>, ApiError> {
    let limit = state.config.http.verify_max_body_bytes;
    let body = Bytes::from_request(request, &state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "The artifact is larger than {limit} bytes (GREENOS_VERIFY_MAX_BODY_BYTES); verify it offline, by streaming, with `greenos verify ARTIFACT.json --public-key KEY_OR_URL`."
                    ),
                )
            } else {
                ApiError::new(ErrorCode::InvalidRequest, rejection.body_text())
            }
        })?;
    Ok(Json(
        state.services.mrv().verify_artifact(&ctx, body).await?,
    ))
}
