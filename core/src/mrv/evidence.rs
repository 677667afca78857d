//! The auditor's evidence package of one export (SPEC §12): a ZIP archive, written on a
//! blocking thread and streamed as it is written, holding the artifact (copied from its chunks
//! as they are read), the verification response, the public key and its history, the
//! methodology snapshot, a README, `verify.py`, for a `greenos.mrv.v2` export the transparency
//! log's key, checkpoint and a sample of inclusion proofs, `SHA256SUMS` of every other file and
//! the Ed25519 signature of that manifest.
//!
//! The same export gives the same bytes: entries are stored (not compressed) in a fixed order,
//! with a fixed time (1980-01-01 00:00, the ZIP epoch) and fixed permissions, and every JSON
//! file is serialised from data that does not change between two downloads.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::mrv::build::payload::LogBinding;
use crate::mrv::channel::ChannelWriter;
use crate::mrv::error::MrvError;
use crate::mrv::read::walk::for_each_impact;
use crate::mrv::verify::scan::TopLevelCapture;
use crate::proof::{Signer, sha256_hex};

/// The offline verifier shipped in every archive.
pub const VERIFY_PY: &str = include_str!("../../../evidence/verify.py");

/// The README template; `{{...}}` fields are filled per export.
const README_TEMPLATE: &str = include_str!("evidence_readme.md");

/// The manifest and its signature: the two files the manifest does not list.
pub const MANIFEST: &str = "SHA256SUMS";
/// The manifest's signature.
pub const MANIFEST_SIGNATURE: &str = "SHA256SUMS.sig";

/// Bytes handed to the consumer at a time.
const PIECE_BYTES: usize = 256 * 1024;

/// What goes into one archive, besides the artifact's bytes.
#[derive(Debug)]
pub struct EvidenceFiles {
    /// The export's id (for the README).
    pub export_id: String,
    /// The period and its bounds, as the artifact states them (for the README).
    pub window: String,
    /// The artifact's length in bytes (a large one is written as a ZIP64 entry).
    pub artifact_length: u64,
    /// `verification.json`.
    pub verification: Vec<u8>,
    /// `public_key.json`.
    pub public_key: Vec<u8>,
    /// `public_keys.json`.
    pub public_keys: Vec<u8>,
    /// `methodology.json`.
    pub methodology: Vec<u8>,
    /// The transparency log's parts of a `greenos.mrv.v2` export.
    pub log: Option<LogFiles>,
}

/// The transparency log's files of an archive: `log_key.json`, `log_checkpoint.txt` (the
/// checkpoint the export binds to) and `log_proofs.json` (inclusion proofs of a sample of its
/// impacts, [`sample_positions`]).
#[derive(Debug)]
pub struct LogFiles {
    /// `log_key.json`.
    pub key: Vec<u8>,
    /// `log_checkpoint.txt`.
    pub checkpoint: Vec<u8>,
    /// `log_proofs.json`.
    pub proofs: Vec<u8>,
}

/// The positions (in payload order) of the impacts whose inclusion proofs an archive holds:
/// the first, the last, and up to 1 000 spread evenly between them.
pub fn sample_positions(impacts: u64) -> Vec<u64> {
    const SAMPLE: u64 = 1_000;
    match impacts {
        0 => Vec::new(),
        1 => vec![0],
        n => {
            let m = SAMPLE.min(n);
            let mut positions: Vec<u64> = (0..m).map(|k| k * (n - 1) / (m - 1)).collect();
            positions.extend([0, n - 1]);
            positions.sort_unstable();
            positions.dedup();
            positions
        }
    }
}

/// Writes the archive into `tx` on the calling (blocking) thread, the artifact read from
/// `artifact`; stops early, with an error, when the consumer is gone.
pub(crate) fn write_evidence(
    files: &EvidenceFiles,
    mut artifact: impl Read,
    signer: &Signer,
    tx: &mpsc::Sender<io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let mut zip = ZipWriter::new_stream(ChannelWriter::new(tx, PIECE_BYTES));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut sums: Vec<(String, String)> = Vec::new();

    zip.start_file(
        "artifact.json",
        options.large_file(files.artifact_length >= u64::from(u32::MAX)),
    )
    .map_err(io::Error::other)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; PIECE_BYTES];
    loop {
        let n = artifact.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        zip.write_all(&buffer[..n])?;
    }
    sums.push(("artifact.json".to_owned(), hex::encode(hasher.finalize())));

    let readme = readme(files);
    let mut small: Vec<(&str, &[u8])> = vec![
        ("verification.json", &files.verification),
        ("public_key.json", &files.public_key),
        ("public_keys.json", &files.public_keys),
        ("methodology.json", &files.methodology),
        ("README.md", readme.as_bytes()),
        ("verify.py", VERIFY_PY.as_bytes()),
    ];
    if let Some(log) = &files.log {
        small.extend([
            ("log_key.json", log.key.as_slice()),
            ("log_checkpoint.txt", log.checkpoint.as_slice()),
            ("log_proofs.json", log.proofs.as_slice()),
        ]);
    }
    for (name, bytes) in small {
        let options = if name == "verify.py" {
            options.unix_permissions(0o755)
        } else {
            options
        };
        zip.start_file(name, options).map_err(io::Error::other)?;
        zip.write_all(bytes)?;
        sums.push((name.to_owned(), sha256_hex(bytes).as_str().to_owned()));
    }

    sums.sort();
    let manifest: String = sums
        .iter()
        .map(|(name, sum)| format!("{sum}  {name}\n"))
        .collect();
    zip.start_file(MANIFEST, options)
        .map_err(io::Error::other)?;
    zip.write_all(manifest.as_bytes())?;
    let message = sha256_hex(manifest.as_bytes());
    let signature = signer.sign(&message);
    let signed = serde_json::json!({
        "algorithm": signature.asym_algorithm,
        "key_version": signature.asym_key_version,
        "message": message.as_str(),
        "signature": signature.asym_signature,
    });
    let mut signed = serde_json::to_vec_pretty(&signed).map_err(io::Error::other)?;
    signed.push(b'\n');
    zip.start_file(MANIFEST_SIGNATURE, options)
        .map_err(io::Error::other)?;
    zip.write_all(&signed)?;

    let mut out = zip.finish().map_err(io::Error::other)?.into_inner();
    out.send()
}

/// The README, with the export's fields filled in.
fn readme(files: &EvidenceFiles) -> String {
    README_TEMPLATE
        .replace("{{export_id}}", &files.export_id)
        .replace("{{window}}", &files.window)
}

/// One sampled impact of a `greenos.mrv.v2` payload: what its inclusion proof is about.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SampledLeaf {
    /// The trip.
    pub trip_id: String,
    /// Its model version.
    pub model_version: String,
    /// Its leaf in the log.
    pub leaf_index: u64,
    /// Its `event_hash` (the leaf's data).
    pub event_hash: String,
}

/// Reads a stored payload once: its `log_checkpoint` (`None` for `greenos.mrv.v1`) and the
/// impacts at `positions` (sorted). Use on a blocking thread.
pub(crate) fn log_sample(
    reader: impl Read,
    positions: &[u64],
) -> Result<(Option<LogBinding>, Vec<SampledLeaf>), MrvError> {
    let mut capturing = Capturing {
        inner: reader,
        scan: TopLevelCapture::new(&["log_checkpoint"], 64 * 1024),
    };
    let mut sampled = Vec::with_capacity(positions.len());
    let mut wanted = positions.iter().copied().peekable();
    let mut position = 0u64;
    for_each_impact(&mut capturing, |impact| {
        if wanted.next_if_eq(&position).is_some() {
            let text = |key: &str| impact.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            let leaf = SampledLeaf {
                trip_id: text("trip_id").unwrap_or_default(),
                model_version: text("model_version").unwrap_or_default(),
                leaf_index: impact
                    .get("leaf_index")
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| io::Error::other("a sampled impact has no leaf_index"))?,
                event_hash: text("event_hash").unwrap_or_default(),
            };
            sampled.push(leaf);
        }
        position += 1;
        Ok(())
    })?;
    let log = capturing
        .scan
        .finish()
        .remove("log_checkpoint")
        .map(|bytes| serde_json::from_slice(&bytes))
        .transpose()
        .map_err(|e| MrvError::Storage(format!("stored payload: log_checkpoint: {e}")))?;
    Ok((log, sampled))
}

/// A reader that shows every byte it reads to a top-level member capture.
struct Capturing<R> {
    inner: R,
    scan: TopLevelCapture,
}

impl<R: Read> Read for Capturing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan.feed(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::sample_positions;

    #[test]
    fn the_sample_is_the_first_the_last_and_up_to_a_thousand_between() {
        assert_eq!(sample_positions(0), Vec::<u64>::new());
        assert_eq!(sample_positions(1), vec![0]);
        assert_eq!(sample_positions(3), vec![0, 1, 2]);
        let large = sample_positions(1_000_000);
        assert_eq!(large.len(), 1_000);
        assert_eq!((large[0], large[999]), (0, 999_999));
        assert!(large.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(sample_positions(1_000).len(), 1_000);
    }
}
