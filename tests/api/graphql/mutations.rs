//! Every mutation goes through its REST twin's use case: the same validation, details,
//! idempotency, conflicts and metrics; and the outbox counts agree between the two doors.

use serde_json::json;

use crate::helpers::{Backend, TestApp, graphql_code};
use crate::on_both_backends;

on_both_backends!(mutations_go_through_the_rest_use_cases);

async fn mutations_go_through_the_rest_use_cases(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ingest = "mutation($trips: [TripInput!]!) { ingestTrips(trips: $trips) {
        accepted duplicates impacts { tripId distanceKm co2AvoidedKg eventHash } } }";
    let trips = json!([
        {"tripId": "g-1", "userId": "u-1", "vehicleId": "ev-1", "countryCode": "CI", "geoHash": "s0t5q",
         "eventTimestamp": "2026-02-03T08:15:00Z", "distanceKm": "12.5"},
        {"tripId": "g-2", "userId": "u-1", "vehicleId": "ev-1", "countryCode": "KE", "geoHash": "s0t5q",
         "eventTimestamp": "2026-02-04T08:15:00+03:00", "distanceKm": 7.25}
    ]);
    let data = app.graphql(ingest, json!({"trips": trips})).await;
    assert_eq!(data["ingestTrips"]["accepted"], 2);
    assert_eq!(data["ingestTrips"]["impacts"][0]["distanceKm"], "12.500000");
    let (_, rest) = app.get_json("/api/v2/esg/impact/g-1").await;
    assert_eq!(
        data["ingestTrips"]["impacts"][0]["eventHash"],
        rest["event_hash"]
    );
    let again = app.graphql(ingest, json!({"trips": trips})).await;
    assert_eq!(
        (
            again["ingestTrips"]["accepted"].clone(),
            again["ingestTrips"]["duplicates"].clone()
        ),
        (json!(0), json!(2))
    );

    // Bad input is answered as REST answers it, and nothing is written.
    let mut bad = trips.clone();
    bad[0]["tripId"] = json!("g-3");
    bad[1]["tripId"] = json!("not an id!");
    bad[1]["countryCode"] = json!("ke");
    let (_, body) = app.graphql_as(None, ingest, json!({"trips": bad})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_VALIDATION_FAILED"),
        "{body}"
    );
    let errors = &body["errors"][0]["extensions"]["details"]["errors"];
    assert_eq!(errors[0]["index"], 1, "{body}");
    let fields: Vec<&str> = errors
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"trip_id") && fields.contains(&"country_code"),
        "{body}"
    );
    let mut conflicting = trips.clone();
    conflicting[0]["distanceKm"] = json!("13");
    let (_, body) = app
        .graphql_as(None, ingest, json!({"trips": conflicting}))
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_DUPLICATE_IMPACT"),
        "{body}"
    );
    let mut precise = trips.clone();
    precise[0]["tripId"] = json!("g-4");
    precise[0]["distanceKm"] = json!("1.1234567");
    let (_, body) = app
        .graphql_as(None, ingest, json!({"trips": precise}))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1.1234567")),
        "{body}"
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 2);

    let create = "mutation($p: String!, $e: String!) { createExport(period: $p, periodEnd: $e) {
        exportId impactsCount aggregation { totalCo2AvoidedKg } } }";
    let data = app
        .graphql(create, json!({"p": "3M", "e": "2026-04-01"}))
        .await;
    assert_eq!(data["createExport"]["impactsCount"], 2);
    let (_, body) = app
        .graphql_as(None, create, json!({"p": "3M", "e": "2026-04-01"}))
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_MRV_EXPORT_CONFLICT"),
        "{body}"
    );
    let (_, body) = app
        .graphql_as(None, create, json!({"p": "3M", "e": "2030-01-01"}))
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_MRV_PERIOD_NOT_CLOSED"),
        "{body}"
    );

    let methodology = "mutation($i: MethodologyInput!) { createMethodology(input: $i) { methodologyVersion status methodologyHash } }";
    let input = json!({
        "methodologyVersion": "gql-2027", "baselineReference": "thermal baseline",
        "factorReferences": ["IPCC 2006"], "geographicScope": ["CI"],
        "countryFactors": [{"countryCode": "CI", "thermalFactorLocal": "0.2", "evFactorLocal": "0.05"}],
        "formula": "f", "rounding": "half_even_6dp"
    });
    let data = app.graphql(methodology, json!({"i": input})).await;
    assert_eq!(data["createMethodology"]["status"], "DRAFT");
    let (_, rest) = app.get_json("/api/v2/esg/mrv/methodology/gql-2027").await;
    assert_eq!(
        data["createMethodology"]["methodologyHash"],
        rest["methodology_hash"]
    );
    let data = app
        .graphql(
            "mutation { activateMethodology(version: \"gql-2027\") { status } }",
            json!({}),
        )
        .await;
    assert_eq!(data["activateMethodology"]["status"], "ACTIVE");
    let mut twice = input.clone();
    twice["activate"] = json!(true);
    let (_, body) = app.graphql_as(None, methodology, json!({"i": twice})).await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_METHODOLOGY_VERSION_EXISTS"),
        "{body}"
    );

    let data = app
        .graphql(
            "{ outboxStats { counts { topic status count } oldestPendingAgeSeconds } }",
            json!({}),
        )
        .await;
    let counts = data["outboxStats"]["counts"].as_array().expect("counts");
    let calculated = counts
        .iter()
        .find(|c| c["topic"] == "esg_calculated.v1")
        .expect("topic");
    assert_eq!(calculated["count"], 2);
    assert!(
        data["outboxStats"]["oldestPendingAgeSeconds"]
            .as_f64()
            .is_some()
    );
}
