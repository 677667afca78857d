//! Verification as an auditor sees it (SPEC §9): every hash re-computed with public material
//! only, an artifact sent for verification without the stored copy, and old exports that stay
//! verifiable after their methodology is deprecated.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::fixtures::{assert_refused, exported};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_auditor_recomputes_every_hash_with_public_material_only,
    a_posted_artifact_is_verified_without_the_stored_copy,
    a_deprecated_methodology_keeps_old_exports_verifiable,
);

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Canonical JSON as an auditor writes it: serde_json's default map is sorted, its output
/// compact, non-ASCII unescaped (the same bytes as Python's `json.dumps(sort_keys=True, ...)`).
fn canonical(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("json")
}

async fn an_auditor_recomputes_every_hash_with_public_material_only(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, artifact) = exported(&app).await;
    // 1. The payload's canonical hash.
    let payload = &artifact["payload"];
    let hash = artifact["verification_hash"].as_str().expect("hash");
    assert_eq!(sha256_hex(&canonical(payload)), hash);
    // 2. The proof's hash, over the proof without proof_hash.
    let mut proof = payload["non_double_counting_proof"].clone();
    let proof_hash = proof
        .as_object_mut()
        .and_then(|p| p.remove("proof_hash"))
        .expect("proof_hash");
    assert_eq!(json!(sha256_hex(&canonical(&proof))), proof_hash);
    // 3. The methodology hash, from the registry's public record.
    let version = artifact["methodology_version"].as_str().expect("version");
    let (_, methodology) = app
        .get_json(&format!("/api/v2/esg/mrv/methodology/{version}"))
        .await;
    let hashed: Value = [
        "methodology_version",
        "baseline_reference",
        "factor_references",
        "geographic_scope",
        "country_factors",
        "formula",
        "rounding",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), methodology[*k].clone()))
    .collect::<serde_json::Map<_, _>>()
    .into();
    let methodology_hash = sha256_hex(&canonical(&hashed));
    assert_eq!(artifact["methodology_hash"], methodology_hash);
    assert_eq!(payload["methodology"]["methodology_hash"], methodology_hash);
    // 4. The Ed25519 signature, with the published key only.
    let (_, key) = app.get_json("/api/v2/esg/public-key").await;
    let raw: [u8; 32] = BASE64
        .decode(key["public_key"].as_str().expect("key"))
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    assert_eq!(key["fingerprint_sha256"], sha256_hex(&raw));
    let signature: [u8; 64] = BASE64
        .decode(artifact["asym_signature"].as_str().expect("signature"))
        .expect("base64")
        .try_into()
        .expect("64 bytes");
    VerifyingKey::from_bytes(&raw)
        .expect("key")
        .verify_strict(hash.as_bytes(), &Signature::from_bytes(&signature))
        .expect("the signature verifies");
    // 5. The service agrees.
    let (status, verified) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    for flag in [
        "verified",
        "hash_valid",
        "signature_valid",
        "asym_signature_valid",
        "methodology_valid",
    ] {
        assert_eq!(verified[flag], true, "{flag}: {verified}");
    }
    assert_eq!(verified["verification_hash"], hash);
    assert_eq!(verified["export_id"], id.as_str());
}

async fn a_posted_artifact_is_verified_without_the_stored_copy(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |vars| {
        vars.set("GREENOS_VERIFY_MAX_BODY_BYTES", "65536");
    })
    .await
    else {
        return;
    };
    let (_, artifact) = exported(&app).await;
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &artifact).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true);
    assert_eq!(body["proof_valid"], true);
    // Pretty-printed by the auditor's tools: the same canonical payload.
    let pretty = serde_json::to_vec_pretty(&artifact).expect("json");
    let (status, _) = app
        .post_raw("/api/v2/esg/mrv/verify", "application/json", pretty)
        .await;
    assert_eq!(status, StatusCode::OK);
    // What the auditor holds differs from what was signed.
    let mut altered = artifact.clone();
    altered["payload"]["impacts"][0]["distance_km"] = json!("99.000000");
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &altered).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_PAYLOAD_TAMPERED", "hash_valid");
    assert_eq!(body["error"]["details"]["proof_valid"], false);
    // A proof whose counts were edited, even with its hash re-computed, no longer adds up.
    let mut padded = artifact.clone();
    let proof = &mut padded["payload"]["non_double_counting_proof"];
    proof["raw_impacts_count"] = json!(2);
    if let Some(fields) = proof.as_object_mut() {
        fields.remove("proof_hash");
    }
    let rehashed = sha256_hex(&canonical(proof));
    proof["proof_hash"] = json!(rehashed);
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &padded).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_refused(&body, "GREENOS_MRV_PAYLOAD_TAMPERED", "proof_valid");
    // A key twice is refused: parsers disagree on what it means.
    let text = serde_json::to_string(&artifact).expect("json");
    let doubled = text.replacen("\"user_id\":", "\"user_id\":\"u-0\",\"user_id\":", 1);
    let (status, body) = app
        .post_raw("/api/v2/esg/mrv/verify", "application/json", doubled)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Too large for the route: the offline command is named.
    let mut large = artifact.clone();
    large["padding"] = json!("x".repeat(70_000));
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &large).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_PAYLOAD_TOO_LARGE");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("greenos verify"), "{message}");
}

async fn a_deprecated_methodology_keeps_old_exports_verifiable(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, artifact) = exported(&app).await;
    let draft = json!({
        "methodology_version": "greenos-mrv-2027.1",
        "baseline_reference": "distance_km * thermal_factor_local baseline, 2027 revision",
        "factor_references": ["IPCC 2006 Vol. 2 Ch. 3"],
        "geographic_scope": ["CI", "KE", "SN"],
        "country_factors": {
            "CI": {"thermal_factor_local": "0.200000", "ev_factor_local": "0.040000"},
            "KE": {"thermal_factor_local": "0.200000", "ev_factor_local": "0.010000"},
            "SN": {"thermal_factor_local": "0.200000", "ev_factor_local": "0.070000"},
        },
        "formula": "co2_avoided_kg = distance_km * thermal_factor_local - distance_km * ev_factor_local",
        "rounding": "half_even_6dp",
    });
    let (status, body) = app.post_json("/api/v2/esg/mrv/methodology", &draft).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post_json(
            "/api/v2/esg/mrv/methodology/greenos-mrv-2027.1/activate",
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let old_version = artifact["methodology_version"].as_str().expect("version");
    let (_, old) = app
        .get_json(&format!("/api/v2/esg/mrv/methodology/{old_version}"))
        .await;
    assert_eq!(old["status"], "DEPRECATED");
    let (status, verified) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["methodology_version"], old_version);
    let (status, _) = app.post_json("/api/v2/esg/mrv/verify", &artifact).await;
    assert_eq!(status, StatusCode::OK);
    // A new export binds to the new ACTIVE version.
    let (status, export) = app.create_export("3M", "2026-07-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    assert_eq!(export["methodology_version"], "greenos-mrv-2027.1");
}
