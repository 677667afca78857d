use proptest::prelude::*;
use serde_json::json;

use super::*;

fn d(s: &str) -> Decimal6 {
    Decimal6::parse_exact(s).unwrap_or(Decimal6::ZERO)
}

fn sample_event() -> Option<EventHashInput> {
    Some(EventHashInput {
        trip_id: "trip-0001".to_owned(),
        user_id: "u-42".to_owned(),
        vehicle_id: "ev-7".to_owned(),
        country_code: "CI".to_owned(),
        geo_hash: "s0t5q".to_owned(),
        event_timestamp: UtcMicros::parse_rfc3339("2026-02-03T08:15:00Z").ok()?,
        distance_km: d("12.5"),
        thermal_factor_local: d("0.192"),
        ev_factor_local: d("0.048"),
        co2_avoided_kg: d("1.8"),
        model_version: "co2-v1".to_owned(),
        methodology_version: "méthode-2026\u{1F600}".to_owned(),
    })
}

#[test]
fn sha256_of_abc_is_the_fips_value() {
    assert_eq!(
        sha256_hex(b"abc").as_str(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn sha256_hex_accepts_only_64_lowercase_hex() {
    let good = "a".repeat(64);
    assert_eq!(
        Sha256Hex::parse(&good).map(|h| h.to_string()),
        Ok(good.clone())
    );
    for bad in [
        "A".repeat(64),
        "a".repeat(63),
        "a".repeat(65),
        "g".repeat(64),
        String::new(),
    ] {
        assert_eq!(Sha256Hex::parse(&bad), Err(InvalidSha256Hex), "{bad}");
    }
    let json = format!("\"{good}\"");
    assert_eq!(
        serde_json::from_str::<Sha256Hex>(&json).ok(),
        Sha256Hex::parse(&good).ok()
    );
    assert!(serde_json::from_str::<Sha256Hex>("\"ABC\"").is_err());
}

#[test]
fn event_hash_equals_the_hash_of_the_serialised_input() {
    let Some(input) = sample_event() else {
        panic!("sample event must build");
    };
    assert_eq!(Ok(event_hash(&input)), hash_canonical(&input));
    let canonical = to_canonical(&input).unwrap_or_default();
    let text = String::from_utf8(canonical).unwrap_or_default();
    assert!(
        text.starts_with("{\"co2_avoided_kg\":\"1.800000\",\"country_code\":\"CI\","),
        "{text}"
    );
    assert!(
        text.contains("\"event_timestamp\":\"2026-02-03T08:15:00.000000Z\""),
        "{text}"
    );
}

#[test]
fn checksum_equals_the_hash_of_its_four_fields() {
    let event = sha256_hex(b"event");
    let expected = hash_canonical(&json!({
        "event_hash": event.as_str(), "trip_id": "t\"1", "model_version": "co2-v1", "country_code": "SN"
    }));
    assert_eq!(Ok(checksum(&event, "t\"1", "co2-v1", "SN")), expected);
}

#[test]
fn proof_hash_ignores_an_existing_proof_hash_key() {
    let proof = json!({"raw_impacts_count": 3, "double_counting_blocked": true});
    let mut with_hash = proof.clone();
    if let Some(map) = with_hash.as_object_mut() {
        map.insert("proof_hash".to_owned(), json!("anything"));
    }
    assert_eq!(proof_hash(&proof), proof_hash(&with_hash));
    assert_eq!(proof_hash(&proof), hash_canonical(&proof));
    assert!(matches!(
        proof_hash(&json!({"x": 1.5})),
        Err(CanonicalError::NonIntegerNumber(_))
    ));
}

fn arb_factors() -> impl Strategy<Value = CountryFactors> {
    (any::<i64>(), any::<i64>()).prop_map(|(t, e)| CountryFactors {
        thermal_factor_local: Decimal6::from_micro(t),
        ev_factor_local: Decimal6::from_micro(e),
    })
}

proptest! {
    #[test]
    fn methodology_writer_matches_generic_canonical_json(
        version in any::<String>(),
        baseline in any::<String>(),
        references in prop::collection::vec(any::<String>(), 0..4),
        scope in prop::collection::vec("[A-Z]{2}", 0..4),
        factors in prop::collection::btree_map(any::<String>(), arb_factors(), 0..4),
        formula in any::<String>(),
        rounding in any::<String>(),
    ) {
        let input = MethodologyHashInput {
            methodology_version: version,
            baseline_reference: baseline,
            factor_references: references,
            geographic_scope: scope,
            country_factors: factors,
            formula,
            rounding,
        };
        prop_assert_eq!(Ok(methodology_canonical(&input)), to_canonical(&input));
        prop_assert_eq!(Ok(methodology_hash(&input)), hash_canonical(&input));
    }
}

#[test]
fn the_field_names_are_the_serialised_keys() {
    let event = serde_json::to_value(sample_event()).unwrap_or_default();
    let mut keys: Vec<&str> = event
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    let mut expected = EVENT_HASH_FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let signatures = serde_json::to_value(crate::proof::Signatures {
        signature: String::new(),
        signature_algorithm: String::new(),
        key_version: String::new(),
        asym_signature: String::new(),
        asym_algorithm: String::new(),
        asym_key_version: String::new(),
    })
    .unwrap_or_default();
    let mut keys: Vec<&str> = signatures
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    let mut expected = crate::proof::SIGNATURE_FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
}
