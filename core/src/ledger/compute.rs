//! From a validated trip to a signed impact: the factors of the ACTIVE methodology, the exact
//! formula of SPEC §4, the `event_hash` and `checksum` of §5 and both signatures of §6.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error_code::ErrorCode;
use crate::ledger::error::IngestError;
use crate::ledger::impact::same_trip;
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
    latest_event_timestamp: UtcMicros,
    max_future_skew: Duration,
}

impl ComputeContext {
    /// Takes the factors of `methodology` (the ACTIVE one) and the server's model version;
    /// trips dated later than `created_at + max_future_skew` are refused (a completed trip
    /// cannot lie in the future).
    pub fn new(
        methodology: &Methodology,
        model_version: &str,
        correlation_id: Option<String>,
        created_at: UtcMicros,
        max_future_skew: Duration,
    ) -> ComputeContext {
        let latest = chrono::Duration::from_std(max_future_skew)
            .ok()
            .and_then(|skew| created_at.as_datetime().checked_add_signed(skew))
            .map_or(created_at, UtcMicros::truncating);
        ComputeContext {
            model_version: model_version.to_owned(),
            methodology_version: methodology.methodology_version.clone(),
            factors: methodology.country_factors.clone(),
            correlation_id,
            created_at,
            latest_event_timestamp: latest,
            max_future_skew,
        }
    }

    /// The refusal of a new trip whose country the methodology has no factors for.
    pub fn no_factors(&self, country_code: &str) -> Refusal {
        Refusal {
            code: ErrorCode::CountryFactorNotConfigured,
            field: "country_code",
            reason: format!(
                "the ACTIVE methodology {} has no emission factors for {country_code}",
                self.methodology_version
            ),
        }
    }

    /// Why `trip` cannot be recorded whatever the ledger holds, if it cannot: a timestamp later
    /// than now plus the allowed clock skew.
    pub fn refusal(&self, trip: &ValidatedTrip) -> Option<Refusal> {
        (trip.event_timestamp > self.latest_event_timestamp).then(|| Refusal {
            code: ErrorCode::ValidationFailed,
            field: "event_timestamp",
            reason: format!(
                "{} is later than now plus {} s (GREENOS_MAX_FUTURE_SKEW_S): a completed trip cannot lie in the future",
                trip.event_timestamp,
                self.max_future_skew.as_secs()
            ),
        })
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

/// Why one trip of a batch is left out (with `SkipConflicting`) or refuses the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The code the refusal is answered with.
    pub code: ErrorCode,
    /// The offending field.
    pub field: &'static str,
    /// What is wrong, in words.
    pub reason: String,
}

/// A submitted trip made ready for the ledger: signed; left unsigned because the ACTIVE
/// methodology has no factors for its country (it can still be a replay of a recorded impact,
/// which the append recognises before refusing anything: idempotency comes first); or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per trip and nearly all are Signed: boxing would add an allocation per trip"
)]
pub enum Prepared {
    /// Computed, hashed and signed.
    Signed(NewImpact),
    /// Not computable: no factors for its country.
    NoFactors(ValidatedTrip),
    /// Never recordable (a future timestamp).
    Refused(ValidatedTrip, Refusal),
}

impl Prepared {
    /// The trip identifier.
    pub fn trip_id(&self) -> &str {
        match self {
            Self::Signed(impact) => &impact.event.trip_id,
            Self::NoFactors(trip) | Self::Refused(trip, _) => trip.trip_id.as_str(),
        }
    }

    /// Whether `stored` records this very trip (the seven input fields agree).
    pub fn same_trip_as(&self, stored: &EventHashInput) -> bool {
        match self {
            Self::Signed(impact) => same_trip(&impact.event, stored),
            Self::NoFactors(trip) | Self::Refused(trip, _) => {
                trip.trip_id.as_str() == stored.trip_id
                    && trip.user_id.as_str() == stored.user_id
                    && trip.vehicle_id.as_str() == stored.vehicle_id
                    && trip.country_code.as_str() == stored.country_code
                    && trip.geo_hash.as_str() == stored.geo_hash
                    && trip.event_timestamp == stored.event_timestamp
                    && trip.distance_km.value() == stored.distance_km
            }
        }
    }
}

/// Prepares every trip, in input order, on every core for large sets (one Ed25519 signature
/// costs tens of microseconds of CPU).
pub async fn prepare_all(
    trips: Vec<ValidatedTrip>,
    context: Arc<ComputeContext>,
    signer: Arc<Signer>,
) -> Result<Vec<Prepared>, IngestError> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    if trips.len() < PARALLEL_THRESHOLD || workers == 1 {
        return Ok(prepare_chunk(trips, &context, &signer));
    }
    let chunk_len = trips.len().div_ceil(workers);
    let mut tasks = Vec::with_capacity(workers);
    let mut rest = trips;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk_len.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, tail);
        tasks.push(prepare_on_one_core(
            chunk,
            Arc::clone(&context),
            Arc::clone(&signer),
        ));
    }
    let mut prepared = Vec::new();
    for task in tasks {
        prepared.extend(task.await?);
    }
    Ok(prepared)
}

/// Prepares every trip, in input order, on one blocking thread: for a pipeline that keeps
/// several batches in preparation at once (one per core) rather than splitting each.
pub fn prepare_on_one_core(
    trips: Vec<ValidatedTrip>,
    context: Arc<ComputeContext>,
    signer: Arc<Signer>,
) -> impl Future<Output = Result<Vec<Prepared>, IngestError>> + Send + 'static {
    let task = tokio::task::spawn_blocking(move || prepare_chunk(trips, &context, &signer));
    async move { task.await.map_err(|e| IngestError::Task(e.to_string())) }
}

fn prepare_chunk(
    trips: Vec<ValidatedTrip>,
    context: &ComputeContext,
    signer: &Signer,
) -> Vec<Prepared> {
    trips
        .into_iter()
        .map(|trip| {
            if let Some(refusal) = context.refusal(&trip) {
                return Prepared::Refused(trip, refusal);
            }
            match context.compute(&trip, signer) {
                Some(impact) => Prepared::Signed(impact),
                None => Prepared::NoFactors(trip),
            }
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
