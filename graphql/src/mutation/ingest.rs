//! `ingestTrips` (scope `ingest`): the trips are written as the §4 JSON body and go through the
//! very parser and use case of `POST /api/v2/esg/trips`, so validation, idempotency, the 409s
//! and the metrics are the same.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use greenos_core::auth::Scope;
use greenos_core::ledger::{Appended, BodyFormat};

use crate::context::{answer, caller, services};
use crate::guard::ScopeGuard;
use crate::scalars::Decimal;
use crate::types::impact::Impact;

/// One completed trip, in the §4 schema.
#[derive(Clone, Debug, InputObject)]
pub struct TripInput {
    /// 1–128 characters of `[A-Za-z0-9._:-]`.
    pub trip_id: String,
    /// 1–128 characters of `[A-Za-z0-9._:-]`.
    pub user_id: String,
    /// 1–128 characters of `[A-Za-z0-9._:-]`.
    pub vehicle_id: String,
    /// ISO 3166-1 alpha-2, uppercase.
    pub country_code: String,
    /// 1–12 geohash characters.
    pub geo_hash: String,
    /// RFC 3339 with an offset, at most microseconds.
    pub event_timestamp: String,
    /// `0 < distanceKm <= 10000`, at most 6 decimals.
    pub distance_km: Decimal,
}

/// What an ingestion did.
#[derive(SimpleObject)]
pub struct IngestResult {
    /// Trips newly written.
    pub accepted: usize,
    /// Trips already recorded with identical content.
    pub duplicates: usize,
    /// One impact per submitted trip, in input order.
    pub impacts: Vec<Impact>,
}

/// The §4 JSON array of `trips`; the distance is written as the exact decimal number it is.
fn body(trips: &[TripInput]) -> Vec<u8> {
    let text = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let items: Vec<String> = trips
        .iter()
        .map(|t| {
            format!(
                "{{\"trip_id\":{},\"user_id\":{},\"vehicle_id\":{},\"country_code\":{},\"geo_hash\":{},\"event_timestamp\":{},\"distance_km\":{}}}",
                text(&t.trip_id),
                text(&t.user_id),
                text(&t.vehicle_id),
                text(&t.country_code),
                text(&t.geo_hash),
                text(&t.event_timestamp),
                t.distance_km.0
            )
        })
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// The ingestion mutation.
#[derive(Default)]
pub struct IngestMutation;

#[Object]
impl IngestMutation {
    /// Ingests up to 10 000 trips, all or nothing.
    #[graphql(guard = "ScopeGuard(Scope::Ingest)")]
    async fn ingest_trips(&self, ctx: &Context<'_>, trips: Vec<TripInput>) -> Result<IngestResult> {
        let reply = answer(
            services(ctx)
                .ledger()
                .ingest_body(&caller(ctx), BodyFormat::Json, &body(&trips))
                .await,
        )?;
        let outcome = reply.outcome;
        Ok(IngestResult {
            accepted: outcome.accepted(),
            duplicates: outcome.duplicates(),
            impacts: outcome
                .items
                .into_iter()
                .filter_map(|item| match item {
                    Appended::Accepted(impact) | Appended::Duplicate(impact) => {
                        Some(Impact(impact))
                    }
                    Appended::Conflict(_) | Appended::Refused(_) => None,
                })
                .collect(),
        })
    }
}
