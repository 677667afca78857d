//! Each impact's own proofs, checked over runs of consecutive impacts so that several threads
//! can share the work: its `co2_avoided_kg` from its distance and factors, its `event_hash` from
//! its fields, its `checksum` from that hash and its identifiers, and (offline, with published
//! keys) its Ed25519 signature of `event_hash`. A run also sums what the payload's totals,
//! factors and model versions must equal; runs merge in stream order, which is where the order
//! of `trip_id`s across runs is checked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::ledger::co2_avoided_kg;
use crate::mrv::build::payload::{Aggregation, FactorPair, Totals};
use crate::proof::ed25519_ring::ED25519_ALGORITHM;
use crate::proof::{
    CountryFactors, Decimal6, EventHashInput, PublicKeyRing, UtcMicros, checksum, event_hash,
};

/// One example of each kind of problem is enough; a million would not help.
pub(crate) const MAX_PROBLEMS: usize = 20;

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
    event_timestamp: UtcMicros,
    distance_km: Decimal6,
    co2_avoided_kg: Decimal6,
    thermal_factor_local: Decimal6,
    ev_factor_local: Decimal6,
    methodology_version: String,
    model_version: String,
    asym_signature: String,
    asym_algorithm: String,
    asym_key_version: String,
    /// Its leaf in the transparency log (`greenos.mrv.v2`).
    leaf_index: Option<u64>,
}

/// The canonical bytes of consecutive impacts.
#[derive(Debug, Default)]
pub(crate) struct ImpactRun {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl ImpactRun {
    /// Appends one impact.
    pub(crate) fn push(&mut self, canonical: &[u8]) {
        self.bytes.extend_from_slice(canonical);
        self.ends.push(self.bytes.len());
    }

    /// How many impacts the run holds.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| &self.bytes[start..end])
    }
}

/// What the impacts' Ed25519 signatures showed (checked offline only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureTally {
    /// Signatures checked.
    pub checked: u64,
    /// Signatures that did not verify.
    pub failed: u64,
    /// The key versions the impacts name.
    pub key_versions: BTreeSet<String>,
    /// Why the first failures failed, in plain words.
    pub problems: Vec<String>,
}

/// Signatures waiting for their batch: by key version, `(trip_id, event_hash, signature)`.
#[derive(Debug, Default)]
struct PendingSignatures(BTreeMap<String, Vec<(String, String, String)>>);

impl PendingSignatures {
    fn push(&mut self, facts: &ImpactFacts) -> Result<(), String> {
        if facts.asym_algorithm != ED25519_ALGORITHM {
            return Err(format!("asym_algorithm is {:?}", facts.asym_algorithm));
        }
        let batch = match self.0.get_mut(&facts.asym_key_version) {
            Some(batch) => batch,
            None => self.0.entry(facts.asym_key_version.clone()).or_default(),
        };
        batch.push((
            facts.trip_id.clone(),
            facts.event_hash.clone(),
            facts.asym_signature.clone(),
        ));
        Ok(())
    }

    /// Checks every pending signature into `tally`.
    fn check(self, keys: &PublicKeyRing, tally: &mut SignatureTally) {
        for (version, batch) in self.0 {
            let items: Vec<(&[u8], &str)> = batch
                .iter()
                .map(|(_, hash, signature)| (hash.as_bytes(), signature.as_str()))
                .collect();
            tally.checked += batch.len() as u64;
            for (i, reason) in keys.verify_all(&version, &items) {
                tally.fail(&batch[i].0, &reason);
            }
            tally.key_versions.insert(version);
        }
    }
}

impl SignatureTally {
    fn fail(&mut self, trip_id: &str, reason: &str) {
        self.failed += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(format!(
                "impact {trip_id:?}: Ed25519 signature of event_hash: {reason}"
            ));
        }
    }

    fn merge(&mut self, next: SignatureTally) {
        self.checked += next.checked;
        self.failed += next.failed;
        self.key_versions.extend(next.key_versions);
        let room = MAX_PROBLEMS.saturating_sub(self.problems.len());
        self.problems.extend(next.problems.into_iter().take(room));
    }
}

/// What a run of consecutive impacts showed.
#[derive(Debug, Default)]
pub(crate) struct RunAudit {
    pub(crate) impacts: u64,
    first_trip_id: Option<String>,
    last_trip_id: Option<String>,
    pub(crate) problems: Vec<String>,
    pub(crate) aggregation: Aggregation,
    pub(crate) factors: BTreeMap<String, BTreeSet<FactorPair>>,
    pub(crate) model_versions: BTreeSet<String>,
    pub(crate) signatures: SignatureTally,
    /// One 8-byte digest per `trip_id`, so that the proof (which follows the impacts) can be
    /// checked against them: every duplicated trip kept one row among the impacts.
    pub(crate) trip_digests: Vec<u64>,
    /// The impacts' leaf indexes (`greenos.mrv.v2`), checked against the log checkpoint
    /// (which follows the impacts).
    pub(crate) leaf_indexes: Vec<u64>,
    /// Impacts without a leaf index.
    pub(crate) unlogged: u64,
}

/// The digest of a `trip_id` kept for the proof's check.
pub(crate) fn trip_digest(trip_id: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    trip_id.hash(&mut hasher);
    hasher.finish()
}

impl RunAudit {
    /// Audits `run`, whose first impact is the payload's impact number `first_index` (from 0);
    /// signatures are checked when `keys` are given.
    pub(crate) fn of(run: &ImpactRun, first_index: u64, keys: Option<&PublicKeyRing>) -> RunAudit {
        let mut audit = RunAudit::default();
        let mut pending = keys.map(|_| PendingSignatures::default());
        for (offset, canonical) in (0u64..).zip(run.iter()) {
            audit.impact(canonical, first_index + offset + 1, pending.as_mut());
        }
        if let (Some(pending), Some(keys)) = (pending, keys) {
            pending.check(keys, &mut audit.signatures);
        }
        audit
    }

    fn impact(&mut self, canonical: &[u8], number: u64, pending: Option<&mut PendingSignatures>) {
        self.impacts += 1;
        let facts: ImpactFacts = match serde_json::from_slice(canonical) {
            Ok(facts) => facts,
            Err(err) => {
                self.problem(format!("impact #{number} is not a valid impact: {err}"));
                return;
            }
        };
        if let Some(last) = &self.last_trip_id
            && last.as_bytes() >= facts.trip_id.as_bytes()
        {
            self.problem(unsorted(&facts.trip_id, last));
        }
        self.check_own_proofs(&facts);
        if let Some(pending) = pending
            && let Err(reason) = pending.push(&facts)
        {
            self.signatures.checked += 1;
            self.signatures.fail(&facts.trip_id, &reason);
        }
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
        if !self.model_versions.contains(&facts.model_version) {
            self.model_versions.insert(facts.model_version);
        }
        self.trip_digests.push(trip_digest(&facts.trip_id));
        match facts.leaf_index {
            Some(leaf) => self.leaf_indexes.push(leaf),
            None => self.unlogged += 1,
        }
        if self.first_trip_id.is_none() {
            self.first_trip_id = Some(facts.trip_id.clone());
        }
        self.last_trip_id = Some(facts.trip_id);
    }

    /// The impact's own proofs: its CO2 from its distance and factors (whose consistency with
    /// the payload's `country_factors` the payload audit checks), its `event_hash` from its
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

    /// Appends the run that follows this one in the stream.
    pub(crate) fn merge(&mut self, next: RunAudit) {
        if let (Some(last), Some(first)) = (&self.last_trip_id, &next.first_trip_id)
            && last.as_bytes() >= first.as_bytes()
        {
            let problem = unsorted(first, last);
            self.problem(problem);
        }
        self.impacts += next.impacts;
        for problem in next.problems {
            self.problem(problem);
        }
        if self
            .aggregation
            .totals
            .add(next.aggregation.totals)
            .is_none()
        {
            self.problem("impact totals overflow".to_owned());
        }
        for (country, totals) in next.aggregation.by_country {
            if self
                .aggregation
                .by_country
                .entry(country)
                .or_default()
                .add(totals)
                .is_none()
            {
                self.problem("impact totals overflow".to_owned());
            }
        }
        for (country, pairs) in next.factors {
            self.factors.entry(country).or_default().extend(pairs);
        }
        self.model_versions.extend(next.model_versions);
        self.signatures.merge(next.signatures);
        self.trip_digests.extend(next.trip_digests);
        self.leaf_indexes.extend(next.leaf_indexes);
        self.unlogged += next.unlogged;
        if self.first_trip_id.is_none() {
            self.first_trip_id = next.first_trip_id;
        }
        if next.last_trip_id.is_some() {
            self.last_trip_id = next.last_trip_id;
        }
    }

    pub(crate) fn problem(&mut self, problem: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        }
    }
}

fn unsorted(trip_id: &str, last: &str) -> String {
    format!("impacts are not sorted and unique by trip_id: {trip_id:?} follows {last:?}")
}
