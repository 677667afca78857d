//! The transparency log (SPEC §18): the latest checkpoint, hash tiles, consistency proofs and
//! the log's key are public, like the public keys (they reveal hashes only, which the tiles
//! publish anyway); an inclusion proof names a trip and needs scope `read`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use greenos_core::log::LogKey;
use greenos_core::services::{ConsistencyProof, Services};
use serde::Deserialize;

use crate::error::ApiError;

/// A full tile never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /api/v2/esg/log/key`: origin, verifier key and the signing key.
pub async fn key(State(services): State<Services>) -> Json<LogKey> {
    Json(services.log().key())
}

/// `GET /api/v2/esg/log/checkpoint`: the latest signed note.
pub async fn checkpoint(State(services): State<Services>) -> Result<Response, ApiError> {
    let checkpoint = services.log().checkpoint().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        checkpoint.note,
    )
        .into_response())
}

/// `GET /api/v2/esg/log/tile/<L>/<N>[.p/<W>]`: a hash tile of height 8.
pub async fn tile(
    State(services): State<Services>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let tile = services.log().tile(&path).await?;
    let cache = if tile.full { IMMUTABLE } else { "no-cache" };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        tile.bytes,
    )
        .into_response())
}

/// The query of `GET /api/v2/esg/log/proof/inclusion`.
#[derive(Debug, Deserialize)]
pub struct InclusionQuery {
    /// The trip whose impact is asked for.
    pub trip_id: String,
    /// Its model version (the latest by default).
    pub model_version: Option<String>,
    /// The tree the proof is for (the latest checkpoint's by default).
    pub tree_size: Option<u64>,
}

/// `GET /api/v2/esg/log/proof/inclusion`: JSON, or the C2SP `tlog-proof` text when the client
/// accepts `text/plain`.
pub async fn inclusion(
    State(services): State<Services>,
    headers: HeaderMap,
    Query(query): Query<InclusionQuery>,
) -> Result<Response, ApiError> {
    let proof = services
        .log()
        .inclusion(
            &query.trip_id,
            query.model_version.as_deref(),
            query.tree_size,
        )
        .await?;
    if wants_text(&headers) {
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            proof.to_text(),
        )
            .into_response());
    }
    Ok(Json(proof).into_response())
}

/// The query of `GET /api/v2/esg/log/proof/consistency`.
#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    /// The older tree's size.
    pub from: u64,
    /// The newer tree's size (the latest checkpoint's by default).
    pub to: Option<u64>,
}

/// `GET /api/v2/esg/log/proof/consistency`.
pub async fn consistency(
    State(services): State<Services>,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    Ok(Json(
        services.log().consistency(query.from, query.to).await?,
    ))
}

/// Whether `Accept` prefers `text/plain` to JSON.
fn wants_text(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.split(';').next().unwrap_or_default().trim())
        .take_while(|media| *media != "application/json")
        .any(|media| media == "text/plain")
}
