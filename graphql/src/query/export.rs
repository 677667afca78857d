//! `export` and `exports`.

use async_graphql::{Context, Object, Result};
use greenos_core::auth::Scope;
use greenos_core::mrv::{MrvError, Period};
use greenos_core::page::PageRequest;

use crate::context::{answer, services};
use crate::guard::ScopeGuard;
use crate::types::export::{MrvExport, MrvExportConnection, MrvExportEdge};
use crate::types::page::PageInfo;

/// The MRV queries.
#[derive(Default)]
pub struct ExportQuery;

#[Object]
impl ExportQuery {
    /// One export; null when none has that id.
    #[graphql(guard = "ScopeGuard(Scope::Read)")]
    async fn export(&self, ctx: &Context<'_>, export_id: String) -> Result<Option<MrvExport>> {
        match services(ctx).mrv().export(&export_id).await {
            Ok(record) => Ok(Some(MrvExport(record))),
            Err(MrvError::NotFound { .. }) => Ok(None),
            Err(err) => Err(crate::error::coded(err)),
        }
    }

    /// Exports newest first, of one `period` (`3M`, `6M`, `12M`) when given.
    #[graphql(
        guard = "ScopeGuard(Scope::Read)",
        complexity = "first.or(last).unwrap_or(50).min(1000) as usize * child_complexity + 10"
    )]
    async fn exports(
        &self,
        ctx: &Context<'_>,
        period: Option<String>,
        first: Option<u64>,
        after: Option<String>,
        last: Option<u64>,
        before: Option<String>,
    ) -> Result<MrvExportConnection> {
        let period = period
            .map(|p| p.parse::<Period>())
            .transpose()
            .map_err(crate::error::coded)?;
        let request = PageRequest {
            first,
            after,
            last,
            before,
        };
        let page = answer(services(ctx).mrv().exports(period, &request).await)?;
        let page_info = PageInfo::of(
            page.edges.iter().map(|(cursor, _)| cursor),
            page.has_next_page,
            page.has_previous_page,
        );
        Ok(MrvExportConnection {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, record)| MrvExportEdge {
                    cursor,
                    node: MrvExport(record),
                })
                .collect(),
            page_info,
            period,
        })
    }
}
