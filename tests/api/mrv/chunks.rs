//! How an export's payload is stored (SPEC §3): zstd chunks, one frame each, that decompress
//! to exactly the bytes of `verification_hash`; exports stored uncompressed (`none`, before
//! chunks were compressed) still read and verify; a codec or a chunk altered behind the
//! service's back is tampering.

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sha2::{Digest, Sha256};

use super::fixtures::{assert_refused, exported};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    chunks_are_zstd_frames_of_the_payload,
    an_export_stored_uncompressed_still_reads_and_verifies,
    a_codec_altered_in_the_row_is_tampering,
    a_chunk_that_is_not_a_zstd_frame_is_tampering,
);

/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The `chunk_codec` the export row of `export_id` holds.
async fn codec_of(app: &TestApp, export_id: &str) -> String {
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT chunk_codec FROM esg_mrv_exports WHERE export_id = '{export_id}'"),
        ))
        .await
        .expect("query")
        .expect("the export row");
    row.try_get_by_index(0).expect("a codec name")
}

/// The payload bytes of zstd chunks.
fn decompressed(chunks: &[Vec<u8>]) -> Vec<Vec<u8>> {
    chunks
        .iter()
        .map(|chunk| zstd::stream::decode_all(chunk.as_slice()).expect("a zstd frame"))
        .collect()
}

async fn chunks_are_zstd_frames_of_the_payload(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, artifact) = exported(&app).await;
    assert_eq!(codec_of(&app, &id).await, "zstd");
    let chunks = app.stored_chunks(&id).await;
    assert!(!chunks.is_empty());
    for chunk in &chunks {
        assert_eq!(chunk[..4], ZSTD_MAGIC, "every chunk is a zstd frame");
    }
    let payload = decompressed(&chunks).concat();
    assert!(
        chunks.iter().map(Vec::len).sum::<usize>() < payload.len() / 2,
        "the chunks store less than half of the payload's bytes"
    );
    assert_eq!(
        hex::encode(Sha256::digest(&payload)),
        artifact["verification_hash"].as_str().expect("a hash"),
        "the decompressed chunks are the hashed payload"
    );
    let parsed: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
    assert_eq!(parsed, artifact["payload"]);
    if backend == Backend::Postgres {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT attstorage::text AS s FROM pg_attribute \
                 WHERE attrelid = 'esg_mrv_export_chunks'::regclass AND attname = 'bytes'",
            ))
            .await
            .expect("query")
            .expect("the column");
        let storage: String = row.try_get_by_index(0).expect("a storage code");
        assert_eq!(
            storage, "e",
            "chunks are stored EXTERNAL, not compressed again"
        );
    }
}

async fn an_export_stored_uncompressed_still_reads_and_verifies(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, artifact) = exported(&app).await;
    let (status, csv_before) = app
        .get_text(&format!("/api/v2/esg/mrv/export/{id}/impacts.csv"))
        .await;
    assert_eq!(status, StatusCode::OK, "{csv_before}");
    // The form of the exports stored before chunks were compressed.
    let pieces = decompressed(&app.stored_chunks(&id).await);
    for (index, piece) in pieces.iter().enumerate() {
        let index = i32::try_from(index).expect("a chunk index");
        app.replace_chunk(&id, index, piece).await;
    }
    app.tamper(&format!(
        "UPDATE esg_mrv_exports SET chunk_codec = 'none' WHERE export_id = '{id}'"
    ))
    .await;
    assert_eq!(app.stored_chunks(&id).await, pieces);
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true, "{body}");
    assert_eq!(app.export_artifact(&id).await, artifact);
    let (status, csv_after) = app
        .get_text(&format!("/api/v2/esg/mrv/export/{id}/impacts.csv"))
        .await;
    assert_eq!(status, StatusCode::OK, "{csv_after}");
    assert_eq!(csv_after, csv_before);
}

async fn a_codec_altered_in_the_row_is_tampering(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    for codec in ["none", "gzip"] {
        app.tamper(&format!(
            "UPDATE esg_mrv_exports SET chunk_codec = '{codec}' WHERE export_id = '{id}'"
        ))
        .await;
        let (status, body) = app.verify_export(&id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{codec}: {body}");
        assert_refused(&body, "GREENOS_MRV_PAYLOAD_TAMPERED", "hash_valid");
        assert_eq!(body["error"]["details"]["signature_valid"], true, "{body}");
    }
}

async fn a_chunk_that_is_not_a_zstd_frame_is_tampering(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = exported(&app).await;
    let first = decompressed(&app.stored_chunks(&id).await).remove(0);
    app.replace_chunk(&id, 0, &first).await;
    let (status, body) = app.verify_export(&id).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_refused(&body, "GREENOS_MRV_PAYLOAD_TAMPERED", "hash_valid");
    // The download has sent its headers when it reaches the chunk: it ends the body short,
    // never with other bytes in the chunk's place.
    let download = app
        .client
        .get(app.url(&format!("/api/v2/esg/mrv/export/{id}")))
        .send()
        .await;
    if let Ok(response) = download
        && let Ok(bytes) = response.bytes().await
    {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&bytes).is_err(),
            "a download with an unreadable chunk must not be a whole artifact"
        );
    }
}
