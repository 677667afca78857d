//! Each fault class of the five critical secrets, and a configuration that passes.

use base64::{Engine as _, engine::general_purpose::STANDARD};

use super::*;
use crate::{
    auth::token_sha256,
    secrets::{EnvSecretProvider, KmsSecretProvider},
};

const HMAC_KEY: &str = "4c9f1e7a2b8d3f60a5e1c7b9d2f48e6a";
const API_TOKEN: &str = "gos_4b1d9e7f2a6c3085d1e9f7a2b4c6d8e0";

fn seed_b64() -> String {
    let seed: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    STANDARD.encode(seed)
}

fn tokens_json(token_sha256: &str, scopes: &str) -> String {
    format!(r#"{{"ops":{{"token_sha256":"{token_sha256}","scopes":{scopes}}}}}"#)
}

fn good() -> Vec<(SecretName, String)> {
    vec![
        (
            SecretName::SigningKeysJson,
            format!(r#"{{"v1":"{HMAC_KEY}"}}"#),
        ),
        (SecretName::SigningActiveKeyVersion, "v1".to_owned()),
        (
            SecretName::Ed25519KeysJson,
            format!(r#"{{"v1":"{}"}}"#, seed_b64()),
        ),
        (SecretName::Ed25519ActiveKeyVersion, "v1".to_owned()),
        (
            SecretName::ApiTokensJson,
            tokens_json(&token_sha256(API_TOKEN), r#"["read","admin"]"#),
        ),
    ]
}

/// Judges the good configuration with `name` replaced by `value` (`None` removes it).
async fn judge_with(name: SecretName, value: Option<&str>) -> Vec<SecretFinding> {
    let values = good()
        .into_iter()
        .filter(|(n, _)| *n != name)
        .chain(value.map(|v| (name, v.to_owned())))
        .map(|(n, v)| (n, SecretString::from(v)))
        .collect();
    inspect(&EnvSecretProvider::new(values))
        .await
        .expect("env provider never fails")
}

/// Asserts `name` has `status` and `reason`, that the reason hides `secret`, and that
/// every other secret is OK.
fn assert_only(
    findings: &[SecretFinding],
    name: SecretName,
    status: SecretStatus,
    reason: &str,
    secret: &str,
) {
    for finding in findings {
        if finding.name == name {
            assert_eq!(finding.status, status, "{finding}");
            assert_eq!(finding.reason.as_deref(), Some(reason), "{finding}");
            assert!(
                !finding.to_string().contains(secret),
                "value leaked: {finding}"
            );
        } else {
            assert_eq!(finding.status, SecretStatus::Ok, "{finding}");
        }
    }
}

#[tokio::test]
async fn good_configuration_is_all_ok() {
    let values = good()
        .into_iter()
        .map(|(n, v)| (n, SecretString::from(v)))
        .collect();
    let findings = inspect(&EnvSecretProvider::new(values))
        .await
        .expect("env provider never fails");
    assert_eq!(findings.len(), 5);
    let names: Vec<SecretName> = findings.iter().map(|f| f.name).collect();
    assert_eq!(names, SecretName::ALL);
    assert!(
        findings
            .iter()
            .all(|f| f.status == SecretStatus::Ok && f.reason.is_none())
    );
    assert_eq!(enforce_production(&findings), Ok(()));
}

#[tokio::test]
async fn missing_secrets_are_missing() {
    let findings = inspect(&EnvSecretProvider::default())
        .await
        .expect("env provider never fails");
    let statuses: Vec<_> = findings
        .iter()
        .map(|f| (f.status, f.reason.as_deref()))
        .collect();
    assert_eq!(statuses, vec![(SecretStatus::Missing, Some("not set")); 5]);

    let empty = judge_with(SecretName::SigningKeysJson, Some("  ")).await;
    assert_eq!(empty[0].status, SecretStatus::Missing);
    assert_eq!(empty[0].reason.as_deref(), Some("is empty"));
    assert_eq!(
        empty[1].reason.as_deref(),
        Some("cannot be checked because GREENOS_SIGNING_KEYS_JSON is missing")
    );
}

#[tokio::test]
async fn malformed_json_is_invalid_without_quoting_the_input() {
    let broken = format!(r#"{{"v1":"{HMAC_KEY}""#);
    let findings = judge_with(SecretName::SigningKeysJson, Some(&broken)).await;
    assert_eq!(findings[0].status, SecretStatus::Invalid);
    assert!(
        findings[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("not valid JSON (line 1, column"))
    );
    assert!(!findings[0].to_string().contains(HMAC_KEY));
    assert_eq!(
        findings[1].reason.as_deref(),
        Some("cannot be checked because GREENOS_SIGNING_KEYS_JSON is invalid")
    );

    let list = judge_with(SecretName::Ed25519KeysJson, Some(r#"["k"]"#)).await;
    assert_eq!(
        list[2].reason.as_deref(),
        Some(r#"must be a JSON object of key versions, like {"v1":"..."}"#)
    );

    let findings = judge_with(SecretName::ApiTokensJson, Some("{ops")).await;
    assert_only(
        &findings,
        SecretName::ApiTokensJson,
        SecretStatus::Invalid,
        "not valid JSON (line 1, column 2)",
        "ops",
    );
}

#[tokio::test]
async fn short_hmac_secret_is_invalid() {
    let short = "k7Qz9xLm2Pw4";
    let findings = judge_with(
        SecretName::SigningKeysJson,
        Some(&format!(r#"{{"v1":"{short}"}}"#)),
    )
    .await;
    assert_only(
        &findings,
        SecretName::SigningKeysJson,
        SecretStatus::Invalid,
        "key v1 is 12 bytes, at least 32 are required",
        short,
    );
}

#[tokio::test]
async fn placeholders_and_all_same_bytes_are_invalid() {
    for secret in [
        "changemechangemechangemechangeme",
        "dev-secret-dev-secret-dev-secret",
        &"a".repeat(40),
    ] {
        let ring = format!(r#"{{"v1":"{HMAC_KEY}","v2":"{secret}"}}"#);
        let findings = judge_with(SecretName::SigningKeysJson, Some(&ring)).await;
        assert_only(
            &findings,
            SecretName::SigningKeysJson,
            SecretStatus::Invalid,
            "key v2 is a placeholder",
            secret,
        );
    }
    let zero_seed = STANDARD.encode([0u8; 32]);
    let ring = format!(r#"{{"v1":"{zero_seed}"}}"#);
    let findings = judge_with(SecretName::Ed25519KeysJson, Some(&ring)).await;
    assert_only(
        &findings,
        SecretName::Ed25519KeysJson,
        SecretStatus::Invalid,
        "key v1 is a placeholder",
        &zero_seed,
    );
}

#[tokio::test]
async fn bad_base64_and_wrong_seed_length_are_invalid() {
    let not_base64 = "Zm9v*YmFy!c2VlZA";
    let findings = judge_with(
        SecretName::Ed25519KeysJson,
        Some(&format!(r#"{{"v1":"{not_base64}"}}"#)),
    )
    .await;
    assert_only(
        &findings,
        SecretName::Ed25519KeysJson,
        SecretStatus::Invalid,
        "key v1 is not valid standard base64",
        not_base64,
    );

    let short_seed = STANDARD.encode([9u8, 4, 7, 1, 8, 2, 6, 3, 5, 0, 11, 13, 17, 19, 23, 29]);
    let findings = judge_with(
        SecretName::Ed25519KeysJson,
        Some(&format!(r#"{{"v1":"{short_seed}"}}"#)),
    )
    .await;
    assert_only(
        &findings,
        SecretName::Ed25519KeysJson,
        SecretStatus::Invalid,
        "key v1 decodes to 16 bytes, a 32-byte seed is required",
        &short_seed,
    );
}

#[tokio::test]
async fn non_string_keys_and_empty_rings_are_invalid() {
    let findings = judge_with(SecretName::SigningKeysJson, Some(r#"{"v1":424242424242}"#)).await;
    assert_only(
        &findings,
        SecretName::SigningKeysJson,
        SecretStatus::Invalid,
        "key v1 is not a string",
        "424242",
    );

    let findings = judge_with(SecretName::Ed25519KeysJson, Some("{}")).await;
    assert_eq!(findings[2].reason.as_deref(), Some("contains no key"));
    assert_eq!(
        findings[3].reason.as_deref(),
        Some("active version v1 is not in GREENOS_ED25519_KEYS_JSON")
    );
}

#[tokio::test]
async fn active_version_absent_from_its_ring_is_invalid() {
    let findings = judge_with(SecretName::Ed25519ActiveKeyVersion, Some("v2")).await;
    assert_only(
        &findings,
        SecretName::Ed25519ActiveKeyVersion,
        SecretStatus::Invalid,
        "active version v2 is not in GREENOS_ED25519_KEYS_JSON",
        HMAC_KEY,
    );

    let pasted_secret = HMAC_KEY;
    let findings = judge_with(SecretName::SigningActiveKeyVersion, Some(pasted_secret)).await;
    assert_only(
        &findings,
        SecretName::SigningActiveKeyVersion,
        SecretStatus::Invalid,
        "the active version is not in GREENOS_SIGNING_KEYS_JSON",
        pasted_secret,
    );

    let findings = judge_with(SecretName::SigningActiveKeyVersion, Some("v1 ")).await;
    assert_only(
        &findings,
        SecretName::SigningActiveKeyVersion,
        SecretStatus::Invalid,
        "has leading or trailing whitespace",
        HMAC_KEY,
    );
}

#[tokio::test]
async fn token_faults_are_invalid() {
    let digest = token_sha256(API_TOKEN);
    let unknown_scope = tokens_json(&digest, r#"["read","root"]"#);
    let findings = judge_with(SecretName::ApiTokensJson, Some(&unknown_scope)).await;
    assert_only(
        &findings,
        SecretName::ApiTokensJson,
        SecretStatus::Invalid,
        "token entry `ops`: unknown scope `root` (allowed: read, ingest, export, admin)",
        &digest,
    );

    let findings = judge_with(SecretName::ApiTokensJson, Some("{}")).await;
    assert_only(
        &findings,
        SecretName::ApiTokensJson,
        SecretStatus::Invalid,
        "contains no token",
        &digest,
    );

    for word in ["changeme", "Test", "SECRET"] {
        let weak = tokens_json(&token_sha256(word), r#"["admin"]"#);
        let findings = judge_with(SecretName::ApiTokensJson, Some(&weak)).await;
        assert_only(
            &findings,
            SecretName::ApiTokensJson,
            SecretStatus::Invalid,
            "token entry `ops` uses a placeholder token",
            &token_sha256(word),
        );
    }
}

#[tokio::test]
async fn production_refusal_names_every_failing_secret() {
    let findings = judge_with(SecretName::SigningKeysJson, Some(r#"{"v1":"changeme"}"#)).await;
    let findings: Vec<_> = findings
        .into_iter()
        .filter(|f| f.name != SecretName::ApiTokensJson)
        .chain([SecretFinding {
            name: SecretName::ApiTokensJson,
            status: SecretStatus::Missing,
            reason: Some("not set".to_owned()),
        }])
        .collect();
    let error = enforce_production(&findings).expect_err("production must refuse");
    assert_eq!(
        error.to_string(),
        "refusing to start with GREENOS_ENV=production: GREENOS_SIGNING_KEYS_JSON is INVALID (key v1 is a placeholder); GREENOS_API_TOKENS_JSON is MISSING (not set)"
    );
}

#[tokio::test]
async fn provider_failures_are_errors_not_findings() {
    let error = inspect(&KmsSecretProvider::default())
        .await
        .expect_err("kms is not configured");
    assert_eq!(error, SecretError::KmsNotConfigured);
}

#[test]
fn statuses_serialise_uppercase() {
    let json = serde_json::to_string(&[
        SecretStatus::Ok,
        SecretStatus::Missing,
        SecretStatus::Invalid,
    ])
    .expect("statuses serialise");
    assert_eq!(json, r#"["OK","MISSING","INVALID"]"#);
}
