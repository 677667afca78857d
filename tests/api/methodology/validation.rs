//! Invalid drafts and unknown versions: the right 4xx code, the field named, nothing written.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::{BASE, activate, draft};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    invalid_drafts_are_refused_and_nothing_is_written,
    unknown_versions_are_not_found,
);

const INVALID: &str = "GREENOS_METHODOLOGY_INVALID";
const SHAPE: &str = "GREENOS_VALIDATION_FAILED";
const THERMAL_CI: &str = "country_factors.CI.thermal_factor_local";

async fn invalid_drafts_are_refused_and_nothing_is_written(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let factor = "/country_factors/CI/thermal_factor_local";
    let cases: [(&str, Value, &str, &str); 13] = [
        (factor, json!("0"), INVALID, THERMAL_CI),
        (factor, json!("-0.1"), INVALID, THERMAL_CI),
        (factor, json!("0.1234567"), INVALID, THERMAL_CI),
        (factor, json!(0.2), SHAPE, THERMAL_CI),
        (
            "/country_factors/SN/ev_factor_local",
            json!("-0.000001"),
            INVALID,
            "country_factors.SN.ev_factor_local",
        ),
        (
            "/geographic_scope",
            json!(["CI", "SN", "NG"]),
            "GREENOS_COUNTRY_FACTOR_NOT_CONFIGURED",
            "",
        ),
        (
            "/baseline_reference",
            json!(""),
            INVALID,
            "baseline_reference",
        ),
        (
            "/factor_references",
            json!([]),
            INVALID,
            "factor_references",
        ),
        ("/formula", json!(" "), INVALID, "formula"),
        (
            "/methodology_version",
            json!("bad version"),
            INVALID,
            "methodology_version",
        ),
        ("/surprise", json!(1), SHAPE, "surprise"),
        ("/activate", json!("yes"), SHAPE, "activate"),
        (
            "/factor_references",
            json!("one"),
            SHAPE,
            "factor_references",
        ),
    ];
    for (pointer, value, code, field) in cases {
        let mut body = draft("mrv-bad");
        set_pointer(&mut body, pointer, value);
        let (status, answer) = app.post_json(BASE, &body).await;
        assert_eq!(status, 422, "{pointer}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{pointer}: {answer}");
        if !field.is_empty() {
            assert_eq!(
                answer["error"]["details"]["field"], field,
                "{pointer}: {answer}"
            );
        }
    }
    let mut missing = draft("mrv-bad");
    if let Some(fields) = missing.as_object_mut() {
        fields.remove("formula");
    }
    let (status, answer) = app.post_json(BASE, &missing).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "formula");
    let mut uncovered = draft("mrv-bad");
    set_pointer(
        &mut uncovered,
        "/geographic_scope",
        json!(["CI", "SN", "NG"]),
    );
    let (_, answer) = app.post_json(BASE, &uncovered).await;
    assert_eq!(answer["error"]["details"]["countries"], json!(["NG"]));
    for (content_type, raw, status, code) in [
        (
            "application/json",
            "{\"methodology_version\":",
            400,
            "GREENOS_INVALID_JSON",
        ),
        ("text/plain", "{}", 415, "GREENOS_UNSUPPORTED_MEDIA_TYPE"),
    ] {
        let (answer_status, answer) = app.post_raw(BASE, content_type, raw).await;
        assert_eq!(answer_status, status, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    assert_eq!(app.count_rows("esg_mrv_methodology").await, 1);
    assert_eq!(app.count_rows("esg_audit_metadata").await, 2);
}

fn set_pointer(body: &mut Value, pointer: &str, value: Value) {
    match body.pointer_mut(pointer) {
        Some(slot) => *slot = value,
        None => {
            let key = pointer.trim_start_matches('/');
            body[key] = value;
        }
    }
}

async fn unknown_versions_are_not_found(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app.get_json(&format!("{BASE}/no-such-version")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_NOT_FOUND");
    assert_eq!(
        body["error"]["details"]["methodology_version"],
        "no-such-version"
    );
    let (status, body) = activate(&app, "no-such-version").await;
    assert_eq!(
        (status.as_u16(), &body["error"]["code"]),
        (404, &json!("GREENOS_METHODOLOGY_NOT_FOUND"))
    );
    app.db
        .execute_unprepared("UPDATE esg_mrv_methodology SET status = 'DEPRECATED'")
        .await
        .expect("retire by hand");
    let (status, body) = app.get_json(&format!("{BASE}/current")).await;
    assert_eq!(
        (status.as_u16(), &body["error"]["code"]),
        (404, &json!("GREENOS_METHODOLOGY_NOT_FOUND"))
    );
}
