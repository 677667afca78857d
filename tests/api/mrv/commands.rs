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
);

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

/// An operator who changes an impact, re-hashes the payload and re-signs it with its own key
/// passes the payload hash and the signature; the impact's own proofs still fail, offline.
async fn a_forged_impact_fails_even_re_hashed_and_re_signed(backend: Backend) {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use ed25519_dalek::{Signer as _, SigningKey};
    use sha2::{Digest, Sha256};

    // The fixed keys of the test credentials, authentication left off.
    let keys_only = |vars: &mut greenos::config::Vars| {
        for (name, value) in crate::credentials::secret_pairs() {
            if name != "GREENOS_API_TOKENS_JSON" {
                vars.set(name, value);
            }
        }
    };
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
        let public_key = key["public_key"].as_str().expect("key").to_owned();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
                .arg("verify")
                .arg(path)
                .arg("--public-key")
                .arg(public_key)
                .env_clear()
                .output()
                .expect("the binary runs")
        })
        .await
        .expect("joined");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{field}: {stdout}");
        assert!(stdout.contains("payload hash    OK"), "{field}: {stdout}");
        assert!(stdout.contains(expected), "{field}: {stdout}");
    }
}
