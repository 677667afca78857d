//! The real binary: bad configuration stops start-up with a message naming the variable.

use std::process::Command;

fn greenos() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenos"));
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    cmd
}

#[test]
fn bad_values_stop_start_up_naming_the_variable() {
    for (var, value) in [
        ("GREENOS_BIND", "not-an-address"),
        ("GREENOS_ENV", "prodution"),
        ("GREENOS_DATABASE_URL", "mysql://root:hunter2@localhost/db"),
        ("GREENOS_DATABASE_MAX_CONNECTIONS", "many"),
        ("GREENOS_LOG_FORMAT", "xml"),
        ("GREENOS_MAX_BODY_BYTES", "12"),
        ("GREENOS_REDIS_URL", "http://localhost"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = greenos()
            .current_dir(dir.path())
            .env(var, value)
            .arg("serve")
            .output()
            .expect("run greenos");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{var}={value} must stop start-up");
        assert!(stderr.contains(var), "{var}: stderr names it: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "a database password is never echoed: {stderr}"
        );
    }
}

#[test]
fn migrate_command_applies_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    for _ in 0..2 {
        let output = greenos()
            .env("GREENOS_DATABASE_URL", &url)
            .arg("migrate")
            .output()
            .expect("run greenos migrate");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied (sqlite)"));
    }
}

#[test]
fn keygen_prints_a_usable_key_and_its_fingerprint() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use sha2::{Digest, Sha256};

    let output = greenos()
        .args(["keygen", "--key-version", "v7", "--hmac", "--json"])
        .output()
        .expect("run greenos keygen");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(out["key_version"], "v7");
    let seed: [u8; 32] = BASE64
        .decode(out["ed25519_seed"].as_str().expect("seed"))
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let public = &out["public_key"];
    assert_eq!(public["public_key"], BASE64.encode(derived.as_bytes()));
    assert_eq!(
        public["fingerprint_sha256"],
        hex::encode(Sha256::digest(derived.as_bytes()))
    );
    assert_eq!(public["key_version"], "v7");
    let keys_json = format!(
        r#"{{"v7":"{}"}}"#,
        out["ed25519_seed"].as_str().expect("seed")
    );
    greenos_core::proof::Ed25519Keyring::from_json("v7", &keys_json).expect("pastes into a ring");
    let hmac = out["hmac_secret"].as_str().expect("hmac secret");
    assert_eq!(hmac.len(), 64);
    assert!(!greenos_core::secrets::is_placeholder(hmac.as_bytes()));
}
