//! The transparency log (SPEC §18) seen from outside: the signed checkpoint, hash tiles,
//! inclusion and consistency proofs checked with the log's verifier key alone, the errors of
//! its routes, the integrator's exactly-once order under concurrent ingest, and tampering that
//! the proofs and `greenos log monitor` expose.

mod go;
mod integrator;
mod tampering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use greenos_core::log::{
    Hash, OpenedCheckpoint, StoredHashes, check_consistency, check_inclusion, leaf_hash,
    open_checkpoint, root,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, graphql_code, trip_json};
use crate::on_both_backends;

on_both_backends!(
    the_routes_serve_what_the_verifier_key_checks,
    the_routes_refuse_what_the_log_does_not_have,
    graphql_gives_leaf_indexes_the_checkpoint_and_proofs,
);

/// Runs `command` to its end off the runtime's threads (the application under test is served
/// by the same runtime).
pub(crate) async fn output(mut command: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("the command runs"))
        .await
        .expect("the command's thread")
}

/// Ingests `count` trips named `{prefix}-{i}` in batches of up to 500.
pub(crate) async fn ingest(app: &TestApp, prefix: &str, count: usize) {
    let trips: Vec<Value> = (0..count)
        .map(|i| trip_json(&format!("{prefix}-{i}")))
        .collect();
    for batch in trips.chunks(500) {
        let (status, body) = app
            .post_json("/api/v2/esg/trips", &Value::Array(batch.to_vec()))
            .await;
        assert!(status.is_success(), "{status}: {body}");
    }
}

/// The log's verifier key, as `GET /api/v2/esg/log/key` publishes it.
pub(crate) async fn verifier_key(app: &TestApp) -> String {
    let (status, key) = app.get_json("/api/v2/esg/log/key").await;
    assert_eq!(status, StatusCode::OK, "{key}");
    key["verifier_key"]
        .as_str()
        .expect("a verifier key")
        .to_owned()
}

/// The latest checkpoint, opened with the published verifier key.
pub(crate) async fn latest(app: &TestApp) -> (String, OpenedCheckpoint) {
    let (status, note) = app.get_text("/api/v2/esg/log/checkpoint").await;
    assert_eq!(status, StatusCode::OK, "{note}");
    let opened = open_checkpoint(&note, &verifier_key(app).await).expect("the checkpoint opens");
    (note, opened)
}

pub(crate) fn hashes(value: &Value) -> Vec<Hash> {
    value
        .as_array()
        .expect("a list of hashes")
        .iter()
        .map(|h| {
            let bytes = STANDARD
                .decode(h.as_str().expect("base64"))
                .expect("base64");
            Hash(bytes.try_into().expect("32 bytes"))
        })
        .collect()
}

async fn the_routes_serve_what_the_verifier_key_checks(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app.get_json("/api/v2/esg/log/checkpoint").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_LOG_NOT_INTEGRATED");

    ingest(&app, "first", 100).await;
    let first = app
        .services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    assert_eq!(first.tree_size, 100);
    ingest(&app, "then", 200).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");

    let response = app
        .client
        .get(app.url("/api/v2/esg/log/checkpoint"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    let (note, checkpoint) = latest(&app).await;
    assert!(note.starts_with("greenos.local/log\n300\n"), "{note}");
    assert_eq!(checkpoint.size, 300);
    let (_, key) = app.get_json("/api/v2/esg/log/key").await;
    let (_, public_key) = app.get_json("/api/v2/esg/public-key").await;
    assert_eq!(key["origin"], "greenos.local/log");
    assert_eq!(key["public_key"], public_key["public_key"]);
    assert_eq!(key["key_version"], public_key["key_version"]);

    // An impact carries its leaf index; its inclusion proof checks against the checkpoint.
    let (_, impact) = app.get_json("/api/v2/esg/impact/then-7").await;
    let index = impact["leaf_index"].as_u64().expect("a leaf index");
    assert_eq!(index, 107, "leaves follow the ledger's order");
    let (status, proof) = app
        .get_json("/api/v2/esg/log/proof/inclusion?trip_id=then-7")
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    assert_eq!(proof["leaf_index"], 107);
    assert_eq!(proof["tree_size"], 300);
    assert_eq!(proof["checkpoint"], note.as_str());
    let leaf = leaf_hash(impact["event_hash"].as_str().expect("event_hash"));
    assert_eq!(proof["leaf_hash"], STANDARD.encode(leaf.0));
    check_inclusion(&hashes(&proof["proof"]), 300, checkpoint.root, 107, leaf)
        .expect("the inclusion proof verifies");
    assert!(
        check_inclusion(&hashes(&proof["proof"]), 300, checkpoint.root, 108, leaf).is_err(),
        "another index fails"
    );
    // In an older tree too, whose checkpoint comes with it.
    let (_, old) = app
        .get_json("/api/v2/esg/log/proof/inclusion?trip_id=first-3&tree_size=100")
        .await;
    let old_checkpoint = open_checkpoint(
        old["checkpoint"]
            .as_str()
            .expect("the checkpoint of size 100"),
        &verifier_key(&app).await,
    )
    .expect("opens");
    let (_, first_3) = app.get_json("/api/v2/esg/impact/first-3").await;
    check_inclusion(
        &hashes(&old["proof"]),
        100,
        old_checkpoint.root,
        3,
        leaf_hash(first_3["event_hash"].as_str().expect("event_hash")),
    )
    .expect("verifies in the tree of 100");

    // The C2SP tlog-proof text.
    let (status, text) = app
        .get_text_accepting(
            "/api/v2/esg/log/proof/inclusion?trip_id=then-7",
            "text/plain",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
    assert_eq!(lines.next(), Some("index 107"));
    assert!(text.ends_with(&note), "{text}");

    // The tree of 100 is a prefix of the tree of 300.
    let (status, consistency) = app
        .get_json("/api/v2/esg/log/proof/consistency?from=100&to=300")
        .await;
    assert_eq!(status, StatusCode::OK, "{consistency}");
    assert_eq!(consistency["from"], 100);
    check_consistency(
        &hashes(&consistency["proof"]),
        300,
        checkpoint.root,
        100,
        old_checkpoint.root,
    )
    .expect("the consistency proof verifies");
    let (_, latest_by_default) = app
        .get_json("/api/v2/esg/log/proof/consistency?from=100")
        .await;
    assert_eq!(latest_by_default["to"], 300);

    // Hash tiles: a full one is immutable, a partial one is not.
    let response = app
        .client
        .get(app.url("/api/v2/esg/log/tile/0/000"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let tile = response.bytes().await.expect("bytes");
    assert_eq!(tile.len(), 256 * 32);
    let (_, first_0) = app.get_json("/api/v2/esg/impact/first-0").await;
    assert_eq!(
        &tile[..32],
        &leaf_hash(first_0["event_hash"].as_str().expect("event_hash")).0
    );
    assert_eq!(
        &tile[107 * 32..108 * 32],
        &leaf.0,
        "leaf 107 is the 108th hash of the first tile"
    );
    let response = app
        .client
        .get(app.url("/api/v2/esg/log/tile/0/001.p/44"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CACHE_CONTROL],
        "no-cache"
    );
    assert_eq!(response.bytes().await.expect("bytes").len(), 44 * 32);
    // Level 1 holds the hashes of whole 256-leaf subtrees: one so far.
    let response = app
        .client
        .get(app.url("/api/v2/esg/log/tile/1/000.p/1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let mut first_subtree = StoredHashes::default();
    for (n, leaf) in tile.chunks(32).enumerate() {
        first_subtree
            .append(n as u64, Hash(leaf.try_into().expect("32 bytes")))
            .expect("appended");
    }
    assert_eq!(
        response.bytes().await.expect("bytes").as_ref(),
        &root(256, &first_subtree).expect("root").0
    );
}

async fn the_routes_refuse_what_the_log_does_not_have(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, "t", 10).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    let (status, late) = app.post_json("/api/v2/esg/trips", &trip_json("late")).await;
    assert_eq!(status, StatusCode::CREATED, "{late}");

    let (status, impact) = app.get_json("/api/v2/esg/impact/late").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(impact["leaf_index"], Value::Null, "not integrated yet");
    let (status, body) = app
        .get_json("/api/v2/esg/log/proof/inclusion?trip_id=late")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_LOG_NOT_INTEGRATED");
    assert_eq!(body["error"]["details"]["expected_wait_ms"], 1000);

    for (path, code, status) in [
        (
            "/api/v2/esg/log/proof/inclusion?trip_id=t-1&tree_size=11",
            "GREENOS_LOG_INVALID_SIZE",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v2/esg/log/proof/inclusion?trip_id=t-5&tree_size=3",
            "GREENOS_LOG_INVALID_SIZE",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v2/esg/log/proof/inclusion?trip_id=nobody",
            "GREENOS_IMPACT_NOT_FOUND",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v2/esg/log/proof/consistency?from=4&to=11",
            "GREENOS_LOG_INVALID_SIZE",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v2/esg/log/proof/consistency?from=8&to=4",
            "GREENOS_LOG_INVALID_SIZE",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v2/esg/log/proof/consistency?from=0",
            "GREENOS_LOG_INVALID_SIZE",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v2/esg/log/proof/consistency?from=-1",
            "GREENOS_INVALID_REQUEST",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v2/esg/log/tile/0/000",
            "GREENOS_LOG_TILE_NOT_FOUND",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v2/esg/log/tile/0/000.p/11",
            "GREENOS_LOG_TILE_NOT_FOUND",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v2/esg/log/tile/0/7",
            "GREENOS_LOG_TILE_NOT_FOUND",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v2/esg/log/tile/data/000.p/3",
            "GREENOS_LOG_TILE_NOT_FOUND",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    let (status, _) = app.get_json("/api/v2/esg/log/tile/0/000.p/10").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a partial tile of what the tree holds"
    );

    // A tree is consistent with itself.
    let (status, body) = app
        .get_json("/api/v2/esg/log/proof/consistency?from=10&to=10")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["proof"], json!([]));
}

async fn graphql_gives_leaf_indexes_the_checkpoint_and_proofs(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (_, body) = app
        .post_json(
            "/graphql",
            &json!({"query": "{ logCheckpoint { treeSize } }"}),
        )
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_LOG_NOT_INTEGRATED"),
        "{body}"
    );
    ingest(&app, "g", 30).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    ingest(&app, "late", 1).await;

    let data = app
        .graphql(
            "{ impacts(first: 40) { edges { node { tripId leafIndex } } } \
               logCheckpoint { origin treeSize rootHash note keyVersion } \
               inclusionProof(tripId: \"g-29\") { leafIndex treeSize leafHash proof checkpoint } }",
            json!({}),
        )
        .await;
    let edges = data["impacts"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 31, "{data}");
    for (i, edge) in edges.iter().take(30).enumerate() {
        assert_eq!(edge["node"]["leafIndex"], i, "{data}");
    }
    assert_eq!(
        edges[30]["node"]["leafIndex"],
        Value::Null,
        "not integrated yet"
    );
    let (note, checkpoint) = latest(&app).await;
    assert_eq!(data["logCheckpoint"]["note"], note.as_str());
    assert_eq!(data["logCheckpoint"]["treeSize"], 30);
    assert_eq!(data["logCheckpoint"]["origin"], "greenos.local/log");
    assert_eq!(
        data["logCheckpoint"]["rootHash"],
        hex::encode(checkpoint.root.0)
    );
    let proof = &data["inclusionProof"];
    assert_eq!(proof["leafIndex"], 29);
    let (_, impact) = app.get_json("/api/v2/esg/impact/g-29").await;
    check_inclusion(
        &hashes(&proof["proof"]),
        30,
        checkpoint.root,
        29,
        leaf_hash(impact["event_hash"].as_str().expect("event_hash")),
    )
    .expect("the GraphQL proof verifies");

    let (_, body) = app
        .graphql_as(
            None,
            "query($size: Int) { inclusionProof(tripId: \"g-1\", treeSize: $size) { leafIndex } }",
            json!({"size": 31}),
        )
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_LOG_INVALID_SIZE"),
        "{body}"
    );
    let (_, body) = app
        .graphql_as(
            None,
            "{ inclusionProof(tripId: \"late-0\") { leafIndex } }",
            json!({}),
        )
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_LOG_NOT_INTEGRATED"),
        "{body}"
    );
}
