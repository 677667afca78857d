//! `createExport` (scope `export`).

use async_graphql::{Context, Object, Result};
use greenos_core::auth::Scope;

use crate::context::{answer, caller, services};
use crate::guard::ScopeGuard;
use crate::types::export::MrvExport;

/// The export mutation.
#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Builds, signs and stores the export of the closed calendar window `period` (`3M`, `6M`,
    /// `12M`) ending at `periodEnd`.
    #[graphql(guard = "ScopeGuard(Scope::Export)")]
    async fn create_export(
        &self,
        ctx: &Context<'_>,
        period: String,
        period_end: String,
    ) -> Result<MrvExport> {
        let record = answer(
            services(ctx)
                .mrv()
                .create_export(&caller(ctx), &period, &period_end)
                .await,
        )?;
        Ok(MrvExport(record))
    }
}
