//! The correlation id rule (one rule, in core): a client's `x-request-id` of 1 to 128 characters
//! of `[A-Za-z0-9._:-]` is kept; anything else is replaced by a fresh id, so no client header can
//! make a write route fail. Every write route is tried with a long, an empty and a non-ASCII id.

use greenos_core::context::CorrelationId;
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    hostile_request_ids_are_replaced_on_every_write_route,
    a_valid_request_id_is_kept_and_recorded,
    database_failures_never_reach_the_client,
);

/// A 300-character id (the columns hold 128), an empty one and a non-ASCII one.
fn hostile_ids() -> Vec<HeaderValue> {
    vec![
        HeaderValue::from_str(&"r".repeat(300)).expect("long id"),
        HeaderValue::from_static(""),
        HeaderValue::from_bytes("requête-é".as_bytes()).expect("non-ASCII id"),
    ]
}

/// `POST path` with `body` and the given request id; answers the status, the echoed id and the
/// body.
async fn post_with_id(
    app: &TestApp,
    path: &str,
    body: &Value,
    id: &HeaderValue,
) -> (StatusCode, String, Value) {
    let response = app
        .client
        .post(app.url(path))
        .header("x-request-id", id.clone())
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let echoed = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, echoed, response.json().await.unwrap_or(Value::Null))
}

fn methodology(version: &str) -> Value {
    json!({
        "methodology_version": version,
        "baseline_reference": "thermal baseline",
        "factor_references": ["IPCC 2006 Vol. 2 Ch. 3"],
        "geographic_scope": ["CI"],
        "country_factors": {"CI": {"thermal_factor_local": "0.2", "ev_factor_local": "0.05"}},
        "formula": "co2_avoided_kg = distance_km * (thermal_factor_local - ev_factor_local)",
        "rounding": "half_even_6dp"
    })
}

/// The correlation ids recorded by `sql` (one text column named `c`).
async fn recorded(app: &TestApp, sql: &str) -> Vec<Option<String>> {
    app.db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
        .iter()
        .map(|row| {
            row.try_get::<Option<String>>("", "c")
                .expect("a text column")
        })
        .collect()
}

fn assert_replaced(echoed: &str, sent: &HeaderValue) {
    assert!(
        CorrelationId::parse(echoed).is_some(),
        "the echoed id {echoed:?} does not have the recorded form"
    );
    assert_ne!(echoed.as_bytes(), sent.as_bytes(), "a hostile id was kept");
}

async fn hostile_request_ids_are_replaced_on_every_write_route(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let export_ends = ["2026-04-01", "2026-07-01", "2026-10-01"];
    for (n, id) in hostile_ids().iter().enumerate() {
        let trip = trip_json(&format!("trip-corr-{n}"));
        let (status, echoed, body) = post_with_id(&app, "/api/v2/esg/trips", &trip, id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_replaced(&echoed, id);
        assert_eq!(body["correlation_id"], json!(echoed), "{body}");

        let export = json!({"period": "3M", "period_end": export_ends[n]});
        let (status, echoed, body) =
            post_with_id(&app, "/api/v2/esg/mrv/export", &export, id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_replaced(&echoed, id);

        let version = format!("corr-{n}");
        let path = "/api/v2/esg/mrv/methodology";
        let (status, echoed, body) = post_with_id(&app, path, &methodology(&version), id).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_replaced(&echoed, id);

        let path = format!("/api/v2/esg/mrv/methodology/{version}/activate");
        let (status, echoed, body) = post_with_id(&app, &path, &json!({}), id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_replaced(&echoed, id);
    }
    for sql in [
        "SELECT correlation_id AS c FROM esg_impact_ledger",
        "SELECT correlation_id AS c FROM esg_outbox_events",
        "SELECT correlation_id AS c FROM esg_mrv_exports",
        "SELECT correlation_id AS c FROM esg_audit_metadata WHERE correlation_id IS NOT NULL",
    ] {
        let ids = recorded(&app, sql).await;
        assert!(!ids.is_empty(), "{sql}: nothing recorded");
        for id in ids {
            let id = id.unwrap_or_else(|| panic!("{sql}: a write recorded no correlation id"));
            assert!(CorrelationId::parse(&id).is_some(), "{sql}: {id:?}");
        }
    }
}

async fn a_valid_request_id_is_kept_and_recorded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let id = HeaderValue::from_static("dashboard-42:req.7_a");
    let (status, echoed, body) =
        post_with_id(&app, "/api/v2/esg/trips", &trip_json("trip-kept"), &id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(echoed, "dashboard-42:req.7_a");
    let ids = recorded(
        &app,
        "SELECT correlation_id AS c FROM esg_outbox_events WHERE aggregate_id = 'trip-kept'",
    )
    .await;
    assert_eq!(ids, [Some("dashboard-42:req.7_a".to_owned())]);
}

/// A real database failure (the ledger table dropped behind the service's back) is answered
/// `500 GREENOS_INTERNAL` with a generic sentence: the database's own text never reaches a
/// client.
async fn database_failures_never_reach_the_client(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, _) = app
        .post_json("/api/v2/esg/trips", &trip_json("trip-lost"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let drop = match backend {
        Backend::Postgres => "DROP TABLE esg_impact_ledger CASCADE",
        Backend::Sqlite => "DROP TABLE esg_impact_ledger",
    };
    app.db
        .execute_unprepared(drop)
        .await
        .expect("drop the ledger");
    for path in [
        "/api/v2/esg/impact/trip-lost",
        "/api/v2/esg/verify/trip-lost",
    ] {
        let (status, text) = app.get_text(path).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {text}");
        let body: Value = serde_json::from_str(&text).expect("a JSON envelope");
        assert_eq!(body["error"]["code"], "GREENOS_INTERNAL", "{text}");
        assert_eq!(
            body["error"]["message"],
            greenos_core::error_code::INTERNAL_MESSAGE
        );
        for leak in ["esg_impact_ledger", "relation", "no such table", "SQL"] {
            assert!(!text.contains(leak), "{path} leaks {leak:?}: {text}");
        }
    }
    let (status, text) = app
        .post_raw(
            "/api/v2/esg/trips",
            "application/json",
            trip_json("trip-new").to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
    assert_eq!(text["error"]["code"], "GREENOS_INTERNAL");
    assert!(!text.to_string().contains("esg_impact_ledger"), "{text}");
}
