//! The methodology registry (SPEC §7): bootstrap, lifecycle, validation, audit, metrics.

use greenos::app::AppState;
use greenos::config::Config;
use greenos_core::proof::hash_canonical;
use greenos_entity::esg_audit_metadata;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};
use serde_json::{Map, Value, json};

use crate::credentials::{TOKEN_ADMIN, TOKEN_READ, secure};
use crate::helpers::metrics::Exposition;
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

mod validation;

on_both_backends!(
    bootstrap_creates_one_active_version_once,
    activation_deprecates_the_previous_version_atomically,
    a_second_active_version_is_refused,
    concurrent_activations_leave_exactly_one_active,
    metrics_report_the_active_version,
);

const BASE: &str = "/api/v2/esg/mrv/methodology";
const BOOTSTRAP_VERSION: &str = "greenos-mrv-2026.1";

fn draft(version: &str) -> Value {
    json!({
        "methodology_version": version,
        "baseline_reference": "distance_km * thermal_factor_local baseline (2027 review)",
        "factor_references": ["IPCC 2006 Vol. 2 Ch. 3", "National grid factors 2026"],
        "geographic_scope": ["SN", "CI"],
        "country_factors": {
            "CI": {"thermal_factor_local": "0.2", "ev_factor_local": "0.05"},
            "SN": {"thermal_factor_local": "0.190000", "ev_factor_local": "0"}
        },
        "formula": "co2_avoided_kg = distance_km * thermal_factor_local - distance_km * ev_factor_local",
        "rounding": "half_even_6dp"
    })
}

/// The hash an auditor re-computes from a response body, with the generic canonical form.
fn recomputed_hash(body: &Value) -> String {
    let hashed: Map<String, Value> = [
        "methodology_version",
        "baseline_reference",
        "factor_references",
        "geographic_scope",
        "country_factors",
        "formula",
        "rounding",
    ]
    .into_iter()
    .map(|k| (k.to_owned(), body[k].clone()))
    .collect();
    hash_canonical(&Value::Object(hashed))
        .expect("canonical")
        .to_string()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("count")
        .expect("one row")
        .try_get::<i64>("", "n")
        .expect("n")
}

async fn active_count(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT COUNT(*) AS n FROM esg_mrv_methodology WHERE status = 'ACTIVE'",
    )
    .await
}

/// `(event_type, details)` of the audit rows about `version`, oldest first.
async fn audit_events(app: &TestApp, version: &str) -> Vec<(String, Value)> {
    esg_audit_metadata::Entity::find()
        .filter(esg_audit_metadata::Column::SubjectId.eq(version))
        .order_by_asc(esg_audit_metadata::Column::AuditSeq)
        .all(&app.db)
        .await
        .expect("audit rows")
        .into_iter()
        .map(|row| {
            let details = serde_json::from_str(&row.details).expect("details are JSON");
            (row.event_type, details)
        })
        .collect()
}

async fn create(app: &TestApp, version: &str) {
    let (status, body) = app.post_json(BASE, &draft(version)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn activate(app: &TestApp, version: &str) -> (StatusCode, Value) {
    app.post_json(&format!("{BASE}/{version}/activate"), &json!({}))
        .await
}

async fn bootstrap_creates_one_active_version_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, current) = app.get_json(&format!("{BASE}/current")).await;
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["methodology_version"], BOOTSTRAP_VERSION);
    assert_eq!(current["status"], "ACTIVE");
    assert_eq!(current["geographic_scope"], json!(["CI", "KE", "SN"]));
    assert_eq!(
        current["country_factors"],
        json!({
            "CI": {"ev_factor_local": "0.048000", "thermal_factor_local": "0.192000"},
            "KE": {"ev_factor_local": "0.012000", "thermal_factor_local": "0.192000"},
            "SN": {"ev_factor_local": "0.075000", "thermal_factor_local": "0.192000"}
        })
    );
    assert_eq!(current["methodology_hash"], recomputed_hash(&current));
    let created_at = current["created_at"].as_str().expect("created_at");
    assert!(
        created_at.len() == 27 && created_at.ends_with('Z'),
        "{created_at}"
    );
    assert_eq!(current["activated_at"], current["created_at"]);
    assert_eq!(current["deprecated_at"], Value::Null);
    let events = audit_events(&app, BOOTSTRAP_VERSION).await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["METHODOLOGY_CREATED", "METHODOLOGY_ACTIVATED"]);
    assert_eq!(events[0].1["methodology_hash"], current["methodology_hash"]);
    // A restart (or a second replica) on the same database finds the registry in use.
    let config = Config::from_vars(&app.vars).expect("configuration");
    AppState::build(config).await.expect("second start");
    let (_, list) = app.get_json(BASE).await;
    assert_eq!(list["methodologies"].as_array().map(Vec::len), Some(1));
    assert_eq!(audit_events(&app, BOOTSTRAP_VERSION).await.len(), 2);
}

async fn activation_deprecates_the_previous_version_atomically(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, created) = app.post_json(BASE, &draft("mrv-2027.1")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "DRAFT");
    assert_eq!(created["activated_at"], Value::Null);
    assert_eq!(created["geographic_scope"], json!(["CI", "SN"]));
    assert_eq!(
        created["country_factors"]["CI"]["thermal_factor_local"],
        "0.200000"
    );
    assert_eq!(created["methodology_hash"], recomputed_hash(&created));
    let (_, current) = app.get_json(&format!("{BASE}/current")).await;
    assert_eq!(current["methodology_version"], BOOTSTRAP_VERSION);

    let (status, activated) = activate(&app, "mrv-2027.1").await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["status"], "ACTIVE");
    assert_eq!(activated["methodology_hash"], created["methodology_hash"]);
    let (_, old) = app.get_json(&format!("{BASE}/{BOOTSTRAP_VERSION}")).await;
    assert_eq!(old["status"], "DEPRECATED");
    assert!(old["deprecated_at"].is_string(), "{old}");
    assert_eq!(old["methodology_hash"], recomputed_hash(&old));
    assert_eq!(active_count(&app).await, 1);
    let (_, list) = app.get_json(BASE).await;
    let versions: Vec<&str> = list["methodologies"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["methodology_version"].as_str())
        .collect();
    assert_eq!(versions, ["mrv-2027.1", BOOTSTRAP_VERSION]);

    let events = audit_events(&app, "mrv-2027.1").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].0, "METHODOLOGY_CREATED");
    assert_eq!(events[1].0, "METHODOLOGY_ACTIVATED");
    assert_eq!(events[1].1["previous_active_version"], BOOTSTRAP_VERSION);
    assert_eq!(
        events[1].1["previous_methodology_hash"],
        old["methodology_hash"]
    );

    // Activating the ACTIVE version is a no-op; a deprecated one cannot come back.
    let (status, again) = activate(&app, "mrv-2027.1").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(audit_events(&app, "mrv-2027.1").await.len(), 2);
    let (status, body) = activate(&app, BOOTSTRAP_VERSION).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_ACTIVE_CONFLICT");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot be re-activated"), "{message}");
    let (status, body) = app.post_json(BASE, &draft("mrv-2027.1")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_VERSION_EXISTS");
}

async fn a_second_active_version_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut body = draft("mrv-2027.2");
    body["activate"] = json!(true);
    let (status, answer) = app.post_json(BASE, &body).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer["error"]["code"],
        "GREENOS_METHODOLOGY_ACTIVE_CONFLICT"
    );
    assert_eq!(
        answer["error"]["details"]["active_version"],
        BOOTSTRAP_VERSION
    );
    let (status, _) = app.get_json(&format!("{BASE}/mrv-2027.2")).await;
    assert_eq!(status, 404, "nothing was written");
    assert!(audit_events(&app, "mrv-2027.2").await.is_empty());
    assert_eq!(active_count(&app).await, 1);
}

async fn concurrent_activations_leave_exactly_one_active(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut successes = 0;
    for round in 0..3 {
        let (a, b) = (format!("race-{round}-a"), format!("race-{round}-b"));
        create(&app, &a).await;
        create(&app, &b).await;
        let ((status_a, body_a), (status_b, body_b)) =
            tokio::join!(activate(&app, &a), activate(&app, &b));
        for (status, body) in [(status_a, &body_a), (status_b, &body_b)] {
            match status.as_u16() {
                200 => successes += 1,
                409 => assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_ACTIVE_CONFLICT"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(active_count(&app).await, 1, "round {round}");
        let (_, current) = app.get_json(&format!("{BASE}/current")).await;
        let winner = current["methodology_version"].as_str().unwrap_or_default();
        assert!(winner == a || winner == b, "{current}");
    }
    assert!(successes >= 3, "at least one activation per round commits");
    let activations = count(
        &app,
        "SELECT COUNT(*) AS n FROM esg_audit_metadata WHERE event_type = 'METHODOLOGY_ACTIVATED'",
    )
    .await;
    assert_eq!(
        activations,
        1 + successes,
        "one audit row per committed activation"
    );
}

async fn metrics_report_the_active_version(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let active = "greenos_mrv_methodology_version_active";
    let gauge = |metrics: &Exposition, version: &str| {
        metrics.value(active, &[("methodology_version", version)])
    };
    let metrics = app.metrics().await;
    assert_eq!(metrics.type_of(active), Some("gauge"), "{metrics}");
    assert_eq!(gauge(&metrics, BOOTSTRAP_VERSION), Some(1.0), "{metrics}");
    create(&app, "mrv-2027.1").await;
    let (status, _) = activate(&app, "mrv-2027.1").await;
    assert_eq!(status, 200);
    let metrics = app.metrics().await;
    assert_eq!(gauge(&metrics, BOOTSTRAP_VERSION), Some(0.0), "{metrics}");
    assert_eq!(gauge(&metrics, "mrv-2027.1"), Some(1.0), "{metrics}");
}

/// Reads need `read`; creating and activating need `admin`.
#[tokio::test]
async fn changes_need_the_admin_scope() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, secure).await else {
        return;
    };
    let post = |token: &'static str, path: String, body: Value| {
        app.client
            .post(app.url(&path))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let read = app
        .client
        .get(app.url(&format!("{BASE}/current")))
        .bearer_auth(TOKEN_READ)
        .send()
        .await
        .expect("sent");
    assert_eq!(read.status(), 200);
    let denied = post(TOKEN_READ, BASE.to_owned(), draft("mrv-2027.1"))
        .await
        .expect("sent");
    assert_eq!(denied.status(), 403);
    let created = post(TOKEN_ADMIN, BASE.to_owned(), draft("mrv-2027.1"))
        .await
        .expect("sent");
    assert_eq!(created.status(), 201);
    let path = format!("{BASE}/mrv-2027.1/activate");
    let denied = post(TOKEN_READ, path.clone(), json!({}))
        .await
        .expect("sent");
    assert_eq!(denied.status(), 403);
    let anonymous = app.client.get(app.url(BASE)).send().await.expect("sent");
    assert_eq!(anonymous.status(), 401);
    let activated = post(TOKEN_ADMIN, path, json!({})).await.expect("sent");
    assert_eq!(activated.status(), 200);
}

/// The bootstrap takes its content from configuration.
#[tokio::test]
async fn bootstrap_follows_the_configuration() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |vars| {
        vars.set("GREENOS_MRV_METHODOLOGY_VERSION", "national-2026")
            .set("GREENOS_MRV_GEOGRAPHIC_SCOPE", "SN")
            .set(
                "GREENOS_MRV_FACTOR_REFERENCES",
                r#"["Ministry decree 2026-17"]"#,
            )
            .set(
                "GREENOS_COUNTRY_FACTORS_JSON",
                r#"{"SN":{"thermal_factor_local":"0.21","ev_factor_local":"0.07"}}"#,
            );
    })
    .await
    else {
        return;
    };
    let (status, current) = app.get_json(&format!("{BASE}/current")).await;
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["methodology_version"], "national-2026");
    assert_eq!(
        current["factor_references"],
        json!(["Ministry decree 2026-17"])
    );
    assert_eq!(
        current["country_factors"],
        json!({"SN": {"ev_factor_local": "0.070000", "thermal_factor_local": "0.210000"}})
    );
    assert_eq!(current["methodology_hash"], recomputed_hash(&current));
}
