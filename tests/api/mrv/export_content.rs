//! What an export holds: the calendar window's impacts with exact totals, duplicates across
//! model versions removed and proven in the payload, the audit row and the outbox event written
//! with it, and an empty window.

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use super::fixtures::{export_q1, ingest, ingest_with_model, query_i64, trip};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_quarter_exports_its_window_with_exact_totals,
    duplicates_across_model_versions_are_removed_and_proven,
    a_trip_recorded_early_and_late_in_the_window_is_kept_once,
    an_empty_window_exports_zero_impacts,
);

fn trip_ids(payload: &Value) -> Vec<&str> {
    payload["impacts"]
        .as_array()
        .expect("impacts")
        .iter()
        .map(|i| i["trip_id"].as_str().expect("trip_id"))
        .collect()
}

async fn a_quarter_exports_its_window_with_exact_totals(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(
        &app,
        &[
            trip("q-before", "CI", "2025-12-31T23:59:59.999999Z", 10.0),
            trip("q-first", "CI", "2026-01-01T00:00:00Z", 12.5),
            trip("q-mid", "KE", "2026-02-14T12:00:00+01:00", 7.25),
            trip("q-last", "SN", "2026-03-31T23:59:59.999999Z", 3.0),
            trip("q-after", "CI", "2026-04-01T00:00:00Z", 100.0),
        ],
    )
    .await;
    let export = export_q1(&app).await;
    assert_eq!(export["period"], "3M");
    assert_eq!(export["period_start"], "2026-01-01T00:00:00.000000Z");
    assert_eq!(export["period_end"], "2026-04-01T00:00:00.000000Z");
    assert_eq!(export["impacts_count"], 3);
    let id = export["export_id"].as_str().expect("export_id");
    let artifact = app.export_artifact(id).await;
    let payload = &artifact["payload"];
    assert_eq!(trip_ids(payload), ["q-first", "q-last", "q-mid"]);
    // co2 = d × (0.192 − ev): CI 12.5 × 0.144, KE 7.25 × 0.18, SN 3 × 0.117.
    assert_eq!(
        payload["aggregation"],
        json!({
            "impacts_count": 3, "total_distance_km": "22.750000", "total_co2_avoided_kg": "3.456000",
            "by_country": {
                "CI": {"impacts_count": 1, "total_distance_km": "12.500000", "total_co2_avoided_kg": "1.800000"},
                "KE": {"impacts_count": 1, "total_distance_km": "7.250000", "total_co2_avoided_kg": "1.305000"},
                "SN": {"impacts_count": 1, "total_distance_km": "3.000000", "total_co2_avoided_kg": "0.351000"},
            },
        })
    );
    let version = payload["methodology"]["methodology_version"].clone();
    assert_eq!(
        payload["country_factors"]["KE"],
        json!([{"ev_factor_local": "0.012000", "methodology_version": version, "thermal_factor_local": "0.192000"}])
    );
    assert_eq!(payload["model_versions"], json!(["co2-v1"]));
    assert_eq!(payload["schema_version"], "greenos.mrv.v2");
    // The export integrated the log first and binds to the checkpoint it signed.
    let (_, checkpoint) = crate::log::latest(&app).await;
    let log = &payload["log_checkpoint"];
    assert_eq!(log["tree_size"], checkpoint.size);
    assert_eq!(log["root_hash"], hex::encode(checkpoint.root.0));
    assert_eq!(log["origin"], "greenos.local/log");
    assert_eq!(payload["period_start"], export["period_start"]);
    assert_eq!(payload["non_double_counting_proof"]["raw_impacts_count"], 3);
    assert_eq!(export["total_co2_avoided_kg"], "3.456000");
    // Each impact is exactly what the impact route answers, its leaf index included.
    for impact in payload["impacts"].as_array().expect("impacts") {
        let trip_id = impact["trip_id"].as_str().expect("trip_id");
        let (_, stored) = app.get_json(&format!("/api/v2/esg/impact/{trip_id}")).await;
        assert!(
            impact["leaf_index"].as_u64().expect("a leaf") < checkpoint.size,
            "{impact}"
        );
        assert_eq!(*impact, stored);
    }
    // The export is audited and announced in the same transaction, without its payload.
    let audited = query_i64(
        &app,
        &format!("SELECT COUNT(*) FROM esg_audit_metadata WHERE event_type = 'EXPORT_GENERATED' AND subject_id = '{id}'"),
    )
    .await;
    assert_eq!(audited, 1);
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT payload FROM esg_outbox_events WHERE topic = 'audit_generated.v1'",
        ))
        .await
        .expect("query")
        .expect("one event");
    let envelope: Value =
        serde_json::from_str(&row.try_get_by_index::<String>(0).expect("text")).expect("json");
    assert_eq!(envelope["schema_version"], "audit_generated.v1");
    assert_eq!(envelope["aggregate_id"], id);
    assert_eq!(
        envelope["data"]["verification_hash"],
        artifact["verification_hash"]
    );
    assert_eq!(envelope["data"]["impacts_count"], 3);
    assert!(envelope["data"].get("payload").is_none() && envelope["data"].get("impacts").is_none());
    let metrics = app.metrics().await;
    assert_eq!(
        metrics.sum("greenos_mrv_exports_total", &[]),
        1.0,
        "{metrics}"
    );
}

async fn duplicates_across_model_versions_are_removed_and_proven(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let trips = [
        trip("d-1", "CI", "2026-01-10T08:00:00Z", 10.0),
        trip("d-2", "KE", "2026-02-10T08:00:00Z", 20.0),
        trip("d-3", "SN", "2026-03-10T08:00:00Z", 30.0),
    ];
    ingest(&app, &trips).await;
    ingest_with_model(&app, "co2-v2", &trips[..2]).await;
    assert_eq!(
        query_i64(&app, "SELECT COUNT(*) FROM esg_impact_ledger").await,
        5
    );
    let export = export_q1(&app).await;
    let artifact = app
        .export_artifact(export["export_id"].as_str().expect("id"))
        .await;
    let payload = &artifact["payload"];
    assert_eq!(trip_ids(payload), ["d-1", "d-2", "d-3"]);
    let models: Vec<&str> = payload["impacts"]
        .as_array()
        .expect("impacts")
        .iter()
        .map(|i| i["model_version"].as_str().expect("model_version"))
        .collect();
    assert_eq!(
        models,
        ["co2-v2", "co2-v2", "co2-v1"],
        "the latest ledger_seq wins"
    );
    let proof = &payload["non_double_counting_proof"];
    assert_eq!(proof["deduplication_rule"], "latest_ledger_seq_per_trip_id");
    assert_eq!(proof["double_counting_blocked"], true);
    assert_eq!(proof["raw_impacts_count"], 5);
    assert_eq!(proof["selected_impacts_count"], 3);
    assert_eq!(proof["duplicates_removed_count"], 2);
    assert_eq!(proof["duplicate_trip_ids"], json!(["d-1", "d-2"]));
    assert_eq!(
        proof["duplicate_trip_frequencies"],
        json!({"d-1": 2, "d-2": 2})
    );
    assert_eq!(payload["model_versions"], json!(["co2-v1", "co2-v2"]));
    // Counted once each: 10 + 20 + 30 km, 1.44 + 3.6 + 3.51 kg.
    assert_eq!(payload["aggregation"]["total_distance_km"], "60.000000");
    assert_eq!(payload["aggregation"]["total_co2_avoided_kg"], "8.550000");
    assert_eq!(payload["aggregation"]["impacts_count"], 3);
    assert_eq!(export["raw_impacts_count"], 5);
    assert_eq!(export["duplicates_removed_count"], 2);
    assert_eq!(export["proof_hash"], proof["proof_hash"]);
}

/// The build reads the window in time slices side by side and merges them: a trip whose rows
/// lie on both sides of a cut (the median timestamp, here 2026-02-01) is still one trip, kept
/// from its latest row.
async fn a_trip_recorded_early_and_late_in_the_window_is_kept_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(
        &app,
        &[
            trip("s-a", "CI", "2026-01-05T08:00:00Z", 10.0),
            trip("s-b", "KE", "2026-01-20T08:00:00Z", 20.0),
            trip("s-c", "SN", "2026-02-01T08:00:00Z", 30.0),
            trip("s-d", "CI", "2026-03-01T08:00:00Z", 40.0),
            trip("s-e", "KE", "2026-03-20T08:00:00Z", 50.0),
        ],
    )
    .await;
    ingest_with_model(
        &app,
        "co2-v2",
        &[
            trip("s-a", "CI", "2026-03-25T08:00:00Z", 11.0),
            trip("s-e", "KE", "2026-01-02T08:00:00Z", 51.0),
        ],
    )
    .await;
    let export = export_q1(&app).await;
    let artifact = app
        .export_artifact(export["export_id"].as_str().expect("id"))
        .await;
    let payload = &artifact["payload"];
    assert_eq!(trip_ids(payload), ["s-a", "s-b", "s-c", "s-d", "s-e"]);
    let kept: Vec<(&str, &str)> = payload["impacts"]
        .as_array()
        .expect("impacts")
        .iter()
        .map(|i| {
            (
                i["model_version"].as_str().expect("model_version"),
                i["distance_km"].as_str().expect("distance_km"),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("co2-v2", "11.000000"),
            ("co2-v1", "20.000000"),
            ("co2-v1", "30.000000"),
            ("co2-v1", "40.000000"),
            ("co2-v2", "51.000000"),
        ],
        "each trip's latest ledger_seq wins, wherever its rows lie in time"
    );
    let proof = &payload["non_double_counting_proof"];
    assert_eq!(proof["raw_impacts_count"], 7);
    assert_eq!(proof["selected_impacts_count"], 5);
    assert_eq!(
        proof["duplicate_trip_frequencies"],
        json!({"s-a": 2, "s-e": 2})
    );
    assert_eq!(payload["aggregation"]["total_distance_km"], "152.000000");
    assert_eq!(
        payload["aggregation"]["by_country"]["CI"]["impacts_count"],
        2
    );
    let (status, verified) = app
        .verify_export(export["export_id"].as_str().expect("id"))
        .await;
    assert_eq!(status, StatusCode::OK, "{verified}");
}

async fn an_empty_window_exports_zero_impacts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, export) = app.create_export("12M", "2025-01-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    assert_eq!(export["impacts_count"], 0);
    let id = export["export_id"].as_str().expect("id");
    let payload = app.export_artifact(id).await["payload"].clone();
    assert_eq!(payload["impacts"], json!([]));
    assert_eq!(payload["aggregation"]["total_co2_avoided_kg"], "0.000000");
    assert_eq!(payload["aggregation"]["by_country"], json!({}));
    assert_eq!(payload["country_factors"], json!({}));
    assert_eq!(payload["model_versions"], json!([]));
    assert_eq!(payload["non_double_counting_proof"]["raw_impacts_count"], 0);
    assert_eq!(payload["period_start"], "2024-01-01T00:00:00.000000Z");
    let (status, verified) = app.verify_export(id).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
}
