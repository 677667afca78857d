//! The public Ed25519 keys, for auditors: no authentication, identical bodies on the API and
//! the well-known route.

use axum::Json;
use axum::extract::State;
use greenos_core::proof::PublicKeyPayload;
use serde::Serialize;

use crate::app::AppState;

/// `GET /api/v2/esg/public-key` and `GET /.well-known/greenos-public-key`: the active key.
pub async fn public_key(State(state): State<AppState>) -> Json<PublicKeyPayload> {
    Json(state.security.signer.ed25519().active_public_key())
}

/// Every key of the ring, for verifying historical artifacts.
#[derive(Debug, Serialize)]
pub struct PublicKeys {
    /// The version new artifacts are signed with.
    pub active_key_version: String,
    /// One payload per version, sorted by version.
    pub keys: Vec<PublicKeyPayload>,
}

/// `GET /api/v2/esg/public-keys`.
pub async fn public_keys(State(state): State<AppState>) -> Json<PublicKeys> {
    let ring = state.security.signer.ed25519();
    Json(PublicKeys {
        active_key_version: ring.active_version().as_str().to_owned(),
        keys: ring.public_keys(),
    })
}
