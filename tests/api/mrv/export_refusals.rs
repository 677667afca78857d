//! Exports that are refused: an invalid period, a window exported twice (also by two requests
//! at once), and a missing or incomplete ACTIVE methodology.

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::json;

use super::fixtures::{export_q1, ingest, query_i64, trip};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_invalid_period_is_refused,
    a_window_is_exported_once,
    an_export_needs_a_complete_active_methodology,
);

async fn an_invalid_period_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for (period, end) in [
        ("3M", "2026-05-01T00:00:00Z"),
        ("3M", "2026-04-01T00:00:01Z"),
        ("6M", "2026-04-01T00:00:00Z"),
        ("12M", "2026-07-01T00:00:00Z"),
        ("1M", "2026-04-01T00:00:00Z"),
        ("3M", "April"),
    ] {
        let (status, body) = app.create_export(period, end).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{period} {end}");
        assert_eq!(
            body["error"]["code"], "GREENOS_MRV_INVALID_PERIOD",
            "{body}"
        );
    }
    let (_, body) = app.create_export("6M", "2026-04-01T00:00:00Z").await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("January 1 or July 1"), "{message}");
    assert_eq!(
        body["error"]["details"]["allowed_periods"],
        json!(["3M", "6M", "12M"])
    );
    let (status, _) = app
        .post_json("/api/v2/esg/mrv/export", &json!({"period": "3M"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        query_i64(&app, "SELECT COUNT(*) FROM esg_mrv_exports").await,
        0
    );
}

async fn a_window_is_exported_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    ingest(&app, &[trip("w-1", "CI", "2026-02-01T00:00:00Z", 5.0)]).await;
    let first = export_q1(&app).await;
    let (status, body) = app.create_export("3M", "2026-04-01").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_MRV_EXPORT_CONFLICT");
    assert_eq!(body["error"]["details"]["export_id"], first["export_id"]);
    // Two simultaneous requests for another window: exactly one wins.
    let (a, b) = tokio::join!(
        app.create_export("6M", "2026-07-01T00:00:00Z"),
        app.create_export("6M", "2026-07-01T00:00:00Z"),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let loser = if a.0 == StatusCode::CONFLICT {
        a.1
    } else {
        b.1
    };
    assert_eq!(loser["error"]["code"], "GREENOS_MRV_EXPORT_CONFLICT");
    assert_eq!(
        query_i64(&app, "SELECT COUNT(*) FROM esg_mrv_exports").await,
        2
    );
    let orphans = query_i64(
        &app,
        "SELECT COUNT(*) FROM esg_mrv_export_chunks c WHERE NOT EXISTS \
         (SELECT 1 FROM esg_mrv_exports e WHERE e.export_id = c.export_id)",
    )
    .await;
    assert_eq!(orphans, 0);
}

async fn an_export_needs_a_complete_active_methodology(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // The lifecycle columns may change; nothing is ACTIVE any more.
    app.db
        .execute_unprepared("UPDATE esg_mrv_methodology SET status = 'DEPRECATED'")
        .await
        .expect("deprecate");
    let (status, body) = app.create_export("3M", "2026-04-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_INVALID");
    // ACTIVE again, but its content emptied behind the registry's back.
    app.tamper("UPDATE esg_mrv_methodology SET status = 'ACTIVE', baseline_reference = ''")
        .await;
    let (status, body) = app.create_export("3M", "2026-04-01T00:00:00Z").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "GREENOS_METHODOLOGY_INVALID");
    assert_eq!(
        query_i64(&app, "SELECT COUNT(*) FROM esg_mrv_exports").await,
        0
    );
}
