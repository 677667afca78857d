//! `GET /api/v2/esg/impact/{trip_id}` and `GET /api/v2/esg/verify/{trip_id}`: the stored impact,
//! its verification, tampering detected, and an auditor's offline check with the public key.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    an_impact_is_read_back_with_every_field,
    unknown_trips_are_not_found,
    a_fresh_impact_verifies,
    a_tampered_row_is_detected,
    a_replaced_signature_is_detected,
    an_auditor_recomputes_the_hash_and_checks_the_signature_offline,
);

const HASHED_FIELDS: [&str; 12] = [
    "trip_id",
    "user_id",
    "vehicle_id",
    "country_code",
    "geo_hash",
    "event_timestamp",
    "distance_km",
    "thermal_factor_local",
    "ev_factor_local",
    "co2_avoided_kg",
    "model_version",
    "methodology_version",
];

async fn ingest(app: &TestApp, trip_id: &str) -> Value {
    let (status, impact) = app
        .post_json("/api/v2/esg/trips", &trip_json(trip_id))
        .await;
    assert_eq!(status, 201, "{impact}");
    impact
}

async fn an_impact_is_read_back_with_every_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let created = ingest(&app, "trip-r").await;
    let (status, impact) = app.get_json("/api/v2/esg/impact/trip-r").await;
    assert_eq!(status, 200, "{impact}");
    let mut stored = impact.clone();
    let leaf_index = stored.as_object_mut().and_then(|o| o.remove("leaf_index"));
    assert_eq!(
        leaf_index,
        Some(Value::Null),
        "not in the transparency log yet"
    );
    assert_eq!(stored, created);
    for field in HASHED_FIELDS.iter().chain(&[
        "event_hash",
        "checksum",
        "signature",
        "signature_algorithm",
        "key_version",
        "asym_signature",
        "asym_algorithm",
        "asym_key_version",
        "correlation_id",
        "created_at",
    ]) {
        assert!(impact[field].is_string(), "{field} in {impact}");
    }
    assert!(impact["ledger_seq"].is_i64());
    let created_at = impact["created_at"].as_str().expect("created_at");
    assert_eq!(
        created_at.len(),
        "2026-02-03T08:15:00.000000Z".len(),
        "{created_at}"
    );
    let (status, same) = app
        .get_json("/api/v2/esg/impact/trip-r?model_version=co2-v1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(same, impact);
}

async fn unknown_trips_are_not_found(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, "trip-k").await;
    for path in [
        "/api/v2/esg/impact/nope",
        "/api/v2/esg/impact/trip-k?model_version=co2-v9",
        "/api/v2/esg/impact/bad%20id",
        "/api/v2/esg/verify/nope",
    ] {
        let (status, answer) = app.get_json(path).await;
        assert_eq!(status, 404, "{path} → {answer}");
        assert_eq!(
            answer["error"]["code"], "GREENOS_IMPACT_NOT_FOUND",
            "{path}"
        );
    }
}

async fn a_fresh_impact_verifies(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let impact = ingest(&app, "trip-v").await;
    let (status, verification) = app.get_json("/api/v2/esg/verify/trip-v").await;
    assert_eq!(status, 200, "{verification}");
    for flag in [
        "verified",
        "hash_valid",
        "checksum_valid",
        "signature_valid",
        "asym_signature_valid",
    ] {
        assert_eq!(verification[flag], true, "{flag}: {verification}");
    }
    assert_eq!(verification["trip_id"], "trip-v");
    assert_eq!(verification["model_version"], "co2-v1");
    assert_eq!(verification["event_hash"], impact["event_hash"]);
    assert_eq!(verification["key_version"], impact["key_version"]);
    assert_eq!(verification["asym_key_version"], impact["asym_key_version"]);
}

async fn a_tampered_row_is_detected(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, "trip-t").await;
    app.tamper(
        "UPDATE esg_impact_ledger SET distance_km_micro = 125000000 WHERE trip_id = 'trip-t'",
    )
    .await;
    let (status, answer) = app.get_json("/api/v2/esg/verify/trip-t").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_PAYLOAD_TAMPERED");
    let details = &answer["error"]["details"];
    assert_eq!(details["hash_valid"], false, "{answer}");
    assert_eq!(details["verified"], false);
    let metrics = app.metrics().await;
    let failures = "greenos_mrv_verification_failures_total";
    assert_eq!(metrics.type_of(failures), Some("counter"), "{metrics}");
    assert_eq!(
        metrics.value(failures, &[("kind", "trip"), ("check", "payload")]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metrics.sum(failures, &[("kind", "mrv")]),
        0.0,
        "a trip verification is not an export verification: {metrics}"
    );
}

async fn a_replaced_signature_is_detected(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, "trip-s").await;
    let other = ingest(&app, "trip-o").await;
    let forged = other["asym_signature"].as_str().expect("signature");
    app.tamper(&format!(
        "UPDATE esg_impact_ledger SET asym_signature = '{forged}' WHERE trip_id = 'trip-s'"
    ))
    .await;
    let (status, answer) = app.get_json("/api/v2/esg/verify/trip-s").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_INVALID_SIGNATURE");
    let details = &answer["error"]["details"];
    assert_eq!(details["hash_valid"], true, "{answer}");
    assert_eq!(details["signature_valid"], true);
    assert_eq!(details["asym_signature_valid"], false);

    app.tamper(&format!(
        "UPDATE esg_impact_ledger SET signature = '{}' WHERE trip_id = 'trip-o'",
        "0".repeat(64)
    ))
    .await;
    let (status, answer) = app.get_json("/api/v2/esg/verify/trip-o").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_INVALID_SIGNATURE");
    assert_eq!(answer["error"]["details"]["signature_valid"], false);
}

async fn an_auditor_recomputes_the_hash_and_checks_the_signature_offline(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, "trip-a").await;
    let (_, impact) = app.get_json("/api/v2/esg/impact/trip-a").await;
    // What an auditor does in any language: sorted keys, no whitespace, strings only.
    let fields: BTreeMap<&str, &str> = HASHED_FIELDS
        .iter()
        .map(|f| (*f, impact[f].as_str().expect("string field")))
        .collect();
    let canonical = serde_json::to_string(&fields).expect("json");
    let event_hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    assert_eq!(impact["event_hash"], event_hash.as_str());

    let (status, key) = app.get_json("/api/v2/esg/public-key").await;
    assert_eq!(status, 200);
    assert_eq!(key["key_version"], impact["asym_key_version"]);
    let raw_key: [u8; 32] = BASE64
        .decode(key["public_key"].as_str().expect("public_key"))
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let public_key = VerifyingKey::from_bytes(&raw_key).expect("a key");
    let signature = Signature::from_slice(
        &BASE64
            .decode(impact["asym_signature"].as_str().expect("asym_signature"))
            .expect("base64"),
    )
    .expect("64 bytes");
    public_key
        .verify_strict(event_hash.as_bytes(), &signature)
        .expect("the Ed25519 signature verifies with the public key alone");
}
