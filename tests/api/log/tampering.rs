//! What the log exposes when someone with raw database access rewrites history (triggers
//! dropped first): a changed ledger row fails its inclusion proof against a checkpoint that
//! covered it, a deleted one has no proof while the published tiles still hold its leaf, and a
//! rewritten tree is caught by `greenos log monitor`, which then keeps its state as it was.

use std::path::Path;
use std::process::Output;

use greenos_core::log::{check_inclusion, leaf_hash};
use reqwest::StatusCode;

use super::{hashes, ingest, latest, output};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_changed_ledger_row_fails_its_inclusion_proof,
    a_rewritten_log_is_caught_by_the_monitor,
);

/// Runs `greenos log ...` against the application.
async fn greenos_log(app: &TestApp, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_greenos"));
    command
        .arg("log")
        .args(args)
        .args(["--url", &app.address])
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    output(command).await
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn monitor(app: &TestApp, state: &Path, extra: &[&str]) -> Output {
    let state = state.display().to_string();
    let mut args = vec!["monitor", "--state", state.as_str()];
    args.extend_from_slice(extra);
    greenos_log(app, &args).await
}

async fn a_changed_ledger_row_fails_its_inclusion_proof(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, "t", 20).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    let (_, checkpoint) = latest(&app).await;
    let verified = greenos_log(&app, &["verify", "--trip-id", "t-3"]).await;
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("is leaf 3 of the signed tree of 20"),
        "{}",
        text(&verified)
    );

    // The operator rewrites an impact and its hash.
    let forged = "ab".repeat(32);
    app.tamper(&format!(
        "UPDATE esg_impact_ledger SET co2_avoided_kg_micro = co2_avoided_kg_micro * 2, \
         event_hash = '{forged}' WHERE trip_id = 't-3'"
    ))
    .await;
    let (status, proof) = app
        .get_json("/api/v2/esg/log/proof/inclusion?trip_id=t-3&tree_size=20")
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    assert!(
        check_inclusion(
            &hashes(&proof["proof"]),
            20,
            checkpoint.root,
            3,
            leaf_hash(&forged)
        )
        .is_err(),
        "the changed row is not the leaf the checkpoint covers"
    );
    let refused = greenos_log(&app, &["verify", "--trip-id", "t-3"]).await;
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("is NOT leaf 3"),
        "{}",
        text(&refused)
    );

    // A deleted row has no proof any more, but the published tile still holds its leaf.
    let (_, impact) = app.get_json("/api/v2/esg/impact/t-4").await;
    let original = leaf_hash(impact["event_hash"].as_str().expect("event_hash"));
    app.tamper("DELETE FROM esg_impact_ledger WHERE trip_id = 't-4'")
        .await;
    let (status, _) = app
        .get_json("/api/v2/esg/log/proof/inclusion?trip_id=t-4")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let tile = app
        .client
        .get(app.url("/api/v2/esg/log/tile/0/000.p/20"))
        .send()
        .await
        .expect("sent")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&tile[4 * 32..5 * 32], &original.0);
}

async fn a_rewritten_log_is_caught_by_the_monitor(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a directory");
    let state = dir.path().join("monitor.json");
    // The first checkpoint is the empty tree's, which every tree extends.
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    let first = monitor(&app, &state, &[]).await;
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("pinned"), "{}", text(&first));
    ingest(&app, "t", 10).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    let from_empty = monitor(&app, &state, &[]).await;
    assert!(from_empty.status.success(), "{}", text(&from_empty));
    ingest(&app, "u", 5).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    let grown = monitor(&app, &state, &[]).await;
    assert!(grown.status.success(), "{}", text(&grown));
    assert!(
        text(&grown).contains("15 leaves") && text(&grown).contains("consistent with the 10"),
        "{}",
        text(&grown)
    );
    let kept = std::fs::read(&state).expect("the state");

    // Another key is refused, whatever the log serves.
    let other = "greenos.local/log+00000000+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh";
    let switched = monitor(&app, &state, &["--verifier-key", other]).await;
    assert!(!switched.status.success(), "{}", text(&switched));

    // The operator rewrites history: changes a logged row, drops the log and rebuilds it.
    app.tamper("UPDATE esg_impact_ledger SET event_hash = 'cd' || substr(event_hash, 3) WHERE trip_id = 't-2'")
        .await;
    for table in ["esg_log_checkpoints", "esg_log_hashes", "esg_log_leaves"] {
        app.tamper(&format!("DELETE FROM {table}")).await;
    }
    ingest(&app, "v", 3).await;
    app.services.log().integrate_all().await.expect("rebuilt");
    let (_, rebuilt) = latest(&app).await;
    assert_eq!(rebuilt.size, 18, "a validly signed, larger tree");
    let caught = monitor(&app, &state, &[]).await;
    assert!(!caught.status.success(), "{}", text(&caught));
    assert!(text(&caught).contains("inconsistent"), "{}", text(&caught));
    assert_eq!(
        std::fs::read(&state).expect("the state"),
        kept,
        "the monitor keeps the last good checkpoint"
    );
}
