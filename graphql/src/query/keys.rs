//! `publicKey` and `publicKeys` (public, as their REST twins).

use async_graphql::{Context, Object};

use crate::context::services;
use crate::types::keys::{PublicKey, PublicKeys};

/// The key queries.
#[derive(Default)]
pub struct KeyQuery;

#[Object]
impl KeyQuery {
    /// The active Ed25519 public key.
    async fn public_key(&self, ctx: &Context<'_>) -> PublicKey {
        services(ctx).keys().public_key().into()
    }

    /// Every key of the ring, for historical artifacts.
    async fn public_keys(&self, ctx: &Context<'_>) -> PublicKeys {
        let keys = services(ctx).keys().public_keys();
        PublicKeys {
            active_key_version: keys.active_key_version,
            keys: keys.keys.into_iter().map(Into::into).collect(),
        }
    }
}
