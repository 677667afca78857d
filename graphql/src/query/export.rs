//! `export` and `exports`.

use async_graphql::{Context, Object, Result};
use greenos_core::auth::Scope;
use greenos_core::error_code::{ErrorCode, PublicError};
use greenos_core::mrv::{MrvError, Period};

use crate::context::{answer, services};
use crate::error::to_graphql;
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

    /// Exports newest first, of one `period` (`3M`, `6M`, `12M`) when given; pages forward with
    /// `first`/`after` (at most 500).
    #[graphql(
        guard = "ScopeGuard(Scope::Read)",
        complexity = "first.unwrap_or(50).min(500) as usize * child_complexity + 10"
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
        if last.is_some() || before.is_some() {
            return Err(to_graphql(PublicError::new(
                ErrorCode::ValidationFailed,
                "exports are listed newest first and paged forward: use first and after",
            )));
        }
        let period = period
            .map(|p| p.parse::<Period>())
            .transpose()
            .map_err(crate::error::coded)?;
        let page = answer(
            services(ctx)
                .mrv()
                .list(period, first, after.as_deref())
                .await,
        )?;
        let cursors: Vec<String> = page
            .exports
            .iter()
            .map(|e| greenos_core::mrv::ExportCursor::of(e).encode())
            .collect();
        let page_info = PageInfo::of(cursors.iter(), page.next_cursor.is_some(), after.is_some());
        Ok(MrvExportConnection {
            edges: page
                .exports
                .into_iter()
                .zip(cursors)
                .map(|(record, cursor)| MrvExportEdge {
                    cursor,
                    node: MrvExport(record),
                })
                .collect(),
            page_info,
        })
    }
}
