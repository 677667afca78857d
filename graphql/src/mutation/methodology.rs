//! `createMethodology` and `activateMethodology` (scope `admin`).

use std::collections::BTreeMap;

use async_graphql::{Context, InputObject, Object, Result};
use greenos_core::auth::Scope;
use greenos_core::methodology::{DraftFactors, MethodologyDraft};

use crate::context::{answer, caller, services};
use crate::guard::ScopeGuard;
use crate::types::methodology::Methodology;

/// The factors of one country, as decimal strings with at most 6 decimals.
#[derive(Clone, Debug, InputObject)]
pub struct CountryFactorsInput {
    /// ISO 3166-1 alpha-2 code.
    pub country_code: String,
    /// kg CO2 per km of the thermal baseline, `> 0`.
    pub thermal_factor_local: String,
    /// kg CO2 per km of the electric vehicle, `>= 0`.
    pub ev_factor_local: String,
}

/// A new methodology version.
#[derive(Clone, Debug, InputObject)]
pub struct MethodologyInput {
    /// The new, unique version name.
    pub methodology_version: String,
    /// The baseline the avoided emissions are measured against.
    pub baseline_reference: String,
    /// Sources of the emission factors.
    pub factor_references: Vec<String>,
    /// ISO codes covered.
    pub geographic_scope: Vec<String>,
    /// Factors of exactly the scope's countries.
    pub country_factors: Vec<CountryFactorsInput>,
    /// The formula, as text.
    pub formula: String,
    /// The rounding rule, as text.
    pub rounding: String,
    /// Make it ACTIVE at once (only when no other version is ACTIVE).
    #[graphql(default)]
    pub activate: bool,
}

impl MethodologyInput {
    fn into_draft(self) -> (MethodologyDraft, bool) {
        let country_factors: BTreeMap<String, DraftFactors> = self
            .country_factors
            .into_iter()
            .map(|f| {
                (
                    f.country_code,
                    DraftFactors {
                        thermal_factor_local: f.thermal_factor_local,
                        ev_factor_local: f.ev_factor_local,
                    },
                )
            })
            .collect();
        let draft = MethodologyDraft {
            methodology_version: self.methodology_version,
            baseline_reference: self.baseline_reference,
            factor_references: self.factor_references,
            geographic_scope: self.geographic_scope,
            country_factors,
            formula: self.formula,
            rounding: self.rounding,
        };
        (draft, self.activate)
    }
}

/// The registry mutations.
#[derive(Default)]
pub struct MethodologyMutation;

#[Object]
impl MethodologyMutation {
    /// Validates and stores a new version (`DRAFT`, or `ACTIVE` with `activate`).
    #[graphql(guard = "ScopeGuard(Scope::Admin)")]
    async fn create_methodology(
        &self,
        ctx: &Context<'_>,
        input: MethodologyInput,
    ) -> Result<Methodology> {
        let (draft, activate) = input.into_draft();
        let created = answer(
            services(ctx)
                .methodology()
                .create(&caller(ctx), draft, activate)
                .await,
        )?;
        Ok(Methodology(created))
    }

    /// Makes `version` ACTIVE, deprecating the previous ACTIVE version atomically.
    #[graphql(guard = "ScopeGuard(Scope::Admin)")]
    async fn activate_methodology(
        &self,
        ctx: &Context<'_>,
        version: String,
    ) -> Result<Methodology> {
        let activated = answer(
            services(ctx)
                .methodology()
                .activate(&caller(ctx), &version)
                .await,
        )?;
        Ok(Methodology(activated))
    }
}
