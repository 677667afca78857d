//! GreenOS domain logic shared by REST, GraphQL and jobs.

/// Bearer-token authentication against SHA-256 digests, and exact scopes.
pub mod auth;
/// The registry of `GREENOS_*` error codes and the HTTP status each maps to.
pub mod error_code;
/// Prometheus metrics, in an explicit registry owned by the application.
pub mod metrics;
/// The versioned methodology registry: validation, lifecycle, bootstrap (SPEC §7).
pub mod methodology;
/// Canonical JSON, exact decimals and timestamps, hashes, keyrings and signatures (SPEC §5, §6).
pub mod proof;
/// Where the critical secrets come from (env, Vault KV v2, KMS) and whether they are fit for use.
pub mod secrets;
