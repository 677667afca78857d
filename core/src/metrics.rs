//! The metrics GreenOS exports (SPEC §16; `docs/observability.md` lists them), registered in a
//! registry the application owns (no globals). Every label takes a bounded set of values: a
//! route template, an operation type, a check, an error code, a period, a secret's name.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::context::Door;
use crate::proof::UtcMicros;
use crate::secrets::{SecretStatus, SecretsReport};

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Export build time buckets in seconds, from 10 ms to 10 minutes.
const EXPORT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Impacts-per-export buckets, from 10 to 10 million.
const IMPACT_BUCKETS: &[f64] = &[10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7];

/// Commit-to-publication delay buckets in seconds.
const DELAY_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// What a verification checked: the `kind` label.
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

/// The first check a failed verification failed, in SPEC §9's order: the `check` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedCheck {
    /// The payload: its hash, its checksum or the non-double-counting proof.
    Payload,
    /// The HMAC-SHA256 signature.
    Signature,
    /// The Ed25519 signature.
    AsymSignature,
    /// The binding to the methodology registry.
    Methodology,
}

impl FailedCheck {
    /// Every check, in label order.
    pub const ALL: [FailedCheck; 4] = [
        Self::Payload,
        Self::Signature,
        Self::AsymSignature,
        Self::Methodology,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payload => "payload",
            Self::Signature => "signature",
            Self::AsymSignature => "asym_signature",
            Self::Methodology => "methodology",
        }
    }
}

/// Every metric of the service, cheap to clone (prometheus handles are `Arc`s).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests_total: IntCounterVec,
    http_request_duration_seconds: HistogramVec,
    http_timeouts_total: IntCounterVec,
    graphql_request_duration_seconds: HistogramVec,
    db_statements_total: IntCounterVec,
    db_statement_duration_seconds: Histogram,
    ingest_trips_total: IntCounterVec,
    ingest_batches_total: IntCounterVec,
    verifications_total: IntCounterVec,
    verification_failures_total: IntCounterVec,
    verification_duration_seconds: HistogramVec,
    methodology_mismatch_total: IntCounter,
    methodology_version_active: IntGaugeVec,
    methodology_active_age_seconds: IntGauge,
    /// When the ACTIVE methodology was activated (Unix seconds; `i64::MIN` for none): the age
    /// gauge is computed from it at each scrape, so it never goes stale.
    methodology_activated_at: Arc<AtomicI64>,
    exports_total: IntCounterVec,
    export_failures_total: IntCounterVec,
    export_duration_seconds: HistogramVec,
    export_impacts: HistogramVec,
    export_overdue_seconds: IntGaugeVec,
    outbox_pending: IntGauge,
    outbox_published_total: IntCounter,
    outbox_retry_total: IntCounter,
    outbox_failed_total: IntCounter,
    outbox_publish_delay_seconds: Histogram,
    stream_dlq_length: IntGauge,
    stream_consumer_pending: IntGauge,
    stream_consumer_lag: IntGauge,
    log_leaves_total: IntCounter,
    log_tree_size: IntGauge,
    log_integration_duration_seconds: Histogram,
    log_integrator_yields_total: IntCounter,
    secret_status: IntGaugeVec,
    build_info: IntGaugeVec,
}

/// Registers one collector and hands it back.
fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
    register(registry, IntCounter::new(name, help)?)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    register(registry, IntGauge::new(name, help)?)
}

fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, prometheus::Error> {
    register(registry, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> Result<HistogramVec, prometheus::Error> {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(registry, HistogramVec::new(opts, labels)?)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
) -> Result<Histogram, prometheus::Error> {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(registry, Histogram::with_opts(opts)?)
}

/// `"2xx"` for 204, and so on.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Metrics {
    /// Creates and registers every metric; the labelled counters a dashboard or an alert reads
    /// start at zero for every label value known in advance, so `rate()` and `increase()` see
    /// their first increment.
    pub fn new() -> Result<Self, prometheus::Error> {
        let r = Registry::new();
        let metrics = Self {
            http_requests_total: counter_vec(
                &r,
                "greenos_http_requests_total",
                "HTTP requests answered, by method, route template and status code.",
                &["method", "route", "status"],
            )?,
            http_request_duration_seconds: histogram_vec(
                &r,
                "greenos_http_request_duration_seconds",
                "HTTP request latency in seconds, by method, route template and status class.",
                LATENCY_BUCKETS,
                &["method", "route", "status_class"],
            )?,
            http_timeouts_total: counter_vec(
                &r,
                "greenos_http_timeouts_total",
                "Connections closed because the client sent its request head or body too slowly, by phase.",
                &["phase"],
            )?,
            graphql_request_duration_seconds: histogram_vec(
                &r,
                "greenos_graphql_request_duration_seconds",
                "GraphQL request latency in seconds, by operation type and first root field.",
                LATENCY_BUCKETS,
                &["operation", "root_field"],
            )?,
            db_statements_total: counter_vec(
                &r,
                "greenos_db_statements_total",
                "SQL statements sent through the ORM, by outcome (ok, error).",
                &["outcome"],
            )?,
            db_statement_duration_seconds: histogram(
                &r,
                "greenos_db_statement_duration_seconds",
                "Latency of SQL statements sent through the ORM, in seconds.",
                LATENCY_BUCKETS,
            )?,
            ingest_trips_total: counter_vec(
                &r,
                "greenos_ingest_trips_total",
                "Trips submitted for ingestion, by outcome (accepted, duplicate, rejected) and door (http, graphql, file, stream, system).",
                &["outcome", "source"],
            )?,
            ingest_batches_total: counter_vec(
                &r,
                "greenos_ingest_batches_total",
                "Ingest requests, file batches and stream batches processed, by door.",
                &["source"],
            )?,
            verifications_total: counter_vec(
                &r,
                "greenos_mrv_verifications_total",
                "Verifications performed, by kind (trip, mrv).",
                &["kind"],
            )?,
            verification_failures_total: counter_vec(
                &r,
                "greenos_mrv_verification_failures_total",
                "Verifications that failed, by kind (trip, mrv) and first failed check (payload, signature, asym_signature, methodology).",
                &["kind", "check"],
            )?,
            verification_duration_seconds: histogram_vec(
                &r,
                "greenos_mrv_verification_duration_seconds",
                "Verification latency in seconds, by kind (trip, mrv).",
                LATENCY_BUCKETS,
                &["kind"],
            )?,
            methodology_mismatch_total: counter(
                &r,
                "greenos_mrv_methodology_mismatch_total",
                "MRV export verifications whose methodology binding did not hold.",
            )?,
            methodology_version_active: gauge_vec(
                &r,
                "greenos_mrv_methodology_version_active",
                "1 for the ACTIVE methodology version, 0 for the other known versions.",
                &["methodology_version"],
            )?,
            methodology_active_age_seconds: gauge(
                &r,
                "greenos_mrv_methodology_active_age_seconds",
                "Seconds since the ACTIVE methodology version was activated (absent without one).",
            )?,
            methodology_activated_at: Arc::new(AtomicI64::new(i64::MIN)),
            exports_total: counter_vec(
                &r,
                "greenos_mrv_exports_total",
                "MRV exports generated, by period (3M, 6M, 12M).",
                &["period"],
            )?,
            export_failures_total: counter_vec(
                &r,
                "greenos_mrv_export_failures_total",
                "Scheduled MRV exports that failed, by reason (the error code).",
                &["reason"],
            )?,
            export_duration_seconds: histogram_vec(
                &r,
                "greenos_mrv_export_duration_seconds",
                "Time to build and store an MRV export, in seconds, by period.",
                EXPORT_BUCKETS,
                &["period"],
            )?,
            export_impacts: histogram_vec(
                &r,
                "greenos_mrv_export_impacts",
                "Impacts in each MRV export, by period.",
                IMPACT_BUCKETS,
                &["period"],
            )?,
            export_overdue_seconds: gauge_vec(
                &r,
                "greenos_mrv_export_overdue_seconds",
                "0 when the last closed window of a scheduled period has its export, else the seconds since it closed.",
                &["period"],
            )?,
            log_leaves_total: counter(
                &r,
                "greenos_log_leaves_total",
                "Ledger rows appended to the transparency log.",
            )?,
            log_tree_size: gauge(
                &r,
                "greenos_log_tree_size",
                "Leaves in the transparency log's latest signed checkpoint.",
            )?,
            log_integration_duration_seconds: histogram(
                &r,
                "greenos_log_integration_duration_seconds",
                "Duration of one transparency-log integration (append, hash, sign, commit), in seconds.",
                LATENCY_BUCKETS,
            )?,
            log_integrator_yields_total: counter(
                &r,
                "greenos_log_integrator_yields_total",
                "Integration periods the transparency-log integrator skipped because ledger appends kept the process busy.",
            )?,
            outbox_pending: gauge(
                &r,
                "greenos_outbox_pending",
                "Outbox events waiting for publication.",
            )?,
            outbox_published_total: counter(
                &r,
                "greenos_outbox_published_total",
                "Outbox events written to their Redis stream.",
            )?,
            outbox_retry_total: counter(
                &r,
                "greenos_outbox_retry_total",
                "Outbox publications refused by their stream and scheduled again.",
            )?,
            outbox_failed_total: counter(
                &r,
                "greenos_outbox_failed_total",
                "Outbox events copied to the dead-letter stream after their retries.",
            )?,
            outbox_publish_delay_seconds: histogram(
                &r,
                "greenos_outbox_publish_delay_seconds",
                "Delay from an event's commit to its publication, in seconds.",
                DELAY_BUCKETS,
            )?,
            stream_dlq_length: gauge(
                &r,
                "greenos_stream_dlq_length",
                "Entries in the dead-letter stream.",
            )?,
            stream_consumer_pending: gauge(
                &r,
                "greenos_stream_consumer_pending",
                "trip_completed.v1 entries delivered to the consumer group and not yet acknowledged.",
            )?,
            stream_consumer_lag: gauge(
                &r,
                "greenos_stream_consumer_lag",
                "trip_completed.v1 entries not yet delivered to the consumer group.",
            )?,
            secret_status: gauge_vec(
                &r,
                "greenos_secret_status",
                "1 for the current status (OK, MISSING, INVALID) of each critical secret, 0 for the others; never a value.",
                &["secret", "status"],
            )?,
            build_info: gauge_vec(
                &r,
                "greenos_build_info",
                "Always 1: the running version and environment.",
                &["version", "environment"],
            )?,
            registry: r,
        };
        for outcome in ["ok", "error"] {
            metrics.db_statements_total.with_label_values(&[outcome]);
        }
        for phase in ["header", "body"] {
            metrics.http_timeouts_total.with_label_values(&[phase]);
        }
        for door in Door::INGEST {
            metrics
                .ingest_batches_total
                .with_label_values(&[door.as_str()]);
            for outcome in ["accepted", "duplicate", "rejected"] {
                metrics
                    .ingest_trips_total
                    .with_label_values(&[outcome, door.as_str()]);
            }
        }
        for kind in [VerificationKind::Trip, VerificationKind::Mrv] {
            metrics
                .verifications_total
                .with_label_values(&[kind.as_str()]);
            for check in FailedCheck::ALL {
                metrics
                    .verification_failures_total
                    .with_label_values(&[kind.as_str(), check.as_str()]);
            }
        }
        for period in crate::mrv::Period::ALL {
            metrics.exports_total.with_label_values(&[period.as_str()]);
        }
        // What a scheduled export fails with: an incomplete or missing methodology, the
        // database unavailable, anything else.
        for code in [
            crate::error_code::ErrorCode::MethodologyInvalid,
            crate::error_code::ErrorCode::Unavailable,
            crate::error_code::ErrorCode::Internal,
        ] {
            metrics
                .export_failures_total
                .with_label_values(&[code.as_str()]);
        }
        Ok(metrics)
    }

    /// Sets `greenos_build_info{version, environment}`.
    pub fn set_build_info(&self, version: &str, environment: &str) {
        self.build_info.reset();
        self.build_info
            .with_label_values(&[version, environment])
            .set(1);
    }

    /// Sets `greenos_secret_status{secret, status}` from a report: 1 for each secret's status,
    /// 0 for its other statuses.
    pub fn set_secrets(&self, report: &SecretsReport) {
        for (secret, status) in &report.secrets {
            for known in [
                SecretStatus::Ok,
                SecretStatus::Missing,
                SecretStatus::Invalid,
            ] {
                self.secret_status
                    .with_label_values(&[secret.as_str(), known.as_str()])
                    .set(i64::from(known == *status));
            }
        }
    }

    /// Counts one HTTP request and its latency.
    pub fn record_http(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_request_duration_seconds
            .with_label_values(&[method, route, status_class(status)])
            .observe(elapsed.as_secs_f64());
        self.http_requests_total
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
    }

    /// Counts one connection closed for slowness in `phase` (`header` or `body`).
    pub fn record_http_timeout(&self, phase: &'static str) {
        self.http_timeouts_total.with_label_values(&[phase]).inc();
    }

    /// Records one GraphQL request's latency.
    pub fn record_graphql(&self, operation: &str, root_field: &str, elapsed: Duration) {
        self.graphql_request_duration_seconds
            .with_label_values(&[operation, root_field])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one SQL statement and its latency.
    pub fn record_statement(&self, elapsed: Duration, failed: bool) {
        let outcome = if failed { "error" } else { "ok" };
        self.db_statements_total.with_label_values(&[outcome]).inc();
        self.db_statement_duration_seconds
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one ingest request or batch that came through `door`, and the fate of its trips.
    pub fn record_ingest(&self, door: Door, accepted: usize, duplicates: usize, rejected: usize) {
        let source = door.as_str();
        self.ingest_batches_total.with_label_values(&[source]).inc();
        for (outcome, n) in [
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("rejected", rejected),
        ] {
            self.ingest_trips_total
                .with_label_values(&[outcome, source])
                .inc_by(count(n));
        }
    }

    /// How many trips have been accepted so far, through every door.
    pub fn trips_accepted(&self) -> u64 {
        Door::INGEST
            .iter()
            .map(|door| {
                self.ingest_trips_total
                    .with_label_values(&["accepted", door.as_str()])
                    .get()
            })
            .sum()
    }

    /// Counts one verification of `kind`, its latency, and the first check it failed.
    pub fn record_verification(
        &self,
        kind: VerificationKind,
        elapsed: Duration,
        failed: Option<FailedCheck>,
    ) {
        self.verifications_total
            .with_label_values(&[kind.as_str()])
            .inc();
        self.verification_duration_seconds
            .with_label_values(&[kind.as_str()])
            .observe(elapsed.as_secs_f64());
        if let Some(check) = failed {
            self.verification_failures_total
                .with_label_values(&[kind.as_str(), check.as_str()])
                .inc();
            if kind == VerificationKind::Mrv && check == FailedCheck::Methodology {
                self.methodology_mismatch_total.inc();
            }
        }
    }

    /// Sets the ACTIVE methodology gauges: 1 for `active`, 0 for each of `others`, and the
    /// activation time the age gauge counts from.
    pub fn set_methodologies<'a>(
        &self,
        active: Option<(&str, Option<UtcMicros>)>,
        others: impl IntoIterator<Item = &'a str>,
    ) {
        for version in others {
            self.methodology_version_active
                .with_label_values(&[version])
                .set(0);
        }
        let activated = match active {
            Some((version, activated_at)) => {
                self.methodology_version_active
                    .with_label_values(&[version])
                    .set(1);
                activated_at.map_or(i64::MIN, |at| at.as_datetime().timestamp())
            }
            None => i64::MIN,
        };
        self.methodology_activated_at
            .store(activated, Ordering::Relaxed);
    }

    /// Counts one stored export of `period`, its build time and its impacts.
    pub fn record_export(&self, period: &str, elapsed: Duration, impacts: u64) {
        self.exports_total.with_label_values(&[period]).inc();
        self.export_duration_seconds
            .with_label_values(&[period])
            .observe(elapsed.as_secs_f64());
        self.export_impacts
            .with_label_values(&[period])
            .observe(impacts as f64);
    }

    /// Counts one failed scheduled export.
    pub fn record_export_failure(&self, code: crate::error_code::ErrorCode) {
        self.export_failures_total
            .with_label_values(&[code.as_str()])
            .inc();
    }

    /// Sets how long the last closed window of `period` has waited for its export (0: it has
    /// one).
    pub fn set_export_overdue(&self, period: &str, overdue: Duration) {
        self.export_overdue_seconds
            .with_label_values(&[period])
            .set(i64::try_from(overdue.as_secs()).unwrap_or(i64::MAX));
    }

    /// Sets `greenos_outbox_pending`.
    pub fn set_outbox_pending(&self, pending: u64) {
        self.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Counts the events of one settled claim: each published one with its commit-to-publish
    /// delay, the refused ones to retry and the dead-lettered ones.
    pub fn record_outbox(&self, delays: &[Duration], retried: usize, failed: usize) {
        for delay in delays {
            self.outbox_publish_delay_seconds
                .observe(delay.as_secs_f64());
        }
        self.outbox_published_total.inc_by(count(delays.len()));
        self.outbox_retry_total.inc_by(count(retried));
        self.outbox_failed_total.inc_by(count(failed));
    }

    /// Counts one integration that appended `added` leaves and grew the tree to `size`.
    pub fn record_log_integration(&self, added: u64, size: u64, took: Duration) {
        self.log_leaves_total.inc_by(added);
        self.log_tree_size
            .set(i64::try_from(size).unwrap_or(i64::MAX));
        self.log_integration_duration_seconds
            .observe(took.as_secs_f64());
    }

    /// Counts one integration period skipped to let ingest run.
    pub fn record_log_yield(&self) {
        self.log_integrator_yields_total.inc();
    }

    /// How many integration periods were skipped to let ingest run so far.
    pub fn log_yields(&self) -> u64 {
        self.log_integrator_yields_total.get()
    }

    /// How many events have been published so far.
    pub fn outbox_published(&self) -> u64 {
        self.outbox_published_total.get()
    }

    /// Sets the stream gauges: the dead-letter stream's length, and the consumer group's
    /// pending count and lag (when the group exists).
    pub fn set_streams(&self, dlq_length: u64, pending: Option<u64>, lag: Option<u64>) {
        let value = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.stream_dlq_length.set(value(dlq_length));
        self.stream_consumer_pending
            .set(value(pending.unwrap_or(0)));
        self.stream_consumer_lag.set(value(lag.unwrap_or(0)));
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let activated = self.methodology_activated_at.load(Ordering::Relaxed);
        if activated != i64::MIN {
            let now = UtcMicros::now().as_datetime().timestamp();
            self.methodology_active_age_seconds
                .set(now.saturating_sub(activated).max(0));
        }
        let mut families = self.registry.gather();
        if activated == i64::MIN {
            families.retain(|f| f.name() != "greenos_mrv_methodology_active_age_seconds");
        }
        let mut buf = Vec::new();
        TextEncoder::new().encode(&families, &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_verifications_count_once_with_their_first_check() {
        let metrics = Metrics::new().expect("metrics register");
        metrics.record_verification(VerificationKind::Mrv, Duration::from_millis(3), None);
        metrics.record_verification(
            VerificationKind::Mrv,
            Duration::from_millis(3),
            Some(FailedCheck::Methodology),
        );
        let text = metrics.render().expect("metrics render");
        assert!(text.contains("greenos_mrv_verifications_total{kind=\"mrv\"} 2"));
        assert!(text.contains(
            "greenos_mrv_verification_failures_total{check=\"methodology\",kind=\"mrv\"} 1"
        ));
        assert!(text.contains("greenos_mrv_methodology_mismatch_total 1"));
        assert!(!text.contains("greenos_mrv_methodology_active_age_seconds"));
    }

    #[test]
    fn the_methodology_age_is_computed_at_each_scrape() {
        let metrics = Metrics::new().expect("metrics register");
        let day_ago = UtcMicros::truncating(chrono::Utc::now() - chrono::Duration::days(1));
        metrics.set_methodologies(Some(("v2", Some(day_ago))), ["v1"]);
        let text = metrics.render().expect("metrics render");
        let age: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix("greenos_mrv_methodology_active_age_seconds "))
            .and_then(|v| v.parse().ok())
            .expect("the age is exported");
        assert!((86_399..86_500).contains(&age), "{age}");
        assert!(
            text.contains("greenos_mrv_methodology_version_active{methodology_version=\"v1\"} 0")
        );
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
