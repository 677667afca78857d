//! The methodology registry's use cases: every change refreshes
//! `greenos_mrv_methodology_version_active` and is logged.

use crate::context::RequestContext;
use crate::methodology::{self, Methodology, MethodologyDraft, MethodologyError, ValidatedDraft};
use crate::services::Services;

/// The registry's use cases.
pub struct MethodologyService<'a> {
    services: &'a Services,
}

impl<'a> MethodologyService<'a> {
    pub(super) fn new(services: &'a Services) -> Self {
        Self { services }
    }

    /// Validates and stores a new version, `DRAFT` or (with `activate`, when no other version
    /// is ACTIVE) `ACTIVE`.
    pub async fn create(
        &self,
        ctx: &RequestContext,
        draft: MethodologyDraft,
        activate: bool,
    ) -> Result<Methodology, MethodologyError> {
        let created = methodology::create(
            self.services.database(),
            draft,
            activate,
            Some(ctx.correlation_id.as_str()),
        )
        .await?;
        tracing::info!(
            correlation_id = %ctx.correlation_id,
            actor = %ctx.actor(),
            methodology_version = %created.methodology_version,
            status = %created.status,
            methodology_hash = %created.methodology_hash,
            "methodology version created"
        );
        self.refresh_gauge().await;
        Ok(created)
    }

    /// Makes `version` ACTIVE, deprecating the previous ACTIVE version atomically.
    pub async fn activate(
        &self,
        ctx: &RequestContext,
        version: &str,
    ) -> Result<Methodology, MethodologyError> {
        if !methodology::is_version_name(version) {
            return Err(MethodologyError::NotFound {
                version: version.chars().take(64).collect(),
            });
        }
        let activated = methodology::activate(
            self.services.database(),
            version,
            Some(ctx.correlation_id.as_str()),
        )
        .await?;
        tracing::info!(
            correlation_id = %ctx.correlation_id,
            actor = %ctx.actor(),
            methodology_version = %activated.methodology_version,
            methodology_hash = %activated.methodology_hash,
            "methodology version active"
        );
        self.refresh_gauge().await;
        Ok(activated)
    }

    /// One version, whatever its status.
    pub async fn get(&self, version: &str) -> Result<Methodology, MethodologyError> {
        let not_found = || MethodologyError::NotFound {
            version: version.chars().take(64).collect(),
        };
        // A name no version can have (a NUL character, say) is answered without a query.
        if !methodology::is_version_name(version) {
            return Err(not_found());
        }
        methodology::get(self.services.database(), version)
            .await?
            .ok_or_else(not_found)
    }

    /// The ACTIVE version.
    pub async fn current(&self) -> Result<Methodology, MethodologyError> {
        methodology::active(self.services.database())
            .await?
            .ok_or(MethodologyError::NoActive)
    }

    /// The versions named in `versions` that exist (for batch loaders), in one query.
    pub async fn by_versions(
        &self,
        versions: &[String],
    ) -> Result<Vec<Methodology>, MethodologyError> {
        let valid: Vec<String> = versions
            .iter()
            .filter(|v| methodology::is_version_name(v))
            .cloned()
            .collect();
        methodology::by_versions(self.services.database(), &valid).await
    }

    /// Every version, newest first.
    pub async fn list(&self) -> Result<Vec<Methodology>, MethodologyError> {
        methodology::list(self.services.database()).await
    }

    /// At start-up: bootstraps an empty registry from configuration, exports the active-version
    /// gauge and answers the ACTIVE version (`None`: trips are refused until one is activated).
    pub async fn start(
        &self,
        settings: &ValidatedDraft,
    ) -> Result<Option<Methodology>, MethodologyError> {
        let db = self.services.database();
        if let Some(created) = methodology::bootstrap_if_empty(db, settings).await? {
            tracing::info!(
                methodology_version = %created.methodology_version,
                methodology_hash = %created.methodology_hash,
                "the methodology registry was empty: bootstrapped from GREENOS_MRV_* configuration"
            );
        }
        let active = methodology::refresh_active_gauge(db, self.services.metrics()).await?;
        match &active {
            Some(active) => {
                tracing::info!(
                    methodology_version = %active.methodology_version,
                    methodology_hash = %active.methodology_hash,
                    geographic_scope = ?active.geographic_scope,
                    "active methodology"
                );
                if active.methodology_version != settings.methodology_version() {
                    tracing::info!(
                        configured = %settings.methodology_version(),
                        "GREENOS_MRV_* only bootstrap an empty registry; the registry's ACTIVE version is used"
                    );
                }
            }
            None => tracing::warn!(
                "no methodology version is ACTIVE: trips are refused until an admin activates one"
            ),
        }
        Ok(active)
    }

    /// The change is committed whatever happens here: a stale gauge is logged, not answered.
    async fn refresh_gauge(&self) {
        let refreshed =
            methodology::refresh_active_gauge(self.services.database(), self.services.metrics())
                .await;
        if let Err(err) = refreshed {
            tracing::warn!(error = %err, "cannot refresh greenos_mrv_methodology_version_active");
        }
    }
}
