//! `Methodology`: one version of the registry, with its hash and lifecycle.

use async_graphql::{Enum, Object, SimpleObject};
use greenos_core::methodology::{self, MethodologyStatus};

use crate::scalars::{DateTime, Decimal};

/// Where a version is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum Status {
    /// Created, never activated.
    Draft,
    /// The version ingestion uses.
    Active,
    /// Replaced; readable for audit replay.
    Deprecated,
}

impl From<MethodologyStatus> for Status {
    fn from(status: MethodologyStatus) -> Status {
        match status {
            MethodologyStatus::Draft => Status::Draft,
            MethodologyStatus::Active => Status::Active,
            MethodologyStatus::Deprecated => Status::Deprecated,
        }
    }
}

/// The factors of one country.
#[derive(Clone, Debug, SimpleObject)]
pub struct CountryFactors {
    /// ISO 3166-1 alpha-2 code.
    pub country_code: String,
    /// kg CO2 per km of the thermal baseline.
    pub thermal_factor_local: Decimal,
    /// kg CO2 per km of the electric vehicle.
    pub ev_factor_local: Decimal,
}

/// One methodology version.
pub struct Methodology(pub methodology::Methodology);

#[Object]
impl Methodology {
    /// The unique version name.
    async fn methodology_version(&self) -> &str {
        &self.0.methodology_version
    }
    /// `DRAFT`, `ACTIVE` or `DEPRECATED` (not hashed).
    async fn status(&self) -> Status {
        self.0.status.into()
    }
    /// The baseline the avoided emissions are measured against.
    async fn baseline_reference(&self) -> &str {
        &self.0.baseline_reference
    }
    /// Sources of the emission factors.
    async fn factor_references(&self) -> &[String] {
        &self.0.factor_references
    }
    /// ISO codes covered, sorted.
    async fn geographic_scope(&self) -> &[String] {
        &self.0.geographic_scope
    }
    /// Factors per country, sorted by country.
    async fn country_factors(&self) -> Vec<CountryFactors> {
        self.0
            .country_factors
            .iter()
            .map(|(country, f)| CountryFactors {
                country_code: country.clone(),
                thermal_factor_local: Decimal(f.thermal_factor_local),
                ev_factor_local: Decimal(f.ev_factor_local),
            })
            .collect()
    }
    /// The formula, as text.
    async fn formula(&self) -> &str {
        &self.0.formula
    }
    /// The rounding rule, as text.
    async fn rounding(&self) -> &str {
        &self.0.rounding
    }
    /// SHA-256 of the canonical hashed fields.
    async fn methodology_hash(&self) -> &str {
        self.0.methodology_hash.as_str()
    }
    /// When the version was created.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When it became ACTIVE.
    async fn activated_at(&self) -> Option<DateTime> {
        self.0.activated_at.map(DateTime)
    }
    /// When it was deprecated.
    async fn deprecated_at(&self) -> Option<DateTime> {
        self.0.deprecated_at.map(DateTime)
    }
}
