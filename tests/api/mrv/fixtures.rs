//! What the MRV scenarios share: trips, ingestion (also under another model version), the
//! Q1 export, raw SQL reads and the shape of a refused verification.

use axum::body::Body;
use greenos::app::AppState;
use greenos::config::Config;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::TestApp;

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

/// A Q1 export of three trips, one per country: its id and its artifact.
pub async fn exported(app: &TestApp) -> (String, Value) {
    ingest(
        app,
        &[
            trip("v-1", "CI", "2026-01-05T10:00:00Z", 12.5),
            trip("v-2", "KE", "2026-02-05T10:00:00Z", 7.25),
            trip("v-3", "SN", "2026-03-05T10:00:00Z", 3.0),
        ],
    )
    .await;
    let export = export_q1(app).await;
    let id = export["export_id"].as_str().expect("id").to_owned();
    let artifact = app.export_artifact(&id).await;
    (id, artifact)
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

/// Asserts a failed verification's envelope: `code`, `verified:false` and `flag:false`.
pub fn assert_refused(body: &Value, code: &str, flag: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["details"]["verified"], false, "{body}");
    assert_eq!(body["error"]["details"][flag], false, "{body}");
}
