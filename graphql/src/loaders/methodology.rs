//! Methodologies by version.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use greenos_core::error_code::PublicError;
use greenos_core::methodology::Methodology;
use greenos_core::services::Services;

/// Loads methodology versions in one query per batch.
pub struct MethodologyLoader(pub Services);

impl Loader<String> for MethodologyLoader {
    type Value = Methodology;
    type Error = PublicError;

    async fn load(&self, versions: &[String]) -> Result<HashMap<String, Methodology>, PublicError> {
        let found = self.0.methodology().by_versions(versions).await?;
        Ok(found
            .into_iter()
            .map(|m| (m.methodology_version.clone(), m))
            .collect())
    }
}
