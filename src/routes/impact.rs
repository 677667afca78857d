//! `GET /api/v2/esg/impact/{trip_id}` and `GET /api/v2/esg/verify/{trip_id}` (scope `read`):
//! the latest model version's impact unless `?model_version=` picks another.

use axum::Json;
use axum::extract::{Path, Query, State};
use greenos_core::ledger::{self, Identifier, Impact, ImpactError, TripVerification};
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiError;

/// The optional `?model_version=` of both routes.
#[derive(Debug, Default, Deserialize)]
pub struct ModelVersionQuery {
    /// A model version other than the latest.
    pub model_version: Option<String>,
}

/// The stored impact with every hashed field and its proofs.
pub async fn impact(
    State(state): State<AppState>,
    Path(trip_id): Path<String>,
    Query(query): Query<ModelVersionQuery>,
) -> Result<Json<Impact>, ApiError> {
    let model_version = query.model_version.as_deref();
    check_trip_id(&trip_id, model_version)?;
    Ok(Json(
        ledger::find(&state.db, &trip_id, model_version).await?,
    ))
}

/// Re-computes the hash and checksum from the stored row and checks both signatures.
pub async fn verify(
    State(state): State<AppState>,
    Path(trip_id): Path<String>,
    Query(query): Query<ModelVersionQuery>,
) -> Result<Json<TripVerification>, ApiError> {
    let model_version = query.model_version.as_deref();
    check_trip_id(&trip_id, model_version)?;
    match ledger::verify(&state.db, &state.security.signer, &trip_id, model_version).await {
        Ok(verification) => Ok(Json(verification)),
        Err(err) => {
            if matches!(
                err,
                ImpactError::Tampered { .. } | ImpactError::InvalidSignature { .. }
            ) {
                state.metrics.mrv_verification_failures_total.inc();
                tracing::warn!(%trip_id, error = %err, "trip verification failed");
            }
            Err(err.into())
        }
    }
}

/// An identifier that cannot have been ingested has no impact: answered without a query.
fn check_trip_id(trip_id: &str, model_version: Option<&str>) -> Result<(), ImpactError> {
    Identifier::parse(trip_id)
        .map(|_| ())
        .map_err(|_| ImpactError::NotFound {
            trip_id: trip_id.chars().take(128).collect(),
            model_version: model_version.map(str::to_owned),
        })
}
