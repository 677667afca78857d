//! Building an export (SPEC §8): one read of the window's rows, in time slices side by side
//! (one per core) merged by one writer, which spools the impacts' canonical bytes and sums up
//! the rest of the payload at once; then one write transaction that stores the payload's chunks
//! while it hashes them, and last the export row with that hash signed twice. Memory holds a
//! few batches of impacts per slice and a few chunks, whatever the window's size.

pub(crate) mod batch;
pub(crate) mod impact_json;
pub(crate) mod payload;
pub(crate) mod select;
pub(crate) mod spool;
pub(crate) mod store;
pub(crate) mod summary;

use std::time::Instant;

use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use crate::methodology::{self, Methodology};
use crate::metrics::Metrics;
use crate::mrv::build::batch::Batch;
use crate::mrv::build::payload::{LogBinding, MethodologyBinding, PayloadParts, SCHEMA_VERSION};
use crate::mrv::build::select::TimeSlice;
use crate::mrv::build::spool::{Payload, write_impacts};
use crate::mrv::build::summary::WindowSummary;
use crate::mrv::chunk::{ChunkCodec, chunk_count};
use crate::mrv::error::MrvError;
use crate::mrv::period::ExportWindow;
use crate::mrv::read;
use crate::mrv::record::ExportRecord;
use crate::proof::{Decimal6, Sha256Hex, Signer, UtcMicros};

/// Batches in flight between a slice's database reader and the writer thread.
const BATCHES_IN_FLIGHT: usize = 4;
/// The most time slices read side by side.
const MAX_READERS: usize = 4;

/// Builds, signs and stores the export of `window`, binding it to the ACTIVE methodology.
///
/// Fails with `ExportConflict` when the window is already exported (checked first, and again
/// by the unique index at insert), with `NoActiveMethodology` or a methodology error when the
/// ACTIVE version is missing or incomplete. An empty window is a valid export.
pub async fn create_export(
    db: &DatabaseConnection,
    signer: &Signer,
    metrics: &Metrics,
    window: ExportWindow,
    log: LogBinding,
    correlation_id: Option<String>,
) -> Result<ExportRecord, MrvError> {
    if let Some(existing) = read::find_by_window(db, &window).await? {
        return Err(MrvError::ExportConflict {
            period_start: window.period_start.to_string(),
            period_end: window.period_end.to_string(),
            export_id: Some(existing),
        });
    }
    let started = Instant::now();
    let methodology = methodology::active(db)
        .await?
        .ok_or(MrvError::NoActiveMethodology)?;
    methodology.check_complete()?;
    let generated_at = UtcMicros::now();
    let slices = TimeSlice::split(db, &window, readers()).await?;
    let mut channels = Vec::with_capacity(slices.len());
    let reads: Vec<_> = slices
        .into_iter()
        .map(|slice| {
            let (tx, rx) = mpsc::channel::<Batch>(BATCHES_IN_FLIGHT);
            channels.push(rx);
            tokio::spawn(select::read_slice(db.clone(), slice, log.tree_size, tx))
        })
        .collect();
    let writer = tokio::task::spawn_blocking(move || write_impacts(channels));
    let mut read_error = None;
    for read in reads {
        let read = read.await.map_err(|e| MrvError::Task(e.to_string()));
        if let Err(err) = read.and_then(|read| read) {
            read_error.get_or_insert(err);
        }
    }
    let written = writer.await.map_err(|e| MrvError::Task(e.to_string()))?;
    // A reader that failed ended its slice early: its error is the one to report.
    let (impacts, summary) = match read_error {
        Some(err) => return Err(err),
        None => written?,
    };
    let streamed = started.elapsed();
    let parts = payload_parts(window, generated_at, &methodology, summary, log);
    let head = parts.head().map_err(|e| MrvError::Storage(e.to_string()))?;
    let tail = parts.tail().map_err(|e| MrvError::Storage(e.to_string()))?;
    let payload = Payload::new(head, impacts, tail);
    let size_bytes = payload.size_bytes();
    let export_id = uuid::Uuid::new_v4().to_string();
    let record = |verification_hash: Sha256Hex, codec: ChunkCodec| {
        let totals = parts.aggregation.totals;
        Ok(ExportRecord {
            export_id: export_id.clone(),
            schema_version: SCHEMA_VERSION.to_owned(),
            period: window.period,
            period_start: window.period_start,
            period_end: window.period_end,
            generated_at,
            signatures: signer.sign(&verification_hash),
            verification_hash: verification_hash.as_str().to_owned(),
            methodology_version: parts.methodology.methodology_version.clone(),
            methodology_hash: parts.methodology.methodology_hash.clone(),
            model_versions: parts.model_versions.clone(),
            impacts_count: totals.impacts_count,
            total_distance_km: Decimal6::from_micro(totals.total_distance_km_micro),
            total_co2_avoided_kg: Decimal6::from_micro(totals.total_co2_avoided_kg_micro),
            aggregation: parts.aggregation.to_value(),
            raw_impacts_count: parts.duplicates.raw_impacts_count,
            duplicates_removed_count: parts.duplicates.removed(),
            proof_hash: parts.proof_hash().as_str().to_owned(),
            payload_size_bytes: i64::try_from(size_bytes)
                .map_err(|_| MrvError::Storage("payload size overflows i64".to_owned()))?,
            chunk_count: chunk_count(size_bytes)?,
            chunk_codec: codec.as_str().to_owned(),
            correlation_id,
            created_at: UtcMicros::now(),
        })
    };
    let record = store::insert(db, &export_id, payload, record).await?;
    let stored = started.elapsed();
    metrics.record_export(
        record.period.as_str(),
        stored,
        u64::try_from(record.impacts_count).unwrap_or(0),
    );
    tracing::info!(
        export_id = %record.export_id,
        correlation_id = record.correlation_id.as_deref().unwrap_or_default(),
        duration_ms = stored.as_millis(),
        period = %record.period,
        period_end = %record.period_end,
        impacts_count = record.impacts_count,
        payload_size_bytes = record.payload_size_bytes,
        stream_ms = streamed.as_millis(),
        store_ms = (stored - streamed).as_millis(),
        "MRV export generated"
    );
    Ok(record)
}

fn payload_parts(
    window: ExportWindow,
    generated_at: UtcMicros,
    methodology: &Methodology,
    summary: WindowSummary,
    log: LogBinding,
) -> PayloadParts {
    PayloadParts {
        window,
        generated_at,
        methodology: MethodologyBinding {
            baseline_reference: methodology.baseline_reference.clone(),
            factor_references: methodology.factor_references.clone(),
            geographic_scope: methodology.geographic_scope.clone(),
            methodology_hash: methodology.methodology_hash.as_str().to_owned(),
            methodology_version: methodology.methodology_version.clone(),
        },
        aggregation: summary.aggregation,
        country_factors: summary.country_factors,
        model_versions: summary.model_versions,
        duplicates: summary.duplicates,
        log,
    }
}

/// How many time slices of the window are read side by side: one per core, at most
/// [`MAX_READERS`].
fn readers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_READERS))
}
