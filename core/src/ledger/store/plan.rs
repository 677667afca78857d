//! Deciding, before anything is written, what each submitted trip is: new, a duplicate, a
//! conflict, or not computable; and assembling the outcome once the new ones have their
//! `ledger_seq`.
//!
//! Idempotency comes first: a trip identical to a recorded impact is a duplicate even when the
//! ACTIVE methodology no longer has factors for its country.

use std::collections::{BTreeSet, HashMap};

use crate::ledger::compute::{ComputeContext, NewImpact, Prepared, Refusal};
use crate::ledger::error::{Conflict, IngestError};
use crate::ledger::impact::Impact;
use crate::ledger::parse::TripProblem;
use crate::ledger::store::{AppendOutcome, Appended, ConflictPolicy};

/// What to do with one submitted trip.
enum Step {
    /// New: write it.
    Insert,
    /// The same trip appeared earlier in the call, at this index.
    SameAs(usize),
    /// Already in the ledger with the same content.
    Existing,
    /// A different impact exists for the trip.
    Conflict(Conflict),
    /// New, but the ACTIVE methodology has no factors for its country.
    NoFactors,
    /// Never recordable.
    Refused(Refusal),
}

/// The steps of a call, in input order, and which impacts to write.
pub(super) struct Plan {
    steps: Vec<Step>,
    /// Indexes of the impacts to write, in input order.
    pub(super) to_insert: Vec<usize>,
}

/// Classifies every trip against the stored rows of the same `(trip_id, model_version)`.
///
/// With `RejectAll`, a trip without factors refuses the call (`422`), then a conflict (`409`);
/// with `SkipConflicting` both are reported and left out.
pub(super) fn plan(
    prepared: &[Prepared],
    existing: &HashMap<String, Impact>,
    policy: ConflictPolicy,
    context: &ComputeContext,
) -> Result<Plan, IngestError> {
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(prepared.len());
    let mut steps = Vec::with_capacity(prepared.len());
    let mut to_insert = Vec::with_capacity(prepared.len());
    let mut conflicts = Vec::new();
    let mut uncovered = Vec::new();
    let mut refused = Vec::new();
    for (index, item) in prepared.iter().enumerate() {
        let trip_id = item.trip_id();
        let step = if let Prepared::Refused(_, refusal) = item {
            Step::Refused(refusal.clone())
        } else if let Some(&earlier) = first_of.get(trip_id) {
            match &prepared[earlier] {
                Prepared::Signed(first) if item.same_trip_as(&first.event) => Step::SameAs(earlier),
                Prepared::NoFactors(_) if same_input(item, &prepared[earlier]) => {
                    Step::SameAs(earlier)
                }
                _ => Step::Conflict(Conflict {
                    index,
                    trip_id: trip_id.to_owned(),
                    model_version: context.model_version().to_owned(),
                }),
            }
        } else {
            first_of.insert(trip_id, index);
            match (existing.get(trip_id), item) {
                (Some(stored), _) if item.same_trip_as(&stored.event) => Step::Existing,
                (Some(stored), _) => Step::Conflict(Conflict {
                    index,
                    trip_id: trip_id.to_owned(),
                    model_version: stored.event.model_version.clone(),
                }),
                (None, Prepared::Signed(_)) => {
                    to_insert.push(index);
                    Step::Insert
                }
                (None, _) => Step::NoFactors,
            }
        };
        match &step {
            Step::Conflict(c) => conflicts.push(c.clone()),
            Step::NoFactors => uncovered.push(index),
            Step::Refused(refusal) => refused.push(TripProblem {
                index,
                line: None,
                field: Some(refusal.field.to_owned()),
                reason: refusal.reason.clone(),
            }),
            _ => {}
        }
        steps.push(step);
    }
    if policy == ConflictPolicy::RejectAll {
        if !refused.is_empty() {
            return Err(IngestError::Validation { problems: refused });
        }
        if !uncovered.is_empty() {
            return Err(no_factors(
                prepared,
                &uncovered,
                context.methodology_version(),
            ));
        }
        if !conflicts.is_empty() {
            return Err(IngestError::DuplicateImpact { conflicts });
        }
    }
    Ok(Plan { steps, to_insert })
}

/// Two unsigned submissions of one `trip_id` are the same trip when their inputs agree.
fn same_input(a: &Prepared, b: &Prepared) -> bool {
    match (a, b) {
        (Prepared::NoFactors(x), Prepared::NoFactors(y)) => x == y,
        _ => false,
    }
}

fn no_factors(prepared: &[Prepared], indexes: &[usize], methodology_version: &str) -> IngestError {
    let countries: BTreeSet<String> = indexes
        .iter()
        .filter_map(|&i| match &prepared[i] {
            Prepared::NoFactors(trip) => Some(trip.country_code.to_string()),
            Prepared::Signed(_) | Prepared::Refused(..) => None,
        })
        .collect();
    IngestError::CountryFactorNotConfigured {
        methodology_version: methodology_version.to_owned(),
        countries: countries.into_iter().collect(),
        indexes: indexes.to_vec(),
    }
}

fn country_of(prepared: &Prepared) -> &str {
    match prepared {
        Prepared::Signed(impact) => &impact.event.country_code,
        Prepared::NoFactors(trip) | Prepared::Refused(trip, _) => trip.country_code.as_str(),
    }
}

impl Plan {
    /// The signed impacts to write, with their index, in input order.
    pub(super) fn signed_to_insert<'a>(
        &self,
        prepared: &'a [Prepared],
    ) -> Vec<(usize, &'a NewImpact)> {
        self.to_insert
            .iter()
            .filter_map(|&index| match &prepared[index] {
                Prepared::Signed(impact) => Some((index, impact)),
                Prepared::NoFactors(_) | Prepared::Refused(..) => None,
            })
            .collect()
    }

    /// The outcome per submitted trip, given the stored rows and the newly written impacts.
    pub(super) fn finish(
        self,
        prepared: &[Prepared],
        existing: &HashMap<String, Impact>,
        context: &ComputeContext,
        mut inserted: HashMap<String, Impact>,
    ) -> Result<AppendOutcome, IngestError> {
        let mut items: Vec<Appended> = Vec::with_capacity(self.steps.len());
        for (index, step) in self.steps.into_iter().enumerate() {
            let trip_id = prepared[index].trip_id();
            let missing = || IngestError::Task(format!("impact of trip {trip_id} went missing"));
            let item = match step {
                Step::Insert => Appended::Accepted(inserted.remove(trip_id).ok_or_else(missing)?),
                Step::Existing => {
                    Appended::Duplicate(existing.get(trip_id).cloned().ok_or_else(missing)?)
                }
                Step::SameAs(earlier) => match items.get(earlier).ok_or_else(missing)? {
                    Appended::Accepted(impact) | Appended::Duplicate(impact) => {
                        Appended::Duplicate(impact.clone())
                    }
                    Appended::Conflict(c) => Appended::Conflict(Conflict { index, ..c.clone() }),
                    refused @ Appended::Refused(_) => refused.clone(),
                },
                Step::Conflict(c) => Appended::Conflict(c),
                Step::NoFactors => {
                    Appended::Refused(context.no_factors(country_of(&prepared[index])))
                }
                Step::Refused(refusal) => Appended::Refused(refusal),
            };
            items.push(item);
        }
        Ok(AppendOutcome { items })
    }
}
