//! Concurrent batches whose trips overlap, half of them in reverse order: every request gets
//! 201, 200 or 409, never a deadlock or a 500, and every trip is stored exactly once.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    overlapping_concurrent_batches_get_honest_answers,
    conflicting_concurrent_batches_are_all_or_nothing
);

const BATCHES: usize = 10;
const TRIPS_PER_BATCH: usize = 100;
const STRIDE: usize = 20;
const ROUNDS: usize = 20;

/// Batch `i` of round `round`: trip ids `STRIDE·i … STRIDE·i + 99`, every other batch reversed.
fn batch(round: usize, i: usize) -> Value {
    batch_with(round, i, |_| {})
}

/// Like [`batch`], each trip adjusted by `adjust`.
fn batch_with(round: usize, i: usize, adjust: impl Fn(&mut Value)) -> Value {
    let mut ids: Vec<usize> = (STRIDE * i..STRIDE * i + TRIPS_PER_BATCH).collect();
    if i % 2 == 1 {
        ids.reverse();
    }
    Value::Array(
        ids.into_iter()
            .map(|n| {
                let mut trip = trip_json(&format!("race-{round}-{n:04}"));
                adjust(&mut trip);
                trip
            })
            .collect(),
    )
}

async fn overlapping_concurrent_batches_get_honest_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let distinct_per_round = STRIDE * (BATCHES - 1) + TRIPS_PER_BATCH;
    for round in 0..ROUNDS {
        let requests = (0..BATCHES).map(|i| {
            let body = batch(round, i);
            let app = &app;
            async move { app.post_json("/api/v2/esg/trips", &body).await }
        });
        let mut accepted = 0;
        for (status, body) in join_all(requests).await {
            assert!(
                [StatusCode::CREATED, StatusCode::OK, StatusCode::CONFLICT].contains(&status),
                "round {round}: {status} {body}"
            );
            if status != StatusCode::CONFLICT {
                assert_eq!(
                    body["impacts"].as_array().map(Vec::len),
                    Some(TRIPS_PER_BATCH)
                );
                accepted += body["accepted"].as_u64().unwrap_or_default();
            }
        }
        // Identical content under one model version: every trip is accepted exactly once.
        assert_eq!(accepted, distinct_per_round as u64, "round {round}");
    }
    let expected = (distinct_per_round * ROUNDS) as i64;
    assert_eq!(app.count_rows("esg_impact_ledger").await, expected);
    assert_eq!(app.count_rows("esg_outbox_events").await, expected);
}

/// The same overlap where odd batches carry other distances: the trips they share with an even
/// batch are conflicts. Each request is written whole (201) or refused whole (409), the ledger
/// holds exactly the accepted trips, and no request fails.
async fn conflicting_concurrent_batches_are_all_or_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut accepted = 0;
    for round in 0..ROUNDS {
        let requests = (0..BATCHES).map(|i| {
            let body = batch_with(round, i, |trip| {
                if i % 2 == 1 {
                    trip["distance_km"] = serde_json::json!(7.25);
                }
            });
            let app = &app;
            async move { app.post_json("/api/v2/esg/trips", &body).await }
        });
        for (status, body) in join_all(requests).await {
            match status {
                StatusCode::CREATED | StatusCode::OK => {
                    accepted += body["accepted"].as_u64().unwrap_or_default();
                }
                StatusCode::CONFLICT => {
                    assert_eq!(body["error"]["code"], "GREENOS_DUPLICATE_IMPACT", "{body}");
                }
                other => panic!("round {round}: {other} {body}"),
            }
        }
    }
    assert_eq!(app.count_rows("esg_impact_ledger").await, accepted as i64);
    assert_eq!(app.count_rows("esg_outbox_events").await, accepted as i64);
}
