//! Strict parsing of request bodies (SPEC §4): one JSON trip object, a JSON array, or JSON Lines,
//! into `ValidatedTrip`s. Every problem of every trip is reported by index and field; any
//! problem refuses the whole request.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::ledger::error::IngestError;
use crate::ledger::fields::{FieldProblem, parse_json_trip};
use crate::ledger::trip::ValidatedTrip;

/// The most trips one request may carry; bulk loads go through `greenos ingest FILE`.
pub const MAX_TRIPS_PER_REQUEST: usize = 10_000;

/// A problem located in a request: the trip's position (0-based) and, for JSON Lines, its line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TripProblem {
    /// Position of the trip in the request, from 0.
    pub index: usize,
    /// Line number (from 1) in a JSON Lines body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The offending field, `null` when the trip as a whole is wrong.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

/// How a request body encodes its trips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// One trip object, or an array of them.
    Json,
    /// One trip object per line.
    JsonLines,
}

/// The trips of a request: one object, or a batch (array or JSON Lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TripsBody {
    /// A single trip object.
    Single(ValidatedTrip),
    /// An array or JSON Lines, in input order.
    Batch(Vec<ValidatedTrip>),
}

/// Parses a whole request body; any bad trip rejects the request (nothing is written).
pub fn parse_body(format: BodyFormat, body: &[u8]) -> Result<TripsBody, IngestError> {
    match format {
        BodyFormat::Json => parse_json_body(body),
        BodyFormat::JsonLines => parse_json_lines(body).map(TripsBody::Batch),
    }
}

fn parse_json_body(body: &[u8]) -> Result<TripsBody, IngestError> {
    let invalid_json = |err: serde_json::Error| IngestError::InvalidJson {
        problems: vec![TripProblem {
            index: 0,
            line: None,
            field: None,
            reason: format!("invalid JSON: {err}"),
        }],
    };
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(invalid_json)?;
            check_count(items.len())?;
            let mut trips = Vec::with_capacity(items.len());
            let mut problems = Vec::new();
            for (index, raw) in items.into_iter().enumerate() {
                match parse_json_trip(raw.get().as_bytes()) {
                    Ok(trip) => trips.push(trip),
                    Err(rejected) => problems.extend(locate(index, None, rejected.problems)),
                }
            }
            if problems.is_empty() {
                Ok(TripsBody::Batch(trips))
            } else {
                Err(IngestError::Validation { problems })
            }
        }
        Some(b'{') => parse_json_trip(body)
            .map(TripsBody::Single)
            .map_err(|rejected| {
                let problems = locate(0, None, rejected.problems);
                if rejected.malformed_json {
                    IngestError::InvalidJson { problems }
                } else {
                    IngestError::Validation { problems }
                }
            }),
        _ => {
            serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(invalid_json)?;
            Err(IngestError::Validation {
                problems: vec![TripProblem {
                    index: 0,
                    line: None,
                    field: None,
                    reason: "expected a trip object or an array of trips".to_owned(),
                }],
            })
        }
    }
}

fn parse_json_lines(body: &[u8]) -> Result<Vec<ValidatedTrip>, IngestError> {
    let mut trips = Vec::new();
    let mut problems = Vec::new();
    let mut malformed = false;
    let mut index = 0;
    for (line_index, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        index += 1;
        check_count(index)?;
        match parse_json_trip(line) {
            Ok(trip) => trips.push(trip),
            Err(rejected) => {
                malformed |= rejected.malformed_json;
                problems.extend(locate(index - 1, Some(line_index + 1), rejected.problems));
            }
        }
    }
    if index == 0 {
        check_count(0)?;
    }
    match (problems.is_empty(), malformed) {
        (true, _) => Ok(trips),
        (false, true) => Err(IngestError::InvalidJson { problems }),
        (false, false) => Err(IngestError::Validation { problems }),
    }
}

fn check_count(count: usize) -> Result<(), IngestError> {
    if count > MAX_TRIPS_PER_REQUEST {
        return Err(IngestError::TooManyTrips { count });
    }
    if count == 0 {
        return Err(IngestError::Validation {
            problems: vec![TripProblem {
                index: 0,
                line: None,
                field: None,
                reason: "the batch holds no trip".to_owned(),
            }],
        });
    }
    Ok(())
}

fn locate(index: usize, line: Option<usize>, problems: Vec<FieldProblem>) -> Vec<TripProblem> {
    problems
        .into_iter()
        .map(|p| TripProblem {
            index,
            line,
            field: p.field,
            reason: p.reason,
        })
        .collect()
}

#[cfg(test)]
mod tests;
