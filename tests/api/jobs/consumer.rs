//! The `trip_completed.v1` consumer against the real Redis: valid entries are ingested and
//! acknowledged, invalid ones dead-lettered with their code, entries a dead consumer left
//! pending are reclaimed, and a re-delivered entry is a duplicate.

use std::time::Duration;

use greenos::config::Config;
use greenos_jobs::consumer::{ConsumerSettings, TRIP_STREAM, TripConsumer};
use greenos_jobs::relay::DLQ_STREAM;
use redis::AsyncCommands;
use redis::streams::{StreamPendingReply, StreamReadOptions, StreamReadReply};
use serde_json::json;

use crate::helpers::eventually;
use crate::helpers::redis as test_redis;
use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    valid_entries_are_ingested_and_invalid_ones_dead_lettered,
    entries_left_pending_by_a_dead_consumer_are_reclaimed
);

fn settings(app: &TestApp) -> ConsumerSettings {
    let mut settings = Config::from_vars(&app.vars)
        .expect("configuration")
        .consumer;
    settings.backoff = Duration::from_millis(50);
    settings
}

async fn add(conn: &mut redis::aio::MultiplexedConnection, stream: &str, payload: &str) {
    let _: String = conn
        .xadd(stream, "*", &[("payload", payload)])
        .await
        .expect("xadd");
}

async fn valid_entries_are_ingested_and_invalid_ones_dead_lettered(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    let settings = settings(&app);
    let stream = format!("{}{TRIP_STREAM}", settings.stream_prefix);
    let dlq = format!("{}{DLQ_STREAM}", settings.stream_prefix);
    for i in 0..3 {
        add(
            &mut conn,
            &stream,
            &trip_json(&format!("c-{i}")).to_string(),
        )
        .await;
    }
    add(&mut conn, &stream, "{not json").await;
    let mut uncovered = trip_json("c-zz");
    uncovered["country_code"] = json!("ZZ");
    add(&mut conn, &stream, &uncovered.to_string()).await;
    let mut conflicting = trip_json("c-0");
    conflicting["distance_km"] = json!(99.0);
    add(&mut conn, &stream, &conflicting.to_string()).await;
    // The same trip again: a duplicate, acknowledged, no second row.
    add(&mut conn, &stream, &trip_json("c-1").to_string()).await;

    let consumer =
        TripConsumer::start(app.services.clone(), test_redis::client(), settings.clone());
    let dead = || async {
        let mut conn = test_redis::connection().await.expect("redis");
        conn.xlen::<_, usize>(&dlq).await.unwrap_or_default() == 3
    };
    assert!(eventually(dead).await, "three entries dead-lettered");
    assert!(eventually(|| async { app.count_rows("esg_impact_ledger").await == 3 }).await);
    consumer.shutdown().await;
    let pending: StreamPendingReply = conn
        .xpending(&stream, &settings.group)
        .await
        .expect("xpending");
    assert_eq!(pending.count(), 0, "every entry acknowledged");
    let entries: redis::streams::StreamRangeReply = conn.xrange_all(&dlq).await.expect("dlq");
    let mut codes: Vec<String> = entries
        .ids
        .iter()
        .filter_map(|e| e.get::<String>("error_code"))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "GREENOS_COUNTRY_FACTOR_NOT_CONFIGURED",
            "GREENOS_DUPLICATE_IMPACT",
            "GREENOS_VALIDATION_FAILED"
        ]
    );
    let originals: Vec<String> = entries
        .ids
        .iter()
        .filter_map(|e| e.get::<String>("payload"))
        .collect();
    assert!(
        originals.iter().any(|p| p == "{not json"),
        "the dead letter keeps the entry as sent: {originals:?}"
    );
    assert_eq!(app.count_rows("esg_outbox_events").await, 3);
    let (_, stats) = app.get_json("/api/v2/esg/outbox/stats").await;
    assert_eq!(stats["dlq_length"], 3, "{stats}");
    assert_eq!(stats["consumer_pending"], 0, "{stats}");
    assert_eq!(stats["consumer_lag"], 0, "{stats}");
    let _: () = conn.del(&[&stream, &dlq]).await.expect("clean up");
}

async fn entries_left_pending_by_a_dead_consumer_are_reclaimed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    let mut settings = settings(&app);
    settings.claim_idle = Duration::from_millis(200);
    let stream = format!("{}{TRIP_STREAM}", settings.stream_prefix);
    let _: () = conn
        .xgroup_create_mkstream(&stream, &settings.group, "0")
        .await
        .expect("group");
    for i in 0..5 {
        add(
            &mut conn,
            &stream,
            &trip_json(&format!("r-{i}")).to_string(),
        )
        .await;
    }
    // A consumer reads them and dies before acknowledging.
    let read: StreamReadReply = conn
        .xread_options(
            &[&stream],
            &[">"],
            &StreamReadOptions::default()
                .group(&settings.group, "dead-worker")
                .count(10),
        )
        .await
        .expect("read");
    assert_eq!(read.keys[0].ids.len(), 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let consumer =
        TripConsumer::start(app.services.clone(), test_redis::client(), settings.clone());
    assert!(eventually(|| async { app.count_rows("esg_impact_ledger").await == 5 }).await);
    let acked = || async {
        let mut conn = test_redis::connection().await.expect("redis");
        let pending: StreamPendingReply = conn
            .xpending(&stream, &settings.group)
            .await
            .expect("xpending");
        pending.count() == 0
    };
    assert!(
        eventually(acked).await,
        "the reclaimed entries are acknowledged"
    );
    consumer.shutdown().await;
    let _: () = conn.del(&stream).await.expect("clean up");
}

/// The database unreachable while entries arrive (a proxy the test cuts in front of the real
/// PostgreSQL): nothing is acknowledged or dead-lettered for it, and once the database is back
/// every entry is ingested once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_acknowledges_nothing_and_loses_nothing() {
    let proxy = crate::helpers::proxy::TcpProxy::start("127.0.0.1:5432").await;
    let Some(app) = crate::helpers::proxy::spawn_behind(&proxy, 500).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    let settings = settings(&app);
    let stream = format!("{}{TRIP_STREAM}", settings.stream_prefix);
    let dlq = format!("{}{DLQ_STREAM}", settings.stream_prefix);
    let consumer =
        TripConsumer::start(app.services.clone(), test_redis::client(), settings.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut();
    for i in 0..10 {
        add(
            &mut conn,
            &stream,
            &trip_json(&format!("o-{i}")).to_string(),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dlq_length: usize = conn.xlen(&dlq).await.expect("xlen");
    assert_eq!(dlq_length, 0, "an outage dead-letters nothing");
    let pending: StreamPendingReply = conn
        .xpending(&stream, &settings.group)
        .await
        .expect("xpending");
    assert!(
        pending.count() > 0,
        "the entries read during the outage wait, unacknowledged"
    );
    proxy.restore();
    assert!(eventually(|| async { app.count_rows("esg_impact_ledger").await == 10 }).await);
    let acked = || async {
        let mut conn = test_redis::connection().await.expect("redis");
        let pending: StreamPendingReply = conn
            .xpending(&stream, &settings.group)
            .await
            .expect("xpending");
        pending.count() == 0
    };
    assert!(eventually(acked).await);
    consumer.shutdown().await;
    let _: () = conn.del(&stream).await.expect("clean up");
}
