//! The vault provider against an in-process server speaking HashiCorp Vault's KV v2 API.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use greenos::app::AppState;
use greenos::config::{Config, Vars};
use serde_json::{Value, json};

use crate::credentials::{self, TOKEN_ADMIN};
use crate::helpers::{Backend, TestDb, base_vars};

const VAULT_TOKEN: &str = "hvs.test-token-7Yq2Pz";

/// Serves `GET /v1/{mount}/data/{path}` for mount `secret`, path `greenos`.
async fn fake_vault(secrets: BTreeMap<String, String>) -> String {
    async fn read(
        State(secrets): State<BTreeMap<String, String>>,
        Path((mount, path)): Path<(String, String)>,
        headers: HeaderMap,
    ) -> (StatusCode, Json<Value>) {
        if headers.get("x-vault-token").and_then(|v| v.to_str().ok()) != Some(VAULT_TOKEN) {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({"errors": ["permission denied"]})),
            );
        }
        if mount != "secret" || path != "greenos" {
            return (StatusCode::NOT_FOUND, Json(json!({"errors": []})));
        }
        let body = json!({
            "request_id": "r-1", "lease_id": "", "renewable": false, "lease_duration": 0,
            "data": {"data": secrets, "metadata": {"version": 3, "destroyed": false, "deletion_time": ""}},
        });
        (StatusCode::OK, Json(body))
    }
    let app = axum::Router::new()
        .route("/v1/{mount}/data/{*path}", get(read))
        .with_state(secrets);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

fn vault_vars(db: &TestDb, addr: &str, token: &str) -> Vars {
    let mut vars = base_vars(db);
    vars.set("GREENOS_ENV", "production")
        .set("GREENOS_SECRET_PROVIDER", "vault")
        .set("GREENOS_VAULT_ADDR", addr)
        .set("GREENOS_VAULT_TOKEN", token)
        .set("GREENOS_VAULT_TIMEOUT_MS", "2000");
    vars
}

#[tokio::test]
async fn production_reads_every_secret_from_vault() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    let secrets = credentials::secret_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let addr = fake_vault(secrets).await;
    let config = Config::from_vars(&vault_vars(&db, &addr, VAULT_TOKEN)).expect("config");
    let state = AppState::build(config)
        .await
        .expect("starts with secrets from vault");
    let report = state.security.report().await.expect("report");
    let report = serde_json::to_value(report).expect("json");
    assert_eq!(report["provider"], "vault");
    assert_eq!(report["environment"], "production");
    assert!(
        report["secrets"]
            .as_object()
            .expect("map")
            .values()
            .all(|s| s == "OK"),
        "{report}"
    );
    let public = state.security.signer.ed25519().active_public_key();
    assert_eq!(public.key_version, "v1");
    assert!(
        state
            .security
            .tokens
            .as_ref()
            .expect("auth on")
            .authenticate(Some(&format!("Bearer {TOKEN_ADMIN}")))
            .is_ok()
    );
}

#[tokio::test]
async fn vault_faults_stop_production_start_clearly() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    let secrets = credentials::secret_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let addr = fake_vault(secrets).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let mut missing_path = vault_vars(&db, &addr, VAULT_TOKEN);
    missing_path.set("GREENOS_VAULT_PATH", "nowhere");
    for (label, vars, expected) in [
        (
            "wrong token",
            vault_vars(&db, &addr, "hvs.wrong-9Xk"),
            "permission",
        ),
        (
            "vault down",
            vault_vars(&db, &closed, VAULT_TOKEN),
            "unreachable",
        ),
        ("missing path", missing_path, "nowhere"),
    ] {
        let config = Config::from_vars(&vars).expect("config");
        let err = match AppState::build(config).await {
            Ok(_) => panic!("{label}: production must refuse to start"),
            Err(err) => format!("{err:#}"),
        };
        assert!(err.to_lowercase().contains(expected), "{label}: {err}");
        assert!(
            !err.contains("hvs."),
            "{label}: the Vault token leaks: {err}"
        );
    }
}

#[test]
fn vault_provider_requires_its_address_and_token() {
    let err = Config::from_vars(&Vars::from_pairs([("GREENOS_SECRET_PROVIDER", "vault")]))
        .expect_err("no address");
    assert_eq!(err.var, "GREENOS_VAULT_ADDR");
    let err = Config::from_vars(&Vars::from_pairs([
        ("GREENOS_SECRET_PROVIDER", "vault"),
        ("GREENOS_VAULT_ADDR", "http://127.0.0.1:8200"),
    ]))
    .expect_err("no token");
    assert_eq!(err.var, "GREENOS_VAULT_TOKEN");
    let err = Config::from_vars(&Vars::from_pairs([("GREENOS_SECRET_PROVIDER", "aws")]))
        .expect_err("unknown");
    assert_eq!(err.var, "GREENOS_SECRET_PROVIDER");
}
