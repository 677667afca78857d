//! The transparency log (SPEC §18). Every ledger row is one leaf of one RFC 6962 Merkle tree;
//! every state of the tree is a checkpoint signed as a C2SP signed note. The tree's arithmetic
//! (stored-hash indexing, roots, inclusion and consistency proofs) is `tlog_tiles`, Cloudflare's
//! port of Go's `golang.org/x/mod/sumdb/tlog`, and the notes are its `signed_note`: the same
//! formats Go's own packages check, which the tests hold against RFC 6962's vectors.

mod checkpoint;
mod tree;

pub use checkpoint::{LogKey, sign_checkpoint};
pub use tree::{
    Hash, HashesNeeded, StoredHashes, check_consistency, check_inclusion, consistency, inclusion,
    leaf_hash, root,
};

#[cfg(test)]
mod tests;
