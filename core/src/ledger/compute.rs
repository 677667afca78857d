//! From a validated trip to a signed impact: the factors of the ACTIVE methodology, the exact
//! formula of SPEC §4, the `event_hash` and `checksum` of §5 and both signatures of §6.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::ledger::error::IngestError;
use crate::ledger::trip::ValidatedTrip;
use crate::methodology::Methodology;
use crate::proof::{
    CountryFactors, Decimal6, EventHashInput, Sha256Hex, Signatures, Signer, UtcMicros, checksum,
    event_hash,
};

/// Below this many trips, signing on the calling thread beats handing work to other threads.
const PARALLEL_THRESHOLD: usize = 64;

/// An impact computed and signed, not yet appended to the ledger (so without `ledger_seq`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewImpact {
    /// Every hashed field.
    pub event: EventHashInput,
    /// `sha256_hex(canonical(event))`.
    pub event_hash: Sha256Hex,
    /// `sha256_hex(canonical({event_hash, trip_id, model_version, country_code}))`.
    pub checksum: Sha256Hex,
    /// HMAC and Ed25519 signatures of `event_hash`.
    pub signatures: Signatures,
    /// The request (correlation) id that carried the trip.
    pub correlation_id: Option<String>,
    /// When the impact was computed.
    pub created_at: UtcMicros,
}

/// Everything a computation needs besides the trip, fixed for one request or batch.
#[derive(Clone, Debug)]
pub struct ComputeContext {
    model_version: String,
    methodology_version: String,
    factors: BTreeMap<String, CountryFactors>,
    correlation_id: Option<String>,
    created_at: UtcMicros,
}

impl ComputeContext {
    /// Takes the factors of `methodology` (the ACTIVE one) and the server's model version.
    pub fn new(
        methodology: &Methodology,
        model_version: &str,
        correlation_id: Option<String>,
        created_at: UtcMicros,
    ) -> ComputeContext {
        ComputeContext {
            model_version: model_version.to_owned(),
            methodology_version: methodology.methodology_version.clone(),
            factors: methodology.country_factors.clone(),
            correlation_id,
            created_at,
        }
    }

    /// The server's calculation model.
    pub fn model_version(&self) -> &str {
        &self.model_version
    }

    /// The methodology the factors come from.
    pub fn methodology_version(&self) -> &str {
        &self.methodology_version
    }

    /// Whether the methodology covers `country_code`.
    pub fn has_factors(&self, country_code: &str) -> bool {
        self.factors.contains_key(country_code)
    }

    /// Refuses the whole set if any trip's country has no factors, naming countries and indexes.
    pub fn check_factors(&self, trips: &[ValidatedTrip]) -> Result<(), IngestError> {
        let mut countries = BTreeSet::new();
        let mut indexes = Vec::new();
        for (index, trip) in trips.iter().enumerate() {
            if !self.has_factors(trip.country_code.as_str()) {
                countries.insert(trip.country_code.to_string());
                indexes.push(index);
            }
        }
        if indexes.is_empty() {
            Ok(())
        } else {
            Err(IngestError::CountryFactorNotConfigured {
                methodology_version: self.methodology_version.clone(),
                countries: countries.into_iter().collect(),
                indexes,
            })
        }
    }

    /// Computes, hashes and signs one trip; `None` if its country has no factors.
    pub fn compute(&self, trip: &ValidatedTrip, signer: &Signer) -> Option<NewImpact> {
        let factors = self.factors.get(trip.country_code.as_str())?;
        let distance_km = trip.distance_km.value();
        let event = EventHashInput {
            trip_id: trip.trip_id.as_str().to_owned(),
            user_id: trip.user_id.as_str().to_owned(),
            vehicle_id: trip.vehicle_id.as_str().to_owned(),
            country_code: trip.country_code.to_string(),
            geo_hash: trip.geo_hash.as_str().to_owned(),
            event_timestamp: trip.event_timestamp,
            distance_km,
            thermal_factor_local: factors.thermal_factor_local,
            ev_factor_local: factors.ev_factor_local,
            co2_avoided_kg: co2_avoided_kg(distance_km, factors),
            model_version: self.model_version.clone(),
            methodology_version: self.methodology_version.clone(),
        };
        let event_hash = event_hash(&event);
        let checksum = checksum(
            &event_hash,
            &event.trip_id,
            &event.model_version,
            &event.country_code,
        );
        let signatures = signer.sign(&event_hash);
        Some(NewImpact {
            event,
            event_hash,
            checksum,
            signatures,
            correlation_id: self.correlation_id.clone(),
            created_at: self.created_at,
        })
    }
}

/// `distance_km * thermal_factor_local - distance_km * ev_factor_local`, exact, then rounded to
/// 6 decimals half-even.
pub fn co2_avoided_kg(distance_km: Decimal6, factors: &CountryFactors) -> Decimal6 {
    let d = distance_km.as_decimal();
    Decimal6::round_half_even(
        d * factors.thermal_factor_local.as_decimal() - d * factors.ev_factor_local.as_decimal(),
    )
}

/// Computes and signs every trip, in input order, on every core for large sets (one Ed25519
/// signature costs tens of microseconds of CPU).
pub async fn compute_all(
    trips: Vec<ValidatedTrip>,
    context: Arc<ComputeContext>,
    signer: Arc<Signer>,
) -> Result<Vec<NewImpact>, IngestError> {
    context.check_factors(&trips)?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    if trips.len() < PARALLEL_THRESHOLD || workers == 1 {
        return compute_chunk(&trips, &context, &signer);
    }
    let chunk_len = trips.len().div_ceil(workers);
    let mut tasks = Vec::with_capacity(workers);
    let mut rest = trips;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk_len.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, tail);
        let context = Arc::clone(&context);
        let signer = Arc::clone(&signer);
        tasks.push(tokio::task::spawn_blocking(move || {
            compute_chunk(&chunk, &context, &signer)
        }));
    }
    let mut impacts = Vec::new();
    for task in tasks {
        let chunk = task.await.map_err(|e| IngestError::Task(e.to_string()))??;
        impacts.extend(chunk);
    }
    Ok(impacts)
}

fn compute_chunk(
    trips: &[ValidatedTrip],
    context: &ComputeContext,
    signer: &Signer,
) -> Result<Vec<NewImpact>, IngestError> {
    trips
        .iter()
        .map(|trip| {
            context.compute(trip, signer).ok_or_else(|| {
                // check_factors ran first; this only guards the invariant.
                IngestError::Task(format!("no factors for {}", trip.country_code))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factors(thermal: &str, ev: &str) -> CountryFactors {
        CountryFactors {
            thermal_factor_local: Decimal6::parse_exact(thermal).expect("thermal"),
            ev_factor_local: Decimal6::parse_exact(ev).expect("ev"),
        }
    }

    #[test]
    fn co2_is_exact_and_rounded_half_even() {
        let d = Decimal6::parse_exact("12.5").expect("distance");
        assert_eq!(
            co2_avoided_kg(d, &factors("0.192", "0.048")).to_string(),
            "1.800000"
        );
        // 0.000001 * 0.5 = 0.0000005 → ties to even → 0.000000; 0.000003 * 0.5 → 0.000002.
        let tiny = Decimal6::parse_exact("0.000001").expect("tiny");
        assert_eq!(
            co2_avoided_kg(tiny, &factors("0.5", "0")).to_string(),
            "0.000000"
        );
        let three = Decimal6::parse_exact("0.000003").expect("three");
        assert_eq!(
            co2_avoided_kg(three, &factors("0.5", "0")).to_string(),
            "0.000002"
        );
        let max = Decimal6::parse_exact("10000").expect("max");
        assert_eq!(
            co2_avoided_kg(max, &factors("0.999999", "0.000001")).to_string(),
            "9999.980000"
        );
    }
}
