//! `impact`, `impacts` and `impactTotals`.

use async_graphql::{Context, Enum, InputObject, Object, Result};
use greenos_core::auth::Scope;
use greenos_core::ledger::{ImpactError, ImpactFilter as CoreFilter, ImpactOrder};
use greenos_core::page::PageRequest;

use crate::context::{answer, services};
use crate::guard::ScopeGuard;
use crate::loaders::Impacts;
use crate::scalars::DateTime;
use crate::types::impact::{Impact, ImpactConnection};
use crate::types::totals::{ImpactGroup, ImpactTotals};

/// Which impacts to list or total; every field narrows the set.
#[derive(Clone, Debug, Default, InputObject)]
pub struct ImpactFilter {
    /// One country.
    pub country_code: Option<String>,
    /// Several countries.
    pub country_codes: Option<Vec<String>>,
    /// `eventTimestamp >= from`.
    pub from: Option<DateTime>,
    /// `eventTimestamp < to`.
    pub to: Option<DateTime>,
    /// One calculation model (totals then count every row of it).
    pub model_version: Option<String>,
    /// One methodology.
    pub methodology_version: Option<String>,
    /// One user.
    pub user_id: Option<String>,
    /// One vehicle.
    pub vehicle_id: Option<String>,
}

impl From<ImpactFilter> for CoreFilter {
    fn from(filter: ImpactFilter) -> CoreFilter {
        let mut country_codes = filter.country_codes.unwrap_or_default();
        country_codes.extend(filter.country_code);
        country_codes.sort();
        country_codes.dedup();
        CoreFilter {
            country_codes,
            from: filter.from.map(|d| d.0),
            to: filter.to.map(|d| d.0),
            model_version: filter.model_version,
            methodology_version: filter.methodology_version,
            user_id: filter.user_id,
            vehicle_id: filter.vehicle_id,
        }
    }
}

/// The order of an impact list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
pub enum ImpactOrderBy {
    /// Oldest trip first.
    EventTimestampAsc,
    /// Newest trip first.
    EventTimestampDesc,
    /// Ledger order.
    #[default]
    LedgerSeqAsc,
    /// Latest ledger row first.
    LedgerSeqDesc,
}

impl From<ImpactOrderBy> for ImpactOrder {
    fn from(order: ImpactOrderBy) -> ImpactOrder {
        match order {
            ImpactOrderBy::EventTimestampAsc => ImpactOrder::EventTimestampAsc,
            ImpactOrderBy::EventTimestampDesc => ImpactOrder::EventTimestampDesc,
            ImpactOrderBy::LedgerSeqAsc => ImpactOrder::LedgerSeqAsc,
            ImpactOrderBy::LedgerSeqDesc => ImpactOrder::LedgerSeqDesc,
        }
    }
}

/// The ledger's queries.
#[derive(Default)]
pub struct ImpactQuery;

#[Object]
impl ImpactQuery {
    /// One impact: of `modelVersion`, or of the latest model version; null when none exists.
    #[graphql(guard = "ScopeGuard(Scope::Read)")]
    async fn impact(
        &self,
        ctx: &Context<'_>,
        trip_id: String,
        model_version: Option<String>,
    ) -> Result<Option<Impact>> {
        if let Some(model_version) = model_version {
            let loader = ctx.data_unchecked::<Impacts>();
            let found = loader
                .load_one((trip_id, model_version))
                .await
                .map_err(crate::error::to_graphql)?;
            return Ok(found.map(Impact));
        }
        match services(ctx).ledger().impact(&trip_id, None).await {
            Ok(impact) => Ok(Some(Impact(impact))),
            Err(ImpactError::NotFound { .. }) => Ok(None),
            Err(err) => Err(crate::error::coded(err)),
        }
    }

    /// A page of impacts (keyset cursors; `first`/`last` at most 1000).
    #[graphql(
        guard = "ScopeGuard(Scope::Read)",
        complexity = "first.or(last).unwrap_or(100).min(1000) as usize * child_complexity + 10"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "a Relay connection's arguments are the schema's, one parameter each"
    )]
    async fn impacts(
        &self,
        ctx: &Context<'_>,
        filter: Option<ImpactFilter>,
        order_by: Option<ImpactOrderBy>,
        first: Option<u64>,
        after: Option<String>,
        last: Option<u64>,
        before: Option<String>,
    ) -> Result<ImpactConnection> {
        let filter: CoreFilter = filter.unwrap_or_default().into();
        let page = PageRequest {
            first,
            after,
            last,
            before,
        };
        let order = order_by.unwrap_or_default().into();
        let found = answer(services(ctx).ledger().impacts(&filter, order, &page).await)?;
        Ok(ImpactConnection::from_page(found, Some(filter), None))
    }

    /// Exact totals grouped as asked, computed in SQL; each trip counts once (its latest ledger
    /// row) unless `filter.modelVersion` is given.
    #[graphql(guard = "ScopeGuard(Scope::Read)", complexity = 50)]
    async fn impact_totals(
        &self,
        ctx: &Context<'_>,
        filter: Option<ImpactFilter>,
        group_by: Option<Vec<ImpactGroup>>,
    ) -> Result<Vec<ImpactTotals>> {
        let filter: CoreFilter = filter.unwrap_or_default().into();
        let groups: Vec<_> = group_by
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let rows = answer(services(ctx).ledger().totals(&filter, &groups).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
