//! GreenOS domain logic shared by REST, GraphQL and jobs.

/// Bearer-token authentication against SHA-256 digests, and exact scopes.
pub mod auth;
/// Bulk writes through sqlx: PostgreSQL's binary `COPY`, SQLite's fixed-size multi-row `INSERT`s.
pub(crate) mod bulk;
/// Who calls a use case and for which request: the bounded correlation id and the caller.
pub mod context;
/// The write-transaction helper and the unique-violation classifier every store shares.
pub mod db;
/// The registry of `GREENOS_*` error codes and the HTTP status each maps to.
pub mod error_code;
/// The signed, append-only impact ledger: trip parsing, computation, storage, verification.
pub mod ledger;
/// The transparency log (SPEC §18): RFC 6962 Merkle tree hashing and proofs over Go's
/// stored-hash layout, and C2SP signed checkpoints.
pub mod log;
/// The versioned methodology registry: validation, lifecycle, bootstrap (SPEC §7).
pub mod methodology;
/// Prometheus metrics, in an explicit registry owned by the application.
pub mod metrics;
/// MRV exports: calendar windows of the ledger, canonical, hashed, signed, streamed (SPEC §8, §9).
pub mod mrv;
/// The transactional outbox: versioned event envelopes written with the change that caused them.
pub mod outbox;
/// Relay page requests shared by every list.
pub mod page;
/// Canonical JSON, exact decimals and timestamps, hashes, keyrings and signatures (SPEC §5, §6).
pub mod proof;
/// Where the critical secrets come from (env, Vault KV v2, KMS) and whether they are fit for use.
pub mod secrets;
/// The one service layer: every use case, reached from one cheap-to-clone `Services` value.
pub mod services;
