//! The evidence package (SPEC §12): the archive of a real export holds every file, its manifest
//! and the manifest's signature agree, the artifact inside is the served one, two downloads are
//! byte-identical, `greenos evidence` writes the same bytes, and both the `verify.py` it carries
//! (with `cryptography` and with the standard library alone) and `greenos verify` pass on it.
//! The CSV neutralises cells a spreadsheet would run as formulas.

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::fixtures::{exported, ingest, trip};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_archive_holds_every_file_signed_and_is_deterministic,
    verify_py_passes_on_a_real_archive,
    csv_cells_that_would_run_as_formulas_are_neutralised,
);

const ENTRIES: [&str; 12] = [
    "artifact.json",
    "verification.json",
    "public_key.json",
    "public_keys.json",
    "methodology.json",
    "README.md",
    "verify.py",
    "log_key.json",
    "log_checkpoint.txt",
    "log_proofs.json",
    "SHA256SUMS",
    "SHA256SUMS.sig",
];

async fn download(app: &TestApp, export_id: &str) -> Vec<u8> {
    let response = app
        .client
        .get(app.url(&format!("/api/v2/esg/mrv/export/{export_id}/evidence")))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/zip")
    );
    response.bytes().await.expect("the archive").to_vec()
}

/// Every entry of the archive, in archive order.
fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("a ZIP archive");
    (0..zip.len())
        .map(|i| {
            let mut file = zip.by_index(i).expect("an entry");
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).expect("readable");
            (file.name().expect("a UTF-8 name").into_owned(), bytes)
        })
        .collect()
}

fn unpack(archive: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    for (name, bytes) in entries(archive) {
        std::fs::write(dir.path().join(name), bytes).expect("written");
    }
    dir
}

async fn the_archive_holds_every_file_signed_and_is_deterministic(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    let archive = download(&app, &id).await;
    assert_eq!(
        download(&app, &id).await,
        archive,
        "two downloads, the same bytes"
    );
    let files = entries(&archive);
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ENTRIES);
    let file = |name: &str| -> &[u8] {
        &files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name}"))
            .1
    };

    let (status, served) = app.get_text(&format!("/api/v2/esg/mrv/export/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        file("artifact.json"),
        served.as_bytes(),
        "the artifact as served"
    );

    let manifest = std::str::from_utf8(file("SHA256SUMS")).expect("text");
    let listed: Vec<(&str, &str)> = manifest
        .lines()
        .map(|line| line.split_once("  ").expect("<sum>  <name>"))
        .collect();
    let mut expected: Vec<&str> = ENTRIES[..10].to_vec();
    expected.sort_unstable();
    assert_eq!(
        listed.iter().map(|(_, name)| *name).collect::<Vec<_>>(),
        expected
    );
    for (sum, name) in &listed {
        assert_eq!(*sum, hex::encode(Sha256::digest(file(name))), "{name}");
    }

    // The log's parts: the export's checkpoint, and proofs that its sampled impacts are in it.
    let artifact: Value = serde_json::from_slice(file("artifact.json")).expect("JSON");
    let log = &artifact["payload"]["log_checkpoint"];
    assert_eq!(
        file("log_checkpoint.txt"),
        log["note"].as_str().expect("a note").as_bytes()
    );
    let key: Value = serde_json::from_slice(file("log_key.json")).expect("JSON");
    let opened = greenos_core::log::open_checkpoint(
        log["note"].as_str().expect("a note"),
        key["verifier_key"].as_str().expect("a verifier key"),
    )
    .expect("the checkpoint opens with the log's key");
    let proofs: Value = serde_json::from_slice(file("log_proofs.json")).expect("JSON");
    let impacts = artifact["payload"]["impacts"].as_array().expect("impacts");
    let sampled = proofs["proofs"].as_array().expect("proofs");
    assert_eq!(
        sampled.len(),
        impacts.len(),
        "a small export is sampled whole"
    );
    for (proof, impact) in sampled.iter().zip(impacts) {
        assert_eq!(proof["trip_id"], impact["trip_id"]);
        let leaf = impact["leaf_index"].as_u64().expect("a leaf index");
        greenos_core::log::check_inclusion(
            &crate::log::hashes(&proof["proof"]),
            opened.size,
            opened.root,
            leaf,
            greenos_core::log::leaf_hash(impact["event_hash"].as_str().expect("event_hash")),
        )
        .expect("the sampled impact is in the checkpoint's tree");
    }

    let signed: Value = serde_json::from_slice(file("SHA256SUMS.sig")).expect("JSON");
    let message = hex::encode(Sha256::digest(manifest.as_bytes()));
    assert_eq!(signed["message"], message.as_str());
    assert_eq!(signed["algorithm"], "ED25519");
    let keys: Value = serde_json::from_slice(file("public_keys.json")).expect("JSON");
    let key = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["key_version"] == signed["key_version"])
        .expect("the signing key is in the history");
    let raw: [u8; 32] = BASE64
        .decode(key["public_key"].as_str().expect("base64"))
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let signature: [u8; 64] = BASE64
        .decode(signed["signature"].as_str().expect("base64"))
        .expect("base64")
        .try_into()
        .expect("64 bytes");
    VerifyingKey::from_bytes(&raw)
        .expect("a key")
        .verify(message.as_bytes(), &Signature::from_bytes(&signature))
        .expect("the manifest's signature verifies");

    let verification: Value = serde_json::from_slice(file("verification.json")).expect("JSON");
    assert_eq!(verification["verified"], true, "{verification}");
    assert_eq!(verification["export_id"], id.as_str());
    let readme = std::str::from_utf8(file("README.md")).expect("text");
    assert!(readme.contains(&id) && readme.contains("python3 verify.py"));

    let (status, body) = app
        .get_json("/api/v2/esg/mrv/export/00000000-0000-0000-0000-000000000000/evidence")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_MRV_EXPORT_NOT_FOUND");
}

fn run_verify_py(dir: &std::path::Path, pure: bool) -> std::process::Output {
    let mut command = std::process::Command::new("python3");
    command.arg("verify.py").current_dir(dir);
    if pure {
        command.env("GREENOS_VERIFY_PURE_PYTHON", "1");
    }
    command.output().expect("python3 runs")
}

async fn verify_py_passes_on_a_real_archive(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    let archive = download(&app, &id).await;
    // `greenos verify` reads the archive itself, trusting only the published key.
    let (_, key) = app.get_json("/api/v2/esg/public-key").await;
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let (zip_path, key_path) = (
        scratch.path().join("evidence.zip"),
        scratch.path().join("key.json"),
    );
    std::fs::write(&zip_path, &archive).expect("written");
    std::fs::write(&key_path, key.to_string()).expect("written");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
        .arg("verify")
        .arg(&zip_path)
        .arg("--public-key")
        .arg(&key_path)
        .env_clear()
        .output()
        .expect("the binary runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "greenos verify failed:\n{printed}");
    for line in [
        "manifest sig    OK",
        "manifest        OK",
        "impact ed25519  OK   3 signatures",
        "verified        YES",
    ] {
        assert!(printed.contains(line), "{line}:\n{printed}");
    }
    let dir = unpack(&archive);
    for pure in [false, true] {
        let output = run_verify_py(dir.path(), pure);
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "verify.py (pure Python: {pure}) failed:\n{printed}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(printed.contains("impacts"), "{printed}");
    }
    // One byte of the payload changed: the manifest and the payload hash fail, by name.
    let path = dir.path().join("artifact.json");
    let artifact = std::fs::read_to_string(&path).expect("artifact");
    std::fs::write(
        &path,
        artifact.replacen("\"12.500000\"", "\"12.600000\"", 1),
    )
    .expect("written");
    let output = run_verify_py(dir.path(), false);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("FAIL manifest"), "{printed}");
    assert!(printed.contains("FAIL payload_hash"), "{printed}");
}

async fn csv_cells_that_would_run_as_formulas_are_neutralised(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, &[trip("-formula", "CI", "2026-01-05T10:00:00Z", 1.5)]).await;
    let (status, export) = app.create_export("3M", "2026-04-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    let id = export["export_id"].as_str().expect("id");
    let (status, csv) = app
        .get_text(&format!("/api/v2/esg/mrv/export/{id}/impacts.csv"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let row = csv.lines().nth(1).expect("one row");
    assert!(row.starts_with("'-formula,"), "{row}");
    let artifact = app.export_artifact(id).await;
    assert_eq!(artifact["payload"]["impacts"][0]["trip_id"], "-formula");
}

/// `tests/evidence/test_verify.py`: `verify.py` against a richer real export (two methodology
/// versions, two models, de-duplicated trips), both Ed25519 paths, and every file of the
/// archive changed in turn, each failure named by its check. Runs this build's binary.
#[test]
fn verify_py_catches_each_tampered_file() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = match std::process::Command::new("python3")
        .arg(format!("{root}/tests/evidence/test_verify.py"))
        .env("GREENOS_BIN", env!("CARGO_BIN_EXE_greenos"))
        .current_dir(root)
        .output()
    {
        Ok(output) => output,
        Err(err) => return crate::helpers::unreachable_service("python3", &err),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "test_verify.py failed:\n{}\n{stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.contains("OK"), "{stderr}");
}
