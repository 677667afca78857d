//! An evidence package read as `greenos verify` reads it: the small files in memory, the
//! artifact streamed from its place in the archive (GreenOS stores entries uncompressed) and
//! hashed on the way for the manifest. The manifest's signature is checked with the keys the
//! auditor gave; only then does the archive's own key history join them, for the impacts
//! signed under earlier key versions.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use greenos_core::methodology::Methodology;
use greenos_core::mrv::{ArtifactReading, MANIFEST, MANIFEST_SIGNATURE};
use greenos_core::proof::{PublicKeyPayload, PublicKeyRing, sha256_hex};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use zip::{CompressionMethod, ZipArchive};

use super::keys::{Published, payloads};

/// The artifact's name inside the archive.
const ARTIFACT: &str = "artifact.json";

/// Files every archive holds besides the manifest and its signature.
const REQUIRED: [&str; 7] = [
    ARTIFACT,
    "verification.json",
    "public_key.json",
    "public_keys.json",
    "methodology.json",
    "README.md",
    "verify.py",
];

/// Small files are read whole; anything larger than this besides the artifact is refused.
const SMALL_FILE_LIMIT: u64 = 64 * 1024 * 1024;

/// One check of the archive itself.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct ArchiveCheck {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// The manifest signature's file.
#[derive(Deserialize)]
struct SignedManifest {
    algorithm: String,
    key_version: String,
    message: String,
    signature: String,
}

/// An opened archive.
pub(crate) struct Archive {
    path: PathBuf,
    small: BTreeMap<String, Vec<u8>>,
    artifact: (u64, u64),
    artifact_sha256: Arc<Mutex<Sha256>>,
    pub checks: Vec<ArchiveCheck>,
}

impl Archive {
    /// Reads the archive's directory and small files.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Archive> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut zip = ZipArchive::new(file)
            .with_context(|| format!("{} is not a readable ZIP archive", path.display()))?;
        let mut small = BTreeMap::new();
        let mut artifact = None;
        for index in 0..zip.len() {
            let mut entry = zip.by_index(index)?;
            let name = entry.name()?.into_owned();
            if entry.is_dir() {
                continue;
            }
            if entry.compression() != CompressionMethod::Stored {
                bail!(
                    "{name} is compressed ({}): greenos verify reads archives as GreenOS writes them; unpack it and verify {ARTIFACT} with the archive's verify.py",
                    entry.compression()
                );
            }
            if name == ARTIFACT {
                let start = entry
                    .data_start()
                    .context("the archive does not say where artifact.json starts")?;
                artifact = Some((start, entry.size()));
            } else {
                if entry.size() > SMALL_FILE_LIMIT {
                    bail!("{name} is {} bytes: not an evidence package", entry.size());
                }
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                if small.insert(name.clone(), bytes).is_some() {
                    bail!("{name} appears twice in the archive");
                }
            }
        }
        let Some(artifact) = artifact else {
            bail!("{} holds no {ARTIFACT}", path.display());
        };
        Ok(Archive {
            path: path.to_owned(),
            small,
            artifact,
            artifact_sha256: Arc::default(),
            checks: Vec::new(),
        })
    }

    /// Opens the artifact for a read from its start; its SHA-256 is taken on the way.
    pub(crate) fn artifact_opener(&self) -> impl Fn() -> io::Result<HashingReader> + use<> {
        let (path, (start, size), sha) = (
            self.path.clone(),
            self.artifact,
            Arc::clone(&self.artifact_sha256),
        );
        move || {
            let mut file = File::open(&path)?;
            file.seek(SeekFrom::Start(start))?;
            if let Ok(mut sha) = sha.lock() {
                *sha = Sha256::new();
            }
            Ok(HashingReader {
                inner: file.take(size),
                sha: Arc::clone(&sha),
            })
        }
    }

    /// Checks the manifest's signature with `ring` (the auditor's keys); when it holds, adds
    /// the archive's key history (every key fingerprint-checked) to `ring`.
    pub(crate) fn check_signature_and_keys(&mut self, ring: &mut PublicKeyRing) {
        let signature = self.manifest_signature(ring);
        let signed = signature.is_ok();
        self.push("manifest sig", signature);
        let keys = self.admit_keys(ring, signed);
        self.push("key history", keys);
    }

    fn manifest_signature(&self, ring: &PublicKeyRing) -> Result<String, String> {
        let sums = self.file(MANIFEST)?;
        let signed: SignedManifest = serde_json::from_slice(self.file(MANIFEST_SIGNATURE)?)
            .map_err(|e| format!("{MANIFEST_SIGNATURE} is not a signature object: {e}"))?;
        let sums_hex = sha256_hex(sums);
        if signed.algorithm != "ED25519" {
            return Err(format!("algorithm is {:?}, not ED25519", signed.algorithm));
        }
        if signed.message != sums_hex.as_str() {
            return Err(format!(
                "{MANIFEST_SIGNATURE}'s message is not the SHA-256 of {MANIFEST} ({sums_hex})"
            ));
        }
        ring.verify(
            &signed.key_version,
            sums_hex.as_str().as_bytes(),
            &signed.signature,
        )
        .map(|()| {
            format!(
                "the SHA-256 of {MANIFEST} is signed by key version {} of the keys given",
                signed.key_version
            )
        })
    }

    fn admit_keys(&self, ring: &mut PublicKeyRing, signed: bool) -> Result<String, String> {
        let parse = |name: &str| -> Result<Vec<PublicKeyPayload>, String> {
            let published: Published = serde_json::from_slice(self.file(name)?)
                .map_err(|e| format!("{name} is not a public-key payload: {e}"))?;
            Ok(payloads(published))
        };
        let history = parse("public_keys.json")?;
        let active = parse("public_key.json")?;
        let mut problems = Vec::new();
        for key in active.iter().filter(|k| !history.contains(k)) {
            problems.push(format!(
                "public_key.json's key {} is not in public_keys.json",
                key.key_version
            ));
        }
        let mut admitted = Vec::new();
        for key in &history {
            if !key.verify_fingerprint() {
                problems.push(format!(
                    "key {}: fingerprint_sha256 does not match public_key",
                    key.key_version
                ));
            } else if ring.versions().any(|v| v == key.key_version) && !ring.holds(key) {
                problems.push(format!(
                    "the archive's key {} is not the key given for that version",
                    key.key_version
                ));
            } else if signed {
                match ring.insert(key) {
                    Ok(()) => admitted.push(key.key_version.clone()),
                    Err(problem) => problems.push(problem),
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        if !signed {
            return Ok(format!(
                "{} keys in public_keys.json, fingerprints match; not used, the manifest signature failed",
                history.len()
            ));
        }
        Ok(format!(
            "{} key versions in public_keys.json, fingerprints match ({})",
            admitted.len(),
            admitted.join(", ")
        ))
    }

    /// The methodology snapshot, when `methodology.json` holds a readable one.
    pub(crate) fn methodology(&self) -> Option<Methodology> {
        serde_json::from_slice(self.file("methodology.json").ok()?).ok()
    }

    /// Checks the manifest against every file (the artifact as it was read) and the stored
    /// verification response against the artifact.
    pub(crate) fn check_files(&mut self, reading: &ArtifactReading) {
        let manifest = self.manifest();
        self.push("manifest", manifest);
        let response = self.verification_response(reading);
        self.push("service verdict", response);
    }

    /// Checks the manifest when the artifact could not be parsed: its SHA-256 is taken by
    /// reading it whole.
    pub(crate) fn check_manifest_of_unreadable(&mut self) -> anyhow::Result<()> {
        let mut reader = self.artifact_opener()()?;
        io::copy(&mut reader, &mut io::sink())?;
        let manifest = self.manifest();
        self.push("manifest", manifest);
        Ok(())
    }

    fn manifest(&self) -> Result<String, String> {
        let text = std::str::from_utf8(self.file(MANIFEST)?)
            .map_err(|_| format!("{MANIFEST} is not UTF-8"))?;
        let mut problems = Vec::new();
        let mut listed: BTreeMap<&str, &str> = BTreeMap::new();
        let mut previous: Option<&str> = None;
        for (number, line) in (1..).zip(text.lines()) {
            let Some((digest, name)) = line.split_once("  ").filter(|(d, n)| {
                d.len() == 64
                    && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                    && !n.is_empty()
            }) else {
                problems.push(format!(
                    "{MANIFEST} line {number} is not `<sha256 hex>  <name>`"
                ));
                continue;
            };
            if previous.is_some_and(|p| p >= name) {
                problems.push(format!(
                    "{MANIFEST} is not sorted and unique ({name} after {previous:?})"
                ));
            }
            previous = Some(name);
            listed.insert(name, digest);
        }
        let artifact_sha = self
            .artifact_sha256
            .lock()
            .map(|sha| hex::encode(sha.clone().finalize()))
            .unwrap_or_default();
        let mut mismatched = Vec::new();
        for (name, digest) in &listed {
            let actual = if *name == ARTIFACT {
                Some(artifact_sha.clone())
            } else {
                self.small
                    .get(*name)
                    .map(|bytes| sha256_hex(bytes).as_str().to_owned())
            };
            match actual {
                None => problems.push(format!("{name} is listed but missing")),
                Some(actual) if actual != *digest => mismatched.push(*name),
                Some(_) => {}
            }
        }
        if !mismatched.is_empty() {
            problems.push(format!(
                "SHA-256 differs from {MANIFEST} for {}",
                mismatched.join(", ")
            ));
        }
        for required in REQUIRED.iter().filter(|r| !listed.contains_key(**r)) {
            problems.push(format!("{MANIFEST} does not list {required}"));
        }
        let unlisted: Vec<&str> = self
            .small
            .keys()
            .map(String::as_str)
            .filter(|n| !listed.contains_key(n) && *n != MANIFEST && *n != MANIFEST_SIGNATURE)
            .collect();
        if !unlisted.is_empty() {
            problems.push(format!("files not in {MANIFEST}: {}", unlisted.join(", ")));
        }
        if problems.is_empty() {
            Ok(format!("{} files match {MANIFEST}", listed.len()))
        } else {
            Err(problems.join("; "))
        }
    }

    fn verification_response(&self, reading: &ArtifactReading) -> Result<String, String> {
        let doc: Value = serde_json::from_slice(self.file("verification.json")?)
            .map_err(|e| format!("verification.json is not JSON: {e}"))?;
        let header = &reading.header;
        let doc = match doc.pointer("/error/details") {
            Some(details) => {
                return Err(format!(
                    "the service answered {}: {}",
                    doc.pointer("/error/code").unwrap_or(&Value::Null),
                    details
                ));
            }
            None => doc,
        };
        let mut problems = Vec::new();
        if doc["verified"] != Value::Bool(true) {
            problems.push(format!("verified is {}", doc["verified"]));
        }
        for (key, expected) in [
            ("export_id", &header.export_id),
            ("verification_hash", &header.verification_hash),
        ] {
            if doc[key].as_str() != Some(expected.as_str()) {
                problems.push(format!(
                    "{key} is {}, the artifact's is {expected:?}",
                    doc[key]
                ));
            }
        }
        if problems.is_empty() {
            Ok(format!("the service verified export {}", header.export_id))
        } else {
            Err(problems.join("; "))
        }
    }

    fn file(&self, name: &str) -> Result<&[u8], String> {
        self.small
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("the archive holds no {name}"))
    }

    fn push(&mut self, name: &'static str, outcome: Result<String, String>) {
        let (ok, detail) = match outcome {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        self.checks.push(ArchiveCheck { name, ok, detail });
    }
}

/// Reads the artifact's bytes, feeding the archive's SHA-256 of it.
pub(crate) struct HashingReader {
    inner: io::Take<File>,
    sha: Arc<Mutex<Sha256>>,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut sha) = self.sha.lock() {
            sha.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Whether `path` starts like a ZIP archive.
pub(crate) fn is_archive(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == *b"PK\x03\x04")
}
