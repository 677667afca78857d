//! Transparency-log leaf indexes by ledger row.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use greenos_core::error_code::PublicError;
use greenos_core::services::Services;

/// Loads the leaf indexes of ledger rows (`ledger_seq`) in one query per batch.
pub struct LeafLoader(pub Services);

impl Loader<i64> for LeafLoader {
    type Value = u64;
    type Error = PublicError;

    async fn load(&self, ledger_seqs: &[i64]) -> Result<HashMap<i64, u64>, PublicError> {
        Ok(self.0.log().leaf_indexes(ledger_seqs).await?)
    }
}
