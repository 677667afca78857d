//! Verifying a stored export (`GET /api/v2/esg/mrv/export/{export_id}/verify`): re-hash the
//! stored chunks as they stream, check both signatures of the stored `verification_hash`, the
//! transparency-log checkpoint of a `greenos.mrv.v2` payload, and the methodology binding (the
//! payload's block, the export row and the registry must agree).

use std::io::Read;

use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use crate::methodology;
use crate::mrv::build::payload::{LogBinding, MethodologyBinding, SCHEMA_VERSION};
use crate::mrv::error::MrvError;
use crate::mrv::read::artifact::ArtifactHeader;
use crate::mrv::read::{self, payload_reader};
use crate::mrv::verify::ExportVerification;
use crate::mrv::verify::scan::TopLevelCapture;
use crate::proof::{Sha256Hex, Signer};

/// The largest `methodology` block read from a payload.
const MAX_BINDING_BYTES: usize = 64 * 1024;
/// Bytes hashed per read.
const READ_BYTES: usize = 1024 * 1024;

/// Verifies the stored export `export_id`; `Ok` only when every check passes, otherwise the
/// §9 error with every flag in its details. `NotFound` for an unknown id.
pub async fn verify_export(
    db: &DatabaseConnection,
    signer: &Signer,
    export_id: &str,
) -> Result<ExportVerification, MrvError> {
    let record = read::get(db, export_id).await?;
    let header = ArtifactHeader::from_record(&record);
    let reader = payload_reader(db.clone(), &record);
    let (hash, size_bytes, binding, log) =
        tokio::task::spawn_blocking(move || hash_and_scan(reader))
            .await
            .map_err(|e| MrvError::Task(e.to_string()))?;
    // The reader checks that exactly chunk_count chunks exist, in order.
    let complete =
        hash.is_some() && i64::try_from(size_bytes).ok() == Some(record.payload_size_bytes);
    let hash = hash.filter(|_| complete);
    let registry_row = methodology::get(db, &record.methodology_version).await?;
    let mut verification = ExportVerification::new(&header, hash.as_ref(), size_bytes);
    verification
        .check_signatures(&header, signer)
        .check_log_checkpoint(
            record.schema_version == SCHEMA_VERSION,
            log.as_ref(),
            &signer.ed25519().public_ring(),
        )
        .check_payload_binding(binding.as_ref())
        .check_registry(registry_row.as_ref());
    verification.finish().into_result()
}

/// What [`hash_and_scan`] found: the hash (`None` when a chunk could not be read), the size,
/// the `methodology` block and the `log_checkpoint`.
type Scanned = (
    Option<Sha256Hex>,
    u64,
    Option<MethodologyBinding>,
    Option<LogBinding>,
);

/// Hashes the whole payload and picks its `methodology` block and `log_checkpoint` on the way.
fn hash_and_scan(mut reader: read::PayloadReader) -> Scanned {
    let mut hasher = Sha256::new();
    let mut scan = TopLevelCapture::new(&["methodology", "log_checkpoint"], MAX_BINDING_BYTES);
    let mut buffer = vec![0; READ_BYTES];
    let mut size_bytes = 0u64;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
                scan.feed(&buffer[..n]);
                size_bytes += n as u64;
            }
            Err(err) => {
                tracing::warn!(error = %err, "MRV payload chunks could not be read in full");
                return (None, size_bytes, None, None);
            }
        }
    }
    let mut members = scan.finish();
    let binding = members
        .remove("methodology")
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let log = members
        .remove("log_checkpoint")
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    (
        Some(Sha256Hex::from_digest(hasher.finalize().into())),
        size_bytes,
        binding,
        log,
    )
}

/// The `non_double_counting_proof` member of a stored payload, read as the payload streams;
/// use on a blocking thread.
pub(crate) fn payload_proof(
    mut reader: read::PayloadReader,
) -> Result<serde_json::Value, MrvError> {
    /// A proof larger than this is not answered (one listing millions of duplicates).
    const MAX_MEMBER_BYTES: usize = 64 * 1024 * 1024;
    const MEMBER: &str = "non_double_counting_proof";
    let mut scan = TopLevelCapture::new(&[MEMBER], MAX_MEMBER_BYTES);
    let mut buffer = vec![0; READ_BYTES];
    loop {
        match reader.read(&mut buffer)? {
            0 => break,
            n => scan.feed(&buffer[..n]),
        }
    }
    let bytes = scan
        .finish()
        .remove(MEMBER)
        .ok_or_else(|| MrvError::Storage(format!("stored payload: no {MEMBER} member")))?;
    serde_json::from_slice(&bytes).map_err(|e| MrvError::Storage(format!("stored payload: {e}")))
}
