//! `greenos ingest FILE`, run as the real binary against the test database.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    jsonl_and_csv_files_are_loaded,
    a_file_with_bad_lines_writes_nothing_and_lists_them,
    skip_invalid_writes_good_lines_and_saves_bad_ones,
);

const CSV_HEADER: &str =
    "trip_id,user_id,vehicle_id,country_code,geo_hash,event_timestamp,distance_km";

/// Runs `greenos ingest ARGS...` with the application's database and keys.
async fn run_ingest(app: &TestApp, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_greenos"));
    command
        .arg("ingest")
        .args(args)
        .env("GREENOS_DATABASE_URL", app.database_url())
        .env("GREENOS_DATA_DIR", app.data_dir())
        .env("GREENOS_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the waiting thread")
        .expect("the greenos binary runs")
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the trip file");
    path
}

fn jsonl(trip_ids: &[&str]) -> Vec<String> {
    trip_ids
        .iter()
        .map(|id| trip_json(id).to_string())
        .collect()
}

fn csv_row(trip_id: &str, distance_km: &str) -> String {
    format!("{trip_id},u-1,ev-1,SN,edm,2026-03-01T10:00:00+01:00,{distance_km}")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn jsonl_and_csv_files_are_loaded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let trips = write(
        dir.path(),
        "trips.jsonl",
        &jsonl(&["f-1", "f-2", "f-3", "f-4", "f-5"]),
    );
    let output = run_ingest(
        &app,
        &[trips.to_str().expect("utf-8 path"), "--batch-size", "2"],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("accepted 5, duplicates 0, rejected 0"),
        "{}",
        text(&output.stdout)
    );
    let rows = vec![
        CSV_HEADER.to_owned(),
        csv_row("c-1", "3.141592"),
        csv_row("c-2", "10"),
        csv_row("c-3", "0.5"),
    ];
    let csv = write(dir.path(), "trips.csv", &rows);
    let output = run_ingest(&app, &[csv.to_str().expect("utf-8 path")]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(app.count_rows("esg_impact_ledger").await, 8);
    assert_eq!(app.count_rows("esg_outbox_events").await, 8);
    let (status, impact) = app.get_json("/api/v2/esg/impact/c-1").await;
    assert_eq!(status, 200, "{impact}");
    assert_eq!(impact["distance_km"], "3.141592");
    assert_eq!(impact["event_timestamp"], "2026-03-01T09:00:00.000000Z");
    let (status, verification) = app.get_json("/api/v2/esg/verify/f-3").await;
    assert_eq!(status, 200, "{verification}");

    // Re-running a file is safe: identical trips are duplicates.
    let output = run_ingest(&app, &[trips.to_str().expect("utf-8 path")]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("accepted 0, duplicates 5"));
    assert_eq!(app.count_rows("esg_impact_ledger").await, 8);
}

fn file_with_bad_lines() -> Vec<String> {
    let mut lines = jsonl(&["g-1", "g-2", "g-3", "g-4", "g-5"]);
    let mut bad = trip_json("bad-2");
    bad["distance_km"] = Value::from(0);
    lines[1] = bad.to_string();
    let mut unknown_country = trip_json("bad-4");
    unknown_country["country_code"] = Value::from("FR");
    lines[3] = unknown_country.to_string();
    lines.push("{not json".to_owned());
    lines
}

async fn a_file_with_bad_lines_writes_nothing_and_lists_them(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = write(dir.path(), "trips.jsonl", &file_with_bad_lines());
    let output = run_ingest(&app, &[path.to_str().expect("utf-8 path")]).await;
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("3 invalid line(s)"), "{stderr}");
    assert!(stderr.contains("line 2: distance_km"), "{stderr}");
    assert!(stderr.contains("line 4: country_code"), "{stderr}");
    assert!(stderr.contains("line 6: invalid JSON"), "{stderr}");
    assert_eq!(app.count_rows("esg_impact_ledger").await, 0);
    assert_eq!(app.count_rows("esg_outbox_events").await, 0);

    let csv = write(
        dir.path(),
        "bad.csv",
        &["trip_id,distance_km".to_owned(), "x,1".to_owned()],
    );
    let output = run_ingest(&app, &[csv.to_str().expect("utf-8 path")]).await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("missing: [user_id"),
        "{}",
        text(&output.stderr)
    );
}

async fn skip_invalid_writes_good_lines_and_saves_bad_ones(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, _) = app.post_json("/api/v2/esg/trips", &trip_json("g-5")).await;
    assert_eq!(status, 201);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut lines = file_with_bad_lines();
    let mut conflicting = trip_json("g-5");
    conflicting["distance_km"] = Value::from(99);
    lines[4] = conflicting.to_string();
    let path = write(dir.path(), "trips.jsonl", &lines);
    let rejected = dir.path().join("rejected.jsonl");
    let output = run_ingest(
        &app,
        &[
            path.to_str().expect("utf-8 path"),
            "--skip-invalid",
            "--rejected-file",
            rejected.to_str().expect("utf-8 path"),
        ],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("accepted 2, duplicates 0, rejected 4"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 3);
    let saved: Vec<Value> = std::fs::read_to_string(&rejected)
        .expect("the rejected file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let mut numbers: Vec<i64> = saved.iter().filter_map(|r| r["line"].as_i64()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![2, 4, 5, 6]);
    for record in &saved {
        assert!(
            record["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{record}"
        );
        assert!(record["original"].is_string(), "{record}");
    }
    assert!(saved.iter().any(|r| {
        r["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("GREENOS_DUPLICATE_IMPACT"))
    }));
}
