//! `VaultSecretProvider` against an in-process fake Vault speaking just enough HTTP/1.1.

use std::sync::Mutex as StdMutex;

use secrecy::ExposeSecret;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::*;

const TOKEN: &str = "hvs.fake-vault-token-7f3a9c";

/// What the fake Vault saw of one request.
#[derive(Debug, Clone)]
struct SeenRequest {
    method: String,
    path: String,
    token: Option<String>,
}

/// How the fake Vault answers.
#[derive(Clone)]
enum Reply {
    Json(u16, String),
    Hang(Duration),
}

/// A fake Vault listening on a free local port.
struct FakeVault {
    addr: String,
    seen: Arc<StdMutex<Vec<SeenRequest>>>,
}

impl FakeVault {
    async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = format!("http://{}", listener.local_addr().expect("local address"));
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let request = read_request(&mut stream).await;
                log.lock().expect("request log").push(request);
                match &reply {
                    Reply::Json(status, body) => {
                        let response = format!(
                            "HTTP/1.1 {status} Fake\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        stream
                            .write_all(response.as_bytes())
                            .await
                            .expect("write response");
                        stream.shutdown().await.expect("close response");
                    }
                    Reply::Hang(delay) => tokio::time::sleep(*delay).await,
                }
            }
        });
        Self { addr, seen }
    }

    fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().expect("request log").clone()
    }
}

/// Reads one request head (a GET has no body).
async fn read_request(stream: &mut TcpStream) -> SeenRequest {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.expect("read request");
        assert!(read > 0, "client closed before sending a full request");
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8(head).expect("ASCII request head");
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().expect("request line").split(' ');
    let method = request_line.next().expect("method").to_owned();
    let path = request_line.next().expect("request target").to_owned();
    let token = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("x-vault-token"))
        .map(|(_, value)| value.trim().to_owned());
    SeenRequest {
        method,
        path,
        token,
    }
}

fn settings(addr: &str, mount: &str, path: &str) -> VaultSettings {
    VaultSettings {
        addr: addr.to_owned(),
        token: SecretString::from(TOKEN),
        mount: mount.to_owned(),
        path: path.to_owned(),
        timeout: Duration::from_millis(500),
    }
}

fn provider(addr: &str) -> VaultSecretProvider {
    VaultSecretProvider::new(settings(addr, VaultSettings::DEFAULT_MOUNT, "greenos"))
        .expect("valid settings")
}

fn kv2_body(data: &Value) -> String {
    serde_json::json!({
        "request_id": "0f6c1e4a-fake",
        "data": {"data": data, "metadata": {"version": 3, "deletion_time": "", "destroyed": false}},
    })
    .to_string()
}

async fn error_of(provider: &VaultSecretProvider) -> SecretError {
    let error = provider
        .get(SecretName::SigningKeysJson)
        .await
        .expect_err("Vault read must fail");
    assert!(!error.to_string().contains(TOKEN), "token leaked: {error}");
    assert!(
        !format!("{error:?}").contains(TOKEN),
        "token leaked: {error:?}"
    );
    error
}

#[tokio::test]
async fn reads_all_five_secrets_once_with_the_token_header() {
    let data = serde_json::json!({
        "GREENOS_SIGNING_KEYS_JSON": r#"{"v1":"hmac-key-material-of-sufficient-length"}"#,
        "GREENOS_SIGNING_ACTIVE_KEY_VERSION": "v1",
        "GREENOS_ED25519_KEYS_JSON": r#"{"v1":"c2VlZC1zZWVkLXNlZWQtc2VlZC1zZWVkLXNlZWQtMTI="}"#,
        "GREENOS_ED25519_ACTIVE_KEY_VERSION": "v1",
        "GREENOS_API_TOKENS_JSON": r#"{"ops":{"token_sha256":"00","scopes":["admin"]}}"#,
        "UNRELATED_KEY": {"ignored": true},
    });
    let vault = FakeVault::start(Reply::Json(200, kv2_body(&data))).await;
    let provider = VaultSecretProvider::new(settings(
        &format!("{}/", vault.addr),
        "/kv/",
        "greenos/prod",
    ))
    .expect("valid settings");
    assert_eq!(provider.kind(), ProviderKind::Vault);

    for name in SecretName::ALL {
        let value = provider
            .get(name)
            .await
            .expect("read from Vault")
            .expect("value present");
        assert_eq!(
            value.expose_secret(),
            data[name.env_name()].as_str().expect("string fixture")
        );
    }
    let seen = vault.seen();
    assert_eq!(seen.len(), 1, "values are cached after the first read");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/v1/kv/data/greenos/prod");
    assert_eq!(seen[0].token.as_deref(), Some(TOKEN));

    provider.refresh().await.expect("refresh");
    assert_eq!(vault.seen().len(), 2);
    assert!(!format!("{provider:?}").contains(TOKEN));
}

#[tokio::test]
async fn absent_keys_are_none() {
    let data = serde_json::json!({"GREENOS_SIGNING_ACTIVE_KEY_VERSION": "v2"});
    let vault = FakeVault::start(Reply::Json(200, kv2_body(&data))).await;
    let provider = provider(&vault.addr);
    assert!(
        provider
            .get(SecretName::ApiTokensJson)
            .await
            .expect("read from Vault")
            .is_none()
    );
    let active = provider
        .get(SecretName::SigningActiveKeyVersion)
        .await
        .expect("read from Vault");
    assert_eq!(active.expect("value present").expose_secret(), "v2");
}

#[tokio::test]
async fn wrong_token_is_permission_denied() {
    let body = r#"{"errors":["permission denied"]}"#.to_owned();
    let vault = FakeVault::start(Reply::Json(403, body)).await;
    let error = error_of(&provider(&vault.addr)).await;
    assert!(
        matches!(error, SecretError::VaultPermissionDenied { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("HTTP 403"));
    assert!(error.to_string().contains(&vault.addr));
}

#[tokio::test]
async fn missing_path_names_mount_and_path() {
    let vault = FakeVault::start(Reply::Json(404, r#"{"errors":[]}"#.to_owned())).await;
    let error = error_of(&provider(&vault.addr)).await;
    assert!(
        matches!(error, SecretError::VaultPathNotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("mount `secret`") && message.contains("path `greenos`"),
        "{message}"
    );
}

#[tokio::test]
async fn vault_down_is_unreachable_and_names_the_address() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = format!("http://{}", listener.local_addr().expect("local address"));
    drop(listener);
    let error = error_of(&provider(&addr)).await;
    assert!(
        matches!(error, SecretError::VaultUnreachable { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("Vault at {addr} is unreachable"))
    );
}

#[tokio::test]
async fn slow_vault_times_out() {
    let vault = FakeVault::start(Reply::Hang(Duration::from_secs(30))).await;
    let error = error_of(&provider(&vault.addr)).await;
    assert_eq!(
        error,
        SecretError::VaultTimeout {
            addr: vault.addr.clone(),
            timeout_ms: 500
        }
    );
}

#[tokio::test]
async fn other_statuses_and_bodies_are_reported() {
    let sealed = FakeVault::start(Reply::Json(
        503,
        r#"{"errors":["Vault is sealed"]}"#.to_owned(),
    ))
    .await;
    let error = error_of(&provider(&sealed.addr)).await;
    assert!(
        matches!(error, SecretError::VaultStatus { status: 503, .. }),
        "{error:?}"
    );

    let not_json = FakeVault::start(Reply::Json(200, "<html>proxy</html>".to_owned())).await;
    let error = error_of(&provider(&not_json.addr)).await;
    assert!(
        error.to_string().contains("the body is not JSON"),
        "{error}"
    );

    let kv1 = FakeVault::start(Reply::Json(
        200,
        r#"{"data":{"GREENOS_SIGNING_KEYS_JSON":"x"}}"#.to_owned(),
    ))
    .await;
    let error = error_of(&provider(&kv1.addr)).await;
    assert!(error.to_string().contains("KV version 2"), "{error}");

    let number = kv2_body(&serde_json::json!({"GREENOS_SIGNING_ACTIVE_KEY_VERSION": 2}));
    let not_string = FakeVault::start(Reply::Json(200, number)).await;
    let error = error_of(&provider(&not_string.addr)).await;
    assert_eq!(
        error.to_string(),
        "Vault value GREENOS_SIGNING_ACTIVE_KEY_VERSION at secret/data/greenos is not a string"
    );
}

#[test]
fn invalid_settings_are_refused_without_echoing_the_token() {
    let cases = [
        settings("vault.internal:8200", "secret", "greenos"),
        settings("ftp://vault.internal", "secret", "greenos"),
        settings(
            &format!("https://root:{TOKEN}@vault.internal"),
            "secret",
            "greenos",
        ),
        settings("https://vault.internal", "", "greenos"),
        settings("https://vault.internal", "secret", "/"),
        settings("https://vault.internal", "secret", "../sys"),
        VaultSettings {
            token: SecretString::from("  "),
            ..settings("https://vault.internal", "secret", "greenos")
        },
        VaultSettings {
            token: SecretString::from(format!("{TOKEN}\n")),
            ..settings("https://vault.internal", "secret", "greenos")
        },
        VaultSettings {
            timeout: Duration::ZERO,
            ..settings("https://vault.internal", "secret", "greenos")
        },
    ];
    for case in cases {
        let error = VaultSecretProvider::new(case).expect_err("settings must be refused");
        assert!(
            matches!(error, SecretError::InvalidVaultSettings { .. }),
            "{error:?}"
        );
        assert!(!error.to_string().contains(TOKEN), "{error}");
    }
}
