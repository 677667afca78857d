//! Bounds on what a client may ask for: timestamps GreenOS can record, windows that have
//! closed, and idempotency decided before the factors are looked up.

use chrono::{Datelike, Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    event_timestamps_outside_the_ledger_range_are_refused,
    only_closed_windows_are_exported,
    a_replayed_trip_is_answered_before_its_factors_are_looked_up,
);

fn trip_at(trip_id: &str, at: &str) -> Value {
    let mut trip = trip_json(trip_id);
    trip["event_timestamp"] = json!(at);
    trip
}

async fn event_timestamps_outside_the_ledger_range_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let in_an_hour = (Utc::now() + Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    for at in [
        "9999-12-31T23:59:59-01:00",
        "0000-01-01T00:00:00+01:00",
        "1999-12-31T23:59:59Z",
        in_an_hour.as_str(),
    ] {
        let (status, body) = app
            .post_json("/api/v2/esg/trips", &trip_at("trip-when", at))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{at}: {body}");
        assert_eq!(body["error"]["code"], "GREENOS_VALIDATION_FAILED", "{at}");
        assert_eq!(
            body["error"]["details"]["errors"][0]["field"], "event_timestamp",
            "{at}: {body}"
        );
    }
    // One bad trip refuses its whole batch.
    let batch = json!([trip_json("trip-ok"), trip_at("trip-late", &in_an_hour)]);
    let (status, body) = app.post_json("/api/v2/esg/trips", &batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["errors"][0]["index"], 1, "{body}");
    assert_eq!(app.count_rows("esg_impact_ledger").await, 0);
    let in_a_minute =
        (Utc::now() + Duration::seconds(60)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (status, body) = app
        .post_json("/api/v2/esg/trips", &trip_at("trip-skew", &in_a_minute))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "clock skew is tolerated: {body}"
    );
}

async fn only_closed_windows_are_exported(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let next_year = format!("{}-01-01", Utc::now().year() + 1);
    for (period, end) in [("12M", next_year.as_str()), ("3M", "2030-01-01")] {
        let (status, body) = app.create_export(period, end).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{period} {end}: {body}"
        );
        assert_eq!(
            body["error"]["code"], "GREENOS_MRV_PERIOD_NOT_CLOSED",
            "{body}"
        );
    }
    for (period, end) in [
        ("3M", "0000-01-01"),
        ("3M", "2000-01-01"),
        ("12M", "+10000-01-01T00:00:00Z"),
    ] {
        let (status, body) = app.create_export(period, end).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{period} {end}: {body}"
        );
        assert_eq!(
            body["error"]["code"], "GREENOS_MRV_INVALID_PERIOD",
            "{body}"
        );
    }
    assert_eq!(app.count_rows("esg_mrv_exports").await, 0);
    let (status, body) = app.create_export("3M", "2000-04-01").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the first window GreenOS covers: {body}"
    );
}

async fn a_replayed_trip_is_answered_before_its_factors_are_looked_up(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, recorded) = app
        .post_json("/api/v2/esg/trips", &trip_json("trip-ci"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    // A methodology that no longer covers CI becomes ACTIVE.
    let senegal_only = json!({
        "methodology_version": "sn-only-2027",
        "baseline_reference": "thermal baseline",
        "factor_references": ["IPCC 2006 Vol. 2 Ch. 3"],
        "geographic_scope": ["SN"],
        "country_factors": {"SN": {"thermal_factor_local": "0.19", "ev_factor_local": "0.07"}},
        "formula": "co2_avoided_kg = distance_km * (thermal_factor_local - ev_factor_local)",
        "rounding": "half_even_6dp"
    });
    let (status, body) = app
        .post_json("/api/v2/esg/mrv/methodology", &senegal_only)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post_json(
            "/api/v2/esg/mrv/methodology/sn-only-2027/activate",
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, replay) = app
        .post_json("/api/v2/esg/trips", &trip_json("trip-ci"))
        .await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay, recorded);

    let (status, body) = app
        .post_json("/api/v2/esg/trips", &trip_json("trip-ci-new"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["code"],
        "GREENOS_COUNTRY_FACTOR_NOT_CONFIGURED"
    );

    let mut senegal = trip_json("trip-sn");
    senegal["country_code"] = json!("SN");
    let (status, body) = app
        .post_json("/api/v2/esg/trips", &json!([trip_json("trip-ci"), senegal]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["accepted"].clone(), body["duplicates"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 2);
}
