//! The internal consistency of a payload, checked as it streams past (one impact at a time):
//! every impact's own proofs (its `event_hash` and `checksum` re-computed from its fields, its
//! `co2_avoided_kg` from its distance and factors, which must be the payload's), the
//! non-double-counting proof (its `proof_hash` and counts), impacts sorted and unique by
//! `trip_id`, the totals, factors and model versions against the impacts, and the window.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use crate::ledger::co2_avoided_kg;
use crate::mrv::build::payload::{
    Aggregation, DEDUPLICATION_RULE, FactorPair, MethodologyBinding, SCHEMA_VERSION, Totals,
};
use crate::mrv::period::ExportWindow;
use crate::mrv::read::artifact::ArtifactHeader;
use crate::proof::{CountryFactors, Decimal6, EventHashInput, checksum, event_hash, proof_hash};

/// The top-level members of a payload, in canonical order.
pub const PAYLOAD_MEMBERS: [&str; 11] = [
    "aggregation",
    "country_factors",
    "generated_at",
    "impacts",
    "methodology",
    "model_versions",
    "non_double_counting_proof",
    "period",
    "period_end",
    "period_start",
    "schema_version",
];

/// What the audit found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProofReport {
    /// Every inconsistency, in plain words; empty when the payload is consistent.
    pub problems: Vec<String>,
    /// The payload's `methodology` block, when it has a valid one.
    pub binding: Option<MethodologyBinding>,
    /// Impacts counted.
    pub impacts_count: u64,
}

impl ProofReport {
    /// Whether every check passed.
    pub fn valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The fields of an impact the audit needs: the ones its `event_hash` covers (see
/// [`EventHashInput`]), and the proofs built on them.
#[derive(Deserialize)]
struct ImpactFacts {
    event_hash: String,
    checksum: String,
    trip_id: String,
    user_id: String,
    vehicle_id: String,
    country_code: String,
    geo_hash: String,
    event_timestamp: crate::proof::UtcMicros,
    distance_km: Decimal6,
    co2_avoided_kg: Decimal6,
    thermal_factor_local: Decimal6,
    ev_factor_local: Decimal6,
    methodology_version: String,
    model_version: String,
}

/// Accumulates facts while a payload streams; [`PayloadAudit::finish`] judges them.
#[derive(Debug, Default)]
pub(crate) struct PayloadAudit {
    impacts: u64,
    last_trip_id: Option<String>,
    problems: Vec<String>,
    aggregation: Aggregation,
    factors: BTreeMap<String, BTreeSet<FactorPair>>,
    model_versions: BTreeSet<String>,
    members: BTreeMap<String, Vec<u8>>,
    saw_impacts: bool,
}

impl PayloadAudit {
    /// Records one impact, given as its canonical bytes.
    pub(crate) fn impact(&mut self, canonical: &[u8]) {
        self.impacts += 1;
        let facts: ImpactFacts = match serde_json::from_slice(canonical) {
            Ok(facts) => facts,
            Err(err) => {
                self.problem(format!(
                    "impact #{} is not a valid impact: {err}",
                    self.impacts
                ));
                return;
            }
        };
        if let Some(last) = &self.last_trip_id
            && last.as_bytes() >= facts.trip_id.as_bytes()
        {
            self.problem(format!(
                "impacts are not sorted and unique by trip_id: {:?} follows {last:?}",
                facts.trip_id
            ));
        }
        self.check_own_proofs(&facts);
        let micro = |d: Decimal6| d.to_micro().unwrap_or(i64::MAX);
        let totals = Totals {
            impacts_count: 1,
            total_distance_km_micro: micro(facts.distance_km),
            total_co2_avoided_kg_micro: micro(facts.co2_avoided_kg),
        };
        let added = self.aggregation.totals.add(totals).and_then(|()| {
            self.aggregation
                .by_country
                .entry(facts.country_code.clone())
                .or_default()
                .add(totals)
        });
        if added.is_none() {
            self.problem("impact totals overflow".to_owned());
        }
        self.factors
            .entry(facts.country_code)
            .or_default()
            .insert(FactorPair {
                methodology_version: facts.methodology_version,
                thermal_factor_local_micro: micro(facts.thermal_factor_local),
                ev_factor_local_micro: micro(facts.ev_factor_local),
            });
        self.model_versions.insert(facts.model_version);
        self.last_trip_id = Some(facts.trip_id);
    }

    /// The impact's own proofs: its CO2 from its distance and factors (whose consistency with
    /// the payload's `country_factors` [`Self::finish`] checks), its `event_hash` from its
    /// fields, its `checksum` from that hash and its identifiers. A payload re-hashed and
    /// re-signed after an impact was changed fails here.
    fn check_own_proofs(&mut self, facts: &ImpactFacts) {
        let factors = CountryFactors {
            thermal_factor_local: facts.thermal_factor_local,
            ev_factor_local: facts.ev_factor_local,
        };
        if co2_avoided_kg(facts.distance_km, &factors) != facts.co2_avoided_kg {
            self.problem(format!(
                "impact {:?}: co2_avoided_kg {} is not distance_km x (thermal - ev) rounded",
                facts.trip_id, facts.co2_avoided_kg
            ));
        }
        let hash = event_hash(&EventHashInput {
            trip_id: facts.trip_id.clone(),
            user_id: facts.user_id.clone(),
            vehicle_id: facts.vehicle_id.clone(),
            country_code: facts.country_code.clone(),
            geo_hash: facts.geo_hash.clone(),
            event_timestamp: facts.event_timestamp,
            distance_km: facts.distance_km,
            thermal_factor_local: facts.thermal_factor_local,
            ev_factor_local: facts.ev_factor_local,
            co2_avoided_kg: facts.co2_avoided_kg,
            model_version: facts.model_version.clone(),
            methodology_version: facts.methodology_version.clone(),
        });
        if hash.as_str() != facts.event_hash {
            self.problem(format!(
                "impact {:?}: event_hash does not match its fields (re-computed {hash})",
                facts.trip_id
            ));
            return;
        }
        let expected = checksum(
            &hash,
            &facts.trip_id,
            &facts.model_version,
            &facts.country_code,
        );
        if expected.as_str() != facts.checksum {
            self.problem(format!(
                "impact {:?}: checksum does not match its event_hash and identifiers",
                facts.trip_id
            ));
        }
    }

    /// Marks that the `impacts` array was present.
    pub(crate) fn saw_impacts(&mut self) {
        self.saw_impacts = true;
    }

    /// Records a top-level member other than `impacts`, given as its canonical bytes.
    pub(crate) fn member(&mut self, key: &str, canonical: Vec<u8>) {
        self.members.insert(key.to_owned(), canonical);
    }

    fn problem(&mut self, problem: String) {
        // One example of each kind of problem is enough; a million would not help.
        if self.problems.len() < 20 {
            self.problems.push(problem);
        }
    }

    /// Judges the payload, and its declared fields in `header`.
    pub(crate) fn finish(mut self, header: &ArtifactHeader) -> ProofReport {
        let present: BTreeSet<&str> = self
            .members
            .keys()
            .map(String::as_str)
            .chain(self.saw_impacts.then_some("impacts"))
            .collect();
        let expected: BTreeSet<&str> = PAYLOAD_MEMBERS.into_iter().collect();
        if present != expected {
            let missing: Vec<_> = expected.difference(&present).collect();
            let extra: Vec<_> = present.difference(&expected).collect();
            self.problem(format!(
                "payload members differ from greenos.mrv.v1: missing {missing:?}, unexpected {extra:?}"
            ));
        }
        let member = |key: &str| -> Value {
            self.members
                .get(key)
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or(Value::Null)
        };
        let mut problems = Vec::new();
        let text = |value: &Value| value.as_str().map(str::to_owned).unwrap_or_default();
        if member("schema_version") != SCHEMA_VERSION {
            problems.push(format!("schema_version is not {SCHEMA_VERSION}"));
        }
        self.check_window(&member, header, &mut problems);
        self.check_totals(&member("aggregation"), &mut problems);
        let computed_factors: serde_json::Map<String, Value> = self
            .factors
            .iter()
            .map(|(country, pairs)| {
                let pairs = pairs.iter().map(FactorPair::to_value).collect();
                (country.clone(), Value::Array(pairs))
            })
            .collect();
        if member("country_factors") != Value::Object(computed_factors) {
            problems.push("country_factors differ from the factors of the impacts".to_owned());
        }
        let versions: Vec<String> = self.model_versions.iter().cloned().collect();
        if member("model_versions") != Value::from(versions) {
            problems.push("model_versions differ from the impacts' model versions".to_owned());
        }
        check_proof(
            &member("non_double_counting_proof"),
            self.impacts,
            &mut problems,
        );
        let binding = serde_json::from_value(member("methodology")).ok();
        if binding.is_none() {
            problems.push("the methodology block is missing or malformed".to_owned());
        }
        if text(&member("generated_at")).is_empty() {
            problems.push("generated_at is missing".to_owned());
        }
        self.problems.extend(problems);
        ProofReport {
            problems: self.problems,
            binding,
            impacts_count: self.impacts,
        }
    }

    fn check_window(
        &self,
        member: &dyn Fn(&str) -> Value,
        header: &ArtifactHeader,
        problems: &mut Vec<String>,
    ) {
        let text = |key: &str| member(key).as_str().map(str::to_owned).unwrap_or_default();
        let (period, start, end) = (text("period"), text("period_start"), text("period_end"));
        match ExportWindow::parse(&period, &end) {
            Ok(window) if window.period_start.to_string() == start => {}
            _ => problems.push(format!(
                "period {period:?} does not span [{start}, {end}) on calendar boundaries"
            )),
        }
        if (
            header.period.as_str(),
            header.period_start.as_str(),
            header.period_end.as_str(),
        ) != (period.as_str(), start.as_str(), end.as_str())
        {
            problems.push("the artifact's period fields differ from the payload's".to_owned());
        }
    }

    fn check_totals(&self, aggregation: &Value, problems: &mut Vec<String>) {
        if *aggregation != self.aggregation.to_value() {
            problems.push(format!(
                "aggregation differs from the sums of the {} impacts",
                self.impacts
            ));
        }
    }
}

/// The proof block: its hash, rule, and counts against the impacts.
fn check_proof(proof: &Value, impacts: u64, problems: &mut Vec<String>) {
    let Some(fields) = proof.as_object() else {
        problems.push("non_double_counting_proof is missing".to_owned());
        return;
    };
    let int = |key: &str| fields.get(key).and_then(Value::as_i64);
    let declared_hash = fields.get("proof_hash").and_then(Value::as_str);
    match proof_hash(proof) {
        Ok(h) if Some(h.as_str()) == declared_hash => {}
        Ok(h) => problems.push(format!(
            "proof_hash is {declared_hash:?}, the proof hashes to {h}"
        )),
        Err(err) => problems.push(format!("the proof is not canonical JSON: {err}")),
    }
    if fields.get("deduplication_rule") != Some(&Value::from(DEDUPLICATION_RULE))
        || fields.get("double_counting_blocked") != Some(&Value::Bool(true))
    {
        problems.push(format!(
            "the proof does not state {DEDUPLICATION_RULE} with double_counting_blocked"
        ));
    }
    let frequencies = fields
        .get("duplicate_trip_frequencies")
        .and_then(Value::as_object);
    let removed: Option<i64> = frequencies.and_then(|f| {
        f.values()
            .map(|n| n.as_i64().filter(|n| *n >= 2).map(|n| n - 1))
            .sum()
    });
    let ids: Option<Vec<&str>> = fields
        .get("duplicate_trip_ids")
        .and_then(Value::as_array)
        .and_then(|ids| ids.iter().map(Value::as_str).collect());
    let keys: Option<Vec<&str>> = frequencies.map(|f| f.keys().map(String::as_str).collect());
    if ids.is_none() || ids != keys {
        problems.push(
            "duplicate_trip_ids differ from the keys of duplicate_trip_frequencies".to_owned(),
        );
    }
    let (raw, selected, declared_removed) = (
        int("raw_impacts_count"),
        int("selected_impacts_count"),
        int("duplicates_removed_count"),
    );
    let consistent = selected == i64::try_from(impacts).ok()
        && removed.is_some()
        && declared_removed == removed
        && raw == selected.zip(removed).map(|(s, r)| s + r);
    if !consistent {
        problems.push(format!(
            "proof counts are inconsistent: raw {raw:?}, selected {selected:?}, removed {declared_removed:?}, {impacts} impacts"
        ));
    }
}
