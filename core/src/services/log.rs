//! The transparency log's use cases: integrating the ledger, its key and checkpoints, hash
//! tiles, inclusion and consistency proofs.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use tlog_tiles::Tile;

use crate::log::{self, Hash, Integration, LEAVES_PER_INTEGRATION, LogError, LogKey, TILE_HEIGHT};
use crate::services::{Services, Yielding};

/// The transparency log's use cases.
pub struct LogService<'a> {
    services: &'a Services,
}

/// The latest signed state of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// How many leaves the tree holds.
    pub tree_size: u64,
    /// Lowercase hex of the root hash.
    pub root_hash: String,
    /// The signed note (C2SP `tlog-checkpoint` and `signed-note`).
    pub note: String,
    /// The Ed25519 key version that signed it.
    pub key_version: String,
}

/// `GET /api/v2/esg/log/proof/inclusion`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InclusionProof {
    /// The impact's position in the log.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// Base64 of the leaf hash of the impact as the ledger holds it now.
    pub leaf_hash: String,
    /// Base64 of each hash of the proof, from the leaf up.
    pub proof: Vec<String>,
    /// The signed checkpoint of that size (every size the integrator reached has one).
    pub checkpoint: Option<String>,
}

impl InclusionProof {
    /// The C2SP `tlog-proof` text: `c2sp.org/tlog-proof@v1`, the index, the proof's hashes,
    /// then the checkpoint.
    pub fn to_text(&self) -> String {
        let mut text = format!("c2sp.org/tlog-proof@v1\nindex {}\n", self.leaf_index);
        for hash in &self.proof {
            text.push_str(hash);
            text.push('\n');
        }
        text.push('\n');
        if let Some(checkpoint) = &self.checkpoint {
            text.push_str(checkpoint);
        }
        text
    }
}

/// `GET /api/v2/esg/log/proof/consistency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub from: u64,
    /// The newer tree's size.
    pub to: u64,
    /// Base64 of each hash of the proof.
    pub proof: Vec<String>,
}

/// One hash tile's bytes, and whether it is full (immutable) or partial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileData {
    /// The tile's hashes, 32 bytes each.
    pub bytes: Vec<u8>,
    /// A full tile never changes; a partial one is replaced by a wider one as the tree grows.
    pub full: bool,
}

impl<'a> LogService<'a> {
    pub(super) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    fn settings(&self) -> &log::LogSettings {
        &self.services.settings().log
    }

    /// One period, or while the integrator yields to ingest, the longest it may wait too.
    fn expected_wait_ms(&self) -> u64 {
        let pacing = self.settings().pacing;
        let wait = if self.services.append_load().integrator_yielding() {
            pacing.every + pacing.max_delay
        } else {
            pacing.every
        };
        u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
    }

    /// The log's identity: origin, verifier key and the signing key.
    pub fn key(&self) -> LogKey {
        LogKey::new(&self.settings().origin, self.services.signer().ed25519())
    }

    /// Appends up to one batch of committed ledger rows and signs the grown tree.
    pub async fn integrate(&self) -> Result<Integration, LogError> {
        let started = std::time::Instant::now();
        let mut horizon = self.services.log_horizon().lock().await;
        let outcome = log::integrate(
            self.services.database(),
            self.services.signer().ed25519(),
            &self.settings().origin,
            &mut horizon,
            LEAVES_PER_INTEGRATION,
        )
        .await?;
        drop(horizon);
        if let Integration::Grew { size, added, .. } = outcome {
            self.services
                .metrics()
                .record_log_integration(added, size, started.elapsed());
            tracing::debug!(size, added, "transparency log grew");
        }
        Ok(outcome)
    }

    /// The integrator's yielding state, starting from now, for at most `max_delay` in a row.
    pub fn yielding(&self, max_delay: std::time::Duration) -> Yielding {
        Yielding::new(max_delay, self.services.append_load().busy())
    }

    /// Whether the integrator lets this period pass to ingest ([`Yielding`]); a skipped period
    /// is counted, and answers `GREENOS_LOG_NOT_INTEGRATED` with the longer wait meanwhile.
    pub fn yields_to_ingest(&self, yielding: &mut Yielding) -> bool {
        let load = self.services.append_load();
        let yields = yielding.should_yield(std::time::Instant::now(), load.busy());
        load.set_integrator_yielding(yields);
        if yields {
            self.services.metrics().record_log_yield();
        }
        yields
    }

    /// The integrator has stopped: it no longer yields.
    pub fn integrator_stopped(&self) {
        self.services.append_load().set_integrator_yielding(false);
    }

    /// Integrates until nothing is left: what an export does before it binds to the log.
    pub async fn integrate_all(&self) -> Result<SignedCheckpoint, LogError> {
        loop {
            match self.integrate().await? {
                Integration::Grew { added, .. } if added == LEAVES_PER_INTEGRATION => {}
                Integration::Busy => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                _ => return self.checkpoint().await,
            }
        }
    }

    /// The latest checkpoint.
    pub async fn checkpoint(&self) -> Result<SignedCheckpoint, LogError> {
        let row = log::latest_checkpoint(self.services.database())
            .await?
            .ok_or(LogError::NoCheckpoint {
                expected_wait_ms: self.expected_wait_ms(),
            })?;
        Ok(SignedCheckpoint {
            tree_size: row.tree_size.unsigned_abs(),
            root_hash: row.root_hash,
            note: row.note,
            key_version: row.key_version,
        })
    }

    /// The leaf index of each ledger row of `ledger_seqs` that is in the log.
    pub async fn leaf_indexes(&self, ledger_seqs: &[i64]) -> Result<HashMap<i64, u64>, LogError> {
        Ok(log::leaf_indexes(self.services.database(), ledger_seqs).await?)
    }

    /// The hash tile at `path` (`<L>/<N>[.p/<W>]`, height 8), from the stored hashes.
    pub async fn tile(&self, path: &str) -> Result<TileData, LogError> {
        let not_found = |reason: &str| LogError::TileNotFound {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let tile = Tile::from_path(&format!("tile/{TILE_HEIGHT}/{path}"))
            .map_err(|_| not_found("not a tile path of the form <L>/<N>[.p/<W>]"))?;
        if tile.is_data() {
            return Err(not_found("only hash tiles are served"));
        }
        let size = self.checkpoint().await?.tree_size;
        let width = u64::from(tile.width());
        let levels = u32::from(TILE_HEIGHT) * u32::from(tile.level());
        let needed = tile
            .level_index()
            .checked_mul(1 << TILE_HEIGHT)
            .and_then(|start| start.checked_add(width))
            .and_then(|end| end.checked_mul(1u64.checked_shl(levels)?));
        if needed.is_none_or(|needed| needed > size) {
            return Err(not_found(&format!("beyond the tree of {size} leaves")));
        }
        let bytes =
            log::with_hashes(self.services.database(), |hashes| tile.read_data(hashes)).await?;
        Ok(TileData {
            bytes,
            full: width == 1 << TILE_HEIGHT,
        })
    }

    /// The inclusion proof of the impact of `trip_id` (`model_version`, or the latest) in the
    /// tree of `tree_size` leaves (or the latest checkpoint's).
    pub async fn inclusion(
        &self,
        trip_id: &str,
        model_version: Option<&str>,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, LogError> {
        let impact = self
            .services
            .ledger()
            .impact(trip_id, model_version)
            .await
            .map_err(|err| match err {
                crate::ledger::ImpactError::Database(db) => LogError::Database(db),
                other => LogError::Impact(Box::new(other)),
            })?;
        let latest = self.checkpoint().await?;
        let size = self.size_at_most(tree_size, latest.tree_size)?;
        let not_integrated = || LogError::NotIntegrated {
            trip_id: trip_id.to_owned(),
            expected_wait_ms: self.expected_wait_ms(),
        };
        let index = *log::leaf_indexes(self.services.database(), &[impact.ledger_seq])
            .await?
            .get(&impact.ledger_seq)
            .ok_or_else(not_integrated)?;
        if index >= size {
            return Err(LogError::InvalidSize {
                reason: format!("leaf {index} is not in the tree of {size} leaves"),
            });
        }
        let proof = log::with_hashes(self.services.database(), |hashes| {
            log::inclusion(size, index, hashes)
        })
        .await?;
        let checkpoint = if size == latest.tree_size {
            Some(latest.note)
        } else {
            log::checkpoint_at(self.services.database(), size)
                .await?
                .map(|row| row.note)
        };
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: size,
            leaf_hash: STANDARD.encode(log::leaf_hash(&impact.event_hash).0),
            proof: encode(&proof),
            checkpoint,
        })
    }

    /// The inclusion proofs (base64 hashes) of the leaves `leaves` in the tree of `size`
    /// leaves, read with one pass over the stored hashes they need.
    pub async fn leaf_proofs(
        &self,
        size: u64,
        leaves: &[u64],
    ) -> Result<Vec<Vec<String>>, LogError> {
        if let Some(beyond) = leaves.iter().find(|leaf| **leaf >= size) {
            return Err(LogError::InvalidSize {
                reason: format!("leaf {beyond} is not in the tree of {size} leaves"),
            });
        }
        let proofs = log::with_hashes(self.services.database(), |hashes| {
            leaves
                .iter()
                .map(|leaf| log::inclusion(size, *leaf, hashes))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        Ok(proofs.iter().map(|proof| encode(proof)).collect())
    }

    /// The consistency proof from the tree of `from` leaves to the tree of `to` leaves (or the
    /// latest checkpoint's).
    pub async fn consistency(
        &self,
        from: u64,
        to: Option<u64>,
    ) -> Result<ConsistencyProof, LogError> {
        let latest = self.checkpoint().await?;
        let to = self.size_at_most(to, latest.tree_size)?;
        if from == 0 || from > to {
            return Err(LogError::InvalidSize {
                reason: format!(
                    "from must be from 1 to to ({to}), not {from} (every tree extends the empty one)"
                ),
            });
        }
        let proof = log::with_hashes(self.services.database(), |hashes| {
            log::consistency(to, from, hashes)
        })
        .await?;
        Ok(ConsistencyProof {
            from,
            to,
            proof: encode(&proof),
        })
    }

    /// `requested`, or the latest size; refused when larger than the tree.
    fn size_at_most(&self, requested: Option<u64>, latest: u64) -> Result<u64, LogError> {
        match requested {
            Some(size) if size > latest => Err(LogError::InvalidSize {
                reason: format!("the tree holds {latest} leaves, not {size}"),
            }),
            Some(size) => Ok(size),
            None => Ok(latest),
        }
    }
}

fn encode(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|hash| STANDARD.encode(hash.0)).collect()
}
