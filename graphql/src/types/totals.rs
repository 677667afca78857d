//! `impactTotals`: exact sums grouped as a dashboard asks.

use async_graphql::{Enum, SimpleObject};
use greenos_core::ledger::{TotalsGroup, TotalsRow};

use crate::scalars::Decimal;

/// A grouping key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ImpactGroup {
    /// By `countryCode`.
    Country,
    /// By UTC month of `eventTimestamp` (`YYYY-MM`).
    Month,
    /// By UTC quarter (`YYYY-Qn`).
    Quarter,
    /// By UTC year (`YYYY`).
    Year,
    /// By `modelVersion`.
    ModelVersion,
    /// By `methodologyVersion`.
    MethodologyVersion,
}

impl From<ImpactGroup> for TotalsGroup {
    fn from(group: ImpactGroup) -> TotalsGroup {
        match group {
            ImpactGroup::Country => TotalsGroup::Country,
            ImpactGroup::Month => TotalsGroup::Month,
            ImpactGroup::Quarter => TotalsGroup::Quarter,
            ImpactGroup::Year => TotalsGroup::Year,
            ImpactGroup::ModelVersion => TotalsGroup::ModelVersion,
            ImpactGroup::MethodologyVersion => TotalsGroup::MethodologyVersion,
        }
    }
}

/// One row of totals: the grouping keys asked for (others are null) and the sums.
#[derive(Clone, Debug, Default, SimpleObject)]
pub struct ImpactTotals {
    /// The country, when grouped by `COUNTRY`.
    pub country_code: Option<String>,
    /// The month, when grouped by `MONTH`.
    pub month: Option<String>,
    /// The quarter, when grouped by `QUARTER`.
    pub quarter: Option<String>,
    /// The year, when grouped by `YEAR`.
    pub year: Option<String>,
    /// The model version, when grouped by `MODEL_VERSION`.
    pub model_version: Option<String>,
    /// The methodology version, when grouped by `METHODOLOGY_VERSION`.
    pub methodology_version: Option<String>,
    /// Impacts counted.
    pub impacts_count: i64,
    /// Sum of `distanceKm`.
    pub total_distance_km: Option<Decimal>,
    /// Sum of `co2AvoidedKg`.
    pub total_co2_avoided_kg: Option<Decimal>,
}

impl From<TotalsRow> for ImpactTotals {
    fn from(row: TotalsRow) -> ImpactTotals {
        let mut totals = ImpactTotals {
            impacts_count: row.impacts_count,
            total_distance_km: Some(Decimal(row.total_distance_km)),
            total_co2_avoided_kg: Some(Decimal(row.total_co2_avoided_kg)),
            ..ImpactTotals::default()
        };
        for (group, value) in row.keys {
            let slot = match group {
                TotalsGroup::Country => &mut totals.country_code,
                TotalsGroup::Month => &mut totals.month,
                TotalsGroup::Quarter => &mut totals.quarter,
                TotalsGroup::Year => &mut totals.year,
                TotalsGroup::ModelVersion => &mut totals.model_version,
                TotalsGroup::MethodologyVersion => &mut totals.methodology_version,
            };
            *slot = Some(value);
        }
        totals
    }
}
