//! The bulk pipeline behind `greenos ingest FILE` (and, later, the stream consumer): batches of
//! validated trips are computed and signed while earlier batches are written, with several
//! transactions in flight where the database takes concurrent writers.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use sea_orm::DbBackend;

use crate::context::RequestContext;
use crate::ledger::{
    self, AppendOutcome, Appended, ComputeContext, ConflictPolicy, IngestError, ValidatedTrip,
};
use crate::services::Services;

/// Batches written concurrently on PostgreSQL. SQLite has a single writer: a second
/// transaction would only sleep in the busy handler, so it gets one.
const CONCURRENT_WRITES: usize = 3;

/// Batches computed and signed ahead of the writes.
const COMPUTED_AHEAD: usize = 2;

/// The fate of one trip of a bulk batch, in input order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one item per trip, consumed at once: boxing would add an allocation per trip"
)]
pub enum BulkItem {
    /// Written, already recorded, or (with `SkipConflicting`) a skipped conflict.
    Appended(Appended),
    /// The ACTIVE methodology has no factors for its country; skipped (only with
    /// `SkipConflicting`: otherwise the whole batch is refused).
    NoFactors {
        /// The trip's country.
        country_code: String,
        /// The ACTIVE methodology version.
        methodology_version: String,
    },
}

/// One bulk run: the ACTIVE methodology is read once, at its start.
pub struct BulkIngest {
    services: Services,
    ctx: RequestContext,
    context: Arc<ComputeContext>,
    policy: ConflictPolicy,
}

impl BulkIngest {
    pub(super) async fn start(
        services: &Services,
        ctx: RequestContext,
        policy: ConflictPolicy,
    ) -> Result<BulkIngest, IngestError> {
        let context = services.ledger().compute_context(&ctx).await?;
        Ok(BulkIngest {
            services: services.clone(),
            ctx,
            context: Arc::new(context),
            policy,
        })
    }

    /// The positions of `trips` whose country the ACTIVE methodology has no factors for, with
    /// the refusal (so a validation pass can refuse a file before anything is written).
    pub fn uncovered(&self, trips: &[ValidatedTrip]) -> Vec<(usize, IngestError)> {
        trips
            .iter()
            .enumerate()
            .filter_map(|(index, trip)| {
                self.context
                    .check_factors(std::slice::from_ref(trip))
                    .err()
                    .map(|err| (index, err))
            })
            .collect()
    }

    /// Computes, signs and appends every batch; outcomes come back in input order, each with
    /// the caller's `tag` (line numbers, say). Ingest metrics are recorded per batch.
    pub fn run<T, S>(
        self,
        batches: S,
    ) -> impl Stream<Item = (T, Result<Vec<BulkItem>, IngestError>)> + Send + 'static
    where
        T: Send + 'static,
        S: Stream<Item = (T, Vec<ValidatedTrip>)> + Send + 'static,
    {
        let writers = match self.services.database().get_database_backend() {
            DbBackend::Postgres => CONCURRENT_WRITES,
            _ => 1,
        };
        let run = Arc::new(self);
        let computing = Arc::clone(&run);
        batches
            .map(move |(tag, trips)| {
                let run = Arc::clone(&computing);
                async move {
                    let computed = run.compute(trips).await;
                    (tag, computed)
                }
            })
            .buffered(COMPUTED_AHEAD)
            .map(move |(tag, computed)| {
                let run = Arc::clone(&run);
                async move {
                    let result = match computed {
                        Ok(computed) => run.write(computed).await,
                        Err(err) => Err(err),
                    };
                    run.record(&result);
                    (tag, result)
                }
            })
            .buffered(writers)
    }

    /// Splits off the trips without factors (when they are skipped) and signs the others.
    async fn compute(&self, trips: Vec<ValidatedTrip>) -> Result<Computed, IngestError> {
        let mut covered = Vec::with_capacity(trips.len());
        let mut slots = Vec::with_capacity(trips.len());
        for trip in trips {
            if self.policy == ConflictPolicy::SkipConflicting
                && !self.context.has_factors(trip.country_code.as_str())
            {
                slots.push(Slot::NoFactors(trip.country_code.to_string()));
            } else {
                slots.push(Slot::Covered);
                covered.push(trip);
            }
        }
        let impacts = ledger::compute_all(
            covered,
            Arc::clone(&self.context),
            Arc::clone(self.services.signer()),
        )
        .await?;
        Ok(Computed { impacts, slots })
    }

    async fn write(&self, computed: Computed) -> Result<Vec<BulkItem>, IngestError> {
        let outcome =
            ledger::append(self.services.database(), &computed.impacts, self.policy).await?;
        Ok(merge(
            computed.slots,
            outcome,
            self.context.methodology_version(),
        ))
    }

    fn record(&self, result: &Result<Vec<BulkItem>, IngestError>) {
        let metrics = self.services.metrics();
        match result {
            Ok(items) => {
                let count = |pred: fn(&BulkItem) -> bool| items.iter().filter(|i| pred(i)).count();
                let accepted = count(|i| matches!(i, BulkItem::Appended(Appended::Accepted(_))));
                let duplicates = count(|i| matches!(i, BulkItem::Appended(Appended::Duplicate(_))));
                metrics.record_ingest(accepted, duplicates, items.len() - accepted - duplicates);
            }
            Err(err) => {
                metrics.record_ingest(0, 0, err.refused_trips());
                tracing::info!(
                    correlation_id = %self.ctx.correlation_id,
                    code = crate::error_code::DomainError::code(err).as_str(),
                    "bulk batch refused"
                );
            }
        }
    }
}

/// Where each trip of a batch went before the write.
enum Slot {
    Covered,
    NoFactors(String),
}

struct Computed {
    impacts: Vec<ledger::NewImpact>,
    slots: Vec<Slot>,
}

/// Puts the trips without factors back among the appended ones, in input order; conflict
/// indexes are re-based on the whole batch.
fn merge(slots: Vec<Slot>, outcome: AppendOutcome, methodology_version: &str) -> Vec<BulkItem> {
    let mut appended = outcome.items.into_iter();
    slots
        .into_iter()
        .enumerate()
        .filter_map(|(index, slot)| match slot {
            Slot::Covered => appended.next().map(|item| {
                BulkItem::Appended(match item {
                    Appended::Conflict(conflict) => {
                        Appended::Conflict(ledger::Conflict { index, ..conflict })
                    }
                    other => other,
                })
            }),
            Slot::NoFactors(country_code) => Some(BulkItem::NoFactors {
                country_code,
                methodology_version: methodology_version.to_owned(),
            }),
        })
        .collect()
}
