//! The outbox relay against the real Redis: every event published with the SPEC fields, a
//! poison event dead-lettered after its retries and replayed, a private Redis stopped and
//! started again with no event lost and no attempt burned, two relays on one PostgreSQL
//! publishing each row once, published events pruned after their retention, and a worker
//! process killed (nothing lost) or terminated (its batch finished, nothing half-done).

use std::time::Duration;

use greenos::app::AppState;
use greenos::config::Config;
use greenos_jobs::relay::{DLQ_STREAM, OutboxRelay, RelaySettings};
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::eventually;
use crate::helpers::redis::{self as test_redis, PrivateRedis};
use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    every_event_is_published_with_its_fields,
    a_poison_event_is_dead_lettered_then_replayed,
    a_redis_outage_loses_nothing_and_burns_no_attempt,
    published_events_past_their_retention_are_pruned,
);

fn settings(app: &TestApp) -> RelaySettings {
    let mut settings = Config::from_vars(&app.vars).expect("configuration").relay;
    settings.poll = Duration::from_millis(20);
    settings.retry.base_delay = Duration::from_millis(20);
    settings.retry.max_delay = Duration::from_millis(100);
    settings
}

async fn ingest(app: &TestApp, count: usize, prefix: &str) {
    let trips: Vec<Value> = (0..count)
        .map(|i| trip_json(&format!("{prefix}-{i:04}")))
        .collect();
    let (status, body) = app.post_json("/api/v2/esg/trips", &json!(trips)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn count_status(app: &TestApp, status: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM esg_outbox_events WHERE status = '{status}'"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// Waits (bounded) until `done` holds.
use sea_orm::ConnectionTrait;

async fn every_event_is_published_with_its_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    ingest(&app, 30, "pub").await;
    let settings = settings(&app);
    let stream = format!("{}esg_calculated.v1", settings.stream_prefix);
    let relay = OutboxRelay::start(app.services.clone(), test_redis::client(), settings);
    assert!(eventually(|| async { count_status(&app, "PUBLISHED").await == 30 }).await);
    relay.shutdown().await;
    let entries: redis::streams::StreamRangeReply = conn.xrange_all(&stream).await.expect("xrange");
    assert_eq!(entries.ids.len(), 30);
    let first = &entries.ids[0];
    let field = |name: &str| -> String {
        first
            .get::<String>(name)
            .unwrap_or_else(|| panic!("field {name}"))
    };
    assert_eq!(field("schema_version"), "esg_calculated.v1");
    let payload: Value = serde_json::from_str(&field("payload")).expect("payload JSON");
    assert_eq!(payload["event_id"], field("event_id"));
    assert_eq!(payload["schema_version"], "esg_calculated.v1");
    assert_eq!(payload["aggregate_id"], payload["data"]["trip_id"]);
    let mut trips: Vec<String> = entries
        .ids
        .iter()
        .filter_map(|entry| entry.get::<String>("payload"))
        .filter_map(|p| serde_json::from_str::<Value>(&p).ok())
        .filter_map(|p| p["data"]["trip_id"].as_str().map(str::to_owned))
        .collect();
    trips.sort();
    let expected: Vec<String> = (0..30).map(|i| format!("pub-{i:04}")).collect();
    assert_eq!(trips, expected, "every event once");
    let metrics = app.metrics().await;
    assert_eq!(
        metrics.value("greenos_outbox_published_total", &[]),
        Some(30.0),
        "{metrics}"
    );
    assert_eq!(
        metrics.value("greenos_outbox_pending", &[]),
        Some(0.0),
        "{metrics}"
    );
    let _: () = conn.del(&stream).await.expect("clean up");
}

async fn a_poison_event_is_dead_lettered_then_replayed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    let mut settings = settings(&app);
    settings.retry.max_retries = 3;
    let stream = format!("{}esg_calculated.v1", settings.stream_prefix);
    let dlq = format!("{}{DLQ_STREAM}", settings.stream_prefix);
    // The stream's key holds a string: every XADD to it is refused (WRONGTYPE).
    let _: () = conn.set(&stream, "not a stream").await.expect("poison");
    ingest(&app, 2, "poison").await;
    let relay = OutboxRelay::start(app.services.clone(), test_redis::client(), settings.clone());
    assert!(eventually(|| async { count_status(&app, "FAILED").await == 2 }).await);
    relay.shutdown().await;
    let dead: redis::streams::StreamRangeReply = conn.xrange_all(&dlq).await.expect("dlq");
    assert_eq!(dead.ids.len(), 2);
    assert_eq!(
        dead.ids[0].get::<String>("error_code").as_deref(),
        Some("GREENOS_OUTBOX_PUBLISH_FAILED")
    );
    assert_eq!(dead.ids[0].get::<String>("attempts").as_deref(), Some("3"));
    assert!(
        dead.ids[0]
            .get::<String>("last_error")
            .is_some_and(|e| e.contains("WRONGTYPE"))
    );
    let metrics = app.metrics().await;
    assert_eq!(metrics.value("greenos_outbox_failed_total", &[]), Some(2.0));
    assert_eq!(metrics.value("greenos_outbox_retry_total", &[]), Some(4.0));
    let audits = app
        .count_rows("esg_audit_metadata WHERE event_type = 'OUTBOX_EVENT_DEAD_LETTERED'")
        .await;
    assert_eq!(audits, 2);
    let (_, stats) = app.get_json("/api/v2/esg/outbox/stats").await;
    assert_eq!(stats["dlq_length"], 2, "{stats}");
    let data = app
        .graphql("{ outboxStats { dlqLength consumerPending } }", json!({}))
        .await;
    assert_eq!(data["outboxStats"]["dlqLength"], 2);

    // Once the stream is repaired, a replay publishes them.
    let _: () = conn.del(&stream).await.expect("repair");
    let replayed = app
        .services
        .outbox()
        .replay(&[], None)
        .await
        .expect("replay");
    assert_eq!(replayed, 2);
    let relay = OutboxRelay::start(app.services.clone(), test_redis::client(), settings);
    assert!(eventually(|| async { count_status(&app, "PUBLISHED").await == 2 }).await);
    relay.shutdown().await;
    let _: () = conn.del(&[&stream, &dlq]).await.expect("clean up");
}

async fn a_redis_outage_loses_nothing_and_burns_no_attempt(backend: Backend) {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let url = redis.url();
    let configure = |vars: &mut greenos::config::Vars| {
        vars.set("GREENOS_REDIS_URL", url);
    };
    let Some(app) = TestApp::spawn_with(backend, configure).await else {
        return;
    };
    let client = redis::Client::open(redis.url()).expect("client");
    ingest(&app, 20, "before").await;
    let settings = settings(&app);
    let stream = format!("{}esg_calculated.v1", settings.stream_prefix);
    let relay = OutboxRelay::start(app.services.clone(), client.clone(), settings);
    assert!(eventually(|| async { count_status(&app, "PUBLISHED").await == 20 }).await);
    redis.stop();
    ingest(&app, 20, "during").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(count_status(&app, "PENDING").await, 20);
    let attempts = app.count_rows("esg_outbox_events WHERE attempts > 0").await;
    assert_eq!(attempts, 0, "an outage burns no event's attempts");
    let (_, health) = app.get_json("/health").await;
    assert_eq!(health["redis"]["status"], "down", "{health}");
    redis.resume().await.expect("redis-server starts again");
    assert!(eventually(|| async { count_status(&app, "PUBLISHED").await == 40 }).await);
    relay.shutdown().await;
    // The restarted server kept nothing: it holds exactly the events of the outage.
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let entries: redis::streams::StreamRangeReply = conn.xrange_all(&stream).await.expect("xrange");
    let mut trips: Vec<String> = entries
        .ids
        .iter()
        .filter_map(|entry| entry.get::<String>("payload"))
        .filter_map(|p| serde_json::from_str::<Value>(&p).ok())
        .filter_map(|p| p["data"]["trip_id"].as_str().map(str::to_owned))
        .collect();
    trips.sort();
    let expected: Vec<String> = (0..20).map(|i| format!("during-{i:04}")).collect();
    assert_eq!(trips, expected);
}

/// Published events older than `GREENOS_OUTBOX_RETENTION_DAYS` are deleted; pending, failed
/// and recent published ones stay.
async fn published_events_past_their_retention_are_pruned(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    ingest(&app, 30, "old").await;
    let mut settings = settings(&app);
    settings.retention = None;
    let stream = format!("{}esg_calculated.v1", settings.stream_prefix);
    let relay = OutboxRelay::start(app.services.clone(), test_redis::client(), settings.clone());
    assert!(eventually(|| async { count_status(&app, "PUBLISHED").await == 30 }).await);
    relay.shutdown().await;
    let long_ago = match backend {
        Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-10 days')",
        Backend::Postgres => "now() - interval '10 days'",
    };
    app.tamper(&format!(
        "UPDATE esg_outbox_events SET published_at = {long_ago} WHERE aggregate_id < 'old-0020'"
    ))
    .await;
    ingest(&app, 5, "recent").await;
    settings.retention = Some(Duration::from_secs(86_400));
    let relay = OutboxRelay::start(app.services.clone(), test_redis::client(), settings);
    assert!(
        eventually(|| async { app.count_rows("esg_outbox_events").await == 15 }).await,
        "the 20 old published events are pruned"
    );
    assert!(eventually(|| async { count_status(&app, "PUBLISHED").await == 15 }).await);
    relay.shutdown().await;
    let old = app
        .count_rows("esg_outbox_events WHERE aggregate_id < 'old-0020'")
        .await;
    assert_eq!(old, 0);
    assert_eq!(
        app.count_rows("esg_impact_ledger").await,
        35,
        "the ledger keeps everything"
    );
    let _: () = conn.del(&stream).await.expect("clean up");
}

/// Two relays on one PostgreSQL: `FOR UPDATE SKIP LOCKED` gives each row to one of them, so
/// the stream holds exactly as many entries as the outbox rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_publish_each_row_once() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    for batch in 0..4 {
        ingest(&app, 100, &format!("two-{batch}")).await;
    }
    let mut settings = settings(&app);
    settings.batch = 25;
    let stream = format!("{}esg_calculated.v1", settings.stream_prefix);
    let second = AppState::build(Config::from_vars(&app.vars).expect("configuration"))
        .await
        .expect("second worker");
    let a = OutboxRelay::start(app.services.clone(), test_redis::client(), settings.clone());
    let b = OutboxRelay::start(second.services.clone(), test_redis::client(), settings);
    assert!(eventually(|| async { count_status(&app, "PUBLISHED").await == 400 }).await);
    a.shutdown().await;
    b.shutdown().await;
    let length: usize = conn.xlen(&stream).await.expect("xlen");
    assert_eq!(length, 400);
    let _: () = conn.del(&stream).await.expect("clean up");
}

/// The stream prefix of `app`'s configuration.
fn stream_prefix(app: &TestApp) -> String {
    app.vars
        .get("GREENOS_REDIS_STREAM_PREFIX")
        .expect("a prefix")
        .to_owned()
}

/// `greenos serve --role worker` on `app`'s database and stream prefix, nothing else in its
/// environment, claiming `batch` events at a time.
fn spawn_worker(app: &TestApp, batch: u32) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
        .args(["serve", "--role", "worker"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GREENOS_DATABASE_URL", app.database_url())
        .env("GREENOS_DATA_DIR", app.data_dir())
        .env("GREENOS_REDIS_STREAM_PREFIX", stream_prefix(app))
        .env("GREENOS_EXPORT_SCHEDULE", "off")
        .env("GREENOS_OUTBOX_BATCH", batch.to_string())
        .env("GREENOS_OUTBOX_POLL_MS", "10")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the worker starts")
}

/// A worker killed with SIGKILL in the middle of a large backlog, then restarted: every event
/// is in the stream at least once and none is missing (a crash between `XADD` and the commit
/// publishes again, with the same `event_id`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_event() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    for batch in 0..10 {
        ingest(&app, 500, &format!("kill-{batch}")).await;
    }
    let stream = format!("{}esg_calculated.v1", stream_prefix(&app));
    let worker = || spawn_worker(&app, 50);
    let mut first = worker();
    let started = || async {
        let mut conn = test_redis::connection().await.expect("redis");
        conn.xlen::<_, usize>(&stream).await.unwrap_or_default() >= 500
    };
    assert!(eventually(started).await, "the first worker publishes");
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let published_before = count_status(&app, "PUBLISHED").await;
    assert!(
        published_before < 5000,
        "killed mid-backlog ({published_before} published)"
    );
    let mut second = worker();
    let done = eventually(|| async { count_status(&app, "PUBLISHED").await == 5000 }).await;
    second.kill().expect("stop the second worker");
    let _ = second.wait();
    assert!(done, "the restarted worker drains the backlog");
    let entries: redis::streams::StreamRangeReply = conn.xrange_all(&stream).await.expect("xrange");
    let ids: std::collections::BTreeSet<String> = entries
        .ids
        .iter()
        .filter_map(|e| e.get::<String>("event_id"))
        .collect();
    assert_eq!(ids.len(), 5000, "every event at least once, none missing");
    assert!(entries.ids.len() >= 5000);
    let _: () = conn.del(&stream).await.expect("clean up");
}

/// A worker sent SIGTERM in the middle of a large backlog settles the batch it holds and exits
/// cleanly: every event marked published is in the stream, and every event in the stream is
/// marked published (nothing half-done).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_worker_finishes_its_batch() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    for batch in 0..10 {
        ingest(&app, 500, &format!("term-{batch}")).await;
    }
    let stream = format!("{}esg_calculated.v1", stream_prefix(&app));
    let mut worker = spawn_worker(&app, 10);
    let started = || async {
        let mut conn = test_redis::connection().await.expect("redis");
        conn.xlen::<_, usize>(&stream).await.unwrap_or_default() >= 100
    };
    assert!(eventually(started).await, "the worker publishes");
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let mut exit = None;
    for _ in 0..200 {
        if let Some(status) = worker.try_wait().expect("wait") {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(exit) = exit else {
        let _ = worker.kill();
        panic!("the worker did not stop within 10 s of SIGTERM");
    };
    assert!(exit.success(), "SIGTERM is a clean stop: {exit}");
    let published = count_status(&app, "PUBLISHED").await;
    assert!(
        published < 5000,
        "stopped mid-backlog ({published} published)"
    );
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT event_id FROM esg_outbox_events WHERE status = 'PUBLISHED'".to_owned(),
        ))
        .await
        .expect("published rows");
    let marked: std::collections::BTreeSet<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "event_id").expect("event_id"))
        .collect();
    let entries: redis::streams::StreamRangeReply = conn.xrange_all(&stream).await.expect("xrange");
    let sent: std::collections::BTreeSet<String> = entries
        .ids
        .iter()
        .filter_map(|e| e.get::<String>("event_id"))
        .collect();
    assert_eq!(entries.ids.len(), sent.len(), "no event was sent twice");
    assert_eq!(sent, marked, "what was sent is what was marked published");
    let _: () = conn.del(&stream).await.expect("clean up");
}
