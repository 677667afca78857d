//! Ingesting trips and reading or verifying their impacts.

use std::sync::Arc;
use std::time::Instant;

use crate::context::RequestContext;
use crate::ledger::{
    self, AppendOutcome, BodyFormat, ComputeContext, ConflictPolicy, Identifier, Impact,
    ImpactError, ImpactFilter, ImpactOrder, ImpactPage, IngestError, TotalsGroup, TotalsRow,
    TripVerification, TripsBody, ValidatedTrip,
};
use crate::methodology::{self, MethodologyError};
use crate::metrics::{FailedCheck, VerificationKind};
use crate::page::PageRequest;
use crate::proof::UtcMicros;
use crate::services::Services;
use crate::services::bulk::BulkIngest;

/// The ledger's use cases.
pub struct LedgerService<'a> {
    services: &'a Services,
}

/// The answer to an ingest request: whether the body was one trip (not an array), and the
/// fate of every trip in input order.
#[derive(Debug)]
pub struct IngestReply {
    /// The body was a single trip object.
    pub single: bool,
    /// One entry per submitted trip.
    pub outcome: AppendOutcome,
}

impl<'a> LedgerService<'a> {
    pub(super) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// Parses a request body (one trip, an array, or JSON Lines) with the strict §4 rules and
    /// ingests it all or nothing.
    pub async fn ingest_body(
        &self,
        ctx: &RequestContext,
        format: BodyFormat,
        bytes: &[u8],
    ) -> Result<IngestReply, IngestError> {
        let body = ledger::parse_body(format, bytes).inspect_err(|err| self.refused(ctx, err))?;
        let (trips, single) = match body {
            TripsBody::Single(trip) => (vec![trip], true),
            TripsBody::Batch(trips) => (trips, false),
        };
        let outcome = self.ingest(ctx, trips).await?;
        Ok(IngestReply { single, outcome })
    }

    /// Computes, signs and appends `trips` in one transaction, all or nothing: one bad or
    /// conflicting trip refuses them all.
    pub async fn ingest(
        &self,
        ctx: &RequestContext,
        trips: Vec<ValidatedTrip>,
    ) -> Result<AppendOutcome, IngestError> {
        let started = Instant::now();
        let result = async {
            let context = Arc::new(self.compute_context(ctx).await?);
            let signer = Arc::clone(self.services.signer());
            let prepared = ledger::prepare_all(trips, Arc::clone(&context), signer).await?;
            self.services
                .append(prepared, &context, ConflictPolicy::RejectAll)
                .await
        }
        .await;
        match &result {
            Ok(outcome) => {
                let (accepted, duplicates) = (outcome.accepted(), outcome.duplicates());
                self.services
                    .metrics()
                    .record_ingest(ctx.door, accepted, duplicates, 0);
                tracing::info!(
                    correlation_id = %ctx.correlation_id,
                    actor = %ctx.actor(),
                    accepted,
                    duplicates,
                    duration_ms = started.elapsed().as_millis(),
                    "trips ingested"
                );
            }
            Err(err) => self.refused(ctx, err),
        }
        result
    }

    /// Starts a bulk run (files, streams) under the ACTIVE methodology. With `RejectAll` a bad
    /// batch stops the run (earlier batches stay committed); with `SkipConflicting` conflicting
    /// trips and trips without factors are reported and left out.
    pub async fn bulk(
        &self,
        ctx: RequestContext,
        policy: ConflictPolicy,
    ) -> Result<BulkIngest, IngestError> {
        BulkIngest::start(self.services, ctx, policy).await
    }

    /// The impact of `trip_id`: the latest model version's, or the one of `model_version`.
    pub async fn impact(
        &self,
        trip_id: &str,
        model_version: Option<&str>,
    ) -> Result<Impact, ImpactError> {
        check_trip_id(trip_id, model_version)?;
        ledger::find(self.services.database(), trip_id, model_version).await
    }

    /// Re-computes the stored impact's hash and checksum and checks both signatures; a failure
    /// is counted in `greenos_mrv_verification_failures_total{kind="trip"}` and logged.
    pub async fn verify(
        &self,
        ctx: &RequestContext,
        trip_id: &str,
        model_version: Option<&str>,
    ) -> Result<TripVerification, ImpactError> {
        check_trip_id(trip_id, model_version)?;
        let started = Instant::now();
        let result = ledger::verify(
            self.services.database(),
            self.services.signer(),
            trip_id,
            model_version,
        )
        .await;
        let verdict = match &result {
            Ok(_) => Some(None),
            Err(ImpactError::Tampered { .. }) => Some(Some(FailedCheck::Payload)),
            Err(ImpactError::InvalidSignature { verification }) => {
                Some(Some(if verification.signature_valid {
                    FailedCheck::AsymSignature
                } else {
                    FailedCheck::Signature
                }))
            }
            Err(_) => None,
        };
        if let Some(failed) = verdict {
            self.services.metrics().record_verification(
                VerificationKind::Trip,
                started.elapsed(),
                failed,
            );
        }
        if let Err(err @ (ImpactError::Tampered { .. } | ImpactError::InvalidSignature { .. })) =
            &result
        {
            tracing::warn!(
                correlation_id = %ctx.correlation_id,
                %trip_id,
                error = %err,
                "trip verification failed"
            );
        }
        result
    }

    /// One page of the impacts matching `filter`, in `order`, by keyset cursors.
    pub async fn impacts(
        &self,
        filter: &ImpactFilter,
        order: ImpactOrder,
        page: &PageRequest,
    ) -> Result<ImpactPage, ImpactError> {
        ledger::impacts(self.services.database(), filter, order, page).await
    }

    /// The earliest `event_timestamp` the ledger holds (where export catch-up starts).
    pub async fn earliest_event_timestamp(&self) -> Result<Option<UtcMicros>, ImpactError> {
        ledger::earliest(self.services.database()).await
    }

    /// How many impacts match `filter`.
    pub async fn count_impacts(&self, filter: &ImpactFilter) -> Result<u64, ImpactError> {
        ledger::count(self.services.database(), filter).await
    }

    /// Exact totals of the impacts matching `filter`, grouped by `group_by`, each `trip_id`
    /// counted once (its latest row) unless the filter names a model version.
    pub async fn totals(
        &self,
        filter: &ImpactFilter,
        group_by: &[TotalsGroup],
    ) -> Result<Vec<TotalsRow>, ImpactError> {
        ledger::totals(self.services.database(), filter, group_by).await
    }

    /// The impacts of several `(trip_id, model_version)` keys in one query (for batch loaders);
    /// keys that cannot name an impact are skipped.
    pub async fn impacts_by_keys(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<Impact>, ImpactError> {
        let valid: Vec<(String, String)> = keys
            .iter()
            .filter(|(trip_id, model_version)| check_trip_id(trip_id, Some(model_version)).is_ok())
            .cloned()
            .collect();
        ledger::by_keys(self.services.database(), &valid).await
    }

    /// The computation context of the ACTIVE methodology; there is never a fallback.
    pub(super) async fn compute_context(
        &self,
        ctx: &RequestContext,
    ) -> Result<ComputeContext, IngestError> {
        let methodology = methodology::active(self.services.database())
            .await?
            .ok_or(MethodologyError::NoActive)?;
        let settings = self.services.settings();
        Ok(ComputeContext::new(
            &methodology,
            &settings.model_version,
            Some(ctx.correlation_id.to_string()),
            UtcMicros::now(),
            settings.max_future_skew,
        ))
    }

    fn refused(&self, ctx: &RequestContext, err: &IngestError) {
        self.services
            .metrics()
            .record_ingest(ctx.door, 0, 0, err.refused_trips());
        tracing::info!(
            correlation_id = %ctx.correlation_id,
            code = crate::error_code::DomainError::code(err).as_str(),
            "trips refused"
        );
    }
}

/// An identifier that cannot have been ingested has no impact: answered without a query.
fn check_trip_id(trip_id: &str, model_version: Option<&str>) -> Result<(), ImpactError> {
    let valid = Identifier::parse(trip_id).is_ok()
        && model_version.is_none_or(|m| Identifier::parse(m).is_ok());
    if valid {
        return Ok(());
    }
    Err(ImpactError::NotFound {
        trip_id: trip_id.chars().take(128).collect(),
        model_version: model_version.map(|m| m.chars().take(64).collect()),
    })
}
