//! The metrics GreenOS exports, registered in a registry the application owns (no globals).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric of the service, cheap to clone (prometheus handles are `Arc`s).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `greenos_http_requests_total{method,route,status}`.
    pub http_requests_total: IntCounterVec,
    /// `greenos_http_request_duration_seconds{method,route}`.
    pub http_request_duration_seconds: HistogramVec,
    /// `greenos_mrv_methodology_version_active{methodology_version}`: 1 for the ACTIVE version.
    pub mrv_methodology_version_active: IntGaugeVec,
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
        Ok(Self {
            registry,
            http_requests_total,
            http_request_duration_seconds,
            mrv_methodology_version_active,
        })
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
