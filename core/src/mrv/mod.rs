//! MRV exports (SPEC §8, §9): a calendar window of the ledger, de-duplicated by `trip_id`,
//! written as one canonical, hashed, double-signed payload bound to the ACTIVE methodology;
//! stored in chunks; read, downloaded and verified by streaming.
//!
//! Data flow of a build: one read snapshot → exact SQL aggregates and duplicate statistics →
//! the kept rows streamed in `trip_id` order through SHA-256 into a spool file → the hash
//! signed → one short write transaction (export row, chunks, audit row, outbox event).

mod artifact;
mod audit;
mod build;
mod canon;
mod check_stored;
mod csv;
mod error;
mod impact_json;
mod payload;
mod period;
mod read;
mod record;
mod scan;
mod select;
mod spool;
mod store;
mod verify;
mod walk;

pub use artifact::ArtifactHeader;
pub use audit::{PAYLOAD_MEMBERS, ProofReport};
pub use build::create_export;
pub use canon::{ArtifactReading, read_artifact_bytes, read_artifact_file};
pub use check_stored::verify_export;
pub(crate) use csv::write_csv;
pub use csv::CSV_COLUMNS;
pub use error::MrvError;
pub use payload::{
    Aggregation, DEDUPLICATION_RULE, DuplicateStats, FactorPair, MethodologyBinding, PayloadParts,
    SCHEMA_VERSION, Totals,
};
pub use period::{ExportWindow, Period};
pub use read::{
    DEFAULT_PAGE_SIZE, ExportPage, MAX_PAGE_SIZE, PayloadReader, chunk, find_by_window, get, list,
    payload_reader,
};
pub use record::ExportRecord;
pub use store::{CHUNK_BYTES, EXPORT_GENERATED};
pub use verify::{ExportVerification, record_outcome, verify_artifact, verify_artifact_offline};
pub use walk::for_each_impact;
