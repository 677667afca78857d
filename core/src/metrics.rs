//! The metrics GreenOS exports, registered in a registry the application owns (no globals).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What a verification checked: the `kind` label of
/// `greenos_mrv_verification_failures_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerificationKind {
    /// One impact of the ledger.
    Trip,
    /// An MRV export.
    Mrv,
}

impl VerificationKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trip => "trip",
            Self::Mrv => "mrv",
        }
    }
}

/// Every metric of the service, cheap to clone (prometheus handles are `Arc`s).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `greenos_http_requests_total{method,route,status}`.
    pub http_requests_total: IntCounterVec,
    /// `greenos_http_request_duration_seconds{method,route}`.
    pub http_request_duration_seconds: HistogramVec,
    /// `greenos_graphql_request_duration_seconds{operation,root_field}`: GraphQL latency by
    /// operation type (`query`, `mutation`) and the first root field.
    pub graphql_request_duration_seconds: HistogramVec,
    /// `greenos_db_statements_total{outcome}`: SQL statements sent through the ORM (`ok` or
    /// `error`).
    pub db_statements_total: IntCounterVec,
    /// `greenos_db_statement_duration_seconds`: their latency.
    pub db_statement_duration_seconds: Histogram,
    /// `greenos_http_timeouts_total{phase}`: connections closed because a client sent its
    /// request head (`header`) or body (`body`) too slowly.
    pub http_timeouts_total: IntCounterVec,
    /// `greenos_mrv_methodology_version_active{methodology_version}`: 1 for the ACTIVE version.
    pub mrv_methodology_version_active: IntGaugeVec,
    /// `greenos_ingest_trips_total{result}`: `accepted`, `duplicate` or `rejected`.
    pub ingest_trips_total: IntCounterVec,
    /// `greenos_ingest_batches_total`: ingest requests or file batches processed.
    pub ingest_batches_total: IntCounter,
    /// `greenos_mrv_verification_failures_total{kind}`: verifications that failed, `kind` being
    /// `trip` (an impact) or `mrv` (an export).
    pub mrv_verification_failures_total: IntCounterVec,
    /// `greenos_mrv_exports_total`: MRV exports generated.
    pub mrv_exports_total: IntCounter,
    /// `greenos_outbox_pending`: events waiting for publication (refreshed every relay cycle).
    pub outbox_pending: IntGauge,
    /// `greenos_outbox_published_total`: events written to their stream.
    pub outbox_published_total: IntCounter,
    /// `greenos_outbox_retry_total`: publications refused by a stream, to be retried.
    pub outbox_retry_total: IntCounter,
    /// `greenos_outbox_failed_total`: events dead-lettered after their retries.
    pub outbox_failed_total: IntCounter,
    /// `greenos_outbox_publish_delay_seconds`: from commit to publication.
    pub outbox_publish_delay_seconds: Histogram,
    /// `greenos_mrv_export_failures_total{reason}`: scheduled exports that failed, by error code.
    pub mrv_export_failures_total: IntCounterVec,
    /// `greenos_mrv_methodology_mismatch_total`: export verifications whose methodology binding
    /// failed.
    pub mrv_methodology_mismatch_total: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let http_requests_total = IntCounterVec::new(
            Opts::new(
                "greenos_http_requests_total",
                "HTTP requests answered, by route and status.",
            ),
            &["method", "route", "status"],
        )?;
        let http_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "greenos_http_request_duration_seconds",
                "HTTP request latency in seconds, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let graphql_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "greenos_graphql_request_duration_seconds",
                "GraphQL request latency in seconds, by operation type and root field.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation", "root_field"],
        )?;
        registry.register(Box::new(graphql_request_duration_seconds.clone()))?;
        let db_statements_total = IntCounterVec::new(
            Opts::new(
                "greenos_db_statements_total",
                "SQL statements sent through the ORM, by outcome (ok, error).",
            ),
            &["outcome"],
        )?;
        for outcome in ["ok", "error"] {
            db_statements_total.with_label_values(&[outcome]);
        }
        let db_statement_duration_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "greenos_db_statement_duration_seconds",
                "Latency of SQL statements sent through the ORM, in seconds.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(db_statements_total.clone()))?;
        registry.register(Box::new(db_statement_duration_seconds.clone()))?;
        let http_timeouts_total = IntCounterVec::new(
            Opts::new(
                "greenos_http_timeouts_total",
                "Connections closed because the client sent its request head or body too slowly, by phase.",
            ),
            &["phase"],
        )?;
        for phase in ["header", "body"] {
            http_timeouts_total.with_label_values(&[phase]);
        }
        registry.register(Box::new(http_timeouts_total.clone()))?;
        registry.register(Box::new(http_requests_total.clone()))?;
        registry.register(Box::new(http_request_duration_seconds.clone()))?;
        let mrv_methodology_version_active = IntGaugeVec::new(
            Opts::new(
                "greenos_mrv_methodology_version_active",
                "1 for the ACTIVE methodology version, 0 for the other known versions.",
            ),
            &["methodology_version"],
        )?;
        registry.register(Box::new(mrv_methodology_version_active.clone()))?;
        let ingest_trips_total = IntCounterVec::new(
            Opts::new(
                "greenos_ingest_trips_total",
                "Trips submitted for ingestion, by result (accepted, duplicate, rejected).",
            ),
            &["result"],
        )?;
        for result in ["accepted", "duplicate", "rejected"] {
            ingest_trips_total.with_label_values(&[result]);
        }
        let ingest_batches_total = IntCounter::new(
            "greenos_ingest_batches_total",
            "Ingest requests and bulk-file batches processed.",
        )?;
        let mrv_verification_failures_total = IntCounterVec::new(
            Opts::new(
                "greenos_mrv_verification_failures_total",
                "Verifications that found a tampered payload or a bad signature, by kind (trip, mrv).",
            ),
            &["kind"],
        )?;
        for kind in [VerificationKind::Trip, VerificationKind::Mrv] {
            mrv_verification_failures_total.with_label_values(&[kind.as_str()]);
        }
        registry.register(Box::new(ingest_trips_total.clone()))?;
        registry.register(Box::new(ingest_batches_total.clone()))?;
        registry.register(Box::new(mrv_verification_failures_total.clone()))?;
        let mrv_exports_total =
            IntCounter::new("greenos_mrv_exports_total", "MRV exports generated.")?;
        let mrv_methodology_mismatch_total = IntCounter::new(
            "greenos_mrv_methodology_mismatch_total",
            "MRV export verifications whose methodology binding did not hold.",
        )?;
        registry.register(Box::new(mrv_exports_total.clone()))?;
        let outbox_pending = IntGauge::new(
            "greenos_outbox_pending",
            "Outbox events waiting for publication.",
        )?;
        let outbox_published_total = IntCounter::new(
            "greenos_outbox_published_total",
            "Outbox events written to their Redis stream.",
        )?;
        let outbox_retry_total = IntCounter::new(
            "greenos_outbox_retry_total",
            "Outbox publications refused by their stream and scheduled again.",
        )?;
        let outbox_failed_total = IntCounter::new(
            "greenos_outbox_failed_total",
            "Outbox events copied to the dead-letter stream after their retries.",
        )?;
        let outbox_publish_delay_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "greenos_outbox_publish_delay_seconds",
                "Delay from an event's commit to its publication, in seconds.",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
        )?;
        registry.register(Box::new(outbox_pending.clone()))?;
        registry.register(Box::new(outbox_published_total.clone()))?;
        registry.register(Box::new(outbox_retry_total.clone()))?;
        registry.register(Box::new(outbox_failed_total.clone()))?;
        registry.register(Box::new(outbox_publish_delay_seconds.clone()))?;
        let mrv_export_failures_total = IntCounterVec::new(
            Opts::new(
                "greenos_mrv_export_failures_total",
                "Scheduled MRV exports that failed, by reason (the error code).",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(mrv_export_failures_total.clone()))?;
        registry.register(Box::new(mrv_methodology_mismatch_total.clone()))?;
        Ok(Self {
            registry,
            http_requests_total,
            http_request_duration_seconds,
            graphql_request_duration_seconds,
            db_statements_total,
            db_statement_duration_seconds,
            http_timeouts_total,
            mrv_methodology_version_active,
            ingest_trips_total,
            ingest_batches_total,
            mrv_verification_failures_total,
            mrv_exports_total,
            mrv_export_failures_total,
            outbox_pending,
            outbox_published_total,
            outbox_retry_total,
            outbox_failed_total,
            outbox_publish_delay_seconds,
            mrv_methodology_mismatch_total,
        })
    }

    /// Counts one ingest request or file batch and the fate of its trips.
    pub fn record_ingest(&self, accepted: usize, duplicates: usize, rejected: usize) {
        self.ingest_batches_total.inc();
        for (result, count) in [
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("rejected", rejected),
        ] {
            self.ingest_trips_total
                .with_label_values(&[result])
                .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
        }
    }

    /// Counts one failed scheduled export.
    pub fn record_export_failure(&self, code: crate::error_code::ErrorCode) {
        self.mrv_export_failures_total
            .with_label_values(&[code.as_str()])
            .inc();
    }

    /// Counts one SQL statement and its latency.
    pub fn record_statement(&self, elapsed: std::time::Duration, failed: bool) {
        let outcome = if failed { "error" } else { "ok" };
        self.db_statements_total.with_label_values(&[outcome]).inc();
        self.db_statement_duration_seconds
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one connection closed for slowness in `phase` (`header` or `body`).
    pub fn record_http_timeout(&self, phase: &'static str) {
        self.http_timeouts_total.with_label_values(&[phase]).inc();
    }

    /// Counts one failed verification of `kind`.
    pub fn record_verification_failure(&self, kind: VerificationKind) {
        self.mrv_verification_failures_total
            .with_label_values(&[kind.as_str()])
            .inc();
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
