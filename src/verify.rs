//! `greenos verify ARTIFACT.json --public-key KEY_OR_URL`: the offline auditor's check, with
//! no database and no configuration. The artifact is streamed (one impact in memory at a
//! time), its payload re-canonicalised and hashed, its Ed25519 signature checked with the
//! public key alone, its proof and totals re-computed. Prints one line per check; exits
//! non-zero when any fails.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use greenos_core::error_code::DomainError;
use greenos_core::mrv::{self, ArtifactReading, ExportVerification};
use greenos_core::proof::PublicKeyPayload;
use serde::Deserialize;

/// `greenos verify ARTIFACT.json --public-key KEY_OR_URL [--json]`.
#[derive(Clone, Debug, Args)]
pub struct VerifyArgs {
    /// The artifact, as `GET /api/v2/esg/mrv/export/{export_id}` returned it.
    pub artifact: PathBuf,
    /// A base64 Ed25519 public key, a file holding one (or a public-key JSON payload), or the
    /// URL of `/api/v2/esg/public-key` or `/api/v2/esg/public-keys`.
    #[arg(long)]
    pub public_key: String,
    /// Print the verification as one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Either public-key payload GreenOS publishes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Published {
    One(PublicKeyPayload),
    Ring { keys: Vec<PublicKeyPayload> },
}

/// The key to verify with, and where it came from.
struct Key {
    public_key: String,
    origin: String,
}

/// Verifies the artifact; an error when any check fails.
pub async fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let path = args.artifact.clone();
    let reading = tokio::task::spawn_blocking(move || mrv::read_artifact_file(&path))
        .await
        .context("the artifact reader stopped")?
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.code().as_str()))?;
    let key = resolve_key(&args.public_key, &reading.header.asym_key_version).await?;
    let verification = mrv::verify_artifact_offline(&reading, &key.public_key);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verification)?);
    } else {
        print_lines(&args.artifact, &reading, &verification, &key);
    }
    if verification.verified {
        Ok(())
    } else {
        bail!("{}", verification.summary())
    }
}

fn print_lines(path: &Path, reading: &ArtifactReading, v: &ExportVerification, key: &Key) {
    let status = |ok: bool| if ok { "OK  " } else { "FAIL" };
    let header = &reading.header;
    println!(
        "artifact        {} (export {}, {} [{}, {}))",
        path.display(),
        header.export_id,
        header.period,
        header.period_start,
        header.period_end
    );
    println!(
        "payload hash    {} sha256 {} over {} canonical bytes (declared {})",
        status(v.hash_valid),
        reading.recomputed_hash,
        reading.payload_size_bytes,
        header.verification_hash
    );
    println!(
        "ed25519         {} key version {} ({})",
        status(v.asym_signature_valid),
        header.asym_key_version,
        key.origin
    );
    println!(
        "hmac-sha256     SKIP needs the secret key: ask GET /api/v2/esg/mrv/export/{}/verify",
        header.export_id
    );
    println!(
        "proof & totals  {} {} impacts, non_double_counting_proof and aggregation re-computed",
        status(v.proof_valid != Some(false)),
        reading.proof.impacts_count
    );
    println!(
        "methodology     {} payload and artifact bind {} ({}); the registry is not consulted offline",
        status(v.methodology_valid),
        header.methodology_version,
        header.methodology_hash
    );
    for problem in &v.problems {
        println!("  problem: {problem}");
    }
    if let Some(peak) = crate::export::peak_memory_mib() {
        println!("peak memory     {peak:.1} MiB (VmHWM)");
    }
    println!("verified        {}", if v.verified { "YES" } else { "NO" });
}

/// A base64 key, a file (key text or public-key JSON), or an http(s) URL of the key routes.
async fn resolve_key(spec: &str, key_version: &str) -> anyhow::Result<Key> {
    if spec.starts_with("http://") || spec.starts_with("https://") {
        let body = reqwest::get(spec)
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("cannot fetch the public key from {spec}"))?
            .text()
            .await
            .with_context(|| format!("cannot read the public key from {spec}"))?;
        return from_published(&body, key_version, spec);
    }
    let path = Path::new(spec);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the public key file {}", path.display()))?;
        let text = text.trim();
        if text.starts_with('{') {
            return from_published(text, key_version, &path.display().to_string());
        }
        return raw_key(text, &path.display().to_string());
    }
    raw_key(spec, "given on the command line")
}

fn raw_key(text: &str, origin: &str) -> anyhow::Result<Key> {
    let decoded = BASE64
        .decode(text.trim())
        .ok()
        .filter(|raw| raw.len() == 32);
    if decoded.is_none() {
        bail!("--public-key: expected standard base64 of a 32-byte Ed25519 key, a file, or a URL");
    }
    Ok(Key {
        public_key: text.trim().to_owned(),
        origin: format!("public key {origin}"),
    })
}

fn from_published(json: &str, key_version: &str, origin: &str) -> anyhow::Result<Key> {
    let published: Published = serde_json::from_str(json)
        .with_context(|| format!("{origin} is not a GreenOS public-key payload"))?;
    let keys = match published {
        Published::One(key) => vec![key],
        Published::Ring { keys } => keys,
    };
    let Some(key) = keys.into_iter().find(|k| k.key_version == key_version) else {
        bail!(
            "{origin} has no key of version {key_version}, the artifact's asym_key_version; use /api/v2/esg/public-keys for historical keys"
        );
    };
    if !key.verify_fingerprint() {
        bail!(
            "{origin}: fingerprint_sha256 does not match public_key; treat the key material as untrusted"
        );
    }
    Ok(Key {
        public_key: key.public_key,
        origin: format!("fingerprint {} from {origin}", key.fingerprint_sha256),
    })
}
