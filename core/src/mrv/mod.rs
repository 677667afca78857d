//! MRV exports (SPEC §8, §9): a calendar window of the ledger, de-duplicated by `trip_id`,
//! written as one canonical, hashed, double-signed payload bound to the ACTIVE methodology;
//! stored in chunks; read, downloaded and verified by streaming.
//!
//! Data flow of a build: one read snapshot → exact SQL aggregates and duplicate statistics →
//! the kept rows streamed in `trip_id` order through SHA-256 into a spool file → the hash
//! signed → one short write transaction (export row, chunks, audit row, outbox event).

mod build;
mod channel;
mod chunk;
mod error;
mod evidence;
mod period;
mod read;
mod record;
mod verify;

pub(crate) use build::create_export;
pub use build::payload::{
    Aggregation, DEDUPLICATION_RULE, DuplicateStats, FactorPair, LogBinding, MethodologyBinding,
    PayloadParts, SCHEMA_VERSION, SCHEMA_VERSION_V1, Totals,
};
pub use build::store::EXPORT_GENERATED;
pub(crate) use channel::ChannelReader;
pub use chunk::{CHUNK_BYTES, ChunkCodec};
pub use error::MrvError;
pub(crate) use evidence::log_sample;
pub(crate) use evidence::write_evidence;
pub use evidence::{
    EvidenceFiles, LogFiles, MANIFEST, MANIFEST_SIGNATURE, SampledLeaf, VERIFY_PY, sample_positions,
};
pub use period::{ExportWindow, Period};
pub use read::artifact::ArtifactHeader;
pub(crate) use read::csv::write_csv;
pub use read::page::ExportImpactPage;
pub(crate) use read::page::page_of_payload;
pub use read::walk::for_each_impact;
pub use read::{
    DEFAULT_PAGE_SIZE, ExportCursor, ExportPage, ExportsPage, MAX_PAGE_SIZE, PayloadReader,
};
pub(crate) use read::{chunk, count, find_by_window, get, list, page, payload_reader};
pub use record::ExportRecord;
pub use verify::consistency::{PAYLOAD_MEMBERS, ProofReport};
pub use verify::impacts::SignatureTally;
pub use verify::pool::AuditOptions;
pub use verify::reading::{
    ArtifactReading, read_artifact_bytes, read_artifact_file, read_artifact_from,
};
pub(crate) use verify::stored::{payload_proof, verify_export};
pub use verify::{ExportVerification, record_outcome, verify_artifact, verify_artifact_offline};
