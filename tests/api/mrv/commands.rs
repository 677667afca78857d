//! The commands an operator and an auditor run: `greenos export` against the database and
//! `greenos verify` with nothing but the artifact and the public key.

use reqwest::StatusCode;
use serde_json::json;

use std::process::Output;

use super::fixtures::{exported, ingest, trip};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_cli_creates_an_export,
    the_offline_command_verifies_with_the_public_key_alone,
    a_forged_impact_fails_even_re_hashed_and_re_signed,
    impacts_signed_before_a_key_rotation_verify_with_the_history,
    an_export_binds_to_the_log_and_verifiers_hold_it_to_that,
);

/// The fixed keys of the test credentials, authentication left off.
fn keys_only(vars: &mut greenos::config::Vars) {
    for (name, value) in crate::credentials::secret_pairs() {
        if name != "GREENOS_API_TOKENS_JSON" {
            vars.set(name, value);
        }
    }
}

/// Runs `greenos verify` with `args`, nothing else in its environment.
async fn verify_command(args: Vec<std::ffi::OsString>) -> (bool, String) {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
            .arg("verify")
            .args(args)
            .env_clear()
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("joined");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// Runs `greenos export --period 3M --period-end 2026-04-01` against the app's database, with
/// nothing else in its environment.
async fn export_q1_command(app: &TestApp) -> Output {
    let database_url = app.database_url().to_owned();
    let data_dir = app.data_dir();
    tokio::task::spawn_blocking(move || {
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
    .expect("the binary runs")
}

async fn the_cli_creates_an_export(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, &[trip("cli-1", "CI", "2026-02-01T00:00:00Z", 4.0)]).await;
    let output = export_q1_command(&app).await;
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
    let again = export_q1_command(&app).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("GREENOS_MRV_EXPORT_CONFLICT"));
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
    let run = |file: &std::path::Path, key: &std::ffi::OsStr| {
        verify_command(vec![file.into(), "--public-key".into(), key.into()])
    };
    let (ok, printed) = run(&good, public_key.as_ref()).await;
    assert!(ok, "{printed}");
    assert!(printed.contains("verified        YES"), "{printed}");
    assert!(printed.contains("payload hash    OK"), "{printed}");
    let (ok, printed) = run(&good, key_file.as_os_str()).await;
    assert!(ok, "{printed}");
    let (ok, printed) = run(&bad, public_key.as_ref()).await;
    assert!(!ok, "{printed}");
    assert!(printed.contains("payload hash    FAIL"), "{printed}");
    assert!(printed.contains("verified        NO"), "{printed}");
}

/// An operator who changes an impact, re-hashes the payload and re-signs it with its own key
/// passes the payload hash and the signature; the impact's own proofs still fail, offline.
async fn a_forged_impact_fails_even_re_hashed_and_re_signed(backend: Backend) {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use ed25519_dalek::{Signer as _, SigningKey};
    use sha2::{Digest, Sha256};

    let Some(app) = TestApp::spawn_with(backend, keys_only).await else {
        return;
    };
    let (_, artifact) = exported(&app).await;
    let (_, key) = app.get_json("/api/v2/esg/public-key").await;
    let seed: [u8; 32] = BASE64
        .decode(crate::credentials::ed25519_seed_v1())
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let signing = SigningKey::from_bytes(&seed);
    let dir = tempfile::tempdir().expect("temporary directory");
    // Each forgery keeps the totals and the proof consistent; only an impact's own proofs fail.
    let forgeries: [(&str, &str, &str); 2] = [
        (
            "event_hash",
            &"ab".repeat(32),
            "event_hash does not match its fields",
        ),
        ("geo_hash", "s0t5r", "event_hash does not match its fields"),
    ];
    for (field, value, expected) in forgeries {
        let mut forged = artifact.clone();
        forged["payload"]["impacts"][0][field] = json!(value);
        let canonical = greenos_core::proof::to_canonical(&forged["payload"]).expect("canonical");
        let hash = hex::encode(Sha256::digest(&canonical));
        forged["verification_hash"] = json!(hash);
        forged["asym_signature"] = json!(BASE64.encode(signing.sign(hash.as_bytes()).to_bytes()));
        let path = dir.path().join(format!("forged-{field}.json"));
        std::fs::write(&path, serde_json::to_vec(&forged).expect("json")).expect("write");
        let public_key = key["public_key"].as_str().expect("key");
        let (ok, stdout) =
            verify_command(vec![path.into(), "--public-key".into(), public_key.into()]).await;
        assert!(!ok, "{field}: {stdout}");
        assert!(stdout.contains("payload hash    OK"), "{field}: {stdout}");
        assert!(stdout.contains(expected), "{field}: {stdout}");
    }
}

/// A trip signed under key `v1`, another after the rotation to `v2`, exported under `v2`: the
/// active key alone cannot check the first impact, the published history can (given with
/// `--public-keys`, or carried, signed, by the evidence package).
async fn impacts_signed_before_a_key_rotation_verify_with_the_history(backend: Backend) {
    use tower::ServiceExt;

    let Some(app) = TestApp::spawn_with(backend, keys_only).await else {
        return;
    };
    ingest(&app, &[trip("rot-1", "CI", "2026-01-05T10:00:00Z", 5.0)]).await;
    let seed_v2 = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b"rotated to v2"))
    };
    let mut vars = app.vars.clone();
    vars.set("GREENOS_ED25519_ACTIVE_KEY_VERSION", "v2");
    vars.set(
        "GREENOS_ED25519_KEYS_JSON",
        json!({"v1": crate::credentials::ed25519_seed_v1(), "v2": seed_v2}).to_string(),
    );
    let config = greenos::config::Config::from_vars(&vars).expect("configuration");
    let rotated = greenos::app::AppState::build(config)
        .await
        .expect("the rotated instance");
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            ))
            .expect("request");
        let router = greenos::router::router(rotated.clone());
        async move {
            let response = router.oneshot(request).await.expect("served");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (status, bytes.to_vec())
        }
    };
    let trips = json!([trip("rot-2", "KE", "2026-02-05T10:00:00Z", 7.0)]);
    let (status, _) = call("POST", "/api/v2/esg/trips", Some(trips)).await;
    assert_eq!(status, StatusCode::CREATED);
    let period = json!({"period": "3M", "period_end": "2026-04-01T00:00:00Z"});
    let (status, export) = call("POST", "/api/v2/esg/mrv/export", Some(period)).await;
    assert_eq!(status, StatusCode::CREATED);
    let export: serde_json::Value = serde_json::from_slice(&export).expect("json");
    let base = format!(
        "/api/v2/esg/mrv/export/{}",
        export["export_id"].as_str().expect("id")
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut files = Vec::new();
    for (path, name) in [
        (base.clone(), "artifact.json"),
        (format!("{base}/evidence"), "evidence.zip"),
        ("/api/v2/esg/public-key".to_owned(), "key-v2.json"),
        ("/api/v2/esg/public-keys".to_owned(), "history.json"),
    ] {
        let (status, bytes) = call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).expect("written");
        files.push(file.into_os_string());
    }
    let [artifact, evidence, key, history] = <[_; 4]>::try_from(files).expect("four files");
    let (ok, printed) =
        verify_command(vec![artifact.clone(), "--public-key".into(), key.clone()]).await;
    assert!(!ok, "{printed}");
    assert!(printed.contains("impact ed25519  FAIL"), "{printed}");
    assert!(
        printed.contains("no key of version v1 was given"),
        "{printed}"
    );
    assert!(printed.contains("ed25519         OK"), "{printed}");
    let (ok, printed) = verify_command(vec![
        artifact,
        "--public-key".into(),
        key.clone(),
        "--public-keys".into(),
        history,
    ])
    .await;
    assert!(ok, "{printed}");
    assert!(
        printed.contains("2 signatures of event_hash checked, 0 failed (key versions v1, v2)"),
        "{printed}"
    );
    let (ok, printed) = verify_command(vec![evidence, "--public-key".into(), key]).await;
    assert!(ok, "{printed}");
    assert!(printed.contains("key history     OK"), "{printed}");
    assert!(printed.contains("verified        YES"), "{printed}");
}

/// `artifact` with its payload re-hashed and the hash re-signed with both of the operator's
/// keys, as a holder of those keys could do after changing the payload.
fn re_signed(mut artifact: serde_json::Value) -> serde_json::Value {
    use greenos_core::proof::{Ed25519Keyring, HmacKeyring, Signer, sha256_hex};

    let signer = Signer::new(
        HmacKeyring::from_json(
            "v1",
            &format!(r#"{{"v1":"{}"}}"#, crate::credentials::HMAC_SECRET_V1),
        )
        .expect("the HMAC ring"),
        Ed25519Keyring::from_json(
            "v1",
            &format!(r#"{{"v1":"{}"}}"#, crate::credentials::ed25519_seed_v1()),
        )
        .expect("the Ed25519 ring"),
    );
    let canonical = greenos_core::proof::to_canonical(&artifact["payload"]).expect("canonical");
    let hash = sha256_hex(&canonical);
    let signatures = signer.sign(&hash);
    artifact["verification_hash"] = json!(hash.as_str());
    artifact["signature"] = json!(signatures.signature);
    artifact["asym_signature"] = json!(signatures.asym_signature);
    artifact
}

/// A `greenos.mrv.v2` export verifies with its log checkpoint (REST and offline); a forged
/// checkpoint or a leaf beyond it fails even re-hashed and re-signed; the same export as a
/// `greenos.mrv.v1` payload (made before the log) still verifies, its log check skipped.
async fn an_export_binds_to_the_log_and_verifiers_hold_it_to_that(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, keys_only).await else {
        return;
    };
    let (_, artifact) = exported(&app).await;
    let (_, key) = app.get_json("/api/v2/esg/public-key").await;
    let public_key = key["public_key"].as_str().expect("key").to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let offline = |name: &str, artifact: &serde_json::Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec(artifact).expect("json")).expect("write");
        verify_command(vec![
            path.into(),
            "--public-key".into(),
            public_key.clone().into(),
        ])
    };
    assert_eq!(artifact["payload"]["schema_version"], "greenos.mrv.v2");
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &artifact).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["log_checkpoint_valid"], true, "{body}");
    let (ok, printed) = offline("v2.json", &artifact).await;
    assert!(ok, "{printed}");
    assert!(printed.contains("log checkpoint  OK"), "{printed}");

    let size = artifact["payload"]["log_checkpoint"]["tree_size"]
        .as_u64()
        .expect("a tree size");
    let mut grown = artifact.clone();
    grown["payload"]["log_checkpoint"]["tree_size"] = json!(size + 1);
    let grown = re_signed(grown);
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &grown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["code"], "GREENOS_MRV_INVALID_SIGNATURE",
        "{body}"
    );
    assert_eq!(
        body["error"]["details"]["log_checkpoint_valid"], false,
        "{body}"
    );
    let (ok, printed) = offline("grown.json", &grown).await;
    assert!(!ok && printed.contains("log checkpoint  FAIL"), "{printed}");

    let mut beyond = artifact.clone();
    beyond["payload"]["impacts"][0]["leaf_index"] = json!(size);
    let beyond = re_signed(beyond);
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &beyond).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["code"], "GREENOS_MRV_PAYLOAD_TAMPERED",
        "{body}"
    );
    let (ok, printed) = offline("beyond.json", &beyond).await;
    assert!(
        !ok && printed.contains("not below the checkpoint's tree_size"),
        "{printed}"
    );

    let mut v1 = artifact.clone();
    let payload = v1["payload"].as_object_mut().expect("a payload");
    payload.remove("log_checkpoint");
    payload.insert("schema_version".to_owned(), json!("greenos.mrv.v1"));
    for impact in payload["impacts"].as_array_mut().expect("impacts") {
        impact
            .as_object_mut()
            .expect("an impact")
            .remove("leaf_index");
    }
    let v1 = re_signed(v1);
    let (status, body) = app.post_json("/api/v2/esg/mrv/verify", &v1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.get("log_checkpoint_valid"), None, "{body}");
    let (ok, printed) = offline("v1.json", &v1).await;
    assert!(ok, "{printed}");
    assert!(printed.contains("log checkpoint  SKIP"), "{printed}");
}
