//! What can go wrong when building, reading or verifying an MRV export, and the public code of
//! each case.

use sea_orm::DbErr;
use serde_json::{Value, json};

use crate::error_code::{DomainError, ErrorCode};
use crate::log::LogError;
use crate::methodology::MethodologyError;
use crate::mrv::period::Period;
use crate::mrv::verify::ExportVerification;

/// An MRV export failure.
#[derive(Debug, thiserror::Error)]
pub enum MrvError {
    /// The period or its end is not a calendar window GreenOS exports.
    #[error("Invalid export period: {reason}.")]
    InvalidPeriod {
        /// What is wrong, with the allowed values.
        reason: String,
    },
    /// The window has not closed yet: exporting it would leave every later trip of the window
    /// out of every export, for good.
    #[error(
        "The window [{period_start}, {period_end}) has not closed yet (now is {now}); only a closed window is exported."
    )]
    PeriodNotClosed {
        /// The window's first instant.
        period_start: String,
        /// The window's end, later than now.
        period_end: String,
        /// The service's clock when the request was refused.
        now: String,
    },
    /// An export of that window already exists; an export is never replaced.
    #[error(
        "An MRV export of the window [{period_start}, {period_end}) already exists; exports are immutable, fetch the existing one."
    )]
    ExportConflict {
        /// The window's first instant.
        period_start: String,
        /// The window's end.
        period_end: String,
        /// The existing export, when known.
        export_id: Option<String>,
    },
    /// No export has that id.
    #[error("No MRV export has the id {export_id:?}.")]
    NotFound {
        /// The requested id.
        export_id: String,
    },
    /// No methodology is ACTIVE, so an export has nothing to bind to.
    #[error(
        "No methodology version is ACTIVE: an export must bind to one; activate a version first."
    )]
    NoActiveMethodology,
    /// The ACTIVE methodology is incomplete, or the registry failed.
    #[error(transparent)]
    Methodology(#[from] MethodologyError),
    /// The payload does not match its `verification_hash`, or its proof is inconsistent.
    #[error("The MRV payload was altered: {}.", verification.summary())]
    Tampered {
        /// Every flag of the verification.
        verification: Box<ExportVerification>,
    },
    /// The payload matches its hash but a signature does not verify.
    #[error("A signature of the MRV export does not verify: {}.", verification.summary())]
    InvalidSignature {
        /// Every flag of the verification.
        verification: Box<ExportVerification>,
    },
    /// Hash and signatures hold but the methodology binding does not.
    #[error("Methodology mismatch: {}.", verification.summary())]
    MethodologyMismatch {
        /// Every flag of the verification.
        verification: Box<ExportVerification>,
    },
    /// A submitted artifact is not an export artifact (missing or mistyped fields).
    #[error("The artifact is not a GreenOS MRV export artifact: {reason}.")]
    InvalidArtifact {
        /// What is missing or wrong.
        reason: String,
    },
    /// A list parameter is out of range or unreadable.
    #[error("Invalid {field}: {reason}.")]
    InvalidQuery {
        /// The parameter.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A submitted artifact is not valid JSON.
    #[error("The artifact is not valid JSON: {reason}.")]
    InvalidJson {
        /// Where the JSON breaks.
        reason: String,
    },
    /// Stored export data cannot be decoded; never expected.
    #[error("MRV export storage is unreadable: {0}")]
    Storage(String),
    /// The spool file or another local I/O failed.
    #[error("MRV export I/O error")]
    Io(#[from] std::io::Error),
    /// A worker task died; never expected.
    #[error("MRV export task failed: {0}")]
    Task(String),
    /// The transparency log could not be integrated or read before the build.
    #[error("the transparency log could not be brought up to date for the export")]
    Log(#[source] Box<LogError>),
    /// The database failed.
    #[error("MRV export database error")]
    Database(#[from] DbErr),
}

impl From<sea_orm::sqlx::Error> for MrvError {
    /// A statement run through sqlx directly, classified as the same failure through sea-orm.
    fn from(err: sea_orm::sqlx::Error) -> Self {
        MrvError::Database(crate::bulk::sqlx_error(err))
    }
}

impl From<LogError> for MrvError {
    fn from(err: LogError) -> Self {
        MrvError::Log(Box::new(err))
    }
}

impl DomainError for MrvError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidPeriod { .. } => ErrorCode::MrvInvalidPeriod,
            Self::PeriodNotClosed { .. } => ErrorCode::MrvPeriodNotClosed,
            Self::ExportConflict { .. } => ErrorCode::MrvExportConflict,
            Self::NotFound { .. } => ErrorCode::MrvExportNotFound,
            Self::NoActiveMethodology => ErrorCode::MethodologyInvalid,
            Self::Methodology(err) => err.code(),
            Self::Tampered { .. } => ErrorCode::MrvPayloadTampered,
            Self::InvalidSignature { .. } | Self::MethodologyMismatch { .. } => {
                ErrorCode::MrvInvalidSignature
            }
            Self::InvalidArtifact { .. } | Self::InvalidQuery { .. } => ErrorCode::ValidationFailed,
            Self::InvalidJson { .. } => ErrorCode::InvalidJson,
            Self::Database(err) => crate::db::error_code(err),
            Self::Log(err) => err.code(),
            Self::Storage(_) | Self::Io(_) | Self::Task(_) => ErrorCode::Internal,
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::InvalidPeriod { .. } => {
                let ends: serde_json::Map<String, Value> = Period::ALL
                    .iter()
                    .map(|p| (p.as_str().to_owned(), Value::from(p.boundaries())))
                    .collect();
                json!({
                    "allowed_periods": Period::ALL.map(Period::as_str),
                    "allowed_period_ends": ends,
                })
            }
            Self::PeriodNotClosed {
                period_start,
                period_end,
                now,
            } => json!({"period_start": period_start, "period_end": period_end, "now": now}),
            Self::ExportConflict {
                period_start,
                period_end,
                export_id,
            } => json!({
                "period_start": period_start,
                "period_end": period_end,
                "export_id": export_id,
            }),
            Self::NotFound { export_id } => json!({"export_id": export_id}),
            Self::Methodology(err) => err.details(),
            Self::Tampered { verification }
            | Self::InvalidSignature { verification }
            | Self::MethodologyMismatch { verification } => {
                serde_json::to_value(verification).unwrap_or_else(|_| json!({}))
            }
            Self::InvalidArtifact { reason } | Self::InvalidJson { reason } => {
                json!({"reason": reason})
            }
            Self::InvalidQuery { field, reason } => json!({"field": field, "reason": reason}),
            Self::Log(err) => err.details(),
            Self::NoActiveMethodology
            | Self::Storage(_)
            | Self::Io(_)
            | Self::Task(_)
            | Self::Database(_) => json!({}),
        }
    }
}

impl MrvError {
    /// Whether this is a verification failure (counted by
    /// `greenos_mrv_verification_failures_total`).
    pub fn verification(&self) -> Option<&ExportVerification> {
        match self {
            Self::Tampered { verification }
            | Self::InvalidSignature { verification }
            | Self::MethodologyMismatch { verification } => Some(verification),
            _ => None,
        }
    }
}
