//! Scheduled MRV exports: catch-up on start, exactly one export per window with several
//! workers, and a cron fire.

use std::time::Duration;

use greenos::app::AppState;
use greenos::config::Config;
use greenos_jobs::scheduler::ExportScheduler;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(a_cron_fire_exports_the_window_that_just_closed);

/// Waits (bounded) until `esg_mrv_exports` holds `count` rows.
async fn wait_for_exports(app: &TestApp, count: i64) -> i64 {
    let mut seen = 0;
    for _ in 0..120 {
        seen = app.count_rows("esg_mrv_exports").await;
        if seen >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    seen
}

fn at(trip_id: &str, when: &str) -> serde_json::Value {
    let mut trip = trip_json(trip_id);
    trip["event_timestamp"] = json!(when);
    trip
}

/// Two workers started at the same moment against one PostgreSQL, with three closed quarters
/// to catch up on: each quarter is exported exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_catch_up_each_window_exactly_once() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |vars| {
        vars.set("GREENOS_EXPORT_SCHEDULE", "3M")
            .set("GREENOS_EXPORT_CATCH_UP_FROM", "2026-01-01");
    })
    .await
    else {
        return;
    };
    let trips = json!([
        at("s-1", "2026-02-03T08:15:00Z"),
        at("s-2", "2026-05-03T08:15:00Z"),
        at("s-3", "2026-08-03T08:15:00Z"),
    ]);
    let (status, body) = app.post_json("/api/v2/esg/trips", &trips).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let config = Config::from_vars(&app.vars).expect("configuration");
    let (first, second) = tokio::join!(
        AppState::build(config.clone()),
        AppState::build(config.clone())
    );
    let (first, second) = (first.expect("worker 1"), second.expect("worker 2"));
    let (a, b) = tokio::join!(
        ExportScheduler::start(first.services.clone(), config.exports.clone()),
        ExportScheduler::start(second.services.clone(), config.exports.clone())
    );
    let (a, b) = (a.expect("scheduler 1"), b.expect("scheduler 2"));
    assert_eq!(wait_for_exports(&app, 3).await, 3);
    // Give a slow loser the time to (wrongly) add a fourth.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.count_rows("esg_mrv_exports").await, 3);
    a.shutdown().await;
    b.shutdown().await;
    let (_, list) = app.get_json("/api/v2/esg/mrv/export?limit=10").await;
    let mut ends: Vec<String> = list["exports"]
        .as_array()
        .expect("exports")
        .iter()
        .filter_map(|e| e["period_end"].as_str().map(|s| s[..10].to_owned()))
        .collect();
    ends.sort();
    assert_eq!(ends, ["2026-04-01", "2026-07-01", "2026-10-01"]);
    for export in list["exports"].as_array().into_iter().flatten() {
        assert_eq!(export["impacts_count"], 1, "{export}");
    }
}

/// A per-second cron fires and exports the quarter that closed last; the catch-up point lies
/// after every closed window, so only the fire can have made it.
async fn a_cron_fire_exports_the_window_that_just_closed(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |vars| {
        vars.set("GREENOS_EXPORT_SCHEDULE", "3M")
            .set("GREENOS_EXPORT_CRON_3M", "* * * * * *")
            .set("GREENOS_EXPORT_CATCH_UP_FROM", "2999-01-01");
    })
    .await
    else {
        return;
    };
    let config = Config::from_vars(&app.vars).expect("configuration");
    let scheduler = ExportScheduler::start(app.services.clone(), config.exports.clone())
        .await
        .expect("scheduler");
    let exported = wait_for_exports(&app, 1).await;
    scheduler.shutdown().await;
    assert_eq!(exported, 1);
    let (_, list) = app.get_json("/api/v2/esg/mrv/export?limit=10").await;
    let latest = greenos_core::mrv::ExportWindow::latest_closed(
        greenos_core::mrv::Period::ThreeMonths,
        greenos_core::proof::UtcMicros::now(),
    )
    .expect("a closed quarter");
    assert_eq!(
        list["exports"][0]["period_end"],
        latest.period_end.to_string()
    );
    // The following fires find the window exported and add nothing.
    assert_eq!(app.count_rows("esg_mrv_exports").await, 1);
}

/// A bad cron expression stops the worker with the variable's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_cron_expression_is_refused_with_its_variable() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |vars| {
        vars.set("GREENOS_EXPORT_SCHEDULE", "6M")
            .set("GREENOS_EXPORT_CRON_6M", "every half year");
    })
    .await
    else {
        return;
    };
    let config = Config::from_vars(&app.vars).expect("configuration");
    let err = ExportScheduler::start(app.services.clone(), config.exports)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("GREENOS_EXPORT_CRON_6M"), "{err}");
}
