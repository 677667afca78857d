use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::proof::canonical::to_canonical_vec;
use crate::proof::ed25519_ring::{PublicKeyPayload, generate_ed25519_seed, verify_ed25519};
use crate::proof::hash::sha256_hex;
use crate::proof::keys::{KeyVersion, KeyringError};

const SECRET_V1: &str = "greenos-test-hmac-secret-v1-0123456789abcdef";
const SECRET_V2: &str = "greenos-test-hmac-secret-v2-0123456789abcdef";
const SEED_V1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const SEED_V2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

fn signer(active: &str, versions: &[&str]) -> Signer {
    let pick = |v: &&str, secret: &str, seed: &str| {
        let value = if *v == "v1" { secret } else { seed };
        format!("\"{v}\":\"{value}\"")
    };
    let hmac_json: Vec<String> = versions
        .iter()
        .map(|v| pick(v, SECRET_V1, SECRET_V2))
        .collect();
    let ed_json: Vec<String> = versions.iter().map(|v| pick(v, SEED_V1, SEED_V2)).collect();
    let hmac = HmacKeyring::from_json(active, &format!("{{{}}}", hmac_json.join(",")));
    let ed25519 = Ed25519Keyring::from_json(active, &format!("{{{}}}", ed_json.join(",")));
    match (hmac, ed25519) {
        (Ok(hmac), Ok(ed25519)) => Signer::new(hmac, ed25519),
        other => panic!("test keyrings must build: {other:?}"),
    }
}

fn hash() -> Sha256Hex {
    sha256_hex(b"{\"trip_id\":\"trip-0001\"}")
}

#[test]
fn signs_with_active_versions_and_verifies() {
    let signer = signer("v1", &["v1"]);
    let sigs = signer.sign(&hash());
    assert_eq!(sigs.signature_algorithm, "HMAC-SHA256");
    assert_eq!(sigs.asym_algorithm, "ED25519");
    assert_eq!(
        (sigs.key_version.as_str(), sigs.asym_key_version.as_str()),
        ("v1", "v1")
    );
    assert_eq!(sigs.signature.len(), 64);
    let check = signer.verify(hash().as_str(), &sigs);
    assert!(check.all_valid(), "{check:?}");
    assert_eq!(
        (check.signature_reason, check.asym_signature_reason),
        (None, None)
    );
    let public = signer.ed25519().active_public_key();
    assert!(verify_ed25519(
        &public.public_key,
        hash().as_str(),
        &sigs.asym_signature
    ));
    assert!(!verify_ed25519(
        &public.public_key,
        sha256_hex(b"x").as_str(),
        &sigs.asym_signature
    ));
    assert!(!verify_ed25519(
        "not base64",
        hash().as_str(),
        &sigs.asym_signature
    ));
}

#[test]
fn rotation_keeps_old_artifacts_verifiable() {
    let old = signer("v1", &["v1"]).sign(&hash());
    let rotated = signer("v2", &["v1", "v2"]);
    let new = rotated.sign(&hash());
    assert_eq!(
        (new.key_version.as_str(), new.asym_key_version.as_str()),
        ("v2", "v2")
    );
    assert_ne!(new.signature, old.signature);
    assert!(rotated.verify(hash().as_str(), &old).all_valid());
    assert!(rotated.verify(hash().as_str(), &new).all_valid());
    // A mislabelled version still verifies with the key that really signed.
    let relabelled = Signatures {
        key_version: "v2".to_owned(),
        asym_key_version: "v2".to_owned(),
        ..old.clone()
    };
    assert!(rotated.verify(hash().as_str(), &relabelled).all_valid());
    let public_keys = rotated.ed25519().public_keys();
    let versions: Vec<&str> = public_keys.iter().map(|k| k.key_version.as_str()).collect();
    assert_eq!(versions, ["v1", "v2"]);
}

#[test]
fn an_unknown_key_version_fails_with_a_clear_reason() {
    let sigs = signer("v2", &["v2"]).sign(&hash());
    let relabelled = Signatures {
        key_version: "v9".to_owned(),
        asym_key_version: "v9".to_owned(),
        ..sigs
    };
    let check = signer("v1", &["v1"]).verify(hash().as_str(), &relabelled);
    assert!(!check.signature_valid && !check.asym_signature_valid);
    assert_eq!(
        check.signature_reason.as_deref(),
        Some("unknown key version v9")
    );
    assert_eq!(
        check.asym_signature_reason.as_deref(),
        Some("unknown key version v9")
    );
}

#[test]
fn wrong_algorithms_and_malformed_signatures_fail_with_reasons() {
    let signer = signer("v1", &["v1"]);
    let sigs = signer.sign(&hash());
    let renamed = Signatures {
        signature_algorithm: "HMAC-SHA1".to_owned(),
        asym_algorithm: "RSA".to_owned(),
        ..sigs.clone()
    };
    let check = signer.verify(hash().as_str(), &renamed);
    assert!(!check.signature_valid && !check.asym_signature_valid);
    assert!(
        check
            .signature_reason
            .unwrap_or_default()
            .contains("unsupported signature_algorithm")
    );
    assert!(
        check
            .asym_signature_reason
            .unwrap_or_default()
            .contains("unsupported asym_algorithm")
    );
    let upper = Signatures {
        signature: sigs.signature.to_uppercase(),
        asym_signature: "!!".to_owned(),
        ..sigs.clone()
    };
    let check = signer.verify(hash().as_str(), &upper);
    assert!(
        !check.signature_valid && !check.asym_signature_valid,
        "{check:?}"
    );
    let other_hash = signer.verify(sha256_hex(b"other").as_str(), &sigs);
    assert!(!other_hash.signature_valid && !other_hash.asym_signature_valid);
    assert!(
        other_hash
            .signature_reason
            .unwrap_or_default()
            .contains("matches neither key version v1")
    );
}

#[test]
fn keyring_errors_name_versions_never_secrets() {
    let short = HmacKeyring::from_json("v1", "{\"v1\":\"short-secret\"}");
    assert_eq!(
        short.map(|_| ()),
        Err(KeyringError::SecretTooShort {
            version: "v1".to_owned()
        })
    );
    let missing = HmacKeyring::from_json("v2", &format!("{{\"v1\":\"{SECRET_V1}\"}}"));
    assert_eq!(
        missing.map(|_| ()),
        Err(KeyringError::ActiveVersionMissing {
            version: "v2".to_owned()
        })
    );
    for (seed, reason) in [
        ("not*base64", "not standard base64"),
        ("AAEC", "not 32 bytes"),
    ] {
        let result = Ed25519Keyring::from_json("v1", &format!("{{\"v1\":\"{seed}\"}}"));
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("v1") && message.contains(reason),
            "{message}"
        );
        assert!(!message.contains(seed), "{message}");
    }
    let signer = signer("v1", &["v1"]);
    let debug = format!("{signer:?}");
    assert!(debug.contains("v1"), "{debug}");
    assert!(
        !debug.contains(SECRET_V1) && !debug.contains(SEED_V1),
        "{debug}"
    );
}

#[test]
fn from_seeds_matches_from_json() {
    let seed: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
    let Ok(version) = KeyVersion::parse("v1") else {
        panic!("valid version");
    };
    let from_seeds = Ed25519Keyring::from_seeds(version.clone(), BTreeMap::from([(version, seed)]));
    let from_json = Ed25519Keyring::from_json("v1", &format!("{{\"v1\":\"{SEED_V1}\"}}"));
    assert_eq!(
        from_seeds.map(|k| k.active_public_key()).ok(),
        from_json.map(|k| k.active_public_key()).ok()
    );
}

#[test]
fn fingerprints_recompute_from_the_base64_key() {
    let Ok(version) = KeyVersion::parse("k-2026") else {
        panic!("valid version");
    };
    let (_, payload) = generate_ed25519_seed(&version);
    assert!(payload.verify_fingerprint());
    assert_eq!(payload.key_version, "k-2026");
    assert_eq!(
        (
            payload.signature_algorithm.as_str(),
            payload.encoding.as_str()
        ),
        ("ED25519", "base64")
    );
    let tampered = PublicKeyPayload {
        fingerprint_sha256: sha256_hex(b"x").to_string(),
        ..payload.clone()
    };
    assert!(!tampered.verify_fingerprint());
    let json = serde_json::to_value(&payload).unwrap_or_default();
    let keys: Vec<&String> = json
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "encoding",
            "fingerprint_sha256",
            "key_version",
            "public_key",
            "signature_algorithm"
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_single_byte_change_breaks_hash_and_signatures(
        trip in "[a-z0-9-]{1,20}",
        distance in any::<i64>(),
        position in any::<prop::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let payload = serde_json::json!({"trip_id": trip, "distance_micro": distance % 1_000_000_000});
        let canonical = to_canonical_vec(&payload).unwrap_or_default();
        let signer = signer("v1", &["v1"]);
        let original = sha256_hex(&canonical);
        let sigs = signer.sign(&original);
        let mut altered = canonical.clone();
        let at = position.index(altered.len());
        altered[at] = altered[at].wrapping_add(delta);
        let altered_hash = sha256_hex(&altered);
        prop_assert_ne!(&altered_hash, &original);
        let check = signer.verify(altered_hash.as_str(), &sigs);
        prop_assert!(!check.signature_valid && !check.asym_signature_valid);
    }
}
