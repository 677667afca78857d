//! `GET /api/v2/esg/impact/{trip_id}` and `GET /api/v2/esg/verify/{trip_id}` (scope `read`):
//! the latest model version's impact unless `?model_version=` picks another; `GET /impact`
//! adds the impact's `leaf_index` in the transparency log.

use axum::Json;
use axum::extract::{Path, Query, State};
use greenos_core::ledger::{Impact, TripVerification};
use greenos_core::services::Services;
use serde::{Deserialize, Serialize};

use crate::context::Caller;
use crate::error::ApiError;

/// The optional `?model_version=` of both routes.
#[derive(Debug, Default, Deserialize)]
pub struct ModelVersionQuery {
    /// A model version other than the latest.
    pub model_version: Option<String>,
}

/// `GET /impact`: the impact, and its place in the transparency log once integrated.
#[derive(Debug, Serialize)]
pub struct LoggedImpact {
    /// The stored impact.
    #[serde(flatten)]
    pub impact: Impact,
    /// Its leaf index in the transparency log; `null` until the integrator reaches it.
    pub leaf_index: Option<u64>,
}

/// The stored impact with every hashed field and its proofs.
pub async fn impact(
    State(services): State<Services>,
    Path(trip_id): Path<String>,
    Query(query): Query<ModelVersionQuery>,
) -> Result<Json<LoggedImpact>, ApiError> {
    let impact = services
        .ledger()
        .impact(&trip_id, query.model_version.as_deref())
        .await?;
    let leaf_index = services
        .log()
        .leaf_indexes(&[impact.ledger_seq])
        .await?
        .get(&impact.ledger_seq)
        .copied();
    Ok(Json(LoggedImpact { impact, leaf_index }))
}

/// Re-computes the hash and checksum from the stored row and checks both signatures.
pub async fn verify(
    State(services): State<Services>,
    Caller(ctx): Caller,
    Path(trip_id): Path<String>,
    Query(query): Query<ModelVersionQuery>,
) -> Result<Json<TripVerification>, ApiError> {
    let verification = services
        .ledger()
        .verify(&ctx, &trip_id, query.model_version.as_deref())
        .await?;
    Ok(Json(verification))
}
