//! `POST /api/v2/esg/trips` (scope `ingest`): one trip object, an array of up to 10 000, or JSON
//! Lines. All or nothing: one bad or conflicting trip refuses the request and nothing is written.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use greenos_core::ledger::{self, Appended, ConflictPolicy, Impact, IngestError, TripsBody};
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::TripsPayload;
use crate::router::REQUEST_ID_HEADER;

/// The longest correlation id recorded (the ledger and outbox columns hold 128 characters).
const MAX_CORRELATION_ID_LEN: usize = 128;

/// The answer to a batch: counts, then every impact in input order.
#[derive(Debug, Serialize)]
pub struct BatchResponse<'a> {
    /// Trips newly written.
    pub accepted: usize,
    /// Trips already recorded with identical content (in the ledger or earlier in the batch).
    pub duplicates: usize,
    /// One impact per submitted trip, in input order.
    pub impacts: Vec<&'a Impact>,
}

/// Ingests the trips of the body; `201` when something was written, `200` for a pure replay.
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    payload: TripsPayload,
) -> Result<Response, ApiError> {
    let body = ledger::parse_body(payload.format, &payload.bytes)
        .inspect_err(|err| refused(&state, err))?;
    let (trips, single) = match body {
        TripsBody::Single(trip) => (vec![trip], true),
        TripsBody::Batch(trips) => (trips, false),
    };
    let outcome = ledger::ingest(
        &state.db,
        state.signer_handle(),
        &state.config.ingest.model_version,
        correlation_id(&headers),
        trips,
        ConflictPolicy::RejectAll,
    )
    .await
    .inspect_err(|err| refused(&state, err))?;
    let (accepted, duplicates) = (outcome.accepted(), outcome.duplicates());
    state.metrics.record_ingest(accepted, duplicates, 0);
    tracing::info!(accepted, duplicates, "trips ingested");
    let status = if accepted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    if single {
        return match outcome.items.first() {
            Some(Appended::Accepted(impact) | Appended::Duplicate(impact)) => {
                Ok((status, Json(impact)).into_response())
            }
            _ => Err(ApiError::internal(
                "ingest answered no impact for a single trip",
                &"empty outcome",
            )),
        };
    }
    let response = BatchResponse {
        accepted,
        duplicates,
        impacts: outcome.items.iter().filter_map(Appended::impact).collect(),
    };
    Ok((status, Json(response)).into_response())
}

fn refused(state: &AppState, err: &IngestError) {
    state.metrics.record_ingest(0, 0, err.refused_trips());
}

/// The request id the router set (or the client sent), recorded on the impact and its event.
fn correlation_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
        .map(|value| value.chars().take(MAX_CORRELATION_ID_LEN).collect())
}
