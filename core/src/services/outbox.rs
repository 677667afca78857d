//! The outbox's use cases.

use crate::outbox::{self, OutboxStats};
use crate::services::Services;

/// The outbox's use cases.
pub struct OutboxService<'a> {
    services: &'a Services,
}

impl<'a> OutboxService<'a> {
    pub(super) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// Counts by topic and status and the oldest pending event's age.
    pub async fn stats(&self) -> Result<OutboxStats, OutboxError> {
        Ok(outbox::stats(self.services.database()).await?)
    }
}

/// The outbox table could not be read.
#[derive(Debug, thiserror::Error)]
#[error("outbox database error")]
pub struct OutboxError(#[from] sea_orm::DbErr);

impl crate::error_code::DomainError for OutboxError {
    fn code(&self) -> crate::error_code::ErrorCode {
        crate::db::error_code(&self.0)
    }
}
