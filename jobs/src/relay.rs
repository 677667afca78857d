//! The outbox relay (SPEC §11): claims due events, publishes each batch to its Redis stream
//! with one pipelined round trip (`XADD ... MAXLEN ~`), and settles every event in the claim's
//! transaction: published; refused by its stream, to be retried after a backoff; or, after
//! its last retry, copied to the dead-letter stream and marked `FAILED`. When Redis cannot be
//! reached the claim is given back untouched (no event's attempts are burned), the outage is
//! logged once, and the relay backs off as a whole until Redis answers again. Delivery is
//! at-least-once: a crash between `XADD` and the commit publishes the event again, with the
//! same `event_id`. On PostgreSQL several lanes claim and publish at the same time (`SKIP LOCKED`
//! keeps their claims apart), so the database works on one batch while Redis takes the other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use greenos_core::context::CorrelationId;
use greenos_core::error_code::ErrorCode;
use greenos_core::outbox::{OutboxEvent, RetryPolicy, Settled};
use greenos_core::services::Services;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamMaxlen;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The dead-letter stream, after the prefix.
pub const DLQ_STREAM: &str = "esg_greenos.dlq.v1";

/// How long a connection attempt to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Cycles between two refreshes of `greenos_outbox_pending` and the stream gauges (and after
/// an empty claim, for the pending count).
const PENDING_EVERY: u64 = 20;

/// Cycles between two prunes of published events.
const PRUNE_EVERY: u64 = 300;

/// The relay's settings, from `GREENOS_OUTBOX_*` and `GREENOS_REDIS_STREAM_*`.
#[derive(Clone, Debug)]
pub struct RelaySettings {
    /// Events claimed per batch (`GREENOS_OUTBOX_BATCH`).
    pub batch: u64,
    /// The pause when nothing is due (`GREENOS_OUTBOX_POLL_MS`).
    pub poll: Duration,
    /// Backoff and retries of refused events (and the backoff of an outage).
    pub retry: RetryPolicy,
    /// Published events older than this are pruned (`GREENOS_OUTBOX_RETENTION_DAYS`; `None`
    /// keeps them).
    pub retention: Option<Duration>,
    /// Prepended to every stream name (`GREENOS_REDIS_STREAM_PREFIX`).
    pub stream_prefix: String,
    /// The approximate length streams are trimmed to (`GREENOS_REDIS_STREAM_MAXLEN`).
    pub stream_maxlen: usize,
}

/// The running relay.
pub struct OutboxRelay {
    services: Services,
    stop: watch::Sender<bool>,
    lanes: Vec<JoinHandle<()>>,
}

impl OutboxRelay {
    /// Starts relaying in the background, in as many lanes as the database takes concurrent
    /// writers (one on SQLite, whose claims take the one write lock in turn).
    pub fn start(services: Services, redis: redis::Client, settings: RelaySettings) -> OutboxRelay {
        let (stop, stopped) = watch::channel(false);
        let lanes = services.concurrent_writers().min(2);
        let shared = Arc::new(Shared {
            services: services.clone(),
            redis,
            settings,
            outage: AtomicBool::new(false),
        });
        let lanes = (0..lanes)
            .map(|lane| tokio::spawn(run(Arc::clone(&shared), lane, stopped.clone())))
            .collect();
        OutboxRelay {
            services,
            stop,
            lanes,
        }
    }

    /// Stops after the batches in flight are settled, then counts what is left pending, so
    /// `greenos_outbox_pending` is exact once the relay has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for lane in self.lanes {
            if let Err(err) = lane.await {
                tracing::warn!(error = %err, "an outbox relay lane ended abnormally");
            }
        }
        if let Err(err) = self.services.outbox().refresh_pending().await {
            tracing::warn!(error = %err, "cannot count pending outbox events");
        }
    }
}

/// What the lanes share: the services, the Redis client, the settings, and whether Redis is
/// known to be down (so an outage is logged once, whichever lane sees it first).
struct Shared {
    services: Services,
    redis: redis::Client,
    settings: RelaySettings,
    outage: AtomicBool,
}

async fn run(shared: Arc<Shared>, lane: usize, mut stopped: watch::Receiver<bool>) {
    let Shared {
        services,
        redis,
        settings,
        outage,
    } = &*shared;
    let outbox = || services.outbox();
    let mut connection: Option<MultiplexedConnection> = None;
    let mut outage_backoff: Option<Duration> = None;
    let mut cycle: u64 = 0;
    while !*stopped.borrow() {
        cycle += 1;
        // Counting a large backlog costs a scan: the first lane refreshes the gauges every few
        // cycles, and prunes.
        if lane == 0 && cycle % PENDING_EVERY == 1 {
            if let Err(err) = outbox().refresh_pending().await {
                tracing::warn!(error = %err, "cannot count pending outbox events");
            }
            outbox().refresh_streams().await;
        }
        if lane == 0
            && cycle % PRUNE_EVERY == 1
            && let Some(retention) = settings.retention
        {
            match outbox().prune(retention, 500).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "published outbox events pruned"),
                Err(err) => tracing::warn!(error = %err, "cannot prune published outbox events"),
            }
        }
        let conn = match &mut connection {
            Some(conn) => conn,
            None => match connect(redis).await {
                Ok(conn) => {
                    outage_backoff = None;
                    if outage.swap(false, Ordering::Relaxed) {
                        tracing::info!("Redis is reachable again: publishing the outbox");
                    }
                    connection.insert(conn)
                }
                Err(err) => {
                    let wait = backoff(&mut outage_backoff, settings, outage, &err);
                    pause(&mut stopped, wait).await;
                    continue;
                }
            },
        };
        let claim = match outbox().claim(settings.batch).await {
            Ok(claim) => claim,
            Err(err) => {
                tracing::error!(error = %err, "cannot claim outbox events");
                pause(&mut stopped, settings.poll).await;
                continue;
            }
        };
        if claim.events.is_empty() {
            if let Err(err) = outbox().release(claim).await {
                tracing::warn!(error = %err, "cannot end an empty outbox claim");
            }
            if let Err(err) = outbox().refresh_pending().await {
                tracing::warn!(error = %err, "cannot count pending outbox events");
            }
            pause(&mut stopped, settings.poll).await;
            continue;
        }
        let full = claim.events.len() as u64 >= settings.batch;
        // Each cycle that publishes is a run of its own, with its own id in its log lines.
        let run =
            tracing::info_span!("relay_cycle", correlation_id = %CorrelationId::tagged("relay"));
        match publish(conn, &claim.events, settings)
            .instrument(run.clone())
            .await
        {
            Ok(outcomes) => {
                let events = claim.events.len();
                match outbox()
                    .settle(claim, &outcomes, &settings.retry)
                    .instrument(run.clone())
                    .await
                {
                    Ok(()) => run.in_scope(|| tracing::debug!(events, "outbox batch relayed")),
                    // Published but not marked: they will be published again (at-least-once).
                    Err(err) => run.in_scope(|| {
                        tracing::error!(error = %err, "cannot record the published outbox events")
                    }),
                }
            }
            Err(err) => {
                connection = None;
                if let Err(release) = outbox().release(claim).await {
                    tracing::warn!(error = %release, "cannot give back an outbox claim");
                }
                let wait = backoff(&mut outage_backoff, settings, outage, &err);
                pause(&mut stopped, wait).await;
                continue;
            }
        }
        if !full {
            pause(&mut stopped, settings.poll).await;
        }
    }
    if lane == 0 {
        tracing::info!("outbox relay stopped");
    }
}

async fn connect(redis: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, redis.get_multiplexed_async_connection()).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "timed out connecting to Redis",
        ))),
    }
}

/// Logs an outage once (the first lane to see it does), and answers how long this lane waits
/// before its next try.
fn backoff(
    backoff: &mut Option<Duration>,
    settings: &RelaySettings,
    outage: &AtomicBool,
    err: &redis::RedisError,
) -> Duration {
    if !outage.swap(true, Ordering::Relaxed) {
        tracing::warn!(error = %err, "Redis is unreachable: events wait in the outbox, the relay backs off");
    }
    let wait = match *backoff {
        None => settings.retry.base_delay,
        Some(previous) => previous.saturating_mul(2).min(settings.retry.max_delay),
    };
    *backoff = Some(wait);
    wait
}

async fn pause(stopped: &mut watch::Receiver<bool>, wait: Duration) {
    let _ = tokio::time::timeout(wait, stopped.changed()).await;
}

/// Publishes `events` in one pipelined round trip; an event its stream refuses is retried or,
/// out of retries, copied to the dead-letter stream. `Err` means Redis could not be reached.
async fn publish(
    conn: &mut MultiplexedConnection,
    events: &[OutboxEvent],
    settings: &RelaySettings,
) -> redis::RedisResult<Vec<Settled>> {
    let maxlen = StreamMaxlen::Approx(settings.stream_maxlen);
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for event in events {
        let stream = format!("{}{}", settings.stream_prefix, event.topic);
        pipe.xadd_maxlen(stream, maxlen, "*", &entry_fields(event));
    }
    let results: Vec<redis::RedisResult<String>> = pipe.query_async(conn).await?;
    let mut outcomes = Vec::with_capacity(events.len());
    let mut dead = redis::pipe();
    dead.ignore_errors();
    let mut dead_count = 0;
    for (event, result) in events.iter().zip(results) {
        match result {
            Ok(_) => outcomes.push(Settled::Published),
            Err(err) => {
                let error = err.to_string();
                if settings.retry.exhausted(event.attempts) {
                    let attempts = event.attempts.saturating_add(1).to_string();
                    let mut fields = entry_fields(event).to_vec();
                    fields.extend([
                        ("error_code", ErrorCode::OutboxPublishFailed.as_str()),
                        ("last_error", error.as_str()),
                        ("attempts", attempts.as_str()),
                    ]);
                    let dlq = format!("{}{DLQ_STREAM}", settings.stream_prefix);
                    dead.xadd_maxlen(dlq, maxlen, "*", &fields);
                    dead_count += 1;
                    outcomes.push(Settled::Dead(error));
                } else {
                    tracing::warn!(event_id = %event.event_id, topic = %event.topic, error = %error,
                        attempts = event.attempts + 1, "an outbox event was refused by its stream; it will be retried");
                    outcomes.push(Settled::Retry(error));
                }
            }
        }
    }
    if dead_count > 0 {
        let copied: Vec<redis::RedisResult<String>> = dead.query_async(conn).await?;
        if let Some(Err(err)) = copied.into_iter().find(Result::is_err) {
            // The dead-letter stream refused too: keep the events pending rather than lose them.
            return Err(err);
        }
        tracing::error!(
            count = dead_count,
            "outbox events dead-lettered after their retries"
        );
    }
    Ok(outcomes)
}

/// The fields of an event's stream entry, which its dead-letter entry repeats.
fn entry_fields(event: &OutboxEvent) -> [(&'static str, &str); 3] {
    [
        ("event_id", event.event_id.as_str()),
        ("schema_version", event.topic.as_str()),
        ("payload", event.payload.as_str()),
    ]
}
