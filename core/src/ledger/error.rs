//! What can go wrong when ingesting, reading or verifying impacts, and the public code of each.

use sea_orm::DbErr;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error_code::{DomainError, ErrorCode};
use crate::ledger::parse::{MAX_TRIPS_PER_REQUEST, TripProblem};
use crate::ledger::verify::TripVerification;
use crate::methodology::MethodologyError;

/// A trip whose `trip_id` already has a different impact under the same model version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// Position of the conflicting trip in the request or batch.
    pub index: usize,
    /// The trip identifier.
    pub trip_id: String,
    /// The model version under which the other impact exists.
    pub model_version: String,
}

/// An ingestion failure; nothing of the request or batch was written.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body (or a JSON Lines line) is not JSON.
    #[error("The request body is not valid JSON.")]
    InvalidJson {
        /// Where the JSON breaks.
        problems: Vec<TripProblem>,
    },
    /// Trips break the §4 rules; every problem is listed.
    #[error("{} problem(s) in the submitted trips; nothing was written.", problems.len())]
    Validation {
        /// Every problem, by trip index and field.
        problems: Vec<TripProblem>,
    },
    /// More trips than one request may carry.
    #[error(
        "A request carries at most {MAX_TRIPS_PER_REQUEST} trips, this one has {count}; split it, or load files with `greenos ingest FILE`."
    )]
    TooManyTrips {
        /// How many trips were counted (counting stops just above the limit for JSON Lines).
        count: usize,
    },
    /// The ACTIVE methodology has no factors for some countries; there is never a fallback.
    #[error(
        "The ACTIVE methodology {methodology_version} has no emission factors for {}; nothing was written.",
        countries.join(", ")
    )]
    CountryFactorNotConfigured {
        /// The ACTIVE methodology version.
        methodology_version: String,
        /// The uncovered countries, sorted.
        countries: Vec<String>,
        /// Positions of the trips concerned.
        indexes: Vec<usize>,
    },
    /// Trips already have a different impact under the same model version.
    #[error(
        "{} trip(s) already have a different impact under the same model version; an impact is never replaced, nothing was written.",
        conflicts.len()
    )]
    DuplicateImpact {
        /// Each conflicting trip.
        conflicts: Vec<Conflict>,
    },
    /// The methodology registry failed (for instance, no version is ACTIVE).
    #[error(transparent)]
    Methodology(#[from] MethodologyError),
    /// A computation task died; never expected.
    #[error("impact computation task failed: {0}")]
    Task(String),
    /// The database failed.
    #[error("ledger database error")]
    Database(#[from] DbErr),
}

impl IngestError {
    /// How many trips the refusal is about (for the `rejected` ingest counter).
    pub fn refused_trips(&self) -> usize {
        match self {
            Self::InvalidJson { problems } | Self::Validation { problems } => {
                let mut indexes: Vec<usize> = problems.iter().map(|p| p.index).collect();
                indexes.dedup();
                indexes.len().max(1)
            }
            Self::TooManyTrips { count } => *count,
            Self::CountryFactorNotConfigured { indexes, .. } => indexes.len(),
            Self::DuplicateImpact { conflicts } => conflicts.len(),
            Self::Methodology(_) | Self::Task(_) | Self::Database(_) => 0,
        }
    }
}

impl DomainError for IngestError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson { .. } => ErrorCode::InvalidJson,
            Self::Validation { .. } => ErrorCode::ValidationFailed,
            Self::TooManyTrips { .. } => ErrorCode::PayloadTooLarge,
            Self::CountryFactorNotConfigured { .. } => ErrorCode::CountryFactorNotConfigured,
            Self::DuplicateImpact { .. } => ErrorCode::DuplicateImpact,
            Self::Methodology(err) => err.code(),
            Self::Database(err) => crate::db::error_code(err),
            Self::Task(_) => ErrorCode::Internal,
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::InvalidJson { problems } | Self::Validation { problems } => {
                json!({"errors": problems})
            }
            Self::TooManyTrips { count } => {
                json!({"count": count, "max_trips": MAX_TRIPS_PER_REQUEST})
            }
            Self::CountryFactorNotConfigured {
                methodology_version,
                countries,
                indexes,
            } => json!({
                "methodology_version": methodology_version,
                "countries": countries,
                "indexes": indexes,
            }),
            Self::DuplicateImpact { conflicts } => json!({"conflicts": conflicts}),
            Self::Methodology(err) => err.details(),
            Self::Task(_) | Self::Database(_) => json!({}),
        }
    }
}

/// A failure to read or verify a stored impact.
#[derive(Debug, thiserror::Error)]
pub enum ImpactError {
    /// No impact for that trip (and model version, when given).
    #[error("No impact is recorded for trip {trip_id:?}{}.", model_version.as_ref().map(|m| format!(" under model version {m:?}")).unwrap_or_default())]
    NotFound {
        /// The requested trip.
        trip_id: String,
        /// The requested model version, if any.
        model_version: Option<String>,
    },
    /// The stored row no longer matches its hash or checksum: it was altered.
    #[error(
        "The stored impact of trip {:?} does not match its event_hash or checksum: it was altered after it was signed.",
        verification.trip_id
    )]
    Tampered {
        /// Every flag of the verification.
        verification: Box<TripVerification>,
    },
    /// The hash is consistent but a signature does not verify: a signature was replaced.
    #[error(
        "A signature of the impact of trip {:?} does not verify against its event_hash.",
        verification.trip_id
    )]
    InvalidSignature {
        /// Every flag of the verification.
        verification: Box<TripVerification>,
    },
    /// A list was asked for with an argument it cannot take (a foreign cursor, a page too large).
    #[error("Invalid {field}: {reason}.")]
    InvalidQuery {
        /// The offending argument.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The database failed.
    #[error("ledger database error")]
    Database(#[from] DbErr),
}

impl DomainError for ImpactError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound { .. } => ErrorCode::ImpactNotFound,
            Self::Tampered { .. } => ErrorCode::PayloadTampered,
            Self::InvalidSignature { .. } => ErrorCode::InvalidSignature,
            Self::InvalidQuery { .. } => ErrorCode::ValidationFailed,
            Self::Database(err) => crate::db::error_code(err),
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::NotFound {
                trip_id,
                model_version,
            } => json!({"trip_id": trip_id, "model_version": model_version}),
            Self::Tampered { verification } | Self::InvalidSignature { verification } => {
                serde_json::to_value(verification).unwrap_or_else(|_| json!({}))
            }
            Self::InvalidQuery { field, reason } => json!({"field": field, "reason": reason}),
            Self::Database(_) => json!({}),
        }
    }
}
