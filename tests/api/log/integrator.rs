//! Two integrators (two replicas of the worker role) on one database while four clients ingest:
//! the tree ends with every ledger row exactly once, in one gap-free order, and every
//! checkpoint signed on the way is a prefix of the last.

use std::time::Duration;

use greenos::app::AppState;
use greenos::config::Config;
use greenos_core::log::{Hash, Pacing, StoredHashes, check_consistency, leaf_hash, root};
use greenos_jobs::integrator::LogIntegrator;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::helpers::eventually;
use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    two_integrators_take_every_row_once_while_four_clients_ingest,
    the_integrator_yields_to_busy_appends_for_at_most_its_maximum_delay,
    only_the_worker_role_integrates,
);

/// Clients, batches per client and trips per batch.
const CLIENTS: usize = 4;
const BATCHES: usize = 15;
const TRIPS: usize = 100;

async fn two_integrators_take_every_row_once_while_four_clients_ingest(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let replica = AppState::build(Config::from_vars(&app.vars).expect("config"))
        .await
        .expect("a second replica");
    // A short maximum delay, so that integration and ingest interleave.
    let pacing = Pacing {
        every: Duration::from_millis(15),
        max_delay: Duration::from_millis(60),
    };
    let first = LogIntegrator::start(app.services.clone(), pacing);
    let second = LogIntegrator::start(replica.services.clone(), pacing);

    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let http = app.client.clone();
            let url = app.url("/api/v2/esg/trips");
            tokio::spawn(async move {
                for batch in 0..BATCHES {
                    let trips: Vec<Value> = (0..TRIPS)
                        .map(|i| trip_json(&format!("c{client}-b{batch}-{i}")))
                        .collect();
                    let response = http
                        .post(&url)
                        .json(&Value::Array(trips))
                        .send()
                        .await
                        .expect("sent");
                    assert!(response.status().is_success(), "{}", response.status());
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("a client");
    }
    let expected = (CLIENTS * BATCHES * TRIPS) as i64;
    assert_eq!(app.count_rows("esg_impact_ledger").await, expected);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while app.count_rows("esg_log_leaves").await < expected {
        assert!(
            std::time::Instant::now() < deadline,
            "the integrators did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.shutdown().await;
    second.shutdown().await;

    let backend = app.db.get_database_backend();
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT g.leaf_index, g.ledger_seq, l.event_hash FROM esg_log_leaves g \
             JOIN esg_impact_ledger l ON l.ledger_seq = g.ledger_seq ORDER BY g.leaf_index",
        ))
        .await
        .expect("the leaves");
    assert_eq!(rows.len() as i64, expected, "every leaf is a ledger row");
    let mut tree = StoredHashes::default();
    let mut seqs = std::collections::BTreeSet::new();
    for (n, row) in rows.iter().enumerate() {
        let index: i64 = row.try_get("", "leaf_index").expect("leaf_index");
        assert_eq!(index, n as i64, "the leaf indexes have no gap");
        let seq: i64 = row.try_get("", "ledger_seq").expect("ledger_seq");
        assert!(seqs.insert(seq), "ledger row {seq} is a leaf twice");
        let event_hash: String = row.try_get("", "event_hash").expect("event_hash");
        tree.append(n as u64, leaf_hash(&event_hash))
            .expect("appended");
    }
    let size = expected as u64;
    let last = app.services.log().checkpoint().await.expect("a checkpoint");
    assert_eq!(last.tree_size, size);
    let top = root(size, &tree).expect("root");
    assert_eq!(
        last.root_hash,
        hex::encode(top.0),
        "the signed root is the tree's"
    );

    let checkpoints = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT tree_size, root_hash FROM esg_log_checkpoints WHERE tree_size > 0",
        ))
        .await
        .expect("the checkpoints");
    assert!(
        checkpoints.len() > 1,
        "the tree grew over several integrations"
    );
    for row in checkpoints {
        let from: i64 = row.try_get("", "tree_size").expect("tree_size");
        let from = from as u64;
        let root_hex: String = row.try_get("", "root_hash").expect("root_hash");
        let old = Hash(
            hex::decode(&root_hex)
                .expect("hex")
                .try_into()
                .expect("32 bytes"),
        );
        let proof = app
            .services
            .log()
            .consistency(from, None)
            .await
            .expect("a consistency proof");
        check_consistency(
            &crate::log::hashes(&proof_json(&proof.proof)),
            size,
            top,
            from,
            old,
        )
        .unwrap_or_else(|err| panic!("checkpoint {from} is not a prefix: {err}"));
    }
}

async fn the_integrator_yields_to_busy_appends_for_at_most_its_maximum_delay(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let pacing = Pacing {
        every: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
    };
    let integrator = LogIntegrator::start(app.services.clone(), pacing);
    let yields = || app.services.metrics().log_yields();
    // Four clients post back to back for two and a half seconds: the appends are busy for
    // far more than half of every period.
    let until = std::time::Instant::now() + Duration::from_millis(2500);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let http = app.client.clone();
            let url = app.url("/api/v2/esg/trips");
            tokio::spawn(async move {
                let mut batch = 0;
                while std::time::Instant::now() < until {
                    let trips: Vec<Value> = (0..TRIPS)
                        .map(|i| trip_json(&format!("y{client}-b{batch}-{i}")))
                        .collect();
                    let response = http
                        .post(&url)
                        .json(&Value::Array(trips))
                        .send()
                        .await
                        .expect("sent");
                    assert!(response.status().is_success(), "{}", response.status());
                    batch += 1;
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("a client");
    }
    let under_load = app.count_rows("esg_log_leaves").await;
    assert!(yields() > 0, "the integrator never yielded to busy appends");
    assert!(
        under_load > 0,
        "the integrator yielded for longer than its maximum delay"
    );
    let ingested = app.count_rows("esg_impact_ledger").await;
    let caught_up = || async { app.count_rows("esg_log_leaves").await == ingested };
    assert!(eventually(caught_up).await, "the log did not catch up");
    // Quiet periods are never skipped (once the first decision after the catch-up, which may
    // still count the load's last appends, has passed).
    tokio::time::sleep(pacing.every * 4).await;
    let quiet = yields();
    tokio::time::sleep(pacing.every * 10).await;
    assert_eq!(yields(), quiet, "the integrator yielded to no appends");
    integrator.shutdown().await;
}

fn proof_json(proof: &[String]) -> Value {
    Value::Array(proof.iter().cloned().map(Value::String).collect())
}

/// `greenos serve --role ROLE` on `app`'s database, integrating every 20 ms; answers the
/// process and its HTTP address.
fn serve(app: &TestApp, role: &str) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_greenos"))
        .args(["serve", "--role", role])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GREENOS_DATABASE_URL", app.database_url())
        .env("GREENOS_DATA_DIR", app.data_dir())
        .env("GREENOS_BIND", format!("127.0.0.1:{port}"))
        .env(
            "GREENOS_REDIS_STREAM_PREFIX",
            app.vars
                .get("GREENOS_REDIS_STREAM_PREFIX")
                .unwrap_or_default(),
        )
        .env("GREENOS_EXPORT_SCHEDULE", "off")
        .env("GREENOS_LOG_INTEGRATE_MS", "20")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the service starts");
    (child, format!("http://127.0.0.1:{port}"))
}

async fn only_the_worker_role_integrates(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    crate::log::ingest(&app, "role", 10).await;
    let (mut api, address) = serve(&app, "api");
    let listening = || async {
        app.client
            .get(format!("{address}/health"))
            .send()
            .await
            .is_ok()
    };
    assert!(eventually(listening).await, "the api replica listens");
    // Fifty integration periods of an api replica: it must take none.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let leaves = app.count_rows("esg_log_leaves").await;
    api.kill().expect("stopped");
    let _ = api.wait();
    assert_eq!(leaves, 0, "an api replica integrated");
    let (mut worker, _) = serve(&app, "worker");
    let integrated = || async { app.count_rows("esg_log_leaves").await == 10 };
    let done = eventually(integrated).await;
    worker.kill().expect("stopped");
    let _ = worker.wait();
    assert!(done, "the worker role integrates");
}
