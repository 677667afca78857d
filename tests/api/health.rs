//! `/health`, `/metrics` and the error envelope for unknown routes.

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    health_reports_database_and_redis,
    metrics_are_exposed,
    unknown_routes_get_the_envelope
);

async fn health_reports_database_and_redis(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"]["status"], "up");
    let expected = if backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(body["database"]["backend"], expected);
    assert!(matches!(
        body["redis"]["status"].as_str(),
        Some("up" | "down")
    ));
}

async fn metrics_are_exposed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.get_json("/health").await;
    let (status, text) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            "greenos_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("greenos_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

async fn unknown_routes_get_the_envelope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, body) = app.get_json("/no/such/route").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "GREENOS_ROUTE_NOT_FOUND");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/no/such/route"))
    );
    let response = app
        .client
        .delete(app.url("/health"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.expect("json envelope");
    assert_eq!(body["error"]["code"], "GREENOS_METHOD_NOT_ALLOWED");
}

/// Redis down must not take the service down: health stays 200 and says "degraded".
#[tokio::test]
async fn health_survives_redis_down() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |vars| {
        vars.set("GREENOS_REDIS_URL", "redis://127.0.0.1:1");
    })
    .await
    else {
        return;
    };
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["redis"]["status"], "down");
}
