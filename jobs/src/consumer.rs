//! The `trip_completed.v1` consumer (SPEC §11): a consumer group reads the input stream; each
//! read batch goes through the same bulk pipeline as `greenos ingest` (the strict §4 parser,
//! idempotency, one transaction) and is acknowledged only after the commit. An invalid entry —
//! not JSON, a schema violation, a country without factors, a conflicting `trip_id` — is
//! copied to the dead-letter stream with its code and acknowledged; the valid rest of its batch
//! is ingested. When the database fails nothing is acknowledged: the entries wait in the
//! pending list and come back. Entries a dead consumer left pending are reclaimed with
//! `XAUTOCLAIM`; a re-delivered entry is a duplicate, never a second row.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use greenos_core::context::{Door, RequestContext};
use greenos_core::error_code::ErrorCode;
use greenos_core::ledger::{Appended, ConflictPolicy, ValidatedTrip, parse_json_trip};
use greenos_core::services::Services;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamAutoClaimOptions, StreamId, StreamMaxlen, StreamReadOptions, StreamReadReply,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::relay::DLQ_STREAM;

/// The input stream, after the prefix.
pub const TRIP_STREAM: &str = "trip_completed.v1";

/// Entries read per batch.
const READ_COUNT: usize = 500;
/// How long a burst's first read waits for entries.
const BLOCK_MS: usize = 1000;
/// Reads in one burst at most.
const BURST_READS: usize = 100;

/// The consumer's settings, from `GREENOS_TRIP_*` and `GREENOS_REDIS_STREAM_PREFIX`.
#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    /// `GREENOS_TRIP_CONSUMER_GROUP`.
    pub group: String,
    /// `GREENOS_TRIP_CONSUMER_NAME`.
    pub consumer: String,
    /// `GREENOS_TRIP_CLAIM_IDLE_MS`: entries pending longer than this are reclaimed.
    pub claim_idle: Duration,
    /// Prepended to every stream name.
    pub stream_prefix: String,
    /// The approximate length of the dead-letter stream.
    pub stream_maxlen: usize,
    /// The backoff after a failure (Redis or the database unreachable).
    pub backoff: Duration,
}

/// The running consumer.
pub struct TripConsumer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TripConsumer {
    /// Starts consuming in the background.
    pub fn start(
        services: Services,
        redis: redis::Client,
        settings: ConsumerSettings,
    ) -> TripConsumer {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(Arc::new(services), redis, settings, stopped));
        TripConsumer { stop, task }
    }

    /// Stops after the batch in hand is settled.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(err) = self.task.await {
            tracing::warn!(error = %err, "the trip consumer ended abnormally");
        }
    }
}

async fn run(
    services: Arc<Services>,
    redis: redis::Client,
    settings: ConsumerSettings,
    mut stopped: watch::Receiver<bool>,
) {
    let stream = format!("{}{TRIP_STREAM}", settings.stream_prefix);
    let mut connection: Option<MultiplexedConnection> = None;
    let mut failing = false;
    // Entries this consumer read but did not acknowledge (before a failure, or before a
    // restart under the same name) are read again first.
    let mut own_pending = true;
    while !*stopped.borrow() {
        let conn = match &mut connection {
            Some(conn) => conn,
            None => match open(&redis, &stream, &settings).await {
                Ok(conn) => {
                    if failing {
                        tracing::info!("Redis is reachable again: consuming trips");
                    }
                    connection.insert(conn)
                }
                Err(err) => {
                    if !failing {
                        tracing::warn!(error = %err, "Redis is unreachable: the trip consumer backs off");
                    }
                    failing = true;
                    let _ = tokio::time::timeout(settings.backoff, stopped.changed()).await;
                    continue;
                }
            },
        };
        match cycle(&services, conn, &stream, &settings, &mut own_pending).await {
            Ok(()) => {
                if failing {
                    tracing::info!("the trip consumer recovered");
                }
                failing = false;
            }
            Err(err) => {
                connection = None;
                own_pending = true;
                if !failing {
                    tracing::warn!(error = %err, "the trip consumer failed; its entries stay pending");
                }
                failing = true;
                let _ = tokio::time::timeout(settings.backoff, stopped.changed()).await;
            }
        }
    }
    tracing::info!("trip consumer stopped");
}

async fn open(
    redis: &redis::Client,
    stream: &str,
    settings: &ConsumerSettings,
) -> redis::RedisResult<MultiplexedConnection> {
    let mut conn = redis.get_multiplexed_async_connection().await?;
    let created: redis::RedisResult<()> = conn
        .xgroup_create_mkstream(stream, &settings.group, "0")
        .await;
    match created {
        Ok(()) => tracing::info!(stream, group = %settings.group, "consumer group created"),
        Err(err) if err.to_string().contains("BUSYGROUP") => {}
        Err(err) => return Err(err),
    }
    Ok(conn)
}

/// Reads this consumer's own pending entries first (after a failure or a restart), then
/// reclaims idle ones, then ingests new entries in a burst: reads are pipelined with the
/// computing and the writes, and the burst ends when a read finds nothing or after
/// [`BURST_READS`] reads (each burst reads the ACTIVE methodology afresh).
async fn cycle(
    services: &Services,
    conn: &mut MultiplexedConnection,
    stream: &str,
    settings: &ConsumerSettings,
    own_pending: &mut bool,
) -> Result<(), CycleError> {
    if *own_pending {
        let options = StreamReadOptions::default()
            .group(&settings.group, &settings.consumer)
            .count(READ_COUNT);
        let read: StreamReadReply = conn.xread_options(&[stream], &["0"], &options).await?;
        let entries: Vec<StreamId> = read.keys.into_iter().flat_map(|key| key.ids).collect();
        if entries.is_empty() {
            *own_pending = false;
        } else {
            return ingest(
                services,
                conn,
                stream,
                settings,
                stream::iter([Ok(entries)]),
            )
            .await;
        }
    }
    let idle = usize::try_from(settings.claim_idle.as_millis()).unwrap_or(usize::MAX);
    let reclaimed: redis::streams::StreamAutoClaimReply = conn
        .xautoclaim_options(
            stream,
            &settings.group,
            &settings.consumer,
            idle,
            "0-0",
            StreamAutoClaimOptions::default().count(READ_COUNT),
        )
        .await?;
    if !reclaimed.claimed.is_empty() {
        tracing::info!(
            entries = reclaimed.claimed.len(),
            "reclaimed trip entries a consumer left pending"
        );
        let claimed = stream::iter([Ok(reclaimed.claimed)]);
        ingest(services, conn, stream, settings, claimed).await?;
    }
    let reader = conn.clone();
    let (key, group, consumer) = (
        stream.to_owned(),
        settings.group.clone(),
        settings.consumer.clone(),
    );
    let reads = stream::unfold((reader, 0usize), move |(mut reader, count)| {
        let stream = key.clone();
        let options = StreamReadOptions::default()
            .group(&group, &consumer)
            .count(READ_COUNT)
            // Only the burst's first read waits for entries; later ones take what is there.
            .block(if count == 0 { BLOCK_MS } else { 1 });
        async move {
            if count >= BURST_READS {
                return None;
            }
            let read: redis::RedisResult<StreamReadReply> =
                reader.xread_options(&[&stream], &[">"], &options).await;
            match read {
                Ok(read) => {
                    let entries: Vec<StreamId> =
                        read.keys.into_iter().flat_map(|key| key.ids).collect();
                    (!entries.is_empty()).then_some((Ok(entries), (reader, count + 1)))
                }
                // The error ends the burst; what was read before it is still settled.
                Err(err) => Some((Err(err), (reader, BURST_READS))),
            }
        }
    });
    ingest(services, conn, stream, settings, reads).await
}

/// Why a cycle stopped: nothing it read was acknowledged.
#[derive(Debug, thiserror::Error)]
enum CycleError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("database: {0}")]
    Ingest(String),
    #[error("redis: {0}")]
    Read(String),
}

/// One entry that will not be ingested, and why.
struct Rejected {
    entry: StreamId,
    code: ErrorCode,
    reason: String,
}

fn payload(entry: &StreamId) -> Option<Vec<u8>> {
    match entry.map.get("payload")? {
        redis::Value::BulkString(bytes) => Some(bytes.clone()),
        redis::Value::SimpleString(text) => Some(text.clone().into_bytes()),
        _ => None,
    }
}

/// The entries of one read, sorted: those that parsed (with their trips) and those refused.
struct Read {
    valid: Vec<StreamId>,
    rejected: Vec<Rejected>,
}

fn sort_entries(entries: Vec<StreamId>) -> (Read, Vec<ValidatedTrip>) {
    let mut read = Read {
        valid: Vec::with_capacity(entries.len()),
        rejected: Vec::new(),
    };
    let mut trips = Vec::with_capacity(entries.len());
    for entry in entries {
        let Some(bytes) = payload(&entry) else {
            read.rejected.push(Rejected {
                entry,
                code: ErrorCode::InvalidRequest,
                reason: "the entry has no payload field".to_owned(),
            });
            continue;
        };
        match parse_json_trip(&bytes) {
            Ok(trip) => {
                read.valid.push(entry);
                trips.push(trip);
            }
            Err(refusal) => {
                let reason = refusal
                    .problems
                    .iter()
                    .map(|p| match &p.field {
                        Some(field) => format!("{field}: {}", p.reason),
                        None => p.reason.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                read.rejected.push(Rejected {
                    entry,
                    code: ErrorCode::ValidationFailed,
                    reason,
                });
            }
        }
    }
    (read, trips)
}

/// Ingests each read through one bulk run (computing the next reads while earlier ones are
/// written), then settles each read in order: refused entries to the dead-letter stream, and
/// everything settled acknowledged. A read whose transaction failed is not acknowledged (its
/// entries stay pending and come back); the first failure, of Redis or the database, ends the
/// cycle.
async fn ingest<S>(
    services: &Services,
    conn: &mut MultiplexedConnection,
    stream: &str,
    settings: &ConsumerSettings,
    reads: S,
) -> Result<(), CycleError>
where
    S: futures::Stream<Item = redis::RedisResult<Vec<StreamId>>> + Send + 'static,
{
    let bulk = services
        .ledger()
        .bulk(
            RequestContext::system("trip-consumer").via(Door::Stream),
            ConflictPolicy::SkipConflicting,
        )
        .await
        .map_err(|e| CycleError::Ingest(e.to_string()))?;
    let read_error = Arc::new(std::sync::Mutex::new(None));
    let failed_read = Arc::clone(&read_error);
    let batches = reads
        .take_while(move |read| {
            let ok = match read {
                Ok(_) => true,
                Err(err) => {
                    if let Ok(mut slot) = failed_read.lock() {
                        *slot = Some(err.to_string());
                    }
                    false
                }
            };
            futures::future::ready(ok)
        })
        .filter_map(|read| futures::future::ready(read.ok()))
        .map(sort_entries);
    let mut outcomes = std::pin::pin!(bulk.run(batches));
    let mut failure = None;
    while let Some((read, outcome)) = outcomes.next().await {
        if failure.is_some() {
            // Later reads may have committed: they are settled, the failed one stays pending.
            if let Ok(outcome) = outcome {
                settle(conn, stream, settings, read, outcome.items).await?;
            }
            continue;
        }
        match outcome {
            Ok(outcome) => settle(conn, stream, settings, read, outcome.items).await?,
            Err(err) => failure = Some(CycleError::Ingest(err.to_string())),
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    let read_error = read_error.lock().ok().and_then(|mut slot| slot.take());
    match read_error {
        Some(err) => Err(CycleError::Read(err)),
        None => Ok(()),
    }
}

/// Copies the refused entries of one read to the dead-letter stream and acknowledges every
/// entry the ledger settled (accepted, duplicate or refused).
async fn settle(
    conn: &mut MultiplexedConnection,
    stream: &str,
    settings: &ConsumerSettings,
    read: Read,
    items: Vec<Appended>,
) -> Result<(), CycleError> {
    let Read {
        valid,
        mut rejected,
    } = read;
    let mut acked: Vec<String> = Vec::with_capacity(valid.len() + rejected.len());
    for (entry, item) in valid.into_iter().zip(items) {
        match item {
            Appended::Accepted(_) | Appended::Duplicate(_) => acked.push(entry.id),
            Appended::Conflict(conflict) => rejected.push(Rejected {
                entry,
                code: ErrorCode::DuplicateImpact,
                reason: format!(
                    "trip {} already has a different impact under model version {}",
                    conflict.trip_id, conflict.model_version
                ),
            }),
            Appended::Refused(refusal) => rejected.push(Rejected {
                entry,
                code: refusal.code,
                reason: format!("{}: {}", refusal.field, refusal.reason),
            }),
        }
    }
    if !rejected.is_empty() {
        let dlq = format!("{}{DLQ_STREAM}", settings.stream_prefix);
        let maxlen = StreamMaxlen::Approx(settings.stream_maxlen);
        let mut pipe = redis::pipe();
        for r in &rejected {
            let original = payload(&r.entry).unwrap_or_default();
            let fields: [(&str, &[u8]); 5] = [
                ("schema_version", TRIP_STREAM.as_bytes()),
                ("source_id", r.entry.id.as_bytes()),
                ("payload", &original),
                ("error_code", r.code.as_str().as_bytes()),
                ("reason", r.reason.as_bytes()),
            ];
            pipe.xadd_maxlen(&dlq, maxlen, "*", &fields).ignore();
        }
        pipe.query_async::<()>(&mut *conn).await?;
        tracing::warn!(
            entries = rejected.len(),
            "invalid trip entries copied to the dead-letter stream"
        );
        acked.extend(rejected.into_iter().map(|r| r.entry.id));
    }
    if !acked.is_empty() {
        let _: usize = conn.xack(stream, &settings.group, &acked).await?;
    }
    Ok(())
}
