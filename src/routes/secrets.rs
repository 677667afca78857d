//! `GET /api/v2/esg/internal/secrets/status` (scope `admin`): statuses only, never a value.

use axum::Json;
use axum::extract::State;
use greenos_core::error_code::ErrorCode;
use greenos_core::secrets::SecretsReport;

use crate::app::AppState;
use crate::error::ApiError;

/// The provider, the environment and `OK|MISSING|INVALID` per critical secret.
pub async fn status(State(state): State<AppState>) -> Result<Json<SecretsReport>, ApiError> {
    let report = state.security.report().await.map_err(|err| {
        tracing::warn!(error = %err, "secret provider unavailable for the status report");
        ApiError::new(
            ErrorCode::Unavailable,
            "The secret provider cannot be read right now.",
        )
    })?;
    state.services.metrics().set_secrets(&report);
    Ok(Json(report))
}
