//! Reading the registry, and the mapping between a `Methodology` and its row: lists and the
//! factor map are stored as canonical JSON text, timestamps as UTC instants.

use std::collections::BTreeMap;

use greenos_entity::esg_mrv_methodology::{self, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::methodology::{Methodology, MethodologyError, MethodologyStatus, ValidatedDraft};
use crate::proof::{CountryFactors, MethodologyHashInput, Sha256Hex, UtcMicros, to_canonical};

/// The ACTIVE version, if any.
pub async fn active<C: ConnectionTrait>(db: &C) -> Result<Option<Methodology>, MethodologyError> {
    Entity::find()
        .filter(Column::Status.eq(MethodologyStatus::Active.as_str()))
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// One version by name, whatever its status.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    version: &str,
) -> Result<Option<Methodology>, MethodologyError> {
    Entity::find_by_id(version.to_owned())
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// The versions of `versions` that exist, in one query.
pub async fn by_versions<C: ConnectionTrait>(
    db: &C,
    versions: &[String],
) -> Result<Vec<Methodology>, MethodologyError> {
    if versions.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::MethodologyVersion.is_in(versions.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Every version, newest first.
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<Methodology>, MethodologyError> {
    Entity::find()
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::MethodologyVersion)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The row of a new version, every column set.
pub(crate) fn to_row(
    draft: &ValidatedDraft,
    status: MethodologyStatus,
    created_at: UtcMicros,
) -> Result<esg_mrv_methodology::ActiveModel, MethodologyError> {
    let input = draft.hash_input();
    let version = input.methodology_version.as_str();
    let activated_at = (status == MethodologyStatus::Active).then(|| created_at.as_datetime());
    Ok(esg_mrv_methodology::ActiveModel {
        methodology_version: Set(input.methodology_version.clone()),
        status: Set(status.as_str().to_owned()),
        baseline_reference: Set(input.baseline_reference.clone()),
        factor_references: Set(encode(version, &input.factor_references)?),
        geographic_scope: Set(encode(version, &input.geographic_scope)?),
        country_factors: Set(encode(version, &input.country_factors)?),
        formula: Set(input.formula.clone()),
        rounding: Set(input.rounding.clone()),
        methodology_hash: Set(draft.methodology_hash().as_str().to_owned()),
        created_at: Set(created_at.as_datetime()),
        activated_at: Set(activated_at),
        deprecated_at: Set(None),
    })
}

/// Decodes a stored row; a row that does not decode is reported, never guessed at.
pub(crate) fn from_row(row: esg_mrv_methodology::Model) -> Result<Methodology, MethodologyError> {
    let version = row.methodology_version.as_str();
    let storage = |reason: String| MethodologyError::Storage {
        version: version.to_owned(),
        reason,
    };
    let status = row.status.parse().map_err(storage)?;
    let methodology_hash = Sha256Hex::parse(&row.methodology_hash)
        .map_err(|e| storage(format!("methodology_hash: {e}")))?;
    let factor_references: Vec<String> =
        decode(version, "factor_references", &row.factor_references)?;
    let geographic_scope: Vec<String> = decode(version, "geographic_scope", &row.geographic_scope)?;
    let country_factors: BTreeMap<String, CountryFactors> =
        decode(version, "country_factors", &row.country_factors)?;
    Ok(Methodology {
        content: MethodologyHashInput {
            methodology_version: row.methodology_version,
            baseline_reference: row.baseline_reference,
            factor_references,
            geographic_scope,
            country_factors,
            formula: row.formula,
            rounding: row.rounding,
        },
        status,
        methodology_hash,
        created_at: UtcMicros::truncating(row.created_at),
        activated_at: row.activated_at.map(UtcMicros::truncating),
        deprecated_at: row.deprecated_at.map(UtcMicros::truncating),
    })
}

/// Canonical JSON text of `value` (strings and 6-decimal strings only, so it always exists).
pub(crate) fn encode<T: Serialize>(version: &str, value: &T) -> Result<String, MethodologyError> {
    to_canonical(value)
        .map_err(|e| e.to_string())
        .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
        .map_err(|reason| MethodologyError::Storage {
            version: version.to_owned(),
            reason,
        })
}

fn decode<T: DeserializeOwned>(
    version: &str,
    column: &str,
    text: &str,
) -> Result<T, MethodologyError> {
    serde_json::from_str(text).map_err(|e| MethodologyError::Storage {
        version: version.to_owned(),
        reason: format!("{column}: {e}"),
    })
}
