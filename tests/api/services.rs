//! The service layer seen from a door that is not HTTP (a job, a command): the same use case
//! gives the same impact, the same metrics and a correlation id of the recorded form.

use greenos_core::context::{CorrelationId, RequestContext};
use greenos_core::ledger::{Appended, parse_json_trip};
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(a_use_case_behaves_the_same_through_services_and_rest);

async fn a_use_case_behaves_the_same_through_services_and_rest(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let trip = parse_json_trip(trip_json("trip-job").to_string().as_bytes()).expect("valid trip");
    let ctx = RequestContext::system("test-job");
    let outcome = app
        .services
        .ledger()
        .ingest(&ctx, vec![trip.clone()])
        .await
        .expect("ingested");
    let Some(Appended::Accepted(impact)) = outcome.items.first() else {
        panic!("the trip was not accepted: {outcome:?}");
    };
    let recorded = impact.correlation_id.clone().expect("a correlation id");
    assert!(recorded.starts_with("test-job:"), "{recorded}");
    assert!(CorrelationId::parse(&recorded).is_some(), "{recorded}");

    let (status, body) = app.get_json("/api/v2/esg/impact/trip-job").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["event_hash"], impact.event_hash.as_str());
    assert_eq!(body["correlation_id"], recorded.as_str());

    // The same trip again through REST is the same duplicate the service layer would answer.
    let (status, replay) = app
        .post_json("/api/v2/esg/trips", &trip_json("trip-job"))
        .await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["event_hash"], impact.event_hash.as_str());
    let again = app
        .services
        .ledger()
        .ingest(&ctx, vec![trip])
        .await
        .expect("replayed");
    assert_eq!(again.duplicates(), 1);

    let metrics = app.metrics().await;
    let trips = |outcome: &str| metrics.sum("greenos_ingest_trips_total", &[("outcome", outcome)]);
    assert_eq!(trips("accepted"), 1.0, "{metrics}");
    assert_eq!(trips("duplicate"), 2.0, "{metrics}");
}
