//! The export payload of SPEC §8 and its canonical form. Everything but `impacts` is small and
//! known before the impacts are streamed, so the payload is written as a head (`aggregation`,
//! `country_factors`, `generated_at`, then `"impacts":[`), the impacts one by one, and a tail
//! (`log_checkpoint`, `methodology`, `model_versions`, `non_double_counting_proof`, `period`,
//! `period_end`, `period_start`, `schema_version`): the canonical key order, without ever
//! holding the whole payload.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::mrv::period::ExportWindow;
use crate::proof::canonical::write_canonical_string;
use crate::proof::{CanonicalError, Decimal6, Sha256Hex, UtcMicros, to_canonical_vec};

/// The `schema_version` of new payloads: bound to the transparency log.
pub const SCHEMA_VERSION: &str = "greenos.mrv.v2";
/// The `schema_version` of payloads made before the transparency log, still verified.
pub const SCHEMA_VERSION_V1: &str = "greenos.mrv.v1";
/// The proof's `deduplication_rule`.
pub const DEDUPLICATION_RULE: &str = "latest_ledger_seq_per_trip_id";

/// Exact totals of a set of impacts, quantities in micro-units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// How many impacts.
    pub impacts_count: i64,
    /// Sum of `distance_km`, in millionths.
    pub total_distance_km_micro: i64,
    /// Sum of `co2_avoided_kg`, in millionths.
    pub total_co2_avoided_kg_micro: i64,
}

impl Totals {
    /// Adds `other` (SQL sums fit `i64`; an overflow here means corrupt data).
    pub fn add(&mut self, other: Totals) -> Option<()> {
        self.impacts_count = self.impacts_count.checked_add(other.impacts_count)?;
        self.total_distance_km_micro = self
            .total_distance_km_micro
            .checked_add(other.total_distance_km_micro)?;
        self.total_co2_avoided_kg_micro = self
            .total_co2_avoided_kg_micro
            .checked_add(other.total_co2_avoided_kg_micro)?;
        Some(())
    }

    /// `{"impacts_count","total_co2_avoided_kg","total_distance_km"}`, decimals as strings.
    pub fn to_value(&self) -> Value {
        json!({
            "impacts_count": self.impacts_count,
            "total_co2_avoided_kg": Decimal6::from_micro(self.total_co2_avoided_kg_micro).to_string(),
            "total_distance_km": Decimal6::from_micro(self.total_distance_km_micro).to_string(),
        })
    }
}

/// The payload's `aggregation`: totals over the selected impacts, and per country.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregation {
    /// The whole window.
    pub totals: Totals,
    /// Per ISO country code.
    pub by_country: BTreeMap<String, Totals>,
}

impl Aggregation {
    /// The JSON object written into the payload (and stored as canonical text).
    pub fn to_value(&self) -> Value {
        let mut value = self.totals.to_value();
        let by_country: serde_json::Map<String, Value> = self
            .by_country
            .iter()
            .map(|(country, totals)| (country.clone(), totals.to_value()))
            .collect();
        if let Value::Object(map) = &mut value {
            map.insert("by_country".to_owned(), Value::Object(by_country));
        }
        value
    }
}

/// One set of factors an impact of the window was computed with.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FactorPair {
    /// The methodology the factors came from.
    pub methodology_version: String,
    /// Thermal baseline factor, in millionths.
    pub thermal_factor_local_micro: i64,
    /// EV factor, in millionths.
    pub ev_factor_local_micro: i64,
}

impl FactorPair {
    /// `{"ev_factor_local","methodology_version","thermal_factor_local"}`.
    pub fn to_value(&self) -> Value {
        json!({
            "ev_factor_local": Decimal6::from_micro(self.ev_factor_local_micro).to_string(),
            "methodology_version": self.methodology_version,
            "thermal_factor_local": Decimal6::from_micro(self.thermal_factor_local_micro).to_string(),
        })
    }
}

/// The methodology an export binds to, as written in the payload's `methodology`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodologyBinding {
    /// The baseline the avoided emissions are measured against.
    pub baseline_reference: String,
    /// Sources of the emission factors.
    pub factor_references: Vec<String>,
    /// Sorted ISO country codes covered.
    pub geographic_scope: Vec<String>,
    /// SHA-256 of the version's hashed fields.
    pub methodology_hash: String,
    /// The version name.
    pub methodology_version: String,
}

/// The transparency-log checkpoint an export was built against (`log_checkpoint`): every
/// impact of the payload is a leaf of that tree, below `tree_size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogBinding {
    /// The signed note of the checkpoint, so that it can be checked with the public key alone.
    pub note: String,
    /// The log's name.
    pub origin: String,
    /// Lowercase hex of the tree's root hash.
    pub root_hash: String,
    /// How many leaves the tree holds.
    pub tree_size: u64,
}

/// The de-duplication facts of a window: every row in it, and the trips seen more than once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DuplicateStats {
    /// Ledger rows in the window, before de-duplication.
    pub raw_impacts_count: i64,
    /// `(trip_id, rows)` for each trip with more than one row, sorted by `trip_id` code points.
    pub duplicates: Vec<(String, i64)>,
}

impl DuplicateStats {
    /// Rows left out by the de-duplication: Σ (rows − 1) over the duplicated trips.
    pub fn removed(&self) -> i64 {
        self.duplicates.iter().map(|(_, n)| n - 1).sum()
    }
}

/// Everything of the payload except the impacts.
#[derive(Clone, Debug)]
pub struct PayloadParts {
    /// The window exported.
    pub window: ExportWindow,
    /// When the build started (its snapshot).
    pub generated_at: UtcMicros,
    /// The ACTIVE methodology at generation time.
    pub methodology: MethodologyBinding,
    /// Totals of the selected impacts.
    pub aggregation: Aggregation,
    /// Factors actually used, per country, sorted.
    pub country_factors: BTreeMap<String, Vec<FactorPair>>,
    /// Distinct model versions of the selected impacts, sorted.
    pub model_versions: Vec<String>,
    /// The de-duplication facts.
    pub duplicates: DuplicateStats,
    /// The log checkpoint every selected impact is a leaf of.
    pub log: LogBinding,
}

impl PayloadParts {
    /// Canonical bytes up to and including `"impacts":[`.
    pub fn head(&self) -> Result<Vec<u8>, CanonicalError> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(b"{\"aggregation\":");
        out.extend(to_canonical_vec(&self.aggregation.to_value())?);
        out.extend_from_slice(b",\"country_factors\":");
        let factors: serde_json::Map<String, Value> = self
            .country_factors
            .iter()
            .map(|(country, pairs)| {
                let pairs = pairs.iter().map(FactorPair::to_value).collect();
                (country.clone(), Value::Array(pairs))
            })
            .collect();
        out.extend(to_canonical_vec(&Value::Object(factors))?);
        out.extend_from_slice(b",\"generated_at\":");
        push_string(&mut out, &self.generated_at.to_string());
        out.extend_from_slice(b",\"impacts\":[");
        Ok(out)
    }

    /// Canonical bytes from the `]` closing `impacts` to the end of the payload.
    pub fn tail(&self) -> Result<Vec<u8>, CanonicalError> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(b"],\"log_checkpoint\":");
        let log =
            serde_json::to_value(&self.log).map_err(|e| CanonicalError::Json(e.to_string()))?;
        out.extend(to_canonical_vec(&log)?);
        out.extend_from_slice(b",\"methodology\":");
        let binding = serde_json::to_value(&self.methodology)
            .map_err(|e| CanonicalError::Json(e.to_string()))?;
        out.extend(to_canonical_vec(&binding)?);
        out.extend_from_slice(b",\"model_versions\":");
        let versions = Value::from(self.model_versions.clone());
        out.extend(to_canonical_vec(&versions)?);
        out.extend_from_slice(b",\"non_double_counting_proof\":");
        let proof_hash = self.proof_hash();
        // Writing into a Vec cannot fail.
        let _ = write_proof(&mut out, self, Some(&proof_hash));
        out.extend_from_slice(b",\"period\":");
        push_string(&mut out, self.window.period.as_str());
        out.extend_from_slice(b",\"period_end\":");
        push_string(&mut out, &self.window.period_end.to_string());
        out.extend_from_slice(b",\"period_start\":");
        push_string(&mut out, &self.window.period_start.to_string());
        out.extend_from_slice(b",\"schema_version\":");
        push_string(&mut out, SCHEMA_VERSION);
        out.push(b'}');
        Ok(out)
    }

    /// `sha256_hex(canonical(proof without proof_hash))`, hashed as it is written: the
    /// duplicate lists can be long, so no `Value` of the proof is built.
    pub fn proof_hash(&self) -> Sha256Hex {
        let mut hasher = HashWriter(Sha256::new());
        // Writing into a hasher cannot fail.
        let _ = write_proof(&mut hasher, self, None);
        Sha256Hex::from_digest(hasher.0.finalize().into())
    }

    /// Impacts kept after de-duplication.
    pub fn selected_impacts_count(&self) -> i64 {
        self.aggregation.totals.impacts_count
    }
}

/// Writes `non_double_counting_proof` canonically, with `proof_hash` when given.
fn write_proof<W: Write>(
    w: &mut W,
    parts: &PayloadParts,
    hash: Option<&Sha256Hex>,
) -> io::Result<()> {
    let stats = &parts.duplicates;
    w.write_all(b"{\"deduplication_rule\":")?;
    write_canonical_string(w, DEDUPLICATION_RULE)?;
    w.write_all(b",\"double_counting_blocked\":true,\"duplicate_trip_frequencies\":{")?;
    for (i, (trip_id, count)) in stats.duplicates.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write_canonical_string(w, trip_id)?;
        write!(w, ":{count}")?;
    }
    w.write_all(b"},\"duplicate_trip_ids\":[")?;
    for (i, (trip_id, _)) in stats.duplicates.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write_canonical_string(w, trip_id)?;
    }
    write!(w, "],\"duplicates_removed_count\":{}", stats.removed())?;
    if let Some(hash) = hash {
        w.write_all(b",\"proof_hash\":")?;
        write_canonical_string(w, hash.as_str())?;
    }
    write!(
        w,
        ",\"raw_impacts_count\":{},\"selected_impacts_count\":{}}}",
        stats.raw_impacts_count,
        parts.selected_impacts_count()
    )
}

fn push_string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = write_canonical_string(out, s);
}

/// A `Write` that feeds SHA-256.
pub(crate) struct HashWriter(pub(crate) Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
