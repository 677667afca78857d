//! The database unreachable while the service runs (a proxy the test cuts and restores in front
//! of the real PostgreSQL): requests fail fast with `503 GREENOS_UNAVAILABLE` and `Retry-After`,
//! nothing is half-written, and service resumes by itself when the database is back.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::proxy::{self, TcpProxy};
use crate::helpers::trip_json;

/// A request may take at most this long before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_answered_503_and_service_resumes() {
    let proxy = TcpProxy::start("127.0.0.1:5432").await;
    let Some(app) = proxy::spawn_behind(&proxy, 800).await else {
        return;
    };
    let (status, _) = app
        .post_json("/api/v2/esg/trips", &trip_json("trip-before"))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    proxy.cut();
    for _ in 0..2 {
        let request = app
            .client
            .post(app.url("/api/v2/esg/trips"))
            .json(&trip_json("trip-during"))
            .send();
        let response = tokio::time::timeout(HANG, request)
            .await
            .expect("answered, not hung")
            .expect("sent");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.expect("envelope");
        assert_eq!(body["error"]["code"], "GREENOS_UNAVAILABLE", "{body}");
    }
    let read = tokio::time::timeout(HANG, app.get_json("/api/v2/esg/impact/trip-before"))
        .await
        .expect("answered, not hung");
    assert_eq!(read.0, StatusCode::SERVICE_UNAVAILABLE, "{}", read.1);
    let (status, _) = app.get_json("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let mut resumed = None;
    for _ in 0..20 {
        let (status, body) = app
            .post_json("/api/v2/esg/trips", &trip_json("trip-during"))
            .await;
        if status == StatusCode::CREATED {
            resumed = Some(body);
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        resumed.is_some(),
        "service did not resume after the database came back"
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 2);
    assert_eq!(app.count_rows("esg_outbox_events").await, 2);
}
