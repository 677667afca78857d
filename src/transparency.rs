//! `greenos log monitor` and `greenos log verify`: what an auditor or a second operator runs
//! against a GreenOS service's transparency log, trusting only the log's verifier key.
//!
//! The monitor is the witness of SPEC §18: it keeps the last checkpoint it checked in a state
//! file and accepts a new one only when its signature holds and a consistency proof shows the
//! old tree to be a prefix of the new. A log that rewrote or dropped what it had logged cannot
//! produce that proof, so the monitor exits non-zero and keeps its state as it was.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};
use greenos_core::log::{
    Hash, LogKey, OpenedCheckpoint, check_consistency, check_inclusion, leaf_hash, open_checkpoint,
};
use serde::{Deserialize, Serialize};

/// `greenos log ...`.
#[derive(Debug, Subcommand)]
pub enum LogAction {
    /// Check the latest checkpoint against the one kept in a state file (signature and
    /// consistency), then keep the new one: run it on a schedule.
    Monitor(MonitorArgs),
    /// Check that one trip's impact is in the log: its inclusion proof against the latest
    /// signed checkpoint.
    Verify(VerifyLogArgs),
}

/// `greenos log monitor`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The service's base URL, e.g. https://greenos.example.org.
    #[arg(long)]
    pub url: String,
    /// Where the last verified checkpoint and the pinned key are kept (created on first run).
    #[arg(long)]
    pub state: PathBuf,
    /// The log's verifier key (`<origin>+<key id>+<key>`), obtained out of band; without it,
    /// the key in the state file, or on a first run the one the service publishes.
    #[arg(long)]
    pub verifier_key: Option<String>,
}

/// `greenos log verify`.
#[derive(Debug, Args)]
pub struct VerifyLogArgs {
    /// The service's base URL, e.g. https://greenos.example.org.
    #[arg(long)]
    pub url: String,
    /// The trip whose impact is checked.
    #[arg(long)]
    pub trip_id: String,
    /// Its model version (the latest by default).
    #[arg(long)]
    pub model_version: Option<String>,
    /// The log's verifier key, obtained out of band (default: the one the service publishes).
    #[arg(long)]
    pub verifier_key: Option<String>,
    /// A bearer token with scope `read` (the impact and its proof are not public).
    #[arg(long)]
    pub token: Option<String>,
}

/// What the monitor keeps between runs.
#[derive(Debug, Deserialize, Serialize)]
struct MonitorState {
    /// The verifier key every checkpoint must be signed with.
    verifier_key: String,
    /// The last checkpoint verified, as the service served it.
    checkpoint: String,
}

/// Runs `greenos log ...`.
pub async fn run(action: &LogAction) -> anyhow::Result<()> {
    match action {
        LogAction::Monitor(args) => monitor(args).await,
        LogAction::Verify(args) => verify(args).await,
    }
}

/// A client of one service's log routes.
struct LogClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl LogClient {
    fn new(url: &str, token: Option<String>) -> LogClient {
        LogClient {
            http: reqwest::Client::new(),
            base: url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// `GET` of `path` (its segments already encoded) with `query`; a non-2xx answer is an
    /// error that quotes the body.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.get(&url).query(query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!("{url} answered {status}: {}", body.trim());
        }
        Ok(response)
    }

    async fn text(&self, path: &str) -> anyhow::Result<String> {
        Ok(self.get(path, &[]).await?.text().await?)
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        self.get(path, query)
            .await?
            .json()
            .await
            .with_context(|| format!("{url} did not answer the expected JSON"))
    }

    /// The verifier key given, or the one the service publishes.
    async fn verifier_key(&self, given: Option<&str>) -> anyhow::Result<String> {
        match given {
            Some(key) => Ok(key.to_owned()),
            None => Ok(self
                .json::<LogKey>("/api/v2/esg/log/key", &[])
                .await?
                .verifier_key),
        }
    }
}

/// Base64 hashes, as the proof routes answer them.
fn hashes(encoded: &[String]) -> anyhow::Result<Vec<Hash>> {
    encoded
        .iter()
        .map(|text| {
            let bytes = STANDARD
                .decode(text)
                .with_context(|| format!("{text:?} is not base64"))?;
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("{text:?} is not a 32-byte hash"))?;
            Ok(Hash(hash))
        })
        .collect()
}

fn describe(checkpoint: &OpenedCheckpoint) -> String {
    format!(
        "{} leaves, root {}",
        checkpoint.size,
        STANDARD.encode(checkpoint.root.0)
    )
}

async fn monitor(args: &MonitorArgs) -> anyhow::Result<()> {
    let client = LogClient::new(&args.url, None);
    let previous = read_state(&args.state)?;
    let verifier_key = match (&args.verifier_key, &previous) {
        (Some(given), Some(state)) if *given != state.verifier_key => bail!(
            "--verifier-key differs from the key pinned in {}: refusing to switch keys silently \
             (move the state file away to start over with the new key)",
            args.state.display()
        ),
        (Some(given), _) => given.clone(),
        (None, Some(state)) => state.verifier_key.clone(),
        (None, None) => {
            let key = client.verifier_key(None).await?;
            println!(
                "first run: pinned the verifier key the service publishes ({key}); \
                 compare it with the one obtained out of band"
            );
            key
        }
    };
    let note = client.text("/api/v2/esg/log/checkpoint").await?;
    let latest = open_checkpoint(&note, &verifier_key)
        .map_err(|err| anyhow::anyhow!("the latest checkpoint is refused: {err}"))?;
    if let Some(state) = &previous {
        let old = open_checkpoint(&state.checkpoint, &verifier_key).map_err(|err| {
            anyhow::anyhow!(
                "the checkpoint kept in {} does not verify: {err}",
                args.state.display()
            )
        })?;
        if latest.size < old.size {
            bail!(
                "the log shrank: it now serves {} after {}; history was rewritten",
                describe(&latest),
                describe(&old)
            );
        }
        if latest.size == old.size && latest.root != old.root {
            bail!(
                "the log forked: {} after {} for the same size; history was rewritten",
                describe(&latest),
                describe(&old)
            );
        }
        // Every tree extends the empty one: there is nothing to prove from size 0.
        if latest.size > old.size && old.size > 0 {
            let (from, to) = (old.size.to_string(), latest.size.to_string());
            let proof: ConsistencyAnswer = client
                .json(
                    "/api/v2/esg/log/proof/consistency",
                    &[("from", &from), ("to", &to)],
                )
                .await?;
            let proof = hashes(&proof.proof)?;
            check_consistency(&proof, latest.size, latest.root, old.size, old.root).map_err(
                |err| {
                    anyhow::anyhow!(
                        "the log is inconsistent: {} is not an extension of {} ({err}); \
                         history was rewritten",
                        describe(&latest),
                        describe(&old)
                    )
                },
            )?;
        }
        println!(
            "checkpoint verified: {} (consistent with the {} kept)",
            describe(&latest),
            old.size
        );
    } else {
        println!(
            "checkpoint verified: {} (first one kept)",
            describe(&latest)
        );
    }
    write_state(
        &args.state,
        &MonitorState {
            verifier_key,
            checkpoint: note,
        },
    )
}

/// `GET /api/v2/esg/log/proof/consistency`.
#[derive(Debug, Deserialize)]
struct ConsistencyAnswer {
    proof: Vec<String>,
}

/// `GET /api/v2/esg/log/proof/inclusion`.
#[derive(Debug, Deserialize)]
struct InclusionAnswer {
    leaf_index: u64,
    tree_size: u64,
    proof: Vec<String>,
    checkpoint: Option<String>,
}

/// The fields of `GET /api/v2/esg/impact/{trip_id}` the check needs.
#[derive(Debug, Deserialize)]
struct ImpactAnswer {
    event_hash: String,
    model_version: String,
}

async fn verify(args: &VerifyLogArgs) -> anyhow::Result<()> {
    let client = LogClient::new(&args.url, args.token.clone());
    let verifier_key = client.verifier_key(args.verifier_key.as_deref()).await?;
    let path = format!("/api/v2/esg/impact/{}", path_segment(&args.trip_id));
    let mut query = Vec::new();
    if let Some(model) = &args.model_version {
        query.push(("model_version", model.as_str()));
    }
    let impact: ImpactAnswer = client.json(&path, &query).await?;
    let proof: InclusionAnswer = client
        .json(
            "/api/v2/esg/log/proof/inclusion",
            &[
                ("trip_id", args.trip_id.as_str()),
                ("model_version", impact.model_version.as_str()),
            ],
        )
        .await?;
    let note = proof
        .checkpoint
        .as_deref()
        .context("the proof carries no checkpoint")?;
    let checkpoint = open_checkpoint(note, &verifier_key)
        .map_err(|err| anyhow::anyhow!("the proof's checkpoint is refused: {err}"))?;
    if checkpoint.size != proof.tree_size {
        bail!(
            "the proof is for {} leaves but its checkpoint for {}",
            proof.tree_size,
            checkpoint.size
        );
    }
    let leaf = leaf_hash(&impact.event_hash);
    check_inclusion(
        &hashes(&proof.proof)?,
        checkpoint.size,
        checkpoint.root,
        proof.leaf_index,
        leaf,
    )
    .map_err(|err| {
        anyhow::anyhow!(
            "the impact of trip {:?} as the service holds it now (event_hash {}) is NOT leaf {} \
             of the signed tree of {} leaves: {err}",
            args.trip_id,
            impact.event_hash,
            proof.leaf_index,
            checkpoint.size
        )
    })?;
    println!(
        "trip {:?} ({}): event_hash {} is leaf {} of the signed tree of {}",
        args.trip_id,
        impact.model_version,
        impact.event_hash,
        proof.leaf_index,
        describe(&checkpoint)
    );
    Ok(())
}

/// `value` percent-encoded as one path segment.
fn path_segment(value: &str) -> String {
    let mut url = reqwest::Url::parse("http://segment/").expect("a constant URL");
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.clear().push(value);
    }
    url.path().trim_start_matches('/').to_owned()
}

fn read_state(path: &Path) -> anyhow::Result<Option<MonitorState>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is not a monitor state file", path.display())
        })?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replaces the state file atomically (a new file renamed over the old one).
fn write_state(path: &Path, state: &MonitorState) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    serde_json::to_writer_pretty(&mut file, state)?;
    file.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
