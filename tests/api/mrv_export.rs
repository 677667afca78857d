//! `POST /api/v2/esg/mrv/export` and the reads around it: calendar windows, exact totals,
//! de-duplication across model versions proven in the payload, one export per window (also
//! under a race), the list, the CSV, empty windows, and the `greenos export` command.

use axum::body::Body;
use greenos::app::AppState;
use greenos::config::Config;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_invalid_period_is_refused,
    a_quarter_exports_its_window_with_exact_totals,
    duplicates_across_model_versions_are_removed_and_proven,
    a_window_is_exported_once,
    an_empty_window_exports_zero_impacts,
    the_list_is_paginated_newest_first,
    the_csv_has_a_header_and_one_row_per_impact,
    an_export_needs_a_complete_active_methodology,
    the_cli_creates_an_export,
);

/// One trip of the §4 schema.
pub fn trip(trip_id: &str, country: &str, at: &str, distance_km: f64) -> Value {
    json!({
        "trip_id": trip_id, "user_id": "u-42", "vehicle_id": "ev-7", "country_code": country,
        "geo_hash": "s0t5q", "event_timestamp": at, "distance_km": distance_km,
    })
}

/// Ingests `trips` through the REST route.
pub async fn ingest(app: &TestApp, trips: &[Value]) {
    let (status, body) = app.post_json("/api/v2/esg/trips", &json!(trips)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Ingests `trips` through a second instance on the same database, configured with another
/// `GREENOS_MODEL_VERSION` (a new calculation model re-computing the same trips).
pub async fn ingest_with_model(app: &TestApp, model_version: &str, trips: &[Value]) {
    let mut vars = app.vars.clone();
    vars.set("GREENOS_MODEL_VERSION", model_version);
    let config = Config::from_vars(&vars).expect("configuration");
    let state = AppState::build(config).await.expect("second instance");
    let request = axum::http::Request::post("/api/v2/esg/trips")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(trips).expect("json")))
        .expect("request");
    let response = greenos::router::router(state)
        .oneshot(request)
        .await
        .expect("served");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Creates the export of the 2026 Q1 window and answers its metadata.
pub async fn export_q1(app: &TestApp) -> Value {
    let (status, export) = app.create_export("3M", "2026-04-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    export
}

/// One value of a raw SQL query.
pub async fn query_i64(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("an integer")
}

fn trip_ids(payload: &Value) -> Vec<&str> {
    payload["impacts"]
        .as_array()
        .expect("impacts")
        .iter()
        .map(|i| i["trip_id"].as_str().expect("trip_id"))
        .collect()
}

async fn an_invalid_period_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for (period, end) in [
        ("3M", "2026-05-01T00:00:00Z"),
        ("3M", "2026-04-01T00:00:01Z"),
        ("6M", "2026-04-01T00:00:00Z"),
        ("12M", "2026-07-01T00:00:00Z"),
        ("1M", "2026-04-01T00:00:00Z"),
        ("3M", "April"),
    ] {
        let (status, body) = app.create_export(period, end).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{period} {end}");
        assert_eq!(
            body["error"]["code"], "GREENOS_MRV_INVALID_PERIOD",
            "{body}"
        );
    }
    let (_, body) = app.create_export("6M", "2026-04-01T00:00:00Z").await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("January 1 or July 1"), "{message}");
    assert_eq!(
        body["error"]["details"]["allowed_periods"],
        json!(["3M", "6M", "12M"])
    );
    let (status, _) = app
        .post_json("/api/v2/esg/mrv/export", &json!({"period": "3M"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        query_i64(&app, "SELECT COUNT(*) FROM esg_mrv_exports").await,
        0
    );
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
    assert_eq!(payload["schema_version"], "greenos.mrv.v1");
    assert_eq!(payload["period_start"], export["period_start"]);
    assert_eq!(payload["non_double_counting_proof"]["raw_impacts_count"], 3);
    assert_eq!(export["total_co2_avoided_kg"], "3.456000");
    // Each impact is exactly what the impact route answers.
    for impact in payload["impacts"].as_array().expect("impacts") {
        let trip_id = impact["trip_id"].as_str().expect("trip_id");
        let (_, stored) = app.get_json(&format!("/api/v2/esg/impact/{trip_id}")).await;
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
    let text = app.get_text("/metrics").await.1;
    assert!(text.contains("greenos_mrv_exports_total 1"), "{text}");
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

async fn a_window_is_exported_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, &[trip("w-1", "CI", "2026-02-01T00:00:00Z", 5.0)]).await;
    let first = export_q1(&app).await;
    let (status, body) = app.create_export("3M", "2026-04-01").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_MRV_EXPORT_CONFLICT");
    assert_eq!(body["error"]["details"]["export_id"], first["export_id"]);
    // Two simultaneous requests for another window: exactly one wins.
    let (a, b) = tokio::join!(
        app.create_export("6M", "2026-07-01T00:00:00Z"),
        app.create_export("6M", "2026-07-01T00:00:00Z"),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let loser = if a.0 == StatusCode::CONFLICT {
        a.1
    } else {
        b.1
    };
    assert_eq!(loser["error"]["code"], "GREENOS_MRV_EXPORT_CONFLICT");
    assert_eq!(
        query_i64(&app, "SELECT COUNT(*) FROM esg_mrv_exports").await,
        2
    );
    let orphans = query_i64(
        &app,
        "SELECT COUNT(*) FROM esg_mrv_export_chunks c WHERE NOT EXISTS \
         (SELECT 1 FROM esg_mrv_exports e WHERE e.export_id = c.export_id)",
    )
    .await;
    assert_eq!(orphans, 0);
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

async fn the_list_is_paginated_newest_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut created = Vec::new();
    for end in ["2026-04-01", "2026-07-01", "2026-10-01"] {
        let (status, export) = app.create_export("3M", end).await;
        assert_eq!(status, StatusCode::CREATED, "{export}");
        created.push(export["export_id"].clone());
    }
    let (status, page) = app.get_json("/api/v2/esg/mrv/export?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let exports = page["exports"].as_array().expect("exports");
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0]["export_id"], created[2]);
    assert_eq!(exports[1]["export_id"], created[1]);
    assert!(exports.iter().all(|e| e.get("payload").is_none()));
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, last) = app
        .get_json(&format!("/api/v2/esg/mrv/export?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(last["exports"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["exports"][0]["export_id"], created[0]);
    assert_eq!(last["next_cursor"], Value::Null);
    for bad in ["limit=0", "limit=501", "cursor=not-a-cursor"] {
        let (status, body) = app.get_json(&format!("/api/v2/esg/mrv/export?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "GREENOS_VALIDATION_FAILED");
    }
}

async fn the_csv_has_a_header_and_one_row_per_impact(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(
        &app,
        &[
            trip("c-2", "KE", "2026-03-01T00:00:00Z", 2.0),
            trip("c-1", "CI", "2026-02-01T00:00:00Z", 1.0),
        ],
    )
    .await;
    let export = export_q1(&app).await;
    let id = export["export_id"].as_str().expect("id");
    let response = app
        .client
        .get(app.url(&format!("/api/v2/esg/mrv/export/{id}/impacts.csv")))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let text = response.text().await.expect("body");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("trip_id,user_id,vehicle_id,country_code,"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("event_hash,checksum,signature"));
    let payload = app.export_artifact(id).await["payload"].clone();
    let event_hash = payload["impacts"][0]["event_hash"].as_str().expect("hash");
    assert!(lines[1].starts_with("c-1,u-42,ev-7,CI,s0t5q,2026-02-01T00:00:00.000000Z,1.000000,"));
    assert!(lines[1].contains(event_hash));
    assert!(lines[2].starts_with("c-2,"));
}

async fn an_export_needs_a_complete_active_methodology(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The lifecycle columns may change; nothing is ACTIVE any more.
    app.db
        .execute_unprepared("UPDATE esg_mrv_methodology SET status = 'DEPRECATED'")
        .await
        .expect("deprecate");
    let (status, body) = app.create_export("3M", "2026-04-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_INVALID");
    // ACTIVE again, but its content emptied behind the registry's back.
    let drop = match backend {
        Backend::Sqlite => "DROP TRIGGER IF EXISTS esg_mrv_methodology_frozen",
        Backend::Postgres => {
            "DROP TRIGGER IF EXISTS esg_mrv_methodology_guard ON esg_mrv_methodology"
        }
    };
    app.db.execute_unprepared(drop).await.expect("drop trigger");
    app.db
        .execute_unprepared(
            "UPDATE esg_mrv_methodology SET status = 'ACTIVE', baseline_reference = ''",
        )
        .await
        .expect("empty the baseline");
    let (status, body) = app.create_export("3M", "2026-04-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_INVALID");
    assert_eq!(
        query_i64(&app, "SELECT COUNT(*) FROM esg_mrv_exports").await,
        0
    );
}

async fn the_cli_creates_an_export(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, &[trip("cli-1", "CI", "2026-02-01T00:00:00Z", 4.0)]).await;
    let database_url = app.database_url().to_owned();
    let data_dir = app.data_dir();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
            .args(["export", "--period", "3M", "--period-end", "2026-04-01"])
            .env_clear()
            .env("GREENOS_DATABASE_URL", database_url)
            .env("GREENOS_DATA_DIR", data_dir)
            .env("GREENOS_LOG", "error")
            .output()
    })
    .await
    .expect("joined")
    .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("impacts            1 "), "{stdout}");
    let (_, page) = app.get_json("/api/v2/esg/mrv/export").await;
    let id = page["exports"][0]["export_id"].as_str().expect("listed");
    assert!(stdout.contains(id), "{stdout}");
    let (status, verified) = app.verify_export(id).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    // The same window again: the code and message, and a failing exit status.
    let database_url = app.database_url().to_owned();
    let data_dir = app.data_dir();
    let again = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
            .args(["export", "--period", "3M", "--period-end", "2026-04-01"])
            .env_clear()
            .env("GREENOS_DATABASE_URL", database_url)
            .env("GREENOS_DATA_DIR", data_dir)
            .env("GREENOS_LOG", "error")
            .output()
    })
    .await
    .expect("joined")
    .expect("the binary runs");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("GREENOS_MRV_EXPORT_CONFLICT"));
}
