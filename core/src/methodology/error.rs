//! What can go wrong in the methodology registry, and the public code of each case.

use sea_orm::DbErr;
use serde_json::{Value, json};

use crate::error_code::{DomainError, ErrorCode};

/// A methodology registry failure.
#[derive(Debug, thiserror::Error)]
pub enum MethodologyError {
    /// No version has that name.
    #[error("Methodology version {version:?} does not exist.")]
    NotFound {
        /// The requested version.
        version: String,
    },
    /// The registry holds no ACTIVE version.
    #[error("No methodology version is ACTIVE.")]
    NoActive,
    /// A field breaks a §7 rule.
    #[error("Invalid methodology: {field}: {reason}.")]
    Invalid {
        /// The offending field, as a path (`country_factors.CI.thermal_factor_local`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Countries of the geographic scope have no factors (there is never a fallback factor).
    #[error(
        "No country factors are configured for {}: every country of geographic_scope needs thermal_factor_local and ev_factor_local.",
        countries.join(", ")
    )]
    MissingCountryFactors {
        /// The uncovered countries, sorted.
        countries: Vec<String>,
    },
    /// The operation would leave two ACTIVE versions, or revive a deprecated one.
    #[error("{reason}")]
    ActiveConflict {
        /// A sentence saying what conflicted and what to do instead.
        reason: String,
        /// The version ACTIVE when the conflict was detected, if known.
        active_version: Option<String>,
    },
    /// A version with that name already exists; versions are immutable.
    #[error(
        "Methodology version {version:?} already exists; a version never changes, so publish the change under a new methodology_version."
    )]
    AlreadyExists {
        /// The existing version.
        version: String,
    },
    /// A stored row cannot be decoded (or a value cannot be encoded); never expected.
    #[error("methodology {version:?}: stored data is unreadable: {reason}")]
    Storage {
        /// The version concerned.
        version: String,
        /// What failed.
        reason: String,
    },
    /// The database failed.
    #[error("methodology registry database error")]
    Database(#[from] DbErr),
}

impl DomainError for MethodologyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound { .. } | Self::NoActive => ErrorCode::MethodologyNotFound,
            Self::Invalid { .. } => ErrorCode::MethodologyInvalid,
            Self::MissingCountryFactors { .. } => ErrorCode::CountryFactorNotConfigured,
            Self::ActiveConflict { .. } => ErrorCode::MethodologyActiveConflict,
            Self::AlreadyExists { .. } => ErrorCode::MethodologyVersionExists,
            Self::Database(err) => crate::db::error_code(err),
            Self::Storage { .. } => ErrorCode::Internal,
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::NotFound { version } | Self::AlreadyExists { version } => {
                json!({"methodology_version": version})
            }
            Self::Invalid { field, reason } => json!({"field": field, "reason": reason}),
            Self::MissingCountryFactors { countries } => json!({"countries": countries}),
            Self::ActiveConflict { active_version, .. } => {
                json!({"active_version": active_version})
            }
            Self::NoActive | Self::Storage { .. } | Self::Database(_) => json!({}),
        }
    }
}

impl MethodologyError {
    /// An `Invalid` error for `field`.
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
