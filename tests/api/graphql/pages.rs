//! Keyset pagination over a few thousand impacts, both ways, and exact totals.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::fixtures::{exported_quarter, ingest, trip};
use crate::helpers::{Backend, TestApp, graphql_code};
use crate::on_both_backends;

on_both_backends!(
    a_walk_over_2500_impacts_meets_each_once_both_ways,
    totals_are_exact_and_equal_an_exports_aggregation,
    exports_page_newest_first_both_ways
);

const IMPACTS: usize = 2500;

async fn page(app: &TestApp, args: &str, order: &str) -> Value {
    let data = app
        .graphql(
            &format!(
                "{{ impacts({args} orderBy: {order}) {{ totalCount
                   pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                   edges {{ cursor node {{ tripId ledgerSeq eventTimestamp }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    data["impacts"].clone()
}

fn trip_ids(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["node"]["tripId"].as_str().map(str::to_owned))
        .collect()
}

async fn a_walk_over_2500_impacts_meets_each_once_both_ways(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let trips: Vec<Value> = (0..IMPACTS)
        .map(|i| {
            // Timestamps repeat, so ties are broken by ledger_seq.
            let at = format!("2026-02-{:02}T10:00:00Z", 1 + i % 20);
            trip(
                &format!("w-{i:05}"),
                ["CI", "KE", "SN"][i % 3],
                &at,
                1.0 + i as f64,
            )
        })
        .collect();
    ingest(&app, &trips).await;
    for order in ["LEDGER_SEQ_ASC", "EVENT_TIMESTAMP_DESC"] {
        let mut forward = Vec::new();
        let mut after = String::new();
        loop {
            let page = page(&app, &format!("first: 1000 {after}"), order).await;
            assert_eq!(page["totalCount"], IMPACTS);
            forward.extend(trip_ids(&page));
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = format!("after: {}", page["pageInfo"]["endCursor"]);
        }
        assert_eq!(forward.len(), IMPACTS, "{order}");
        assert_eq!(
            forward.iter().collect::<BTreeSet<_>>().len(),
            IMPACTS,
            "{order}"
        );
        let mut backward = Vec::new();
        let mut before = String::new();
        loop {
            let page = page(&app, &format!("last: 700 {before}"), order).await;
            let mut ids = trip_ids(&page);
            ids.extend(backward);
            backward = ids;
            if page["pageInfo"]["hasPreviousPage"] != true {
                break;
            }
            before = format!("before: {}", page["pageInfo"]["startCursor"]);
        }
        assert_eq!(
            backward, forward,
            "{order}: backward pages meet the same impacts in order"
        );
    }
    let first = page(&app, "first: 3", "LEDGER_SEQ_ASC").await;
    assert_eq!(trip_ids(&first), ["w-00000", "w-00001", "w-00002"]);
    let filtered = app
        .graphql(
            "{ impacts(first: 5, filter: {countryCodes: [\"KE\"], from: \"2026-02-02T00:00:00Z\", to: \"2026-02-03T00:00:00Z\"}) {
                 totalCount edges { node { countryCode eventTimestamp } } } }",
            json!({}),
        )
        .await;
    let expected = (0..IMPACTS).filter(|i| i % 3 == 1 && i % 20 == 1).count();
    assert_eq!(filtered["impacts"]["totalCount"], expected);

    // A cursor of another order, a forged one, or a page too large is refused, not a 500.
    let cursor = first["pageInfo"]["endCursor"].clone();
    for args in [
        format!("first: 10 after: {cursor} orderBy: EVENT_TIMESTAMP_ASC"),
        "first: 10 after: \"bm90LWEtY3Vyc29y\"".to_owned(),
        "first: 5000".to_owned(),
        "first: 10 last: 10".to_owned(),
    ] {
        let (_, body) = app
            .graphql_as(
                None,
                &format!("{{ impacts({args}) {{ totalCount }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(
            graphql_code(&body),
            Some("GREENOS_VALIDATION_FAILED"),
            "{args}: {body}"
        );
    }
}

async fn totals_are_exact_and_equal_an_exports_aggregation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let export_id = exported_quarter(&app).await;
    let artifact = app.export_artifact(&export_id).await;
    let aggregation = &artifact["payload"]["aggregation"];
    let window = "filter: {from: \"2026-01-01T00:00:00Z\", to: \"2026-04-01T00:00:00Z\"}";
    let data = app
        .graphql(
            &format!(
                "{{ all: impactTotals({window}) {{ impactsCount totalDistanceKm totalCo2AvoidedKg }}
                   byCountry: impactTotals({window}, groupBy: [COUNTRY]) {{ countryCode impactsCount totalDistanceKm totalCo2AvoidedKg }}
                   byMonth: impactTotals({window}, groupBy: [COUNTRY, MONTH]) {{ countryCode month impactsCount }}
                   byQuarter: impactTotals(groupBy: [QUARTER, YEAR]) {{ quarter year impactsCount }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(data["all"][0]["impactsCount"], aggregation["impacts_count"]);
    assert_eq!(
        data["all"][0]["totalDistanceKm"],
        aggregation["total_distance_km"]
    );
    assert_eq!(
        data["all"][0]["totalCo2AvoidedKg"],
        aggregation["total_co2_avoided_kg"]
    );
    for row in data["byCountry"].as_array().expect("rows") {
        let country = row["countryCode"].as_str().expect("country");
        let expected = &aggregation["by_country"][country];
        assert_eq!(row["impactsCount"], expected["impacts_count"], "{country}");
        assert_eq!(
            row["totalCo2AvoidedKg"], expected["total_co2_avoided_kg"],
            "{country}"
        );
    }
    assert_eq!(
        data["byMonth"],
        json!([
            {"countryCode": "CI", "month": "2026-01", "impactsCount": 1},
            {"countryCode": "CI", "month": "2026-02", "impactsCount": 1},
            {"countryCode": "CI", "month": "2026-03", "impactsCount": 1},
            {"countryCode": "KE", "month": "2026-01", "impactsCount": 1},
            {"countryCode": "KE", "month": "2026-03", "impactsCount": 1},
            {"countryCode": "SN", "month": "2026-02", "impactsCount": 1},
        ])
    );
    assert_eq!(
        data["byQuarter"],
        json!([{"quarter": "2026-Q1", "year": "2026", "impactsCount": 6}])
    );
}

async fn exports_page_newest_first_both_ways(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for year in 2010..2017 {
        let (status, body) = app.create_export("12M", &format!("{year}-01-01")).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    }
    let (status, body) = app.create_export("3M", "2020-04-01").await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let query = |args: String| {
        format!(
            "{{ exports(period: \"12M\" {args}) {{ pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
               edges {{ node {{ periodEnd }} }} }} }}"
        )
    };
    let ends = |page: &Value| -> Vec<String> {
        page["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["node"]["periodEnd"].as_str().map(str::to_owned))
            .collect()
    };
    let mut forward = Vec::new();
    let mut after = String::new();
    loop {
        let data = app
            .graphql(&query(format!("first: 3 {after}")), json!({}))
            .await;
        let page = &data["exports"];
        forward.extend(ends(page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = format!("after: {}", page["pageInfo"]["endCursor"]);
    }
    assert_eq!(forward.len(), 7, "{forward:?}");
    let data = app
        .graphql(
            "{ twelve: exports(period: \"12M\") { totalCount } all: exports { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (
            data["twelve"]["totalCount"].clone(),
            data["all"]["totalCount"].clone()
        ),
        (json!(7), json!(8))
    );
    let mut backward: Vec<String> = Vec::new();
    let mut before = String::new();
    loop {
        let data = app
            .graphql(&query(format!("last: 3 {before}")), json!({}))
            .await;
        let page = &data["exports"];
        let mut ids = ends(page);
        ids.extend(backward);
        backward = ids;
        if page["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = format!("before: {}", page["pageInfo"]["startCursor"]);
    }
    assert_eq!(backward, forward);
    let (_, body) = app
        .graphql_as(
            None,
            "{ exports(after: \"forged\") { pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        graphql_code(&body),
        Some("GREENOS_VALIDATION_FAILED"),
        "{body}"
    );
}
