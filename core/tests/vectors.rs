//! Recomputes every cross-language test vector of `tests/vectors/vectors.json`
//! and asserts byte equality. `tests/vectors/check_vectors.py` checks the same
//! file independently in Python.
//!
//! After adding a vector (inputs only), fill in its expected outputs with
//! `cargo test -p greenos-core --test vectors -- --ignored regenerate_vectors`,
//! then run the Python checker before committing: the Rust side alone cannot
//! prove the outputs right.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use greenos_core::proof::canonical::{
    CanonicalError, parse_strict, to_canonical, to_canonical_vec,
};
use greenos_core::proof::decimal::{Decimal6, DecimalError, parse_json_number_exact};
use greenos_core::proof::{
    Ed25519Keyring, EventHashInput, HmacKeyring, MethodologyHashInput, Signer, TimeError,
    UtcMicros, checksum, event_hash, methodology_hash, proof_hash, sha256_hex, verify_ed25519,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

type Outputs = Map<String, Value>;

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/vectors.json")
}

fn load() -> Result<Value, String> {
    let bytes = std::fs::read(vectors_path()).map_err(|e| e.to_string())?;
    parse_strict(&bytes).map_err(|e| e.to_string())
}

fn text(v: &Value, key: &str) -> Result<String, String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("missing string field {key}"))
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

fn canonical_error_code(e: &CanonicalError) -> &'static str {
    match e {
        CanonicalError::Json(_) => "json",
        CanonicalError::DuplicateKey(_) => "duplicate_key",
        CanonicalError::NonIntegerNumber(_) => "non_integer_number",
        CanonicalError::IntegerOutOfRange(_) => "integer_out_of_range",
    }
}

fn decimal_error_code(e: &DecimalError) -> &'static str {
    match e {
        DecimalError::Syntax { .. } => "syntax",
        DecimalError::TooManyDecimalPlaces(_) => "too_many_decimal_places",
        DecimalError::OutOfRange(_) => "out_of_range",
        DecimalError::NotCanonical(_) => "not_canonical",
    }
}

fn time_error_code(e: &TimeError) -> &'static str {
    match e {
        TimeError::Syntax { .. } => "syntax",
        TimeError::TooPrecise(_) => "too_precise",
        TimeError::SubMicrosecond(_) => "sub_microsecond",
        TimeError::LeapSecond(_) => "leap_second",
    }
}

/// `{"expected": display}` or `{"error": code}`.
fn expected_or_error<T: ToString, E>(
    result: Result<T, E>,
    code: impl Fn(&E) -> &'static str,
) -> Outputs {
    let mut out = Outputs::new();
    match result {
        Ok(value) => out.insert("expected".to_owned(), Value::String(value.to_string())),
        Err(e) => out.insert("error".to_owned(), Value::String(code(&e).to_owned())),
    };
    out
}

/// The test keyrings of the file's `keys` section, with `active` as the signing version.
struct TestKeys {
    hmac_json: String,
    ed25519_json: String,
}

impl TestKeys {
    fn from_file(file: &Value) -> Result<TestKeys, String> {
        let section = |name: &str| {
            file.pointer(&format!("/keys/{name}"))
                .map(Value::to_string)
                .ok_or_else(|| format!("missing keys.{name}"))
        };
        Ok(TestKeys {
            hmac_json: section("hmac")?,
            ed25519_json: section("ed25519")?,
        })
    }

    fn signer(&self, active: &str) -> Result<Signer, String> {
        let hmac = HmacKeyring::from_json(active, &self.hmac_json).map_err(|e| e.to_string())?;
        let ed =
            Ed25519Keyring::from_json(active, &self.ed25519_json).map_err(|e| e.to_string())?;
        Ok(Signer::new(hmac, ed))
    }

    /// Signs `hash_hex` with `sign_with`, checking the signatures verify as an auditor would.
    fn signatures(&self, sign_with: &str, hash_hex: &str) -> Result<Value, String> {
        let signer = self.signer(sign_with)?;
        let hash = greenos_core::proof::Sha256Hex::parse(hash_hex).map_err(|e| e.to_string())?;
        let sigs = signer.sign(&hash);
        let check = signer.verify(hash_hex, &sigs);
        let public_key = signer.ed25519().active_public_key().public_key;
        if !check.all_valid() || !verify_ed25519(&public_key, hash_hex, &sigs.asym_signature) {
            return Err(format!("fresh signatures do not verify: {check:?}"));
        }
        serde_json::to_value(&sigs).map_err(|e| e.to_string())
    }
}

fn canonical_outputs(keys: &TestKeys, v: &Value, value: &Value) -> Result<Outputs, String> {
    let canonical = to_canonical_vec(value).map_err(|e| e.to_string())?;
    let hash = sha256_hex(&canonical);
    let mut out = Outputs::new();
    out.insert("canonical".to_owned(), Value::String(utf8(canonical)?));
    out.insert("sha256".to_owned(), Value::String(hash.to_string()));
    if let Ok(sign_with) = text(v, "sign_with") {
        out.insert(
            "signatures".to_owned(),
            keys.signatures(&sign_with, hash.as_str())?,
        );
    }
    Ok(out)
}

fn event_outputs(keys: &TestKeys, v: &Value) -> Result<Outputs, String> {
    let input = v.get("input").ok_or("missing input")?;
    let field = |key: &str| text(input, key);
    let decimal =
        |key: &str| field(key).and_then(|s| Decimal6::parse_exact(&s).map_err(|e| e.to_string()));
    let distance = parse_json_number_exact(&field("distance_km")?).map_err(|e| e.to_string())?;
    let thermal = decimal("thermal_factor_local")?;
    let ev = decimal("ev_factor_local")?;
    let d = distance.as_decimal();
    let co2 = Decimal6::round_half_even(d * thermal.as_decimal() - d * ev.as_decimal());
    let hash_input = EventHashInput {
        trip_id: field("trip_id")?,
        user_id: field("user_id")?,
        vehicle_id: field("vehicle_id")?,
        country_code: field("country_code")?,
        geo_hash: field("geo_hash")?,
        event_timestamp: UtcMicros::parse_rfc3339(&field("event_timestamp")?)
            .map_err(|e| e.to_string())?,
        distance_km: distance,
        thermal_factor_local: thermal,
        ev_factor_local: ev,
        co2_avoided_kg: co2,
        model_version: field("model_version")?,
        methodology_version: field("methodology_version")?,
    };
    let hash = event_hash(&hash_input);
    let canonical = to_canonical(&hash_input).map_err(|e| e.to_string())?;
    if sha256_hex(&canonical) != hash {
        return Err("event_hash differs from the hash of the serialised input".to_owned());
    }
    let check = checksum(
        &hash,
        &hash_input.trip_id,
        &hash_input.model_version,
        &hash_input.country_code,
    );
    let checksum_canonical = to_canonical(&json!({
        "event_hash": hash, "trip_id": hash_input.trip_id,
        "model_version": hash_input.model_version, "country_code": hash_input.country_code,
    }))
    .map_err(|e| e.to_string())?;
    let mut out = Outputs::new();
    out.insert("co2_avoided_kg".to_owned(), Value::String(co2.to_string()));
    out.insert("canonical".to_owned(), Value::String(utf8(canonical)?));
    out.insert("event_hash".to_owned(), Value::String(hash.to_string()));
    out.insert(
        "checksum_canonical".to_owned(),
        Value::String(utf8(checksum_canonical)?),
    );
    out.insert("checksum".to_owned(), Value::String(check.to_string()));
    let sign_with = text(v, "sign_with")?;
    out.insert(
        "signatures".to_owned(),
        keys.signatures(&sign_with, hash.as_str())?,
    );
    Ok(out)
}

/// Every output field of one vector, computed from its inputs.
fn outputs(keys: &TestKeys, v: &Value) -> Result<Outputs, String> {
    match text(v, "kind")?.as_str() {
        "canonical" => {
            let value =
                parse_strict(text(v, "input_json")?.as_bytes()).map_err(|e| e.to_string())?;
            canonical_outputs(keys, v, &value)
        }
        "canonical_error" => {
            let result = parse_strict(text(v, "input_json")?.as_bytes())
                .and_then(|value| to_canonical_vec(&value));
            let code = result.err().map(|e| canonical_error_code(&e));
            let code = code.ok_or("input has a canonical form, expected an error")?;
            Ok(Outputs::from_iter([(
                "error".to_owned(),
                Value::String(code.to_owned()),
            )]))
        }
        "decimal_parse" => Ok(expected_or_error(
            Decimal6::parse_exact(&text(v, "input")?),
            decimal_error_code,
        )),
        "json_number" => Ok(expected_or_error(
            parse_json_number_exact(&text(v, "input")?),
            decimal_error_code,
        )),
        "decimal_round" => {
            let d = Decimal::from_str_exact(&text(v, "input")?).map_err(|e| e.to_string())?;
            let rounded = Decimal6::round_half_even(d).to_string();
            Ok(Outputs::from_iter([(
                "expected".to_owned(),
                Value::String(rounded),
            )]))
        }
        "timestamp" => Ok(expected_or_error(
            UtcMicros::from_str(&text(v, "input")?),
            time_error_code,
        )),
        "event_hash" => event_outputs(keys, v),
        "methodology_hash" => {
            let input: MethodologyHashInput =
                serde_json::from_value(v.get("input").cloned().unwrap_or_default())
                    .map_err(|e| e.to_string())?;
            let mut out = canonical_outputs(
                keys,
                v,
                &serde_json::to_value(&input).map_err(|e| e.to_string())?,
            )?;
            let hash = methodology_hash(&input).to_string();
            if out.get("sha256") != Some(&Value::String(hash)) {
                return Err(
                    "methodology_hash differs from the hash of the serialised input".to_owned(),
                );
            }
            out.remove("signatures");
            Ok(out)
        }
        "proof_hash" => {
            let proof =
                parse_strict(text(v, "input_json")?.as_bytes()).map_err(|e| e.to_string())?;
            let mut without = proof.clone();
            without.as_object_mut().map(|m| m.remove("proof_hash"));
            let out = canonical_outputs(keys, v, &without)?;
            let hash = proof_hash(&proof).map_err(|e| e.to_string())?.to_string();
            if out.get("sha256") != Some(&Value::String(hash)) {
                return Err("proof_hash differs from the hash without proof_hash".to_owned());
            }
            Ok(out)
        }
        other => Err(format!("unknown kind {other}")),
    }
}

/// The public keys of every test version, as the public-key routes publish them.
fn public_keys(file: &Value) -> Result<Value, String> {
    let ed25519 = file
        .pointer("/keys/ed25519")
        .and_then(Value::as_object)
        .ok_or("missing keys.ed25519")?;
    let active = ed25519.keys().next().ok_or("no Ed25519 test key")?;
    let ring = Ed25519Keyring::from_json(active, &Value::Object(ed25519.clone()).to_string())
        .map_err(|e| e.to_string())?;
    serde_json::to_value(ring.public_keys()).map_err(|e| e.to_string())
}

const OUTPUT_FIELDS: [&str; 10] = [
    "canonical",
    "sha256",
    "signatures",
    "expected",
    "error",
    "co2_avoided_kg",
    "event_hash",
    "checksum_canonical",
    "checksum",
    "public_keys",
];

#[test]
fn every_vector_recomputes_byte_for_byte() {
    let file = load();
    let Ok(file) = file else {
        panic!("cannot load vectors: {file:?}");
    };
    let keys = TestKeys::from_file(&file);
    let Ok(keys) = keys else {
        panic!("bad keys section: {:?}", keys.err());
    };
    assert_eq!(
        file.pointer("/keys/public_keys").cloned(),
        public_keys(&file).ok()
    );
    let vectors = file
        .get("vectors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(vectors.len() >= 25, "only {} vectors", vectors.len());
    let mut seen = BTreeMap::new();
    for v in &vectors {
        let name = text(v, "name").unwrap_or_default();
        assert!(
            seen.insert(name.clone(), ()).is_none(),
            "duplicate vector name {name}"
        );
        let computed = outputs(&keys, v);
        let Ok(computed) = computed else {
            panic!("vector {name}: {:?}", computed.err());
        };
        for field in OUTPUT_FIELDS {
            assert_eq!(
                v.get(field),
                computed.get(field),
                "vector {name}, field {field}"
            );
        }
    }
}

#[test]
#[ignore = "rewrites tests/vectors/vectors.json; run on purpose, then run check_vectors.py"]
fn regenerate_vectors() {
    let file = load();
    let Ok(mut file) = file else {
        panic!("cannot load vectors: {file:?}");
    };
    let keys = TestKeys::from_file(&file);
    let Ok(keys) = keys else {
        panic!("bad keys section: {:?}", keys.err());
    };
    let public = public_keys(&file);
    let Ok(public) = public else {
        panic!("public keys: {public:?}");
    };
    if let Some(section) = file.pointer_mut("/keys").and_then(Value::as_object_mut) {
        section.insert("public_keys".to_owned(), public);
    }
    let vectors = file.get_mut("vectors").and_then(Value::as_array_mut);
    for v in vectors.into_iter().flatten() {
        let computed = outputs(&keys, v);
        let (Ok(computed), Some(map)) = (computed, v.as_object_mut()) else {
            panic!("vector {v}");
        };
        for field in OUTPUT_FIELDS {
            map.remove(field);
        }
        map.extend(computed);
    }
    let text = serde_json::to_string_pretty(&file).unwrap_or_default();
    assert!(std::fs::write(vectors_path(), text + "\n").is_ok());
}
