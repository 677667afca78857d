//! `GET /api/v2/esg/outbox/stats` (scope `admin`): what the outbox table holds.

use axum::Json;
use axum::extract::State;
use greenos_core::outbox::OutboxStats;
use greenos_core::services::Services;

use crate::error::ApiError;

/// Counts by topic and status, and the oldest pending event's age in seconds.
pub async fn stats(State(services): State<Services>) -> Result<Json<OutboxStats>, ApiError> {
    Ok(Json(services.outbox().stats().await?))
}
