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
/// How long a read waits for entries.
const BLOCK_MS: usize = 1000;

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

/// Reclaims idle entries, then reads new ones, and ingests what it got.
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
            return ingest(services, conn, stream, settings, entries).await;
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
        ingest(services, conn, stream, settings, reclaimed.claimed).await?;
    }
    let options = StreamReadOptions::default()
        .group(&settings.group, &settings.consumer)
        .count(READ_COUNT)
        .block(BLOCK_MS);
    let read: StreamReadReply = conn.xread_options(&[stream], &[">"], &options).await?;
    let entries: Vec<StreamId> = read.keys.into_iter().flat_map(|key| key.ids).collect();
    if !entries.is_empty() {
        ingest(services, conn, stream, settings, entries).await?;
    }
    Ok(())
}

/// Why a cycle stopped: nothing it read was acknowledged.
#[derive(Debug, thiserror::Error)]
enum CycleError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("database: {0}")]
    Ingest(String),
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

async fn ingest(
    services: &Services,
    conn: &mut MultiplexedConnection,
    stream: &str,
    settings: &ConsumerSettings,
    entries: Vec<StreamId>,
) -> Result<(), CycleError> {
    let mut rejected: Vec<Rejected> = Vec::new();
    let mut valid: Vec<(StreamId, ValidatedTrip)> = Vec::new();
    for entry in entries {
        let Some(bytes) = payload(&entry) else {
            rejected.push(Rejected {
                entry,
                code: ErrorCode::InvalidRequest,
                reason: "the entry has no payload field".to_owned(),
            });
            continue;
        };
        match parse_json_trip(&bytes) {
            Ok(trip) => valid.push((entry, trip)),
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
                rejected.push(Rejected {
                    entry,
                    code: ErrorCode::ValidationFailed,
                    reason,
                });
            }
        }
    }
    let mut acked: Vec<String> = Vec::new();
    if !valid.is_empty() {
        let (entries, trips): (Vec<StreamId>, Vec<ValidatedTrip>) = valid.into_iter().unzip();
        let bulk = services
            .ledger()
            .bulk(
                RequestContext::system("trip-consumer").via(Door::Stream),
                ConflictPolicy::SkipConflicting,
            )
            .await
            .map_err(|e| CycleError::Ingest(e.to_string()))?;
        let mut outcomes = std::pin::pin!(bulk.run(stream::once(async move { ((), trips) })));
        let Some(((), outcome)) = outcomes.next().await else {
            return Err(CycleError::Ingest(
                "the pipeline answered nothing".to_owned(),
            ));
        };
        let outcome = outcome.map_err(|e| CycleError::Ingest(e.to_string()))?;
        for (entry, item) in entries.into_iter().zip(outcome.items) {
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
