//! The methodology registry over REST (SPEC §7, §14): reads need scope `read`, creating and
//! activating need `admin`. Every response carries the hashed fields, `methodology_hash`,
//! `status` and the lifecycle dates, so an auditor can re-compute the hash from the body alone.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use greenos_core::methodology::{
    self, DraftFactors, Methodology, MethodologyDraft, MethodologyError,
};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::StrictJson;
use crate::router::REQUEST_ID_HEADER;

/// `GET /api/v2/esg/mrv/methodology`: every version, newest first.
#[derive(Debug, Serialize)]
pub struct MethodologyList {
    /// The versions, newest first.
    pub methodologies: Vec<Methodology>,
}

/// Body of `POST /api/v2/esg/mrv/methodology`: a draft, plus `activate` to make it ACTIVE at
/// once (only when no other version is ACTIVE).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMethodologyRequest {
    /// The new, unique version name.
    pub methodology_version: String,
    /// The baseline the avoided emissions are measured against.
    pub baseline_reference: String,
    /// Sources of the emission factors.
    pub factor_references: Vec<String>,
    /// ISO 3166-1 alpha-2 codes covered.
    pub geographic_scope: Vec<String>,
    /// Factors per country, as decimal strings with at most 6 decimals.
    pub country_factors: BTreeMap<String, DraftFactors>,
    /// The formula, as text.
    pub formula: String,
    /// The rounding rule, as text.
    pub rounding: String,
    /// Activate the new version in the same transaction (default `false`: it stays `DRAFT`).
    #[serde(default)]
    pub activate: bool,
}

impl CreateMethodologyRequest {
    fn into_draft(self) -> (MethodologyDraft, bool) {
        let draft = MethodologyDraft {
            methodology_version: self.methodology_version,
            baseline_reference: self.baseline_reference,
            factor_references: self.factor_references,
            geographic_scope: self.geographic_scope,
            country_factors: self.country_factors,
            formula: self.formula,
            rounding: self.rounding,
        };
        (draft, self.activate)
    }
}

/// `GET /api/v2/esg/mrv/methodology/current`: the ACTIVE version.
pub async fn current(State(state): State<AppState>) -> Result<Json<Methodology>, ApiError> {
    methodology::active(&state.db)
        .await?
        .map(Json)
        .ok_or_else(|| MethodologyError::NoActive.into())
}

/// `GET /api/v2/esg/mrv/methodology/{version}`: one version, whatever its status.
pub async fn by_version(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<Json<Methodology>, ApiError> {
    methodology::get(&state.db, &version)
        .await?
        .map(Json)
        .ok_or_else(|| MethodologyError::NotFound { version }.into())
}

/// `GET /api/v2/esg/mrv/methodology`: every version, newest first.
pub async fn list(State(state): State<AppState>) -> Result<Json<MethodologyList>, ApiError> {
    let methodologies = methodology::list(&state.db).await?;
    Ok(Json(MethodologyList { methodologies }))
}

/// `POST /api/v2/esg/mrv/methodology` (scope `admin`): creates a version, `201` with its row.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    StrictJson(body): StrictJson<CreateMethodologyRequest>,
) -> Result<(StatusCode, Json<Methodology>), ApiError> {
    let (draft, activate) = body.into_draft();
    let created = methodology::create(&state.db, draft, activate, correlation_id(&headers)).await?;
    tracing::info!(
        methodology_version = %created.methodology_version,
        status = %created.status,
        methodology_hash = %created.methodology_hash,
        "methodology version created"
    );
    refresh_gauge(&state).await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `POST /api/v2/esg/mrv/methodology/{version}/activate` (scope `admin`): makes `version`
/// ACTIVE and deprecates the previous ACTIVE version atomically.
pub async fn activate(
    State(state): State<AppState>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Methodology>, ApiError> {
    let activated = methodology::activate(&state.db, &version, correlation_id(&headers)).await?;
    tracing::info!(
        methodology_version = %activated.methodology_version,
        methodology_hash = %activated.methodology_hash,
        "methodology version active"
    );
    refresh_gauge(&state).await;
    Ok(Json(activated))
}

fn correlation_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
}

/// The change is committed whatever happens here: a stale gauge is logged, not answered.
async fn refresh_gauge(state: &AppState) {
    if let Err(err) = methodology::refresh_active_gauge(&state.db, &state.metrics).await {
        tracing::warn!(error = %err, "cannot refresh greenos_mrv_methodology_version_active");
    }
}
