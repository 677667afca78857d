//! The methodology registry (SPEC §7): versioned, hashed sets of baseline, factor references,
//! geographic scope and country factors. Ingestion takes its factors from the one ACTIVE
//! version; exports bind to a version by its `methodology_hash`.
//!
//! A version is created as `DRAFT` (or directly `ACTIVE` when no other version is), becomes `ACTIVE`
//! by activation, which deprecates the previous `ACTIVE` one in the same transaction, and stays
//! readable as `DEPRECATED` for audit replay. Its hashed content never changes (a database
//! trigger freezes it); only `status`, `activated_at` and `deprecated_at` move.

mod draft;
mod error;
mod lifecycle;
mod store;

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::proof::{CountryFactors, MethodologyHashInput, Sha256Hex, UtcMicros, methodology_hash};

pub use draft::{DraftFactors, MethodologyDraft, ValidatedDraft, is_version_name};
pub use error::MethodologyError;
pub(crate) use lifecycle::{activate, bootstrap_if_empty, create};
pub(crate) use store::{active, by_versions, get, list};

/// Where a methodology version is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MethodologyStatus {
    /// Created, never activated.
    Draft,
    /// The version ingestion uses; at most one at a time (enforced by the database).
    Active,
    /// Replaced by a later activation; kept readable for audit replay.
    Deprecated,
}

impl MethodologyStatus {
    /// The stored and serialised form: `DRAFT`, `ACTIVE` or `DEPRECATED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Active => "ACTIVE",
            Self::Deprecated => "DEPRECATED",
        }
    }
}

impl fmt::Display for MethodologyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MethodologyStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "DRAFT" => Ok(Self::Draft),
            "ACTIVE" => Ok(Self::Active),
            "DEPRECATED" => Ok(Self::Deprecated),
            other => Err(format!("unknown methodology status {other:?}")),
        }
    }
}

/// One methodology version as stored in the registry: its hashed content, read through
/// `Deref` (`methodology.methodology_version`, `methodology.country_factors`, ...), plus its
/// hash and lifecycle. It reads back from its own JSON (an evidence package's snapshot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Methodology {
    /// The hashed fields: version, baseline, references, scope (sorted), factors of exactly
    /// the scope's countries, formula, rounding.
    #[serde(flatten)]
    pub content: MethodologyHashInput,
    /// Lifecycle status (not hashed).
    pub status: MethodologyStatus,
    /// SHA-256 of the canonical hashed fields (SPEC §5).
    pub methodology_hash: Sha256Hex,
    /// When the version was created.
    pub created_at: UtcMicros,
    /// When the version became ACTIVE, if it ever did.
    pub activated_at: Option<UtcMicros>,
    /// When the version was deprecated, if it was.
    pub deprecated_at: Option<UtcMicros>,
}

impl Deref for Methodology {
    type Target = MethodologyHashInput;

    fn deref(&self) -> &MethodologyHashInput {
        &self.content
    }
}

impl Methodology {
    /// The factors of `country_code`, or `None` when the version does not cover it.
    pub fn factors_for(&self, country_code: &str) -> Option<&CountryFactors> {
        self.country_factors.get(country_code)
    }

    /// Re-computes the hash from the stored fields (compare with `methodology_hash`).
    pub fn recompute_hash(&self) -> Sha256Hex {
        methodology_hash(&self.content)
    }

    /// Re-checks the §7 rules on the stored content (exports refuse an incomplete version).
    pub fn check_complete(&self) -> Result<(), MethodologyError> {
        draft::check_hash_input(&self.content)
    }
}

/// Sets `greenos_mrv_methodology_version_active{methodology_version}` to 1 for the ACTIVE
/// version and 0 for every other one, and the ACTIVE version's activation time (its age
/// gauge); answers the ACTIVE version.
pub(crate) async fn refresh_active_gauge<C: ConnectionTrait>(
    db: &C,
    metrics: &Metrics,
) -> Result<Option<Methodology>, MethodologyError> {
    let all = list(db).await?;
    let (active, others): (Vec<Methodology>, Vec<Methodology>) = all
        .into_iter()
        .partition(|m| m.status == MethodologyStatus::Active);
    let active = active.into_iter().next();
    metrics.set_methodologies(
        active
            .as_ref()
            .map(|m| (m.methodology_version.as_str(), m.activated_at)),
        others.iter().map(|m| m.methodology_version.as_str()),
    );
    Ok(active)
}

#[cfg(test)]
mod tests;
