//! `POST /api/v2/esg/trips` (scope `ingest`): one trip object, an array of up to 10 000, or JSON
//! Lines. All or nothing: one bad or conflicting trip refuses the request and nothing is written.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use greenos_core::ledger::{Appended, Impact, IngestError};
use greenos_core::services::Services;
use serde::Serialize;

use crate::context::Caller;
use crate::error::ApiError;
use crate::extract::TripsPayload;

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
    State(services): State<Services>,
    Caller(ctx): Caller,
    payload: TripsPayload,
) -> Result<Response, ApiError> {
    let reply = services
        .ledger()
        .ingest_body(&ctx, payload.format, &payload.bytes)
        .await?;
    let outcome = reply.outcome;
    let (accepted, duplicates) = (outcome.accepted(), outcome.duplicates());
    let status = if accepted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    if reply.single {
        return match outcome.items.first().and_then(Appended::impact) {
            Some(impact) => Ok((status, Json(impact)).into_response()),
            None => {
                Err(IngestError::Task("no impact answered for a single trip".to_owned()).into())
            }
        };
    }
    let response = BatchResponse {
        accepted,
        duplicates,
        impacts: outcome.items.iter().filter_map(Appended::impact).collect(),
    };
    Ok((status, Json(response)).into_response())
}
