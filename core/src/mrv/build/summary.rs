//! What the one pass over an export's window learns besides the impacts' bytes: the totals of
//! the kept rows (overall and by country), the factors and model versions they used, and every
//! trip the window holds more than once (SPEC §8). The rows arrive in `trip_id` code-point
//! order, each trip's highest `ledger_seq` first: that row is kept, the others are duplicates.

use std::collections::{BTreeMap, BTreeSet};

use crate::mrv::build::batch::Row;
use crate::mrv::build::payload::{Aggregation, DuplicateStats, FactorPair, Totals};
use crate::mrv::error::MrvError;

/// What the pass learned about the window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WindowSummary {
    /// Totals of the kept rows.
    pub aggregation: Aggregation,
    /// Factors used, per country, sorted.
    pub country_factors: BTreeMap<String, Vec<FactorPair>>,
    /// Model versions of the kept rows, sorted by code point.
    pub model_versions: Vec<String>,
    /// Raw count and duplicated trips, in `trip_id` code-point order.
    pub duplicates: DuplicateStats,
}

/// The summary being added up, row by row.
#[derive(Debug, Default)]
pub(crate) struct Summing {
    aggregation: Aggregation,
    factors: BTreeMap<String, BTreeSet<FactorPair>>,
    model_versions: BTreeSet<String>,
    duplicates: DuplicateStats,
}

impl Summing {
    /// Counts a kept row.
    pub(crate) fn keep(&mut self, row: &Row<'_>) -> Result<(), MrvError> {
        let micros = row.micros;
        let totals = Totals {
            impacts_count: 1,
            total_distance_km_micro: micros.distance_km,
            total_co2_avoided_kg_micro: micros.co2_avoided_kg,
        };
        let overflow = || MrvError::Storage("window totals overflow 64-bit micro-units".to_owned());
        self.aggregation.totals.add(totals).ok_or_else(overflow)?;
        // The maps and sets hold a handful of entries: look before allocating a key.
        match self.aggregation.by_country.get_mut(row.country_code) {
            Some(country) => country.add(totals).ok_or_else(overflow)?,
            None => {
                self.aggregation
                    .by_country
                    .insert(row.country_code.to_owned(), totals);
            }
        }
        let (thermal, ev) = (micros.thermal_factor_local, micros.ev_factor_local);
        let known = self.factors.get(row.country_code).is_some_and(|pairs| {
            pairs.iter().any(|pair| {
                pair.thermal_factor_local_micro == thermal
                    && pair.ev_factor_local_micro == ev
                    && pair.methodology_version == row.methodology_version
            })
        });
        if !known {
            self.factors
                .entry(row.country_code.to_owned())
                .or_default()
                .insert(FactorPair {
                    methodology_version: row.methodology_version.to_owned(),
                    thermal_factor_local_micro: thermal,
                    ev_factor_local_micro: ev,
                });
        }
        if !self.model_versions.contains(row.model_version) {
            self.model_versions.insert(row.model_version.to_owned());
        }
        self.duplicates.raw_impacts_count += 1;
        Ok(())
    }

    /// Counts another row of `trip_id`, the trip kept last.
    pub(crate) fn duplicate(&mut self, trip_id: &str) {
        self.duplicates.raw_impacts_count += 1;
        match self.duplicates.duplicates.last_mut() {
            Some((last, frequency)) if last == trip_id => *frequency += 1,
            _ => self.duplicates.duplicates.push((trip_id.to_owned(), 2)),
        }
    }

    /// The summary of every row counted.
    pub(crate) fn finish(self) -> WindowSummary {
        WindowSummary {
            aggregation: self.aggregation,
            country_factors: self
                .factors
                .into_iter()
                .map(|(country, pairs)| (country, pairs.into_iter().collect()))
                .collect(),
            // A BTreeSet of Strings iterates in byte order, which is code-point order.
            model_versions: self.model_versions.into_iter().collect(),
            duplicates: self.duplicates,
        }
    }
}
