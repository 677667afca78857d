//! The methodology registry over REST (SPEC §7, §14): reads need scope `read`, creating and
//! activating need `admin`. Every response carries the hashed fields, `methodology_hash`,
//! `status` and the lifecycle dates, so an auditor can re-compute the hash from the body alone.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use greenos_core::methodology::{Methodology, MethodologyDraft};
use greenos_core::services::Services;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::context::Caller;
use crate::error::ApiError;
use crate::extract::{StrictJson, from_value};

/// `GET /api/v2/esg/mrv/methodology`: every version, newest first.
#[derive(Debug, Serialize)]
pub struct MethodologyList {
    /// The versions, newest first.
    pub methodologies: Vec<Methodology>,
}

/// `GET /api/v2/esg/mrv/methodology/current`: the ACTIVE version.
pub async fn current(State(services): State<Services>) -> Result<Json<Methodology>, ApiError> {
    Ok(Json(services.methodology().current().await?))
}

/// `GET /api/v2/esg/mrv/methodology/{version}`: one version, whatever its status.
pub async fn by_version(
    State(services): State<Services>,
    Path(version): Path<String>,
) -> Result<Json<Methodology>, ApiError> {
    Ok(Json(services.methodology().get(&version).await?))
}

/// `GET /api/v2/esg/mrv/methodology`: every version, newest first.
pub async fn list(State(services): State<Services>) -> Result<Json<MethodologyList>, ApiError> {
    let methodologies = services.methodology().list().await?;
    Ok(Json(MethodologyList { methodologies }))
}

/// `POST /api/v2/esg/mrv/methodology` (scope `admin`): the draft's fields, plus `"activate":
/// true` to make it ACTIVE at once (only when no other version is); `201` with its row.
pub async fn create(
    State(services): State<Services>,
    Caller(ctx): Caller,
    StrictJson(mut body): StrictJson<Map<String, Value>>,
) -> Result<(StatusCode, Json<Methodology>), ApiError> {
    let activate = match body.remove("activate") {
        None => false,
        Some(value) => from_value::<bool>(value, "activate")?,
    };
    let draft: MethodologyDraft = from_value(Value::Object(body), "")?;
    let created = services.methodology().create(&ctx, draft, activate).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `POST /api/v2/esg/mrv/methodology/{version}/activate` (scope `admin`): makes `version`
/// ACTIVE and deprecates the previous ACTIVE version atomically.
pub async fn activate(
    State(services): State<Services>,
    Caller(ctx): Caller,
    Path(version): Path<String>,
) -> Result<Json<Methodology>, ApiError> {
    Ok(Json(services.methodology().activate(&ctx, &version).await?))
}
