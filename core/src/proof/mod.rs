//! The cross-language proof contract (SPEC §5 and §6): canonical JSON, exact
//! decimals and timestamps, SHA-256 hashes, and the HMAC + Ed25519 keyrings that
//! sign them.
//!
//! Everything here is pure and synchronous so that the REST layer, GraphQL, the
//! jobs and the offline `greenos verify` command compute byte-identical proofs.
//! `tests/vectors/vectors.json` pins the bytes; `tests/vectors/check_vectors.py`
//! reproduces them in Python.

pub mod canonical;
pub mod decimal;
pub mod dev_keys;
pub mod ed25519_ring;
pub mod hash;
pub mod hmac_ring;
pub mod keys;
pub mod signer;
mod strict_json;
pub mod time;

pub use canonical::{CanonicalError, parse_strict, to_canonical, to_canonical_vec};
pub use decimal::{Decimal6, DecimalError};
pub use dev_keys::load_or_create_dev_keys;
pub use ed25519_ring::{
    Ed25519Keyring, PublicKeyPayload, PublicKeyRing, generate_ed25519_seed, verify_ed25519,
};
pub use hash::{
    CountryFactors, EVENT_HASH_FIELDS, EventHashInput, InvalidSha256Hex, MethodologyContent,
    MethodologyHashInput, Sha256Hex, checksum, event_hash, hash_canonical, methodology_hash,
    proof_hash, sha256_hex,
};
pub use hmac_ring::{HmacKeyring, generate_hmac_secret};
pub use keys::{KeyVersion, KeyringError};
pub use signer::{SIGNATURE_FIELDS, SignatureCheck, Signatures, Signer};
pub use time::{TimeError, UtcMicros};
