//! What can go wrong in the log, and the codes a client sees for it.

use sea_orm::DbErr;
use serde_json::{Value, json};

use crate::error_code::{DomainError, ErrorCode};
use crate::ledger::ImpactError;
use crate::log::checkpoint::CheckpointError;

/// A failure of the log's use cases.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The impact exists but is not a leaf yet: the integrator has not reached it.
    #[error(
        "The impact of trip {trip_id:?} is not in the transparency log yet; it is integrated within about {expected_wait_ms} ms."
    )]
    NotIntegrated {
        /// The requested trip.
        trip_id: String,
        /// The integrator's period, the longest a committed impact waits.
        expected_wait_ms: u64,
    },
    /// No checkpoint has been signed yet.
    #[error(
        "The transparency log has no checkpoint yet; the first is signed within about {expected_wait_ms} ms."
    )]
    NoCheckpoint {
        /// The integrator's period.
        expected_wait_ms: u64,
    },
    /// A tree size the log does not have (larger than the tree, or an empty range).
    #[error("Invalid tree size: {reason}.")]
    InvalidSize {
        /// What is wrong with it.
        reason: String,
    },
    /// A tile path that is malformed or beyond the tree.
    #[error("No such tile: {path:?} ({reason}).")]
    TileNotFound {
        /// The path asked for.
        path: String,
        /// Why it cannot be served.
        reason: String,
    },
    /// The impact asked for does not exist (or its model version does not).
    #[error(transparent)]
    Impact(Box<ImpactError>),
    /// The log's tables contradict themselves (a missing or malformed stored hash).
    #[error("the transparency log's tables are inconsistent: {0}")]
    Corrupt(String),
    /// The checkpoint could not be signed (a bad origin).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The database failed.
    #[error("log database error")]
    Database(#[from] DbErr),
}

impl From<tlog_tiles::Error> for LogError {
    fn from(err: tlog_tiles::Error) -> Self {
        LogError::Corrupt(err.to_string())
    }
}

impl DomainError for LogError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotIntegrated { .. } | Self::NoCheckpoint { .. } => ErrorCode::LogNotIntegrated,
            Self::InvalidSize { .. } => ErrorCode::LogInvalidSize,
            Self::TileNotFound { .. } => ErrorCode::LogTileNotFound,
            Self::Impact(err) => err.code(),
            Self::Corrupt(_) | Self::Checkpoint(_) => ErrorCode::Internal,
            Self::Database(err) => crate::db::error_code(err),
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::NotIntegrated {
                trip_id,
                expected_wait_ms,
            } => json!({"trip_id": trip_id, "expected_wait_ms": expected_wait_ms}),
            Self::NoCheckpoint { expected_wait_ms } => {
                json!({"expected_wait_ms": expected_wait_ms})
            }
            Self::InvalidSize { reason } => json!({"reason": reason}),
            Self::TileNotFound { path, reason } => json!({"path": path, "reason": reason}),
            Self::Impact(err) => err.details(),
            _ => json!({}),
        }
    }
}
