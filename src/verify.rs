//! `greenos verify ARTIFACT.json|EVIDENCE.zip --public-key KEY_OR_URL`: the offline auditor's
//! check, with no database and no configuration. The artifact is streamed (one run of impacts
//! in memory at a time), its payload re-canonicalised and hashed, its Ed25519 signature checked
//! with the published key alone, every impact's own proofs and signature re-checked on every
//! core, its proof and totals re-computed. An evidence package is read directly: its manifest
//! and the manifest's signature, its key history and its methodology snapshot too. Prints one
//! line per check; exits non-zero when any fails.

mod archive;
mod keys;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use greenos_core::error_code::DomainError;
use greenos_core::mrv::{self, ArtifactReading, AuditOptions, ExportVerification};
use greenos_core::proof::PublicKeyRing;

use self::archive::{Archive, ArchiveCheck};

/// `greenos verify ARTIFACT.json|EVIDENCE.zip --public-key KEY_OR_URL [--public-keys HISTORY]`.
#[derive(Clone, Debug, Args)]
pub struct VerifyArgs {
    /// The artifact, as `GET /api/v2/esg/mrv/export/{export_id}` returned it, or the evidence
    /// package, as `GET .../evidence` or `greenos evidence` wrote it.
    pub artifact: PathBuf,
    /// The key to trust: a base64 Ed25519 public key, a file holding one (or a public-key JSON
    /// payload), or the URL of `/api/v2/esg/public-key` or `/api/v2/esg/public-keys`.
    #[arg(long)]
    pub public_key: String,
    /// The key history, for impacts signed under earlier key versions: a file or the URL of
    /// `/api/v2/esg/public-keys` (an evidence package brings its own, signed).
    #[arg(long)]
    pub public_keys: Option<String>,
    /// Print the verification as one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Verifies the artifact or the archive; an error when any check fails.
pub async fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let mut ring = PublicKeyRing::default();
    let mut origins = vec![keys::load(&args.public_key, "--public-key", &mut ring).await?];
    if let Some(history) = &args.public_keys {
        origins.push(keys::load(history, "--public-keys", &mut ring).await?);
    }
    let path = args.artifact.clone();
    let started = Instant::now();
    let (reading, archive, ring) = tokio::task::spawn_blocking(move || read(&path, ring))
        .await
        .context("the artifact reader stopped")??;
    let reading = match (reading, &archive) {
        (Ok(reading), _) => reading,
        (Err(err), None) => bail!("{err}"),
        (Err(err), Some(archive)) => {
            for check in &archive.checks {
                println!("{:<15} {} {}", check.name, status(check.ok), check.detail);
            }
            println!("artifact        FAIL {err}");
            println!("verified        NO");
            bail!("the archive's artifact.json cannot be read: {err}");
        }
    };
    let elapsed = started.elapsed();
    let snapshot = archive.as_ref().map(Archive::methodology);
    let verification =
        mrv::verify_artifact_offline(&reading, &ring, snapshot.as_ref().map(Option::as_ref));
    let checks: &[ArchiveCheck] = archive.as_ref().map_or(&[], |a| a.checks.as_slice());
    let verified = verification.verified && checks.iter().all(|c| c.ok);
    if args.json {
        let mut value = serde_json::to_value(&verification)?;
        if let (Some(object), Some(_)) = (value.as_object_mut(), &archive) {
            object.insert("archive_checks".to_owned(), serde_json::to_value(checks)?);
            object.insert("verified".to_owned(), verified.into());
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let report = Report {
            path: &args.artifact,
            reading: &reading,
            verification: &verification,
            checks,
            keys: &origins.join("; "),
            seconds: elapsed.as_secs_f64(),
        };
        report.print(verified);
    }
    if verified {
        Ok(())
    } else {
        let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        if failed.is_empty() {
            bail!("{}", verification.summary())
        }
        bail!(
            "archive checks failed: {}; {}",
            failed.join(", "),
            verification.summary()
        )
    }
}

/// What [`read`] gives: the reading (or why the artifact could not be read), the archive it
/// came from, and the keys (with the archive's history when its manifest signature held).
type ReadOutcome = (
    Result<ArtifactReading, String>,
    Option<Archive>,
    PublicKeyRing,
);

/// Reads an artifact, or an archive and the artifact inside it, checking every impact's
/// signature on every core.
fn read(path: &Path, mut ring: PublicKeyRing) -> anyhow::Result<ReadOutcome> {
    let code = |e: mrv::MrvError| format!("{}: {e}", e.code().as_str());
    if !archive::is_archive(path) {
        let options = AuditOptions::offline(ring.clone());
        let reading = mrv::read_artifact_file(path, &options).map_err(code);
        return Ok((reading, None, ring));
    }
    let mut archive = Archive::open(path)?;
    archive.check_signature_and_keys(&mut ring);
    let options = AuditOptions::offline(ring.clone());
    let reading = mrv::read_artifact_from(archive.artifact_opener(), &options).map_err(code);
    match &reading {
        Ok(reading) => archive.check_files(reading),
        Err(_) => archive.check_manifest_of_unreadable()?,
    }
    Ok((reading, Some(archive), ring))
}

fn status(ok: bool) -> &'static str {
    if ok { "OK  " } else { "FAIL" }
}

/// What the lines report.
struct Report<'a> {
    path: &'a Path,
    reading: &'a ArtifactReading,
    verification: &'a ExportVerification,
    checks: &'a [ArchiveCheck],
    keys: &'a str,
    seconds: f64,
}

impl Report<'_> {
    fn print(&self, verified: bool) {
        let (reading, v) = (self.reading, self.verification);
        let header = &reading.header;
        println!(
            "artifact        {} (export {}, {} [{}, {}))",
            self.path.display(),
            header.export_id,
            header.period,
            header.period_start,
            header.period_end
        );
        for check in self.checks {
            println!("{:<15} {} {}", check.name, status(check.ok), check.detail);
        }
        println!(
            "payload hash    {} sha256 {} over {} canonical bytes (declared {})",
            status(v.hash_valid),
            reading.recomputed_hash,
            reading.payload_size_bytes,
            header.verification_hash
        );
        println!(
            "ed25519         {} export signed by key version {} ({})",
            status(v.asym_signature_valid),
            header.asym_key_version,
            self.keys
        );
        println!(
            "hmac-sha256     SKIP needs the secret key: ask GET /api/v2/esg/mrv/export/{}/verify",
            header.export_id
        );
        println!(
            "proof & totals  {} {} impacts: each one's event_hash, checksum and co2_avoided_kg, the non_double_counting_proof and the aggregation re-computed",
            status(v.proof_valid != Some(false)),
            reading.proof.impacts_count
        );
        if let Some(tally) = &reading.proof.impact_signatures {
            let versions: Vec<&str> = tally.key_versions.iter().map(String::as_str).collect();
            println!(
                "impact ed25519  {} {} signatures of event_hash checked, {} failed (key versions {})",
                status(tally.failed == 0),
                tally.checked,
                tally.failed,
                versions.join(", ")
            );
        }
        match (&reading.proof.log, v.log_checkpoint_valid) {
            (Some(log), Some(valid)) => println!(
                "log checkpoint  {} every impact is one leaf of {}'s signed tree of {} leaves (root {})",
                status(valid),
                log.origin,
                log.tree_size,
                log.root_hash
            ),
            _ => println!(
                "log checkpoint  SKIP a greenos.mrv.v1 export, made before the transparency log"
            ),
        }
        let against = if self.checks.is_empty() {
            "the registry is not consulted offline"
        } else {
            "and the archive's methodology.json hashes to it"
        };
        println!(
            "methodology     {} payload and artifact bind {} ({}); {against}",
            status(v.methodology_valid),
            header.methodology_version,
            header.methodology_hash
        );
        for problem in &v.problems {
            println!("  problem: {problem}");
        }
        let impacts = reading.proof.impacts_count as f64;
        println!(
            "rate            {impacts:.0} impacts in {:.2} s ({:.0} impacts/s on {} threads)",
            self.seconds,
            impacts / self.seconds.max(1e-9),
            std::thread::available_parallelism().map_or(1, usize::from)
        );
        if let Some(peak) = crate::export::peak_memory_mib() {
            println!("peak memory     {peak:.1} MiB (VmHWM)");
        }
        println!("verified        {}", if verified { "YES" } else { "NO" });
    }
}
