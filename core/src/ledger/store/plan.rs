//! Deciding, before anything is written, what each submitted impact is: new, a duplicate, or a
//! conflict; and assembling the outcome once the new ones have their `ledger_seq`.

use std::collections::HashMap;

use crate::ledger::compute::NewImpact;
use crate::ledger::error::{Conflict, IngestError};
use crate::ledger::impact::{Impact, same_trip};
use crate::ledger::store::{AppendOutcome, Appended, ConflictPolicy};

/// What to do with one submitted impact.
enum Step {
    /// New: write it.
    Insert,
    /// The same trip appeared earlier in the call, at this index.
    SameAs(usize),
    /// Already in the ledger with the same content.
    Existing,
    /// A different impact exists for the trip.
    Conflict(Conflict),
}

/// The steps of a call, in input order, and which impacts to write.
pub(super) struct Plan {
    steps: Vec<Step>,
    /// Indexes of the impacts to write, in input order.
    pub(super) to_insert: Vec<usize>,
}

/// Classifies every impact against the stored rows of the same `(trip_id, model_version)`.
pub(super) fn plan(
    impacts: &[NewImpact],
    existing: &HashMap<String, Impact>,
    policy: ConflictPolicy,
) -> Result<Plan, IngestError> {
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(impacts.len());
    let mut steps = Vec::with_capacity(impacts.len());
    let mut to_insert = Vec::with_capacity(impacts.len());
    let mut conflicts = Vec::new();
    for (index, impact) in impacts.iter().enumerate() {
        let trip_id = impact.event.trip_id.as_str();
        let conflict = |model_version: &str| Conflict {
            index,
            trip_id: trip_id.to_owned(),
            model_version: model_version.to_owned(),
        };
        let step = if let Some(&earlier) = first_of.get(trip_id) {
            if same_trip(&impacts[earlier].event, &impact.event) {
                Step::SameAs(earlier)
            } else {
                Step::Conflict(conflict(&impact.event.model_version))
            }
        } else {
            first_of.insert(trip_id, index);
            match existing.get(trip_id) {
                Some(stored) if same_trip(&stored.event, &impact.event) => Step::Existing,
                Some(stored) => Step::Conflict(conflict(&stored.event.model_version)),
                None => {
                    to_insert.push(index);
                    Step::Insert
                }
            }
        };
        if let Step::Conflict(c) = &step {
            conflicts.push(c.clone());
        }
        steps.push(step);
    }
    if policy == ConflictPolicy::RejectAll && !conflicts.is_empty() {
        return Err(IngestError::DuplicateImpact { conflicts });
    }
    Ok(Plan { steps, to_insert })
}

impl Plan {
    /// The outcome per submitted impact, given the stored rows and the newly written impacts.
    pub(super) fn finish(
        self,
        impacts: &[NewImpact],
        existing: &HashMap<String, Impact>,
        mut inserted: HashMap<String, Impact>,
    ) -> Result<AppendOutcome, IngestError> {
        let mut items: Vec<Appended> = Vec::with_capacity(self.steps.len());
        for (index, step) in self.steps.into_iter().enumerate() {
            let trip_id = impacts[index].event.trip_id.as_str();
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
                },
                Step::Conflict(c) => Appended::Conflict(c),
            };
            items.push(item);
        }
        Ok(AppendOutcome { items })
    }
}
