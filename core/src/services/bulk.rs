//! The bulk pipeline behind `greenos ingest FILE` (and, later, the stream consumer): batches of
//! validated trips are computed and signed while earlier batches are written, with several
//! transactions in flight where the database takes concurrent writers.

use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::context::RequestContext;
use crate::error_code::DomainError;
use crate::ledger::{
    self, AppendOutcome, ComputeContext, ConflictPolicy, IngestError, Refusal, ValidatedTrip,
};
use crate::services::Services;

/// Batches computed and signed ahead of the writes (besides those being computed).
const COMPUTED_AHEAD: usize = 2;

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

    /// The trips of `trips` that this run would refuse without looking at the ledger (a
    /// timestamp in the future, a country without factors), by position: a validation pass
    /// can refuse a whole file before anything is written.
    pub fn refusals(&self, trips: &[ValidatedTrip]) -> Vec<(usize, Refusal)> {
        trips
            .iter()
            .enumerate()
            .filter_map(|(index, trip)| {
                let country = trip.country_code.as_str();
                let refusal = self.context.refusal(trip).or_else(|| {
                    (!self.context.has_factors(country)).then(|| self.context.no_factors(country))
                });
                refusal.map(|refusal| (index, refusal))
            })
            .collect()
    }

    /// Computes, signs and appends every batch; outcomes come back in input order, each with
    /// the caller's `tag` (line numbers, say). Ingest metrics are recorded per batch.
    pub fn run<T, S>(
        self,
        batches: S,
    ) -> impl Stream<Item = (T, Result<AppendOutcome, IngestError>)> + Send + 'static
    where
        T: Send + 'static,
        S: Stream<Item = (T, Vec<ValidatedTrip>)> + Send + 'static,
    {
        let writers = self.services.concurrent_writers();
        let run = Arc::new(self);
        // The computing stage runs as its own task, up to COMPUTED_AHEAD batches ahead of the
        // writes, so signing and writing overlap instead of taking turns. It prepares one batch
        // per computing core at once, each on one thread: no core waits for another's half of
        // a batch.
        let computing_cores = computing_cores(writers);
        let (computed, mut ready) = tokio::sync::mpsc::channel(COMPUTED_AHEAD);
        let computing = Arc::clone(&run);
        tokio::spawn(async move {
            let prepared = batches
                .map(move |(tag, trips)| {
                    let prepared = ledger::prepare_on_one_core(
                        trips,
                        Arc::clone(&computing.context),
                        Arc::clone(computing.services.signer()),
                    );
                    async move { (tag, prepared.await) }
                })
                .buffered(computing_cores);
            let mut prepared = std::pin::pin!(prepared);
            while let Some((tag, prepared)) = prepared.next().await {
                if computed.send((tag, prepared)).await.is_err() {
                    // The run was dropped: nothing more to compute.
                    return;
                }
            }
        });
        futures::stream::poll_fn(move |cx| ready.poll_recv(cx))
            .map(move |(tag, prepared)| {
                let run = Arc::clone(&run);
                async move {
                    let result = match prepared {
                        Ok(prepared) => {
                            run.services
                                .append(prepared, &run.context, run.policy)
                                .await
                        }
                        Err(err) => Err(err),
                    };
                    run.record(&result);
                    (tag, result)
                }
            })
            .buffered(writers)
    }

    fn record(&self, result: &Result<AppendOutcome, IngestError>) {
        let metrics = self.services.metrics();
        match result {
            Ok(outcome) => metrics.record_ingest(
                self.ctx.door,
                outcome.accepted(),
                outcome.duplicates(),
                outcome.skipped(),
            ),
            Err(err) => {
                metrics.record_ingest(self.ctx.door, 0, 0, err.refused_trips());
                tracing::info!(
                    correlation_id = %self.ctx.correlation_id,
                    code = err.code().as_str(),
                    "bulk batch refused"
                );
            }
        }
    }
}

/// How many batches are computed at once beside `writers` concurrent writers: one per core,
/// except that a database with one writer (SQLite) keeps a core for it. That writer is the
/// pipeline's one serial stage, and the batches signed ahead of it would otherwise take turns
/// with it on the same cores while it holds the write lock.
fn computing_cores(writers: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if writers == 1 {
        cores.saturating_sub(1).max(1)
    } else {
        cores
    }
}
