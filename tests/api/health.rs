//! `/health`, `/metrics` and the error envelope for unknown routes.

use std::time::Duration;

use crate::helpers::{Backend, TestApp, unreachable_service};
use crate::on_both_backends;

on_both_backends!(
    health_reports_database_and_redis,
    metrics_are_exposed,
    unknown_routes_get_the_envelope
);

async fn health_reports_database_and_redis(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |vars| {
        vars.set("GREENOS_REDIS_URL", format!("redis://{REDIS_ADDRESS}"));
    })
    .await
    else {
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
    // Under CI Redis must be up; elsewhere an unreachable Redis skips this half loudly (the
    // "down" answer itself is `health_survives_redis_down`'s subject).
    if let Err(err) = redis_listens().await {
        unreachable_service(&format!("Redis at {REDIS_ADDRESS}"), &err);
        return;
    }
    assert_eq!(body["redis"]["status"], "up", "{body}");
    assert_eq!(body["status"], "ok", "{body}");
}

/// Where the test Redis listens.
const REDIS_ADDRESS: &str = "127.0.0.1:6379";

/// Whether something accepts TCP connections at `REDIS_ADDRESS` within a second.
async fn redis_listens() -> Result<(), String> {
    let connect = tokio::net::TcpStream::connect(REDIS_ADDRESS);
    match tokio::time::timeout(Duration::from_secs(1), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("no answer within 1 s".to_owned()),
    }
}

async fn metrics_are_exposed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.get_json("/health").await;
    let metrics = app.metrics().await;
    let requests = "greenos_http_requests_total";
    assert_eq!(metrics.type_of(requests), Some("counter"), "{metrics}");
    assert_eq!(
        metrics.value(
            requests,
            &[("method", "GET"), ("route", "/health"), ("status", "200")]
        ),
        Some(1.0),
        "{metrics}"
    );
    let latency = "greenos_http_request_duration_seconds";
    assert_eq!(metrics.type_of(latency), Some("histogram"), "{metrics}");
    let route = [
        ("method", "GET"),
        ("route", "/health"),
        ("status_class", "2xx"),
    ];
    assert_eq!(
        metrics.value(&format!("{latency}_count"), &route),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metrics.value(
            &format!("{latency}_bucket"),
            &[route[0], route[1], route[2], ("le", "+Inf")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics
            .value(&format!("{latency}_sum"), &route)
            .is_some_and(|seconds| seconds > 0.0),
        "{metrics}"
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
