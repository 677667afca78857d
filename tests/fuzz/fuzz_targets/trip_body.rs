//! The strict trip parser, on JSON bodies and JSON Lines: it never panics, and whatever it
//! accepts keeps the §4 rules (bounded distance, timestamp from 2000 on, identifiers of the
//! recorded form).

#![no_main]

use greenos_core::ledger::{BodyFormat, TripsBody, ValidatedTrip, parse_body};
use greenos_core::proof::UtcMicros;
use libfuzzer_sys::fuzz_target;

fn check(trip: &ValidatedTrip) {
    let km = trip.distance_km.value().to_string();
    let whole: u32 = km
        .split('.')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(u32::MAX);
    assert!(km != "0.000000" && whole <= 10_000, "distance {km}");
    assert!(trip.event_timestamp >= UtcMicros::earliest_trip());
    for id in [&trip.trip_id, &trip.user_id, &trip.vehicle_id] {
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".:_-".contains(&b))
        );
    }
}

fuzz_target!(|data: &[u8]| {
    for format in [BodyFormat::Json, BodyFormat::JsonLines] {
        match parse_body(format, data) {
            Ok(TripsBody::Single(trip)) => check(&trip),
            Ok(TripsBody::Batch(trips)) => trips.iter().for_each(check),
            Err(_) => {}
        }
    }
});
