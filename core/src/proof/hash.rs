//! The hashes of SPEC §5: SHA-256 over canonical JSON, as lowercase hex.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::proof::canonical::{
    CanonicalError, canonical_string_object, push_canonical_string, to_canonical, to_canonical_vec,
};
use crate::proof::decimal::Decimal6;
use crate::proof::time::UtcMicros;

/// A SHA-256 digest as exactly 64 lowercase hex characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(String);

/// The text is not 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a SHA-256 digest as 64 lowercase hex characters")]
pub struct InvalidSha256Hex;

impl Sha256Hex {
    /// Validates `s` as 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Sha256Hex, InvalidSha256Hex> {
        let valid = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(Sha256Hex(s.to_owned()))
        } else {
            Err(InvalidSha256Hex)
        }
    }

    /// Formats a finished digest, e.g. from a streaming `sha2::Sha256`.
    pub fn from_digest(digest: [u8; 32]) -> Sha256Hex {
        Sha256Hex(hex::encode(digest))
    }

    /// The 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Sha256Hex {
    type Err = InvalidSha256Hex;

    fn from_str(s: &str) -> Result<Sha256Hex, InvalidSha256Hex> {
        Sha256Hex::parse(s)
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sha256Hex, D::Error> {
        let text = String::deserialize(deserializer)?;
        Sha256Hex::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> Sha256Hex {
    Sha256Hex::from_digest(Sha256::digest(bytes).into())
}

/// SHA-256 of the canonical JSON of `value`.
pub fn hash_canonical<T: Serialize>(value: &T) -> Result<Sha256Hex, CanonicalError> {
    to_canonical(value).map(|bytes| sha256_hex(&bytes))
}

/// The names of [`EventHashInput`]'s fields, in declaration order.
pub const EVENT_HASH_FIELDS: [&str; 12] = [
    "trip_id",
    "user_id",
    "vehicle_id",
    "country_code",
    "geo_hash",
    "event_timestamp",
    "distance_km",
    "thermal_factor_local",
    "ev_factor_local",
    "co2_avoided_kg",
    "model_version",
    "methodology_version",
];

/// The fields hashed into an `event_hash`, named exactly as in the canonical JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventHashInput {
    /// The client's trip identifier.
    pub trip_id: String,
    /// The user who made the trip.
    pub user_id: String,
    /// The vehicle used.
    pub vehicle_id: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// Geohash of the trip.
    pub geo_hash: String,
    /// When the trip happened, in UTC.
    pub event_timestamp: UtcMicros,
    /// Distance travelled in km.
    pub distance_km: Decimal6,
    /// Emission factor of the thermal baseline (kg CO2 per km).
    pub thermal_factor_local: Decimal6,
    /// Emission factor of the electric vehicle (kg CO2 per km).
    pub ev_factor_local: Decimal6,
    /// CO2 avoided, rounded half-even to 6 decimals.
    pub co2_avoided_kg: Decimal6,
    /// The server's calculation model.
    pub model_version: String,
    /// The methodology the factors come from.
    pub methodology_version: String,
}

/// `sha256_hex(canonical(event fields))`; every field is a string, so this cannot fail.
pub fn event_hash(input: &EventHashInput) -> Sha256Hex {
    let timestamp = input.event_timestamp.to_string();
    let distance = input.distance_km.to_string();
    let thermal = input.thermal_factor_local.to_string();
    let ev = input.ev_factor_local.to_string();
    let co2 = input.co2_avoided_kg.to_string();
    let bytes = canonical_string_object(&[
        ("trip_id", &input.trip_id),
        ("user_id", &input.user_id),
        ("vehicle_id", &input.vehicle_id),
        ("country_code", &input.country_code),
        ("geo_hash", &input.geo_hash),
        ("event_timestamp", &timestamp),
        ("distance_km", &distance),
        ("thermal_factor_local", &thermal),
        ("ev_factor_local", &ev),
        ("co2_avoided_kg", &co2),
        ("model_version", &input.model_version),
        ("methodology_version", &input.methodology_version),
    ]);
    sha256_hex(&bytes)
}

/// `sha256_hex(canonical({event_hash, trip_id, model_version, country_code}))`.
pub fn checksum(
    event_hash: &Sha256Hex,
    trip_id: &str,
    model_version: &str,
    country_code: &str,
) -> Sha256Hex {
    let bytes = canonical_string_object(&[
        ("event_hash", event_hash.as_str()),
        ("trip_id", trip_id),
        ("model_version", model_version),
        ("country_code", country_code),
    ]);
    sha256_hex(&bytes)
}

/// The emission factors of one country, as configured in a methodology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryFactors {
    /// Emission factor of the thermal baseline (kg CO2 per km).
    pub thermal_factor_local: Decimal6,
    /// Emission factor of the electric vehicle (kg CO2 per km).
    pub ev_factor_local: Decimal6,
}

/// The fields of a methodology version that its hash covers (not status or dates), defined
/// once for every stage: `F` is the form of the factors, text in a draft an admin sends
/// (`DraftFactors`), exact once validated ([`CountryFactors`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodologyContent<F> {
    /// The unique version name.
    pub methodology_version: String,
    /// The baseline the avoided emissions are measured against.
    pub baseline_reference: String,
    /// Sources of the emission factors.
    pub factor_references: Vec<String>,
    /// ISO country codes the methodology covers (sorted once validated).
    pub geographic_scope: Vec<String>,
    /// Factors per ISO country code.
    pub country_factors: BTreeMap<String, F>,
    /// The formula, as text.
    pub formula: String,
    /// The rounding rule, as text.
    pub rounding: String,
}

/// The validated content, exactly what `methodology_hash` covers.
pub type MethodologyHashInput = MethodologyContent<CountryFactors>;

impl<F> MethodologyContent<F> {
    /// The same content with every country's factors converted by `convert`.
    pub fn try_map_factors<G, E>(
        self,
        mut convert: impl FnMut(&str, F) -> Result<G, E>,
    ) -> Result<MethodologyContent<G>, E> {
        let mut country_factors = BTreeMap::new();
        for (country, factors) in self.country_factors {
            let converted = convert(&country, factors)?;
            country_factors.insert(country, converted);
        }
        Ok(MethodologyContent {
            methodology_version: self.methodology_version,
            baseline_reference: self.baseline_reference,
            factor_references: self.factor_references,
            geographic_scope: self.geographic_scope,
            country_factors,
            formula: self.formula,
            rounding: self.rounding,
        })
    }
}

/// `sha256_hex(canonical(methodology fields))`; only strings are involved, so this cannot fail.
pub fn methodology_hash(input: &MethodologyHashInput) -> Sha256Hex {
    sha256_hex(&methodology_canonical(input))
}

/// Writes the canonical object by hand, keys in code point order; a test checks it
/// against the generic serialisation.
fn methodology_canonical(input: &MethodologyHashInput) -> Vec<u8> {
    fn push_strings(out: &mut Vec<u8>, items: &[String]) {
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_canonical_string(out, item);
        }
        out.push(b']');
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"baseline_reference\":");
    push_canonical_string(&mut out, &input.baseline_reference);
    out.extend_from_slice(b",\"country_factors\":{");
    let mut countries: Vec<(&String, &CountryFactors)> = input.country_factors.iter().collect();
    countries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (i, (country, factors)) in countries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_canonical_string(&mut out, country);
        out.extend_from_slice(b":");
        out.extend_from_slice(&canonical_string_object(&[
            ("ev_factor_local", &factors.ev_factor_local.to_string()),
            (
                "thermal_factor_local",
                &factors.thermal_factor_local.to_string(),
            ),
        ]));
    }
    out.extend_from_slice(b"},\"factor_references\":");
    push_strings(&mut out, &input.factor_references);
    out.extend_from_slice(b",\"formula\":");
    push_canonical_string(&mut out, &input.formula);
    out.extend_from_slice(b",\"geographic_scope\":");
    push_strings(&mut out, &input.geographic_scope);
    out.extend_from_slice(b",\"methodology_version\":");
    push_canonical_string(&mut out, &input.methodology_version);
    out.extend_from_slice(b",\"rounding\":");
    push_canonical_string(&mut out, &input.rounding);
    out.push(b'}');
    out
}

/// `sha256_hex(canonical(proof))` with any `proof_hash` key of the object left out.
pub fn proof_hash(proof_without_hash: &Value) -> Result<Sha256Hex, CanonicalError> {
    let bytes = match proof_without_hash {
        Value::Object(map) if map.contains_key("proof_hash") => {
            let mut without = map.clone();
            without.remove("proof_hash");
            to_canonical_vec(&Value::Object(without))?
        }
        other => to_canonical_vec(other)?,
    };
    Ok(sha256_hex(&bytes))
}

#[cfg(test)]
mod tests;
