//! Downloading an export: the artifact JSON (a prefix, the stored chunks as they are read, a
//! suffix) and the CSV of its impacts (the payload parsed as it streams, one row per impact).

use std::io::{self, Write};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use greenos_core::mrv::{self, ArtifactHeader, ExportRecord};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::error::ApiError;

/// The CSV columns: the hashed fields, the ledger position, the hashes and the signatures.
pub const CSV_COLUMNS: [&str; 21] = [
    "trip_id",
    "user_id",
    "vehicle_id",
    "country_code",
    "geo_hash",
    "event_timestamp",
    "distance_km",
    "thermal_factor_local",
    "ev_factor_local",
    "co2_avoided_kg",
    "model_version",
    "methodology_version",
    "ledger_seq",
    "event_hash",
    "checksum",
    "signature",
    "signature_algorithm",
    "key_version",
    "asym_signature",
    "asym_algorithm",
    "asym_key_version",
];

/// CSV bytes handed to the response at a time.
const CSV_PIECE_BYTES: usize = 64 * 1024;

/// `GET /api/v2/esg/mrv/export/{export_id}`: the artifact, its payload streamed from the chunks.
pub async fn artifact(
    State(state): State<AppState>,
    Path(export_id): Path<String>,
) -> Result<Response, ApiError> {
    let record = mrv::get(&state.db, &export_id).await?;
    let (prefix, suffix) = ArtifactHeader::from_record(&record).frame()?;
    let length =
        prefix.len() as u64 + record.payload_size_bytes.unsigned_abs() + suffix.len() as u64;
    let chunks = chunk_stream(state, record);
    let body = stream::once(async move { Ok(Bytes::from(prefix)) })
        .chain(chunks)
        .chain(stream::once(async move { Ok(Bytes::from(suffix)) }));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(length)),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The stored chunks in order, each fetched when the response is ready for it.
fn chunk_stream(
    state: AppState,
    record: ExportRecord,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send {
    stream::unfold(0, move |index| {
        let state = state.clone();
        let export_id = record.export_id.clone();
        let chunk_count = record.chunk_count;
        async move {
            if index >= chunk_count {
                return None;
            }
            let item = match mrv::chunk(&state.db, &export_id, index).await {
                Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
                Ok(None) => Err(io::Error::other(format!(
                    "export {export_id}: chunk {index} is missing"
                ))),
                Err(err) => Err(io::Error::other(format!(
                    "export {export_id}: chunk {index}: {err}"
                ))),
            };
            if let Err(err) = &item {
                tracing::error!(error = %err, "artifact download aborted");
            }
            // After an error the stream ends: the client sees a truncated body, never a
            // different one.
            let next = if item.is_ok() { index + 1 } else { chunk_count };
            Some((item, next))
        }
    })
}

/// `GET /api/v2/esg/mrv/export/{export_id}/impacts.csv`: one row per impact, header first.
pub async fn impacts_csv(
    State(state): State<AppState>,
    Path(export_id): Path<String>,
) -> Result<Response, ApiError> {
    let record = mrv::get(&state.db, &export_id).await?;
    let reader = mrv::payload_reader(state.db.clone(), &record);
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut csv = csv::Writer::from_writer(ChannelWriter {
            tx: tx.clone(),
            buffer: Vec::with_capacity(CSV_PIECE_BYTES),
        });
        let written = csv
            .write_record(CSV_COLUMNS)
            .map_err(io::Error::other)
            .and_then(|()| {
                mrv::for_each_impact(reader, |impact| write_row(&mut csv, &impact))
                    .map_err(io::Error::other)
            })
            .and_then(|_| csv.flush())
            .and_then(|()| {
                csv.into_inner()
                    .map_err(|e| io::Error::other(e.to_string()))
            })
            .and_then(|mut writer| writer.finish());
        if let Err(err) = written {
            tracing::error!(export_id = %record.export_id, error = %err, "CSV download aborted");
            let _ = tx.blocking_send(Err(err));
        }
    });
    let body = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{export_id}-impacts.csv\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn write_row<W: Write>(csv: &mut csv::Writer<W>, impact: &Map<String, Value>) -> io::Result<()> {
    let cells = CSV_COLUMNS.iter().map(|column| match impact.get(*column) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    });
    csv.write_record(cells).map_err(io::Error::other)
}

/// Hands the CSV to the response in pieces; a closed response stops the writer.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(CSV_PIECE_BYTES));
        self.tx
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CSV_PIECE_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
