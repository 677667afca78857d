//! Text that PostgreSQL cannot store (a NUL character) and ambiguous credentials are refused
//! with a 4xx and a code wherever they arrive, on both backends, and nothing is written.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::credentials::{TOKEN_READ, secure};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_nul_character_is_refused_wherever_it_arrives,
    two_authorization_headers_are_refused
);

async fn a_nul_character_is_refused_wherever_it_arrives(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for path in [
        "/api/v2/esg/mrv/export/%00",
        "/api/v2/esg/impact/x?model_version=%00",
        "/api/v2/esg/verify/x?model_version=a%00b",
        "/api/v2/esg/mrv/methodology/%00",
        "/api/v2/esg/no-such-route/%00",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "GREENOS_INVALID_REQUEST", "{path}");
    }
    let (status, body) = app
        .post_json("/api/v2/esg/mrv/methodology/a%00b/activate", &json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A cursor that decodes to an export id holding NUL names no page.
    let cursor = URL_SAFE_NO_PAD.encode(
        json!({"created_at": "2026-01-01T00:00:00.000000Z", "export_id": "a\u{0}b"}).to_string(),
    );
    let (status, body) = app
        .get_json(&format!("/api/v2/esg/mrv/export?cursor={cursor}"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "cursor", "{body}");

    let methodologies = app.count_rows("esg_mrv_methodology").await;
    let mut draft = json!({
        "methodology_version": "nul-2027",
        "baseline_reference": "thermal\u{0} baseline",
        "factor_references": ["IPCC"],
        "geographic_scope": ["CI"],
        "country_factors": {"CI": {"thermal_factor_local": "0.2", "ev_factor_local": "0.05"}},
        "formula": "f",
        "rounding": "half_even_6dp"
    });
    let (status, body) = app.post_json("/api/v2/esg/mrv/methodology", &draft).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_VALIDATION_FAILED");
    draft["baseline_reference"] = json!("thermal baseline");
    draft["factor_references"] = json!(["IPCC\u{0}"]);
    let (status, _) = app.post_json("/api/v2/esg/mrv/methodology", &draft).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count_rows("esg_mrv_methodology").await, methodologies);

    // The service layer refuses the same text from any door, without a query.
    let err = app
        .services
        .methodology()
        .get("a\u{0}b")
        .await
        .expect_err("no such version");
    assert_eq!(
        greenos_core::error_code::DomainError::code(&err).as_str(),
        "GREENOS_METHODOLOGY_NOT_FOUND"
    );

    let mut trip = crate::helpers::trip_json("trip-nul");
    trip["geo_hash"] = json!("s0t\u{0}");
    let (status, body) = app.post_json("/api/v2/esg/trips", &trip).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let artifact: Value = json!({"export_id": "\u{0}", "payload": {}});
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &artifact).await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(app.count_rows("esg_impact_ledger").await, 0);
}

async fn two_authorization_headers_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, secure).await else {
        return;
    };
    let response = app
        .client
        .get(app.url("/api/v2/esg/mrv/methodology/current"))
        .header("authorization", format!("Bearer {TOKEN_READ}"))
        .header("authorization", "Bearer not-a-token")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], "GREENOS_INVALID_REQUEST");
    let (status, _) = app.get_json("/api/v2/esg/mrv/methodology/current").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "one missing credential is still 401"
    );
}
