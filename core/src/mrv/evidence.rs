//! The auditor's evidence package of one export (SPEC §12): a ZIP archive, written on a
//! blocking thread and streamed as it is written, holding the artifact (copied from its chunks
//! as they are read), the verification response, the public key and its history, the
//! methodology snapshot, a README, `verify.py`, `SHA256SUMS` of every other file and the
//! Ed25519 signature of that manifest.
//!
//! The same export gives the same bytes: entries are stored (not compressed) in a fixed order,
//! with a fixed time (1980-01-01 00:00, the ZIP epoch) and fixed permissions, and every JSON
//! file is serialised from data that does not change between two downloads.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::mrv::channel::ChannelWriter;
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
    let small: [(&str, &[u8]); 6] = [
        ("verification.json", &files.verification),
        ("public_key.json", &files.public_key),
        ("public_keys.json", &files.public_keys),
        ("methodology.json", &files.methodology),
        ("README.md", readme.as_bytes()),
        ("verify.py", VERIFY_PY.as_bytes()),
    ];
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
