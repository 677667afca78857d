//! Fixed, realistic test credentials (never placeholders) and the variables that install them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use greenos::config::Vars;
use greenos_core::auth::token_sha256;
use sha2::{Digest, Sha256};

/// The HMAC secret of version `v1`.
pub const HMAC_SECRET_V1: &str = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f7";
/// A token holding only `read`.
pub const TOKEN_READ: &str = "tok-read-3Jq9ZxV1pL7sW2nB";
/// A token holding only `ingest`.
pub const TOKEN_INGEST: &str = "tok-ingest-8Hc4YtR6mK0aE5uD";
/// A token holding only `export`.
pub const TOKEN_EXPORT: &str = "tok-export-1Fw7NbQ3zX9vG6oP";
/// A token holding only `admin`.
pub const TOKEN_ADMIN: &str = "tok-admin-5Ls2JdT8kM4rY0cH";

/// The Ed25519 seed of version `v1`, base64 (derived, so it is neither zero nor repetitive).
pub fn ed25519_seed_v1() -> String {
    BASE64.encode(Sha256::digest(b"greenos test ed25519 seed v1"))
}

/// `GREENOS_API_TOKENS_JSON` with one token per scope.
pub fn tokens_json() -> String {
    serde_json::json!({
        "reader": {"token_sha256": token_sha256(TOKEN_READ), "scopes": ["read"]},
        "ingester": {"token_sha256": token_sha256(TOKEN_INGEST), "scopes": ["ingest"]},
        "exporter": {"token_sha256": token_sha256(TOKEN_EXPORT), "scopes": ["export"]},
        "admin": {"token_sha256": token_sha256(TOKEN_ADMIN), "scopes": ["admin"]},
    })
    .to_string()
}

/// Every critical secret, valid, as `(variable, value)` pairs.
pub fn secret_pairs() -> Vec<(&'static str, String)> {
    vec![
        ("GREENOS_SIGNING_ACTIVE_KEY_VERSION", "v1".to_owned()),
        (
            "GREENOS_SIGNING_KEYS_JSON",
            format!(r#"{{"v1":"{HMAC_SECRET_V1}"}}"#),
        ),
        ("GREENOS_ED25519_ACTIVE_KEY_VERSION", "v1".to_owned()),
        (
            "GREENOS_ED25519_KEYS_JSON",
            format!(r#"{{"v1":"{}"}}"#, ed25519_seed_v1()),
        ),
        ("GREENOS_API_TOKENS_JSON", tokens_json()),
    ]
}

/// Installs every critical secret (auth on, fixed keys).
pub fn secure(vars: &mut Vars) {
    for (name, value) in secret_pairs() {
        vars.set(name, value);
    }
}

/// Every secret value and token that must never appear in a response or a log.
pub fn secret_values() -> Vec<String> {
    vec![
        HMAC_SECRET_V1.to_owned(),
        ed25519_seed_v1(),
        TOKEN_READ.to_owned(),
        TOKEN_INGEST.to_owned(),
        TOKEN_EXPORT.to_owned(),
        TOKEN_ADMIN.to_owned(),
    ]
}
