//! The log's Merkle tree: leaf hashes of ledger rows, and every computation over the stored
//! hashes (Go's layout: about two hashes per leaf, each full subtree's hash stored once).
//!
//! `tlog_tiles` reads hashes synchronously, and GreenOS keeps them in the database, behind an
//! async call. So each computation runs twice: once over [`HashesNeeded`], which records the
//! stored-hash indexes asked for, then over a [`StoredHashes`] holding exactly those rows.

use std::cell::RefCell;
use std::collections::BTreeMap;

pub use tlog_tiles::Hash;
use tlog_tiles::{Error, HashReader};

/// The leaf hash of a ledger row: `SHA-256(0x00 ‖ leaf)`, the leaf being the 64 ASCII
/// characters of the row's lowercase hex `event_hash` (which covers every field of the impact).
pub fn leaf_hash(event_hash: &str) -> Hash {
    tlog_tiles::record_hash(event_hash.as_bytes())
}

/// Stored hashes by stored-hash index.
#[derive(Clone, Debug, Default)]
pub struct StoredHashes(BTreeMap<u64, Hash>);

impl StoredHashes {
    /// Holds `hash` at stored-hash index `index`.
    pub fn insert(&mut self, index: u64, hash: Hash) {
        self.0.insert(index, hash);
    }

    /// Appends leaf number `n` (the tree holds `n` leaves before it) and answers the stored
    /// hashes it adds, by index: the leaf's own, then each full subtree it completes.
    pub fn append(&mut self, n: u64, leaf: Hash) -> Result<Vec<(u64, Hash)>, Error> {
        let added = tlog_tiles::stored_hashes_for_record_hash(n, leaf, self)?;
        let first = tlog_tiles::stored_hash_index(0, n);
        let added: Vec<(u64, Hash)> = (first..).zip(added).collect();
        for (index, hash) in &added {
            self.0.insert(*index, *hash);
        }
        Ok(added)
    }
}

impl HashReader for StoredHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|index| {
                self.0
                    .get(index)
                    .copied()
                    .ok_or(Error::InvalidInput(format!(
                        "stored hash {index} is not held"
                    )))
            })
            .collect()
    }
}

/// Records the stored-hash indexes a computation reads (answering zero hashes), so that they
/// can be fetched before the computation runs for real.
#[derive(Debug, Default)]
pub struct HashesNeeded(RefCell<Vec<u64>>);

impl HashesNeeded {
    /// The indexes asked for, sorted and unique.
    pub fn indexes(self) -> Vec<u64> {
        let mut indexes = self.0.into_inner();
        indexes.sort_unstable();
        indexes.dedup();
        indexes
    }
}

impl HashReader for HashesNeeded {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![Hash::default(); indexes.len()])
    }
}

/// Either pass of a two-pass computation over the database's stored hashes.
pub enum Pass<'a> {
    /// Records which stored hashes are read.
    Recording(&'a HashesNeeded),
    /// Reads the rows fetched for them.
    Reading(&'a StoredHashes),
}

impl HashReader for Pass<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        match self {
            Pass::Recording(needed) => needed.read_hashes(indexes),
            Pass::Reading(stored) => stored.read_hashes(indexes),
        }
    }
}

/// The root hash of the tree of `size` leaves (`SHA-256("")` for the empty tree).
pub fn root(size: u64, hashes: &impl HashReader) -> Result<Hash, Error> {
    tlog_tiles::tree_hash(size, hashes)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion(size: u64, index: u64, hashes: &impl HashReader) -> Result<Vec<Hash>, Error> {
    tlog_tiles::prove_record(size, index, hashes)
}

/// The consistency proof from the tree of `from` leaves to the tree of `to` leaves.
pub fn consistency(to: u64, from: u64, hashes: &impl HashReader) -> Result<Vec<Hash>, Error> {
    tlog_tiles::prove_tree(to, from, hashes)
}

/// Checks that `proof` shows leaf `index` with hash `leaf` in the tree of `size` leaves and
/// root `root`.
pub fn check_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    index: u64,
    leaf: Hash,
) -> Result<(), Error> {
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf)
}

/// Checks that `proof` shows the tree of `from` leaves and root `from_root` to be a prefix of
/// the tree of `to` leaves and root `to_root`.
pub fn check_consistency(
    proof: &[Hash],
    to: u64,
    to_root: Hash,
    from: u64,
    from_root: Hash,
) -> Result<(), Error> {
    tlog_tiles::check_tree(&proof.to_vec(), to, to_root, from, from_root)
}
