//! What the GraphQL scenarios share.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A trip of the §4 schema at `at`, in `country`.
pub fn trip(trip_id: &str, country: &str, at: &str, distance_km: f64) -> Value {
    json!({
        "trip_id": trip_id, "user_id": "u-42", "vehicle_id": "ev-7", "country_code": country,
        "geo_hash": "s0t5q", "event_timestamp": at, "distance_km": distance_km,
    })
}

/// Ingests `trips` through REST.
pub async fn ingest(app: &TestApp, trips: &[Value]) {
    for batch in trips.chunks(1000) {
        let (status, body) = app.post_json("/api/v2/esg/trips", &json!(batch)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// Six Q1 2026 trips in three countries, and the Q1 export of them: its id.
pub async fn exported_quarter(app: &TestApp) -> String {
    ingest(
        app,
        &[
            trip("q-1", "CI", "2026-01-05T10:00:00Z", 12.5),
            trip("q-2", "KE", "2026-01-20T10:00:00Z", 7.25),
            trip("q-3", "SN", "2026-02-05T10:00:00Z", 3.0),
            trip("q-4", "CI", "2026-02-25T10:00:00Z", 100.125),
            trip("q-5", "KE", "2026-03-05T10:00:00Z", 0.5),
            trip("q-6", "CI", "2026-03-30T23:59:59Z", 42.0),
        ],
    )
    .await;
    let (status, export) = app.create_export("3M", "2026-04-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    export["export_id"].as_str().expect("export id").to_owned()
}
