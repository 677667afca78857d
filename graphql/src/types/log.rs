//! The transparency log, as `GET /api/v2/esg/log/checkpoint` and `.../proof/inclusion` give it.

use async_graphql::SimpleObject;
use greenos_core::services::{InclusionProof as CoreInclusion, SignedCheckpoint};

/// The latest signed state of the log's Merkle tree.
#[derive(Clone, Debug, SimpleObject)]
pub struct LogCheckpoint {
    /// The log's name.
    pub origin: String,
    /// How many leaves the tree holds.
    pub tree_size: u64,
    /// Lowercase hex of the root hash.
    pub root_hash: String,
    /// The C2SP signed note, exactly as `GET /api/v2/esg/log/checkpoint` serves it.
    pub note: String,
    /// The Ed25519 key version that signed it.
    pub key_version: String,
}

impl LogCheckpoint {
    /// The checkpoint of the log named `origin`.
    pub fn new(origin: String, checkpoint: SignedCheckpoint) -> LogCheckpoint {
        LogCheckpoint {
            origin,
            tree_size: checkpoint.tree_size,
            root_hash: checkpoint.root_hash,
            note: checkpoint.note,
            key_version: checkpoint.key_version,
        }
    }
}

/// An impact's inclusion proof.
#[derive(Clone, Debug, SimpleObject)]
pub struct InclusionProof {
    /// The impact's position in the log.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// Base64 of the leaf hash of the impact as the ledger holds it now.
    pub leaf_hash: String,
    /// Base64 of each hash of the proof, from the leaf up.
    pub proof: Vec<String>,
    /// The signed checkpoint of that size.
    pub checkpoint: Option<String>,
}

impl From<CoreInclusion> for InclusionProof {
    fn from(proof: CoreInclusion) -> InclusionProof {
        InclusionProof {
            leaf_index: proof.leaf_index,
            tree_size: proof.tree_size,
            leaf_hash: proof.leaf_hash,
            proof: proof.proof,
            checkpoint: proof.checkpoint,
        }
    }
}
