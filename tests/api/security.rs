//! Bearer-token scopes on every route, public routes, the secrets status endpoint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::credentials::{self, TOKEN_ADMIN, TOKEN_EXPORT, TOKEN_INGEST, TOKEN_READ};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    every_route_requires_its_scope,
    public_routes_stay_public,
    secrets_status_never_returns_a_value,
);

/// Every protected route, with the scope it requires.
pub const PROTECTED_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/metrics", "read"),
    ("GET", "/api/v2/esg/internal/secrets/status", "admin"),
    ("GET", "/api/v2/esg/outbox/stats", "admin"),
    ("POST", "/api/v2/esg/trips", "ingest"),
    ("GET", "/api/v2/esg/impact/no-such-trip", "read"),
    ("GET", "/api/v2/esg/verify/no-such-trip", "read"),
    ("GET", "/api/v2/esg/mrv/methodology", "read"),
    ("GET", "/api/v2/esg/mrv/methodology/current", "read"),
    ("GET", "/api/v2/esg/mrv/methodology/no-such-version", "read"),
    ("POST", "/api/v2/esg/mrv/methodology", "admin"),
    (
        "POST",
        "/api/v2/esg/mrv/methodology/no-such-version/activate",
        "admin",
    ),
    ("POST", "/api/v2/esg/mrv/export", "export"),
    ("GET", "/api/v2/esg/mrv/export", "read"),
    ("GET", "/api/v2/esg/mrv/export/no-such-export", "read"),
    (
        "GET",
        "/api/v2/esg/mrv/export/no-such-export/verify",
        "read",
    ),
    (
        "GET",
        "/api/v2/esg/mrv/export/no-such-export/impacts.csv",
        "read",
    ),
    ("POST", "/api/v2/esg/mrv/verify", "read"),
];

fn token_for(scope: &str) -> &'static str {
    match scope {
        "read" => TOKEN_READ,
        "ingest" => TOKEN_INGEST,
        "export" => TOKEN_EXPORT,
        _ => TOKEN_ADMIN,
    }
}

fn wrong_token_for(scope: &str) -> &'static str {
    if scope == "read" {
        TOKEN_INGEST
    } else {
        TOKEN_READ
    }
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn every_route_requires_its_scope(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, credentials::secure).await else {
        return;
    };
    for (method, path, scope) in PROTECTED_ROUTES {
        let (status, body) = call(&app, method, path, None).await;
        assert_eq!(status, 401, "{method} {path} without a token");
        assert_eq!(body["error"]["code"], "GREENOS_UNAUTHENTICATED");
        let (status, body) = call(&app, method, path, Some("not-a-known-token")).await;
        assert_eq!(status, 401, "{method} {path} with an unknown token");
        assert_eq!(body["error"]["code"], "GREENOS_UNAUTHENTICATED");
        let (status, body) = call(&app, method, path, Some(wrong_token_for(scope))).await;
        assert_eq!(status, 403, "{method} {path} with the wrong scope");
        assert_eq!(body["error"]["code"], "GREENOS_FORBIDDEN");
        assert_eq!(body["error"]["details"]["required_scope"], *scope);
        // With the right scope the request passes authorisation; what follows (a missing body,
        // an unknown id) is the route's own answer.
        let (status, body) = call(&app, method, path, Some(token_for(scope))).await;
        assert!(
            status != 401 && status != 403 && status != 405 && status < 500,
            "{method} {path} with scope {scope}: {status} {body}"
        );
    }
}

async fn public_routes_stay_public(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, credentials::secure).await else {
        return;
    };
    for path in [
        "/health",
        "/api/v2/esg/public-key",
        "/.well-known/greenos-public-key",
        "/api/v2/esg/public-keys",
    ] {
        let (status, _) = call(&app, "GET", path, None).await;
        assert_eq!(status, 200, "{path} is public");
    }
    let (_, api) = call(&app, "GET", "/api/v2/esg/public-key", None).await;
    let (_, well_known) = call(&app, "GET", "/.well-known/greenos-public-key", None).await;
    assert_eq!(api, well_known, "identical bodies");
    assert_eq!(api["signature_algorithm"], "ED25519");
    assert_eq!(api["encoding"], "base64");
    assert_eq!(api["key_version"], "v1");
    let raw = BASE64
        .decode(api["public_key"].as_str().expect("key"))
        .expect("base64");
    assert_eq!(raw.len(), 32);
    assert_eq!(
        api["fingerprint_sha256"],
        hex::encode(Sha256::digest(&raw)),
        "fingerprint recomputes"
    );
    let (_, all) = call(&app, "GET", "/api/v2/esg/public-keys", None).await;
    assert_eq!(all["active_key_version"], "v1");
    assert_eq!(all["keys"][0], api);
}

async fn secrets_status_never_returns_a_value(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, credentials::secure).await else {
        return;
    };
    let response = app
        .client
        .get(app.url("/api/v2/esg/internal/secrets/status"))
        .bearer_auth(TOKEN_ADMIN)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    for secret in credentials::secret_values() {
        assert!(!text.contains(&secret), "the status leaks a secret");
    }
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["provider"], "env");
    assert_eq!(body["environment"], "dev");
    let secrets = body["secrets"].as_object().expect("secrets map");
    assert_eq!(secrets.len(), 5);
    assert!(secrets.values().all(|v| v == "OK"), "{body}");
}

/// Dev without tokens: auth is off, every route answers without a token.
#[tokio::test]
async fn dev_without_tokens_has_auth_off() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (status, body) = call(&app, "GET", "/api/v2/esg/internal/secrets/status", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["secrets"]["GREENOS_API_TOKENS_JSON"], "MISSING");
}
