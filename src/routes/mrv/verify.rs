//! Verifying exports (SPEC §9, auditor guide A–E): the stored copy by id, or an artifact sent
//! in the body. Both answer `200 {"verified":true,...}` or the §9 error with every flag in
//! `error.details`, and count failures in `greenos_mrv_verification_failures_total`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use greenos_core::error_code::ErrorCode;
use greenos_core::methodology;
use greenos_core::mrv::{self, ExportVerification, MrvError};

use crate::app::AppState;
use crate::error::ApiError;

/// `GET /api/v2/esg/mrv/export/{export_id}/verify`: re-hash the stored chunks, check both
/// signatures and the methodology binding.
pub async fn stored(
    State(state): State<AppState>,
    Path(export_id): Path<String>,
) -> Result<Json<ExportVerification>, ApiError> {
    let result = mrv::verify_export(&state.db, &state.security.signer, &export_id).await;
    answer(&state, result)
}

/// `POST /api/v2/esg/mrv/verify`: verify the artifact in the body against its own payload,
/// the keyrings and the registry, without the database copy. Bodies above
/// `GREENOS_VERIFY_MAX_BODY_BYTES` get `413`: the offline command has no size limit.
pub async fn artifact(
    State(state): State<AppState>,
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
    let reading = tokio::task::spawn_blocking(move || mrv::read_artifact_bytes(&body))
        .await
        .map_err(|e| ApiError::internal("artifact reading task failed", &e))??;
    let registry_row = methodology::get(&state.db, &reading.header.methodology_version).await?;
    let result = mrv::verify_artifact(&reading, &state.security.signer, registry_row.as_ref());
    answer(&state, result)
}

fn answer(
    state: &AppState,
    result: Result<ExportVerification, MrvError>,
) -> Result<Json<ExportVerification>, ApiError> {
    mrv::record_outcome(&state.metrics, &result);
    if let Err(err) = &result
        && let Some(verification) = err.verification()
    {
        tracing::warn!(
            export_id = %verification.export_id,
            hash_valid = verification.hash_valid,
            signature_valid = ?verification.signature_valid,
            asym_signature_valid = verification.asym_signature_valid,
            methodology_valid = verification.methodology_valid,
            proof_valid = ?verification.proof_valid,
            "MRV export verification failed"
        );
    }
    Ok(Json(result?))
}
