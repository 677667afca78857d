//! Impacts by `(tripId, modelVersion)`.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use greenos_core::error_code::PublicError;
use greenos_core::ledger::Impact;
use greenos_core::services::Services;

/// Loads impacts by key in one query per batch.
pub struct ImpactLoader(pub Services);

impl Loader<(String, String)> for ImpactLoader {
    type Value = Impact;
    type Error = PublicError;

    async fn load(
        &self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), Impact>, PublicError> {
        let found = self.0.ledger().impacts_by_keys(keys).await?;
        Ok(found
            .into_iter()
            .map(|i| ((i.event.trip_id.clone(), i.event.model_version.clone()), i))
            .collect())
    }
}
