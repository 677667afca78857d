//! The internal consistency of a payload, checked as it streams past: every impact's own
//! proofs (see [`super::impacts`]; their `co2_avoided_kg` factors must be the payload's), the
//! non-double-counting proof (its `proof_hash` and counts), impacts sorted and unique by
//! `trip_id`, the totals, factors and model versions against the impacts, and the window.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::mrv::build::payload::{
    DEDUPLICATION_RULE, FactorPair, LogBinding, MethodologyBinding, SCHEMA_VERSION,
    SCHEMA_VERSION_V1,
};
use crate::mrv::period::ExportWindow;
use crate::mrv::read::artifact::ArtifactHeader;
use crate::mrv::verify::impacts::{RunAudit, SignatureTally, trip_digest};
use crate::mrv::verify::pool::{AuditOptions, ImpactAuditor};
use crate::proof::proof_hash;

/// The top-level members of a `greenos.mrv.v1` payload, in canonical order; `greenos.mrv.v2`
/// adds `log_checkpoint`.
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
    /// The impacts' Ed25519 signatures, when they were checked (offline, with given keys).
    pub impact_signatures: Option<SignatureTally>,
    /// The transparency-log checkpoint a `greenos.mrv.v2` payload binds to; its signature is
    /// checked with the keys at hand ([`super::ExportVerification::check_log_checkpoint`]).
    pub log: Option<LogBinding>,
}

impl ProofReport {
    /// Whether every check passed (the impacts' signatures are judged apart).
    pub fn valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Accumulates facts while a payload streams; [`PayloadAudit::finish`] judges them.
pub(crate) struct PayloadAudit {
    impacts: ImpactAuditor,
    members: BTreeMap<String, Vec<u8>>,
    saw_impacts: bool,
    checks_signatures: bool,
}

impl PayloadAudit {
    /// Starts an audit whose impacts are checked as `options` says.
    pub(crate) fn new(options: &AuditOptions) -> PayloadAudit {
        PayloadAudit {
            impacts: ImpactAuditor::new(options),
            members: BTreeMap::new(),
            saw_impacts: false,
            checks_signatures: options.keys.is_some(),
        }
    }

    /// Records one impact, given as its canonical bytes.
    pub(crate) fn impact(&mut self, canonical: &[u8]) {
        self.impacts.impact(canonical);
    }

    /// Marks that the `impacts` array was present.
    pub(crate) fn saw_impacts(&mut self) {
        self.saw_impacts = true;
    }

    /// Records a top-level member other than `impacts`, given as its canonical bytes.
    pub(crate) fn member(&mut self, key: &str, canonical: Vec<u8>) {
        self.members.insert(key.to_owned(), canonical);
    }

    /// Judges the payload, and its declared fields in `header`.
    pub(crate) fn finish(self, header: &ArtifactHeader) -> ProofReport {
        let impacts = self.impacts.finish();
        let mut problems = impacts.problems.clone();
        let present: BTreeSet<&str> = self
            .members
            .keys()
            .map(String::as_str)
            .chain(self.saw_impacts.then_some("impacts"))
            .collect();
        let member = |key: &str| -> Value {
            self.members
                .get(key)
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or(Value::Null)
        };
        let text = |value: &Value| value.as_str().map(str::to_owned).unwrap_or_default();
        let schema = text(&member("schema_version"));
        let logged = schema == SCHEMA_VERSION;
        if !logged && schema != SCHEMA_VERSION_V1 {
            problems.push(format!(
                "schema_version is {schema:?}, neither {SCHEMA_VERSION} nor {SCHEMA_VERSION_V1}"
            ));
        }
        let expected: BTreeSet<&str> = PAYLOAD_MEMBERS
            .into_iter()
            .chain(logged.then_some("log_checkpoint"))
            .collect();
        if present != expected {
            let missing: Vec<_> = expected.difference(&present).collect();
            let extra: Vec<_> = present.difference(&expected).collect();
            problems.push(format!(
                "payload members differ from {schema}: missing {missing:?}, unexpected {extra:?}"
            ));
        }
        let log = if logged {
            check_leaves(&member("log_checkpoint"), &impacts, &mut problems)
        } else {
            if !impacts.leaf_indexes.is_empty() {
                problems.push(format!(
                    "{} impacts carry a leaf_index, which {SCHEMA_VERSION_V1} does not have",
                    impacts.leaf_indexes.len()
                ));
            }
            None
        };
        check_window(&member, header, &mut problems);
        if member("aggregation") != impacts.aggregation.to_value() {
            problems.push(format!(
                "aggregation differs from the sums of the {} impacts",
                impacts.impacts
            ));
        }
        let computed_factors: serde_json::Map<String, Value> = impacts
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
        let versions: Vec<String> = impacts.model_versions.iter().cloned().collect();
        if member("model_versions") != Value::from(versions) {
            problems.push("model_versions differ from the impacts' model versions".to_owned());
        }
        check_proof(
            &member("non_double_counting_proof"),
            impacts.impacts,
            &impacts.trip_digests,
            &mut problems,
        );
        let binding = serde_json::from_value(member("methodology")).ok();
        if binding.is_none() {
            problems.push("the methodology block is missing or malformed".to_owned());
        }
        if text(&member("generated_at")).is_empty() {
            problems.push("generated_at is missing".to_owned());
        }
        ProofReport {
            problems,
            binding,
            impacts_count: impacts.impacts,
            impact_signatures: self.checks_signatures.then_some(impacts.signatures),
            log,
        }
    }
}

/// The `log_checkpoint` of a `greenos.mrv.v2` payload against its impacts: each impact is a
/// leaf of that tree (its `leaf_index` below `tree_size`), and no two impacts are the same leaf.
fn check_leaves(
    checkpoint: &Value,
    impacts: &RunAudit,
    problems: &mut Vec<String>,
) -> Option<LogBinding> {
    let Ok(log) = serde_json::from_value::<LogBinding>(checkpoint.clone()) else {
        problems.push("log_checkpoint is missing or malformed".to_owned());
        return None;
    };
    if impacts.unlogged > 0 {
        problems.push(format!(
            "{} impacts carry no leaf_index in the transparency log",
            impacts.unlogged
        ));
    }
    let beyond = impacts
        .leaf_indexes
        .iter()
        .filter(|leaf| **leaf >= log.tree_size)
        .count();
    if beyond > 0 {
        problems.push(format!(
            "{beyond} impacts have a leaf_index not below the checkpoint's tree_size {}",
            log.tree_size
        ));
    }
    let mut leaves = impacts.leaf_indexes.clone();
    leaves.sort_unstable();
    if let Some(twice) = leaves.windows(2).find(|pair| pair[0] == pair[1]) {
        problems.push(format!(
            "two impacts claim the same leaf_index {} of the transparency log",
            twice[0]
        ));
    }
    Some(log)
}

fn check_window(
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

/// The proof block: its hash, rule, and counts against the impacts.
fn check_proof(proof: &Value, impacts: u64, trip_digests: &[u64], problems: &mut Vec<String>) {
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
    // Every duplicated trip kept one row, so it is among the impacts.
    let mut absent: BTreeMap<u64, &str> = keys
        .iter()
        .flatten()
        .map(|trip_id| (trip_digest(trip_id), *trip_id))
        .collect();
    for digest in trip_digests {
        if absent.is_empty() {
            break;
        }
        absent.remove(digest);
    }
    if !absent.is_empty() {
        let mut names: Vec<&str> = absent.into_values().collect();
        names.sort_unstable();
        names.truncate(5);
        problems.push(format!(
            "duplicated trips absent from the impacts: {}",
            names.join(", ")
        ));
    }
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
