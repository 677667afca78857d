//! N+1 free: a page of 100 impacts with their methodology and 20 exports with theirs costs a
//! small, constant number of SQL statements, whatever the page sizes.

use serde_json::json;

use super::fixtures::{ingest, trip};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(a_dashboard_page_costs_a_constant_number_of_statements);

async fn statements(app: &TestApp) -> f64 {
    app.metrics()
        .await
        .value("greenos_db_statements_total", &[("outcome", "ok")])
        .unwrap_or_default()
}

async fn a_dashboard_page_costs_a_constant_number_of_statements(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let trips: Vec<_> = (0..100)
        .map(|i| {
            trip(
                &format!("n-{i:03}"),
                ["CI", "KE", "SN"][i % 3],
                "2026-02-03T08:15:00Z",
                5.0,
            )
        })
        .collect();
    ingest(&app, &trips).await;
    for year in 2021..2026 {
        for quarter_end in ["04-01", "07-01", "10-01"] {
            let (status, body) = app
                .create_export("3M", &format!("{year}-{quarter_end}"))
                .await;
            assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        }
        let (status, body) = app
            .create_export("3M", &format!("{}-01-01", year + 1))
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    }
    let query = "{ impacts(first: 100) { edges { node { tripId methodology { methodologyVersion } } } }
                   exports(first: 20) { edges { node { exportId methodology { methodologyVersion } } } } }";
    let before = statements(&app).await;
    let data = app.graphql(query, json!({})).await;
    let spent = statements(&app).await - before;
    assert_eq!(data["impacts"]["edges"].as_array().map(Vec::len), Some(100));
    assert_eq!(data["exports"]["edges"].as_array().map(Vec::len), Some(20));
    // One page of impacts, one of exports, and the methodologies of both in batched, cached
    // loads. A loader batches what is asked within a millisecond: on a loaded machine the 120
    // lookups reach it over a few windows, and a window opened while the first load is still in
    // flight asks again. Without the loaders it would be 2 + 100 + 20.
    assert!(
        (2.0..=10.0).contains(&spent),
        "{spent} statements for one dashboard query"
    );
}
