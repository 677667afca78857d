//! Reading exports back: the list, paginated newest first, and the CSV of an export's impacts.

use reqwest::StatusCode;
use serde_json::Value;

use super::fixtures::{export_q1, ingest, trip};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_list_is_paginated_newest_first,
    the_csv_has_a_header_and_one_row_per_impact,
);

async fn the_list_is_paginated_newest_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut created = Vec::new();
    for end in ["2026-04-01", "2026-07-01", "2026-10-01"] {
        let (status, export) = app.create_export("3M", end).await;
        assert_eq!(status, StatusCode::CREATED, "{export}");
        created.push(export["export_id"].clone());
    }
    let (status, page) = app.get_json("/api/v2/esg/mrv/export?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let exports = page["exports"].as_array().expect("exports");
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0]["export_id"], created[2]);
    assert_eq!(exports[1]["export_id"], created[1]);
    assert!(exports.iter().all(|e| e.get("payload").is_none()));
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, last) = app
        .get_json(&format!("/api/v2/esg/mrv/export?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(last["exports"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["exports"][0]["export_id"], created[0]);
    assert_eq!(last["next_cursor"], Value::Null);
    for bad in ["limit=0", "limit=501", "cursor=not-a-cursor"] {
        let (status, body) = app.get_json(&format!("/api/v2/esg/mrv/export?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "GREENOS_VALIDATION_FAILED");
    }
}

async fn the_csv_has_a_header_and_one_row_per_impact(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(
        &app,
        &[
            trip("c-2", "KE", "2026-03-01T00:00:00Z", 2.0),
            trip("c-1", "CI", "2026-02-01T00:00:00Z", 1.0),
        ],
    )
    .await;
    let export = export_q1(&app).await;
    let id = export["export_id"].as_str().expect("id");
    let response = app
        .client
        .get(app.url(&format!("/api/v2/esg/mrv/export/{id}/impacts.csv")))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let text = response.text().await.expect("body");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("trip_id,user_id,vehicle_id,country_code,"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("event_hash,checksum,signature"));
    let payload = app.export_artifact(id).await["payload"].clone();
    let event_hash = payload["impacts"][0]["event_hash"].as_str().expect("hash");
    assert!(lines[1].starts_with("c-1,u-42,ev-7,CI,s0t5q,2026-02-01T00:00:00.000000Z,1.000000,"));
    assert!(lines[1].contains(event_hash));
    assert!(lines[2].starts_with("c-2,"));
}
