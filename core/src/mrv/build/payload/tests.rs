use serde_json::{Value, json};

use super::*;
use crate::mrv::period::{ExportWindow, Period};
use crate::mrv::read::artifact::ArtifactHeader;
use crate::mrv::verify::reading::read_artifact_bytes;
use crate::proof::{UtcMicros, proof_hash, sha256_hex};

/// An impact whose own proofs hold (its `event_hash` and `checksum` computed from its fields);
/// the signatures are placeholders, which the payload audit does not check.
fn impact(trip_id: &str, country: &str, distance: &str, co2: &str) -> Value {
    let hashed = json!({
        "trip_id": trip_id, "user_id": "u-1", "vehicle_id": "ev-1", "country_code": country,
        "geo_hash": "s0t5q", "event_timestamp": "2026-02-03T08:15:00.000000Z",
        "distance_km": distance, "thermal_factor_local": "0.192000", "ev_factor_local": "0.048000",
        "co2_avoided_kg": co2, "model_version": "co2-v2", "methodology_version": "m-1",
    });
    let input: crate::proof::EventHashInput =
        serde_json::from_value(hashed.clone()).expect("the hashed fields");
    let hash = crate::proof::event_hash(&input);
    let checksum = crate::proof::checksum(&hash, trip_id, "co2-v2", country);
    let mut impact = hashed;
    for (key, value) in [
        ("event_hash", json!(hash.as_str())),
        ("checksum", json!(checksum.as_str())),
        ("signature", json!("s")),
        ("signature_algorithm", json!("HMAC-SHA256")),
        ("key_version", json!("v1")),
        ("asym_signature", json!("a")),
        ("asym_algorithm", json!("ED25519")),
        ("asym_key_version", json!("v1")),
        ("ledger_seq", json!(7)),
        ("correlation_id", Value::Null),
        ("created_at", json!("2026-02-03T08:15:01.000000Z")),
    ] {
        impact[key] = value;
    }
    impact
}

fn parts() -> PayloadParts {
    let end = UtcMicros::parse_rfc3339("2026-04-01T00:00:00Z").expect("instant");
    let window = ExportWindow::from_period_end(Period::ThreeMonths, end).expect("quarter");
    let ci = Totals {
        impacts_count: 2,
        total_distance_km_micro: 22_500_000,
        total_co2_avoided_kg_micro: 3_240_000,
    };
    let pair = FactorPair {
        methodology_version: "m-1".to_owned(),
        thermal_factor_local_micro: 192_000,
        ev_factor_local_micro: 48_000,
    };
    PayloadParts {
        window,
        generated_at: UtcMicros::parse_rfc3339("2026-04-02T10:00:00Z").expect("instant"),
        methodology: MethodologyBinding {
            baseline_reference: "baseline".to_owned(),
            factor_references: vec!["IPCC".to_owned()],
            geographic_scope: vec!["CI".to_owned()],
            methodology_hash: "f".repeat(64),
            methodology_version: "m-1".to_owned(),
        },
        aggregation: Aggregation {
            totals: ci,
            by_country: [("CI".to_owned(), ci)].into_iter().collect(),
        },
        country_factors: [("CI".to_owned(), vec![pair])].into_iter().collect(),
        model_versions: vec!["co2-v2".to_owned()],
        duplicates: DuplicateStats {
            raw_impacts_count: 3,
            duplicates: vec![("trip-a".to_owned(), 2)],
        },
        log: LogBinding {
            note: "greenos.local/log\n10\n...".to_owned(),
            origin: "greenos.local/log".to_owned(),
            root_hash: "0".repeat(64),
            tree_size: 10,
        },
    }
}

fn payload(parts: &PayloadParts, impacts: &[Value]) -> Vec<u8> {
    let mut out = parts.head().expect("head");
    for (i, impact) in impacts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(to_canonical_vec(impact).expect("canonical impact"));
    }
    out.extend(parts.tail().expect("tail"));
    out
}

fn header(hash: &str) -> ArtifactHeader {
    ArtifactHeader {
        export_id: "x".to_owned(),
        period: "3M".to_owned(),
        period_start: "2026-01-01T00:00:00.000000Z".to_owned(),
        period_end: "2026-04-01T00:00:00.000000Z".to_owned(),
        verification_hash: hash.to_owned(),
        signature: String::new(),
        signature_algorithm: "HMAC-SHA256".to_owned(),
        key_version: "v1".to_owned(),
        asym_signature: String::new(),
        asym_algorithm: "ED25519".to_owned(),
        asym_key_version: "v1".to_owned(),
        methodology_version: "m-1".to_owned(),
        methodology_hash: "f".repeat(64),
        created_at: "2026-04-02T10:00:01.000000Z".to_owned(),
    }
}

fn artifact(header: &ArtifactHeader, payload: &[u8]) -> Vec<u8> {
    let (mut out, suffix) = header.frame().expect("frame");
    out.extend_from_slice(payload);
    out.extend(suffix);
    out
}

fn impacts() -> Vec<Value> {
    let mut impacts = vec![
        impact("trip-a", "CI", "12.500000", "1.800000"),
        impact("trip-b", "CI", "10.000000", "1.440000"),
    ];
    for (impact, leaf) in impacts.iter_mut().zip([3, 8]) {
        impact["leaf_index"] = json!(leaf);
    }
    impacts
}

#[test]
fn the_streamed_payload_is_canonical_json_in_key_order() {
    let parts = parts();
    let bytes = payload(&parts, &impacts());
    let value: Value = serde_json::from_slice(&bytes).expect("valid JSON");
    assert_eq!(to_canonical_vec(&value).expect("canonical"), bytes);
    let keys: Vec<&str> = value
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut expected = crate::mrv::verify::consistency::PAYLOAD_MEMBERS.to_vec();
    expected.insert(4, "log_checkpoint");
    assert_eq!(keys, expected);
    assert_eq!(value["schema_version"], SCHEMA_VERSION);
    assert_eq!(value["log_checkpoint"]["tree_size"], 10);
    let proof = &value["non_double_counting_proof"];
    assert_eq!(
        proof_hash(proof).expect("hash").as_str(),
        proof["proof_hash"].as_str().unwrap_or_default()
    );
    assert_eq!(proof["duplicates_removed_count"], 1);
    assert_eq!(proof["duplicate_trip_frequencies"], json!({"trip-a": 2}));
    assert_eq!(value["aggregation"]["total_distance_km"], "22.500000");
    assert_eq!(
        value["country_factors"]["CI"][0]["methodology_version"],
        "m-1"
    );
}

#[test]
fn an_artifact_reads_back_to_its_hash_and_a_valid_proof() {
    let parts = parts();
    let bytes = payload(&parts, &impacts());
    let hash = sha256_hex(&bytes);
    let header = header(hash.as_str());
    let reading = read_artifact_bytes(&artifact(&header, &bytes)).expect("readable");
    assert_eq!(reading.recomputed_hash, hash);
    assert_eq!(reading.payload_size_bytes, bytes.len() as u64);
    assert_eq!(reading.proof.problems, Vec::<String>::new());
    assert_eq!(reading.header, header);
    assert_eq!(
        reading.proof.binding.map(|b| b.methodology_version),
        Some("m-1".to_owned())
    );

    // Pretty-printed, impact keys reversed: the same canonical payload, the same hash.
    let mut value: Value = serde_json::from_slice(&artifact(&header, &bytes)).expect("json");
    let pretty = serde_json::to_vec_pretty(&value).expect("pretty");
    assert_eq!(
        read_artifact_bytes(&pretty).map(|r| r.recomputed_hash).ok(),
        Some(hash.clone())
    );

    // One distance changed: another hash, and the totals no longer add up.
    value["payload"]["impacts"][1]["distance_km"] = json!("11.000000");
    let altered = serde_json::to_vec(&value).expect("json");
    let reading = read_artifact_bytes(&altered).expect("readable");
    assert_ne!(reading.recomputed_hash, hash);
    assert!(!reading.proof.valid());
}

#[test]
fn out_of_order_payload_members_fall_back_and_duplicates_are_refused() {
    let parts = parts();
    let bytes = payload(&parts, &impacts());
    let hash = sha256_hex(&bytes);
    let header = header(hash.as_str());
    let text = String::from_utf8(artifact(&header, &bytes)).expect("utf-8");
    // Move schema_version to the front of the payload.
    let member = ",\"schema_version\":\"greenos.mrv.v2\"";
    let moved = text.replacen(member, "", 1).replacen(
        "\"payload\":{",
        "\"payload\":{\"schema_version\":\"greenos.mrv.v2\",",
        1,
    );
    assert_eq!(
        read_artifact_bytes(moved.as_bytes())
            .map(|r| r.recomputed_hash)
            .ok(),
        Some(hash)
    );
    let doubled = text.replacen(
        "\"user_id\":\"u-1\"",
        "\"user_id\":\"u-1\",\"user_id\":\"u-2\"",
        1,
    );
    let err = read_artifact_bytes(doubled.as_bytes()).expect_err("duplicate key");
    assert!(err.to_string().contains("appears twice"), "{err}");
    assert!(matches!(
        read_artifact_bytes(b"{\"payload\":"),
        Err(crate::mrv::MrvError::InvalidJson { .. })
    ));
}

/// 1 300 impacts, each signed with `key`, and the parts whose totals they sum to.
fn signed_impacts(key: &ed25519_dalek::SigningKey) -> (PayloadParts, Vec<Value>) {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let mut impacts: Vec<Value> = (0..1_299)
        .map(|i| impact(&format!("trip-{i:04}"), "CI", "10.000000", "1.440000"))
        .collect();
    impacts.push(impact("trip-a", "CI", "10.000000", "1.440000"));
    for (leaf, impact) in impacts.iter_mut().enumerate() {
        impact["leaf_index"] = json!(leaf);
        let hash = impact["event_hash"].as_str().unwrap_or_default().to_owned();
        let signature = key.sign(hash.as_bytes()).to_bytes();
        impact["asym_signature"] =
            json!(base64::engine::general_purpose::STANDARD.encode(signature));
    }
    let mut parts = parts();
    let totals = Totals {
        impacts_count: 1_300,
        total_distance_km_micro: 13_000_000_000,
        total_co2_avoided_kg_micro: 1_872_000_000,
    };
    parts.aggregation = Aggregation {
        totals,
        by_country: [("CI".to_owned(), totals)].into_iter().collect(),
    };
    parts.duplicates.raw_impacts_count = 1_301;
    parts.log.tree_size = 1_300;
    (parts, impacts)
}

/// Reads `impacts` framed as an artifact, auditing them as `options` says.
fn read_with(
    parts: &PayloadParts,
    impacts: &[Value],
    options: &crate::mrv::AuditOptions,
) -> crate::mrv::ArtifactReading {
    let bytes = payload(parts, impacts);
    let header = header(sha256_hex(&bytes).as_str());
    let artifact = artifact(&header, &bytes);
    crate::mrv::read_artifact_from(|| Ok(std::io::Cursor::new(artifact.clone())), options)
        .expect("readable")
}

#[test]
fn worker_threads_and_the_reading_thread_reach_the_same_verdict() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let mut ring = crate::proof::PublicKeyRing::default();
    let version = crate::proof::keys::KeyVersion::parse("v1").expect("version");
    ring.insert(&crate::proof::PublicKeyPayload::new(
        &version,
        &key.verifying_key(),
    ))
    .expect("a valid key");
    let inline = crate::mrv::AuditOptions {
        workers: 0,
        keys: Some(std::sync::Arc::new(ring.clone())),
    };
    let workers = crate::mrv::AuditOptions {
        workers: 3,
        keys: Some(std::sync::Arc::new(ring)),
    };
    let (parts, mut impacts) = signed_impacts(&key);
    for options in [&inline, &workers] {
        let reading = read_with(&parts, &impacts, options);
        assert_eq!(reading.proof.problems, Vec::<String>::new());
        let tally = reading.proof.impact_signatures.expect("signatures checked");
        assert_eq!((tally.checked, tally.failed), (1_300, 0));
    }
    // Two impacts swapped across the boundary of two runs (512 impacts each), and one
    // impact's signature replaced by its neighbour's.
    impacts.swap(511, 512);
    let neighbour = impacts[901]["asym_signature"].clone();
    impacts[900]["asym_signature"] = neighbour;
    let verdicts: Vec<_> = [&inline, &workers]
        .into_iter()
        .map(|options| read_with(&parts, &impacts, options).proof)
        .collect();
    assert_eq!(verdicts[0], verdicts[1]);
    let proof = &verdicts[0];
    assert!(
        proof
            .problems
            .iter()
            .any(|p| p.contains("\"trip-0511\" follows \"trip-0512\"")),
        "{:?}",
        proof.problems
    );
    let tally = proof
        .impact_signatures
        .as_ref()
        .expect("signatures checked");
    assert_eq!((tally.checked, tally.failed), (1_300, 1));
    assert!(
        tally.problems[0].contains("trip-0900"),
        "{:?}",
        tally.problems
    );
}

/// The artifact of `payload` (a JSON value made canonical) and its reading.
fn read_value(payload: &Value) -> crate::mrv::verify::reading::ArtifactReading {
    let bytes = to_canonical_vec(payload).expect("canonical");
    let header = header(sha256_hex(&bytes).as_str());
    read_artifact_bytes(&artifact(&header, &bytes)).expect("readable")
}

#[test]
fn a_v1_payload_made_before_the_log_still_verifies() {
    let mut value: Value = serde_json::from_slice(&payload(&parts(), &impacts())).expect("json");
    let object = value.as_object_mut().expect("an object");
    object.remove("log_checkpoint");
    object.insert("schema_version".to_owned(), json!(SCHEMA_VERSION_V1));
    for impact in value["impacts"].as_array_mut().expect("impacts") {
        impact
            .as_object_mut()
            .expect("an impact")
            .remove("leaf_index");
    }
    let reading = read_value(&value);
    assert_eq!(reading.proof.problems, Vec::<String>::new());
    assert_eq!(reading.proof.log, None);

    // A v1 payload with a leaf, or a v2 payload without its checkpoint, is refused.
    let mut leafy = value.clone();
    leafy["impacts"][0]["leaf_index"] = json!(1);
    assert!(!read_value(&leafy).proof.valid());
    let mut unbound = value;
    unbound["schema_version"] = json!(SCHEMA_VERSION);
    let problems = read_value(&unbound).proof.problems;
    assert!(
        problems.iter().any(|p| p.contains("log_checkpoint")),
        "{problems:?}"
    );
}

#[test]
fn every_impact_of_a_v2_payload_is_one_leaf_below_the_tree_size() {
    let value: Value = serde_json::from_slice(&payload(&parts(), &impacts())).expect("json");
    let reading = read_value(&value);
    assert_eq!(reading.proof.problems, Vec::<String>::new());
    assert_eq!(reading.proof.log.map(|l| l.tree_size), Some(10));
    for (leaves, expected) in [
        ((3, 10), "not below the checkpoint's tree_size 10"),
        ((8, 8), "the same leaf_index 8"),
    ] {
        let mut altered = value.clone();
        altered["impacts"][0]["leaf_index"] = json!(leaves.0);
        altered["impacts"][1]["leaf_index"] = json!(leaves.1);
        let problems = read_value(&altered).proof.problems;
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{problems:?}"
        );
    }
    let mut unlogged = value;
    unlogged["impacts"][1]
        .as_object_mut()
        .expect("an impact")
        .remove("leaf_index");
    let problems = read_value(&unlogged).proof.problems;
    assert!(
        problems.iter().any(|p| p.contains("carry no leaf_index")),
        "{problems:?}"
    );
}
