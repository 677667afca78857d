//! `Impact`: one signed impact of the ledger, as `GET /impact` returns it.

use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject};
use greenos_core::ledger::{self, ImpactFilter, ImpactPage};

use crate::context::{answer, services};
use crate::loaders::{Leaves, Methodologies};
use crate::scalars::{DateTime, Decimal};
use crate::types::methodology::Methodology;
use crate::types::page::PageInfo;

/// One signed impact: every hashed field, both signatures, and where it sits in the ledger.
pub struct Impact(pub ledger::Impact);

#[Object]
impl Impact {
    /// The client's trip identifier.
    async fn trip_id(&self) -> &str {
        &self.0.event.trip_id
    }
    /// The user who made the trip.
    async fn user_id(&self) -> &str {
        &self.0.event.user_id
    }
    /// The vehicle used.
    async fn vehicle_id(&self) -> &str {
        &self.0.event.vehicle_id
    }
    /// ISO 3166-1 alpha-2 country code.
    async fn country_code(&self) -> &str {
        &self.0.event.country_code
    }
    /// Geohash of the trip.
    async fn geo_hash(&self) -> &str {
        &self.0.event.geo_hash
    }
    /// When the trip happened.
    async fn event_timestamp(&self) -> DateTime {
        DateTime(self.0.event.event_timestamp)
    }
    /// Distance travelled, km.
    async fn distance_km(&self) -> Decimal {
        Decimal(self.0.event.distance_km)
    }
    /// Thermal baseline factor used, kg CO2 per km.
    async fn thermal_factor_local(&self) -> Decimal {
        Decimal(self.0.event.thermal_factor_local)
    }
    /// Electric vehicle factor used, kg CO2 per km.
    async fn ev_factor_local(&self) -> Decimal {
        Decimal(self.0.event.ev_factor_local)
    }
    /// Avoided CO2, kg.
    async fn co2_avoided_kg(&self) -> Decimal {
        Decimal(self.0.event.co2_avoided_kg)
    }
    /// The server's calculation model.
    async fn model_version(&self) -> &str {
        &self.0.event.model_version
    }
    /// The methodology the factors came from.
    async fn methodology_version(&self) -> &str {
        &self.0.event.methodology_version
    }
    /// That methodology, resolved (batched with every other impact of the response).
    async fn methodology(&self, ctx: &Context<'_>) -> Result<Option<Methodology>> {
        let loader = ctx.data_unchecked::<Methodologies>();
        let found = loader
            .load_one(self.0.event.methodology_version.clone())
            .await
            .map_err(crate::error::to_graphql)?;
        Ok(found.map(Methodology))
    }
    /// `sha256_hex(canonical(hashed fields))`.
    async fn event_hash(&self) -> &str {
        &self.0.event_hash
    }
    /// `sha256_hex(canonical({event_hash, trip_id, model_version, country_code}))`.
    async fn checksum(&self) -> &str {
        &self.0.checksum
    }
    /// HMAC-SHA256 of `event_hash`, lowercase hex.
    async fn signature(&self) -> &str {
        &self.0.signatures.signature
    }
    /// `HMAC-SHA256`.
    async fn signature_algorithm(&self) -> &str {
        &self.0.signatures.signature_algorithm
    }
    /// The HMAC key version.
    async fn key_version(&self) -> &str {
        &self.0.signatures.key_version
    }
    /// Ed25519 signature of `event_hash`, standard base64.
    async fn asym_signature(&self) -> &str {
        &self.0.signatures.asym_signature
    }
    /// `ED25519`.
    async fn asym_algorithm(&self) -> &str {
        &self.0.signatures.asym_algorithm
    }
    /// The Ed25519 key version.
    async fn asym_key_version(&self) -> &str {
        &self.0.signatures.asym_key_version
    }
    /// Position in the ledger; increases monotonically.
    async fn ledger_seq(&self) -> i64 {
        self.0.ledger_seq
    }
    /// Its leaf index in the transparency log; null until the integrator reaches it (batched
    /// with every other impact of the response).
    async fn leaf_index(&self, ctx: &Context<'_>) -> Result<Option<u64>> {
        ctx.data_unchecked::<Leaves>()
            .load_one(self.0.ledger_seq)
            .await
            .map_err(crate::error::to_graphql)
    }
    /// The request that carried the trip.
    async fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }
    /// When the impact was computed.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// An impact and its cursor.
#[derive(SimpleObject)]
pub struct ImpactEdge {
    /// Where the page may resume.
    pub cursor: String,
    /// The impact.
    pub node: Impact,
}

/// A page of impacts.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ImpactConnection {
    /// The impacts of the page, with their cursors.
    pub edges: Vec<ImpactEdge>,
    /// Where the page sits.
    pub page_info: PageInfo,
    #[graphql(skip)]
    pub filter: Option<ImpactFilter>,
    #[graphql(skip)]
    pub total: Option<i64>,
}

#[ComplexObject]
impl ImpactConnection {
    /// How many impacts the whole list holds (counted only when asked for).
    #[graphql(complexity = 10)]
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        if let Some(total) = self.total {
            return Ok(total);
        }
        let filter = self.filter.clone().unwrap_or_default();
        let count = answer(services(ctx).ledger().count_impacts(&filter).await)?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}

impl ImpactConnection {
    /// The connection of a core page; `filter` counts the whole list, `total` is a known count.
    pub fn from_page(page: ImpactPage, filter: Option<ImpactFilter>, total: Option<i64>) -> Self {
        let page_info = PageInfo::of(
            page.edges.iter().map(|(cursor, _)| cursor),
            page.has_next_page,
            page.has_previous_page,
        );
        ImpactConnection {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, impact)| ImpactEdge {
                    cursor,
                    node: Impact(impact),
                })
                .collect(),
            page_info,
            filter,
            total,
        }
    }
}
