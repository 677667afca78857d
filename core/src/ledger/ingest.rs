//! One ingestion, whatever the door (REST, bulk file, stream): factors from the ACTIVE
//! methodology, computation and signing on every core, one transaction.

use std::ops::Deref;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::ledger::compute::{ComputeContext, compute_all};
use crate::ledger::error::IngestError;
use crate::ledger::store::{self, AppendOutcome, ConflictPolicy};
use crate::ledger::trip::ValidatedTrip;
use crate::methodology::{self, MethodologyError};
use crate::proof::{Signer, UtcMicros};

/// The computation context of the ACTIVE methodology; there is never a fallback.
pub async fn active_context(
    db: &DatabaseConnection,
    model_version: &str,
    correlation_id: Option<String>,
) -> Result<ComputeContext, IngestError> {
    let methodology = methodology::active(db)
        .await?
        .ok_or(MethodologyError::NoActive)?;
    Ok(ComputeContext::new(
        &methodology,
        model_version,
        correlation_id,
        UtcMicros::now(),
    ))
}

/// Computes, signs and appends `trips` under `model_version` in one transaction.
pub async fn ingest<S>(
    db: &DatabaseConnection,
    signer: S,
    model_version: &str,
    correlation_id: Option<String>,
    trips: Vec<ValidatedTrip>,
    policy: ConflictPolicy,
) -> Result<AppendOutcome, IngestError>
where
    S: Deref<Target = Signer> + Clone + Send + Sync + 'static,
{
    let context = active_context(db, model_version, correlation_id).await?;
    let impacts = compute_all(trips, Arc::new(context), signer).await?;
    store::append(db, &impacts, policy).await
}
