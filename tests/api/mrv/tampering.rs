//! The auditor guide's scenarios A–E: the stored export, or the methodology it is bound to,
//! altered behind the service's back, and an export that does not exist.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::StatusCode;

use super::fixtures::{assert_refused, exported};
use crate::helpers::metrics::Exposition;
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    scenario_a_an_altered_chunk_is_tampering,
    scenario_b_a_replaced_hmac_signature_is_refused,
    scenario_c_a_replaced_ed25519_signature_is_refused,
    scenario_d_a_methodology_mismatch_is_refused,
    scenario_e_an_unknown_export_is_not_found,
);

const FAILURES: &str = "greenos_mrv_verification_failures_total";
const MRV: &[(&str, &str)] = &[("kind", "mrv")];
const TRIP: &[(&str, &str)] = &[("kind", "trip")];

/// The failures of one `kind` counted so far, whatever the check.
fn failures(metrics: &Exposition, kind: &[(&str, &str)]) -> f64 {
    metrics.sum(FAILURES, kind)
}

async fn scenario_a_an_altered_chunk_is_tampering(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    // The chunks are zstd frames: decompress, alter one amount, compress again.
    let (from, to) = ("\"12.500000\"", "\"12.600000\"");
    let mut altered = 0;
    for (index, stored) in app.stored_chunks(&id).await.iter().enumerate() {
        let piece = zstd::stream::decode_all(stored.as_slice()).expect("a zstd chunk");
        let text = String::from_utf8(piece).expect("payload JSON");
        if text.contains(from) {
            let forged = zstd::bulk::compress(text.replace(from, to).as_bytes(), 1).expect("zstd");
            let index = i32::try_from(index).expect("a chunk index");
            app.replace_chunk(&id, index, &forged).await;
            altered += 1;
        }
    }
    assert_eq!(altered, 1, "one chunk holds the amount");
    let before = app.metrics().await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_PAYLOAD_TAMPERED", "hash_valid");
    assert_eq!(body["error"]["details"]["signature_valid"], true);
    let after = app.metrics().await;
    assert_eq!(
        failures(&after, MRV),
        failures(&before, MRV) + 1.0,
        "{after}"
    );
    assert_eq!(
        failures(&after, TRIP),
        failures(&before, TRIP),
        "an export verification is not a trip verification: {after}"
    );
}

async fn scenario_b_a_replaced_hmac_signature_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    let forged = "ab".repeat(32);
    app.tamper(&format!(
        "UPDATE esg_mrv_exports SET signature = '{forged}' WHERE export_id = '{id}'"
    ))
    .await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_INVALID_SIGNATURE", "signature_valid");
    assert_eq!(body["error"]["details"]["hash_valid"], true);
    assert_eq!(body["error"]["details"]["asym_signature_valid"], true);
}

async fn scenario_c_a_replaced_ed25519_signature_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    let forged = BASE64.encode([7u8; 64]);
    app.tamper(&format!(
        "UPDATE esg_mrv_exports SET asym_signature = '{forged}' WHERE export_id = '{id}'"
    ))
    .await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(
        &body,
        "GREENOS_MRV_INVALID_SIGNATURE",
        "asym_signature_valid",
    );
    assert_eq!(body["error"]["details"]["signature_valid"], true);
}

async fn scenario_d_a_methodology_mismatch_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, artifact) = exported(&app).await;
    let before = app.metrics().await;
    // The export row's binding altered.
    let forged = "0".repeat(64);
    app.tamper(&format!(
        "UPDATE esg_mrv_exports SET methodology_hash = '{forged}' WHERE export_id = '{id}'"
    ))
    .await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_INVALID_SIGNATURE", "methodology_valid");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("methodology mismatch"), "{message}");
    assert_eq!(body["error"]["details"]["hash_valid"], true);
    // Restored, then the registry's content altered instead.
    let original = artifact["methodology_hash"].as_str().expect("hash");
    app.tamper(&format!(
        "UPDATE esg_mrv_exports SET methodology_hash = '{original}' WHERE export_id = '{id}'"
    ))
    .await;
    let (status, _) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::OK);
    let version = artifact["methodology_version"].as_str().expect("version");
    app.tamper(
        &format!(
            "UPDATE esg_mrv_methodology SET baseline_reference = 'a quietly different baseline' WHERE methodology_version = '{version}'"
        ),
    )
    .await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_INVALID_SIGNATURE", "methodology_valid");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("methodology mismatch")
    );
    let after = app.metrics().await;
    let mismatches = |metrics: &Exposition| {
        metrics
            .value("greenos_mrv_methodology_mismatch_total", &[])
            .expect("greenos_mrv_methodology_mismatch_total is exported")
    };
    assert_eq!(mismatches(&after), mismatches(&before) + 2.0, "{after}");
    assert_eq!(
        failures(&after, MRV),
        failures(&before, MRV) + 2.0,
        "each refused verification is one failure: {after}"
    );
    let methodology = &[("kind", "mrv"), ("check", "methodology")];
    assert_eq!(
        after.sum(FAILURES, methodology),
        before.sum(FAILURES, methodology) + 2.0,
        "{after}"
    );
}

async fn scenario_e_an_unknown_export_is_not_found(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let unknown = "00000000-0000-4000-8000-000000000000";
    for path in [
        format!("/api/v2/esg/mrv/export/{unknown}/verify"),
        format!("/api/v2/esg/mrv/export/{unknown}"),
        format!("/api/v2/esg/mrv/export/{unknown}/impacts.csv"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "GREENOS_MRV_EXPORT_NOT_FOUND");
        assert_eq!(body["error"]["details"]["export_id"], unknown);
    }
}
