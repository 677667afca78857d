//! The parser itself, on a small exposition: exact label sets, escapes, a histogram, and
//! malformed lines.

use super::Exposition;

const SAMPLE: &str = r#"# HELP greenos_http_requests_total HTTP requests answered,\nby route and status (a \\ too).
# TYPE greenos_http_requests_total counter
greenos_http_requests_total{method="GET",route="/health",status="200"} 3
greenos_http_requests_total{status="404",route="/a \"quoted\" \\ path\nline two",method="GET"} 1
# A comment the format ignores.

# HELP greenos_http_request_duration_seconds HTTP request latency in seconds, by route.
# TYPE greenos_http_request_duration_seconds histogram
greenos_http_request_duration_seconds_bucket{method="GET",route="/health",le="0.5"} 2
greenos_http_request_duration_seconds_bucket{method="GET",route="/health",le="+Inf"} 3
greenos_http_request_duration_seconds_sum{method="GET",route="/health"} 1.5e-3
greenos_http_request_duration_seconds_count{method="GET",route="/health"} 3
# TYPE greenos_mrv_exports_total counter
greenos_mrv_exports_total 10 1700000000000
	greenos_mrv_exports_ratio{kind="trip",} -Inf
greenos_mrv_exports_nan NaN
"#;

#[test]
fn samples_are_found_by_their_exact_label_set() {
    let exposition = Exposition::parse(SAMPLE).expect("a valid exposition");
    let requests = "greenos_http_requests_total";
    let health = [("method", "GET"), ("route", "/health"), ("status", "200")];
    assert_eq!(exposition.value(requests, &health), Some(3.0));
    let reordered = [("status", "200"), ("method", "GET"), ("route", "/health")];
    assert_eq!(exposition.value(requests, &reordered), Some(3.0));
    assert_eq!(
        exposition.value(requests, &[("method", "GET"), ("route", "/health")]),
        None,
        "a subset of the labels is another series"
    );
    assert_eq!(exposition.value(requests, &[]), None);
    assert_eq!(
        exposition.value("greenos_mrv_exports_total", &[]),
        Some(10.0)
    );
    assert_eq!(
        exposition.value("greenos_mrv_exports_ratio", &[("kind", "trip")]),
        Some(f64::NEG_INFINITY)
    );
    assert!(
        exposition
            .value("greenos_mrv_exports_nan", &[])
            .is_some_and(f64::is_nan)
    );
    assert_eq!(exposition.value("greenos_no_such_metric", &[]), None);
}

#[test]
fn label_values_and_help_are_unescaped() {
    let exposition = Exposition::parse(SAMPLE).expect("a valid exposition");
    let labels = [
        ("method", "GET"),
        ("route", "/a \"quoted\" \\ path\nline two"),
        ("status", "404"),
    ];
    assert_eq!(
        exposition.value("greenos_http_requests_total", &labels),
        Some(1.0)
    );
    assert_eq!(
        exposition.help_of("greenos_http_requests_total"),
        Some("HTTP requests answered,\nby route and status (a \\ too).")
    );
}

#[test]
fn histogram_series_belong_to_their_typed_family() {
    let exposition = Exposition::parse(SAMPLE).expect("a valid exposition");
    let family = "greenos_http_request_duration_seconds";
    assert_eq!(exposition.type_of(family), Some("histogram"));
    assert_eq!(
        exposition.type_of("greenos_http_requests_total"),
        Some("counter")
    );
    assert_eq!(exposition.type_of("greenos_mrv_exports_nan"), None);
    let route = [("method", "GET"), ("route", "/health")];
    let bucket = |le| [route[0], route[1], ("le", le)];
    let buckets = format!("{family}_bucket");
    assert_eq!(exposition.value(&buckets, &bucket("0.5")), Some(2.0));
    assert_eq!(exposition.value(&buckets, &bucket("+Inf")), Some(3.0));
    assert_eq!(exposition.value(&buckets, &route), None);
    assert_eq!(
        exposition.value(&format!("{family}_sum"), &route),
        Some(0.0015)
    );
    assert_eq!(
        exposition.value(&format!("{family}_count"), &route),
        Some(3.0)
    );
}

#[test]
fn malformed_expositions_are_refused() {
    for (text, why) in [
        ("m{a=\"x} 1", "an unterminated label value"),
        ("m{a=\"\\t\"} 1", "an unknown escape in a label value"),
        ("m{a=x} 1", "an unquoted label value"),
        ("m{a=\"1\",a=\"2\"} 1", "a label twice"),
        ("m{a=\"1\" b=\"2\"} 1", "labels without a comma"),
        ("m{1a=\"1\"} 1", "a label name starting with a digit"),
        ("m 1\nm 2", "the same series twice"),
        ("m", "no value"),
        ("m one", "a value that is not a number"),
        ("m 1 soon", "a timestamp that is not an integer"),
        ("m 1 2 3", "text after the timestamp"),
        ("m{a=\"1\"}1", "no blank before the value"),
        ("# TYPE m count", "an unknown type"),
        ("# TYPE m counter\n# TYPE m gauge", "a second # TYPE"),
        ("m 1\n# TYPE m counter", "# TYPE after a sample"),
        ("# HELP m a \\t tab", "an unknown escape in a # HELP"),
    ] {
        assert!(Exposition::parse(text).is_err(), "{why}: {text:?}");
    }
}
