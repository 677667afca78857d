//! The public Ed25519 keys, for auditors: no authentication, identical bodies on the API and
//! the well-known route.

use axum::Json;
use axum::extract::State;
use greenos_core::proof::PublicKeyPayload;
use greenos_core::services::{PublicKeys, Services};

/// `GET /api/v2/esg/public-key` and `GET /.well-known/greenos-public-key`: the active key.
pub async fn public_key(State(services): State<Services>) -> Json<PublicKeyPayload> {
    Json(services.keys().public_key())
}

/// `GET /api/v2/esg/public-keys`: every key of the ring, for historical artifacts.
pub async fn public_keys(State(services): State<Services>) -> Json<PublicKeys> {
    Json(services.keys().public_keys())
}
