//! Verifying MRV exports (SPEC §9, auditor guide §5 and scenarios A–E): an auditor's own
//! re-computation with public material only, the stored export altered behind the service's
//! back, artifacts sent for verification, methodology deprecation, and `greenos verify`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp};
use crate::mrv_export::{export_q1, ingest, trip};
use crate::on_both_backends;

on_both_backends!(
    an_auditor_recomputes_every_hash_with_public_material_only,
    scenario_a_an_altered_chunk_is_tampering,
    scenario_b_a_replaced_hmac_signature_is_refused,
    scenario_c_a_replaced_ed25519_signature_is_refused,
    scenario_d_a_methodology_mismatch_is_refused,
    scenario_e_an_unknown_export_is_not_found,
    a_posted_artifact_is_verified_without_the_stored_copy,
    a_deprecated_methodology_keeps_old_exports_verifiable,
    the_offline_command_verifies_with_the_public_key_alone,
);

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Canonical JSON as an auditor writes it: serde_json's default map is sorted, its output
/// compact, non-ASCII unescaped (the same bytes as Python's `json.dumps(sort_keys=True, ...)`).
fn canonical(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("json")
}

/// A Q1 export of three trips (one duplicated across model versions is not needed here).
async fn exported(app: &TestApp) -> (String, Value) {
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

/// Drops the append-only triggers of the exports, their chunks and the methodology registry,
/// as someone with raw database access could.
async fn drop_triggers(app: &TestApp, backend: Backend) {
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "DROP TRIGGER IF EXISTS esg_mrv_exports_no_update",
            "DROP TRIGGER IF EXISTS esg_mrv_export_chunks_no_update",
            "DROP TRIGGER IF EXISTS esg_mrv_methodology_frozen",
        ],
        Backend::Postgres => &[
            "DROP TRIGGER IF EXISTS esg_mrv_exports_append_only ON esg_mrv_exports",
            "DROP TRIGGER IF EXISTS esg_mrv_export_chunks_append_only ON esg_mrv_export_chunks",
            "DROP TRIGGER IF EXISTS esg_mrv_methodology_guard ON esg_mrv_methodology",
        ],
    };
    for sql in statements {
        app.db.execute_unprepared(sql).await.expect("drop trigger");
    }
}

async fn alter(app: &TestApp, sql: &str) {
    let result = app.db.execute_unprepared(sql).await.expect("alter");
    assert!(result.rows_affected() >= 1, "{sql}");
}

/// Asserts a failed verification: status 400, `code`, `verified:false` and `flag:false`.
fn assert_refused(body: &Value, code: &str, flag: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["details"]["verified"], false, "{body}");
    assert_eq!(body["error"]["details"][flag], false, "{body}");
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let (_, text) = app.get_text("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
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

async fn scenario_a_an_altered_chunk_is_tampering(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    drop_triggers(&app, backend).await;
    let from = "\"12.500000\"";
    let to = "\"12.600000\"";
    let sql = match backend {
        Backend::Sqlite => format!(
            "UPDATE esg_mrv_export_chunks SET bytes = CAST(REPLACE(CAST(bytes AS TEXT), '{from}', '{to}') AS BLOB) WHERE export_id = '{id}'"
        ),
        Backend::Postgres => format!(
            "UPDATE esg_mrv_export_chunks SET bytes = convert_to(replace(convert_from(bytes, 'UTF8'), '{from}', '{to}'), 'UTF8') WHERE export_id = '{id}'"
        ),
    };
    alter(&app, &sql).await;
    let failures = metric(&app, "greenos_mrv_verification_failures_total").await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_PAYLOAD_TAMPERED", "hash_valid");
    assert_eq!(body["error"]["details"]["signature_valid"], true);
    assert_eq!(
        metric(&app, "greenos_mrv_verification_failures_total").await,
        failures + 1
    );
}

async fn scenario_b_a_replaced_hmac_signature_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    drop_triggers(&app, backend).await;
    let forged = "ab".repeat(32);
    alter(
        &app,
        &format!("UPDATE esg_mrv_exports SET signature = '{forged}' WHERE export_id = '{id}'"),
    )
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
    drop_triggers(&app, backend).await;
    let forged = BASE64.encode([7u8; 64]);
    alter(
        &app,
        &format!("UPDATE esg_mrv_exports SET asym_signature = '{forged}' WHERE export_id = '{id}'"),
    )
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
    drop_triggers(&app, backend).await;
    let mismatches = metric(&app, "greenos_mrv_methodology_mismatch_total").await;
    // The export row's binding altered.
    let forged = "0".repeat(64);
    alter(
        &app,
        &format!(
            "UPDATE esg_mrv_exports SET methodology_hash = '{forged}' WHERE export_id = '{id}'"
        ),
    )
    .await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_INVALID_SIGNATURE", "methodology_valid");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("methodology mismatch"), "{message}");
    assert_eq!(body["error"]["details"]["hash_valid"], true);
    // Restored, then the registry's content altered instead.
    let original = artifact["methodology_hash"].as_str().expect("hash");
    alter(
        &app,
        &format!(
            "UPDATE esg_mrv_exports SET methodology_hash = '{original}' WHERE export_id = '{id}'"
        ),
    )
    .await;
    let (status, _) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::OK);
    let version = artifact["methodology_version"].as_str().expect("version");
    alter(
        &app,
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
    assert_eq!(
        metric(&app, "greenos_mrv_methodology_mismatch_total").await,
        mismatches + 2
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

async fn the_offline_command_verifies_with_the_public_key_alone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, artifact) = exported(&app).await;
    let (_, key) = app.get_json("/api/v2/esg/public-key").await;
    let public_key = key["public_key"].as_str().expect("key").to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let good = dir.path().join("artifact.json");
    std::fs::write(&good, serde_json::to_vec_pretty(&artifact).expect("json")).expect("write");
    let mut altered = artifact.clone();
    altered["payload"]["impacts"][1]["co2_avoided_kg"] = json!("9.000000");
    let bad = dir.path().join("altered.json");
    std::fs::write(&bad, serde_json::to_vec(&altered).expect("json")).expect("write");
    let key_file = dir.path().join("public-key.json");
    std::fs::write(&key_file, serde_json::to_vec(&key).expect("json")).expect("write");
    let run = |file: std::path::PathBuf, key: String| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
                .arg("verify")
                .arg(file)
                .arg("--public-key")
                .arg(key)
                .env_clear()
                .output()
                .expect("the binary runs")
        })
    };
    let output = run(good.clone(), public_key.clone()).await.expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("verified        YES"), "{stdout}");
    assert!(stdout.contains("payload hash    OK"), "{stdout}");
    let output = run(good, key_file.display().to_string())
        .await
        .expect("joined");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let output = run(bad, public_key).await.expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("payload hash    FAIL"), "{stdout}");
    assert!(stdout.contains("verified        NO"), "{stdout}");
}
