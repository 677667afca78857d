//! `MrvExport`: an export's metadata, totals, proof, binding and verification; its impacts as
//! a connection read from its payload; never the payload inline.

use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject};
use greenos_core::mrv::{ExportImpactPage, ExportRecord, ExportVerification, Period};
use greenos_core::page::PageRequest;
use greenos_core::proof::Decimal6;
use serde_json::Value;

use crate::context::{answer, services};
use crate::loaders::Methodologies;
use crate::scalars::{DateTime, Decimal};
use crate::types::impact::{Impact, ImpactEdge};
use crate::types::methodology::Methodology;
use crate::types::page::PageInfo;

/// The REST path of every export resource.
const EXPORT_PATH: &str = "/api/v2/esg/mrv/export";

/// The sums of one country.
#[derive(Clone, Debug, SimpleObject)]
pub struct CountryTotals {
    /// ISO 3166-1 alpha-2 code.
    pub country_code: String,
    /// Impacts counted.
    pub impacts_count: i64,
    /// Sum of `distanceKm`.
    pub total_distance_km: Decimal,
    /// Sum of `co2AvoidedKg`.
    pub total_co2_avoided_kg: Decimal,
}

/// The payload's `aggregation`.
#[derive(Clone, Debug, SimpleObject)]
pub struct Aggregation {
    /// Impacts counted.
    pub impacts_count: i64,
    /// Sum of `distanceKm`.
    pub total_distance_km: Decimal,
    /// Sum of `co2AvoidedKg`.
    pub total_co2_avoided_kg: Decimal,
    /// Per country, sorted by country.
    pub by_country: Vec<CountryTotals>,
}

/// How often a duplicated trip appeared in the window.
#[derive(Clone, Debug, SimpleObject)]
pub struct DuplicateFrequency {
    /// The trip.
    pub trip_id: String,
    /// Ledger rows of it in the window.
    pub frequency: i64,
}

/// The payload's `non_double_counting_proof`.
#[derive(Clone, Debug, SimpleObject)]
pub struct NonDoubleCountingProof {
    /// Ledger rows in the window.
    pub raw_impacts_count: i64,
    /// Impacts kept.
    pub selected_impacts_count: i64,
    /// Rows left out.
    pub duplicates_removed_count: i64,
    /// Trips with more than one row, sorted.
    pub duplicate_trip_ids: Vec<String>,
    /// Their row counts.
    pub duplicate_trip_frequencies: Vec<DuplicateFrequency>,
    /// `latest_ledger_seq_per_trip_id`.
    pub deduplication_rule: String,
    /// `sha256_hex(canonical(proof without proof_hash))`.
    pub proof_hash: String,
    /// Always true.
    pub double_counting_blocked: bool,
}

/// The §9 verification flags, computed on request.
#[derive(Clone, Debug, SimpleObject)]
pub struct Verification {
    /// Every check passed.
    pub verified: bool,
    /// The payload hashes to `verificationHash`.
    pub hash_valid: bool,
    /// The HMAC verifies (null when not checkable).
    pub signature_valid: Option<bool>,
    /// The Ed25519 signature verifies.
    pub asym_signature_valid: bool,
    /// The methodology binding holds.
    pub methodology_valid: bool,
    /// The proof and totals are consistent (null when not checked).
    pub proof_valid: Option<bool>,
}

impl From<ExportVerification> for Verification {
    fn from(v: ExportVerification) -> Verification {
        Verification {
            verified: v.verified,
            hash_valid: v.hash_valid,
            signature_valid: v.signature_valid,
            asym_signature_valid: v.asym_signature_valid,
            methodology_valid: v.methodology_valid,
            proof_valid: v.proof_valid,
        }
    }
}

/// A page of an export's impacts, in payload order.
#[derive(SimpleObject)]
pub struct ExportImpactConnection {
    /// The impacts of the page, with their cursors.
    pub edges: Vec<ImpactEdge>,
    /// Where the page sits.
    pub page_info: PageInfo,
    /// Impacts in the export.
    pub total_count: i64,
}

impl ExportImpactConnection {
    fn from_page(page: ExportImpactPage, total_count: i64) -> Self {
        let page_info = PageInfo::of(
            page.edges.iter().map(|(cursor, _)| cursor),
            page.has_next_page,
            page.has_previous_page,
        );
        ExportImpactConnection {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, impact)| ImpactEdge {
                    cursor,
                    node: Impact(impact),
                })
                .collect(),
            page_info,
            total_count,
        }
    }
}

/// One MRV export.
pub struct MrvExport(pub ExportRecord);

fn decimal(value: &Value, key: &str) -> Decimal {
    let text = value.get(key).and_then(Value::as_str).unwrap_or("0");
    Decimal(Decimal6::parse_exact(text).unwrap_or(Decimal6::from_micro(0)))
}

fn count(value: &Value, key: &str) -> i64 {
    value.get(key).and_then(Value::as_i64).unwrap_or_default()
}

#[Object]
impl MrvExport {
    /// The export's id (a UUID).
    async fn export_id(&self) -> &str {
        &self.0.export_id
    }
    /// The payload's schema.
    async fn schema_version(&self) -> &str {
        &self.0.schema_version
    }
    /// `3M`, `6M` or `12M`.
    async fn period(&self) -> &str {
        self.0.period.as_str()
    }
    /// First instant of the window.
    async fn period_start(&self) -> DateTime {
        DateTime(self.0.period_start)
    }
    /// End of the window (excluded).
    async fn period_end(&self) -> DateTime {
        DateTime(self.0.period_end)
    }
    /// When the build took its snapshot.
    async fn generated_at(&self) -> DateTime {
        DateTime(self.0.generated_at)
    }
    /// `sha256_hex` of the canonical payload.
    async fn verification_hash(&self) -> &str {
        &self.0.verification_hash
    }
    /// HMAC-SHA256 of `verificationHash`.
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
    /// Ed25519 signature of `verificationHash`.
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
    /// The methodology the export binds to.
    async fn methodology_version(&self) -> &str {
        &self.0.methodology_version
    }
    /// Its hash at generation time.
    async fn methodology_hash(&self) -> &str {
        &self.0.methodology_hash
    }
    /// That methodology, resolved.
    async fn methodology(&self, ctx: &Context<'_>) -> Result<Option<Methodology>> {
        let loader = ctx.data_unchecked::<Methodologies>();
        let found = loader
            .load_one(self.0.methodology_version.clone())
            .await
            .map_err(crate::error::to_graphql)?;
        Ok(found.map(Methodology))
    }
    /// Model versions of the selected impacts.
    async fn model_versions(&self) -> &[String] {
        &self.0.model_versions
    }
    /// Impacts in the payload.
    async fn impacts_count(&self) -> i64 {
        self.0.impacts_count
    }
    /// Length of the canonical payload, bytes.
    async fn payload_size_bytes(&self) -> i64 {
        self.0.payload_size_bytes
    }
    /// The totals, overall and per country.
    async fn aggregation(&self) -> Aggregation {
        let a = &self.0.aggregation;
        let by_country = a
            .get("by_country")
            .and_then(Value::as_object)
            .map(|countries| {
                countries
                    .iter()
                    .map(|(country, totals)| CountryTotals {
                        country_code: country.clone(),
                        impacts_count: count(totals, "impacts_count"),
                        total_distance_km: decimal(totals, "total_distance_km"),
                        total_co2_avoided_kg: decimal(totals, "total_co2_avoided_kg"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Aggregation {
            impacts_count: count(a, "impacts_count"),
            total_distance_km: decimal(a, "total_distance_km"),
            total_co2_avoided_kg: decimal(a, "total_co2_avoided_kg"),
            by_country,
        }
    }
    /// The proof that no trip was counted twice, read from the payload.
    #[graphql(complexity = 50)]
    async fn non_double_counting_proof(&self, ctx: &Context<'_>) -> Result<NonDoubleCountingProof> {
        let proof = answer(services(ctx).mrv().proof(&self.0.export_id).await)?;
        let strings = |key: &str| -> Vec<String> {
            proof
                .get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let frequencies = proof
            .get("duplicate_trip_frequencies")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(trip_id, n)| DuplicateFrequency {
                        trip_id: trip_id.clone(),
                        frequency: n.as_i64().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(NonDoubleCountingProof {
            raw_impacts_count: count(&proof, "raw_impacts_count"),
            selected_impacts_count: count(&proof, "selected_impacts_count"),
            duplicates_removed_count: count(&proof, "duplicates_removed_count"),
            duplicate_trip_ids: strings("duplicate_trip_ids"),
            duplicate_trip_frequencies: frequencies,
            deduplication_rule: proof
                .get("deduplication_rule")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            proof_hash: self.0.proof_hash.clone(),
            double_counting_blocked: proof
                .get("double_counting_blocked")
                .and_then(Value::as_bool)
                .unwrap_or_default(),
        })
    }
    /// The §9 verification, re-computed now from the stored chunks (expensive).
    #[graphql(complexity = 200)]
    async fn verification(&self, ctx: &Context<'_>) -> Result<Verification> {
        let ctx_caller = crate::context::caller(ctx);
        match services(ctx)
            .mrv()
            .verify(&ctx_caller, &self.0.export_id)
            .await
        {
            Ok(verification) => Ok(verification.into()),
            Err(err) => match err.verification() {
                Some(verification) => Ok(verification.clone().into()),
                None => Err(crate::error::coded(err)),
            },
        }
    }
    /// Exactly the impacts of the payload, in payload order.
    #[graphql(
        complexity = "first.or(last).unwrap_or(100).min(1000) as usize * child_complexity + 50"
    )]
    async fn impacts(
        &self,
        ctx: &Context<'_>,
        first: Option<u64>,
        after: Option<String>,
        last: Option<u64>,
        before: Option<String>,
    ) -> Result<ExportImpactConnection> {
        let page = PageRequest {
            first,
            after,
            last,
            before,
        };
        let found = answer(
            services(ctx)
                .mrv()
                .export_impacts(&self.0.export_id, &page)
                .await,
        )?;
        Ok(ExportImpactConnection::from_page(
            found,
            self.0.impacts_count,
        ))
    }
    /// The artifact download (REST).
    async fn artifact_url(&self) -> String {
        format!("{EXPORT_PATH}/{}", self.0.export_id)
    }
    /// The CSV of its impacts (REST).
    async fn csv_url(&self) -> String {
        format!("{EXPORT_PATH}/{}/impacts.csv", self.0.export_id)
    }
    /// The auditor's evidence package (REST).
    async fn evidence_url(&self) -> String {
        format!("{EXPORT_PATH}/{}/evidence", self.0.export_id)
    }
    /// When the row was written.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// An export and its cursor.
#[derive(SimpleObject)]
pub struct MrvExportEdge {
    /// Where the page may resume.
    pub cursor: String,
    /// The export.
    pub node: MrvExport,
}

/// A page of exports, newest first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct MrvExportConnection {
    /// The exports of the page.
    pub edges: Vec<MrvExportEdge>,
    /// Where the page sits.
    pub page_info: PageInfo,
    #[graphql(skip)]
    pub period: Option<Period>,
}

#[ComplexObject]
impl MrvExportConnection {
    /// How many exports the whole list holds (counted only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let count = answer(services(ctx).mrv().count_exports(self.period).await)?;
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
}
