//! `POST /api/v2/esg/trips`: strict input, exact computation, idempotency, all-or-nothing
//! batches, concurrency, and the outbox event written with each impact.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, trip_json};
use crate::on_both_backends;

on_both_backends!(
    one_trip_is_computed_signed_and_stored_with_its_event,
    every_bad_input_class_is_refused_and_nothing_is_written,
    malformed_bodies_media_types_and_sizes_get_the_envelope,
    a_country_without_factors_is_refused,
    a_replay_returns_the_existing_impact,
    different_content_for_a_known_trip_conflicts,
    concurrent_identical_submissions_write_one_row,
    overlapping_large_batches_write_each_trip_once,
    a_batch_is_all_or_nothing,
    a_batch_the_database_refuses_leaves_nothing_and_the_next_is_written,
    batches_answer_in_input_order_and_count_duplicates,
    json_lines_bodies_are_accepted,
    the_outbox_envelope_has_the_documented_shape,
);

const TRIPS: &str = "/api/v2/esg/trips";

/// A trip body with one field replaced by raw JSON text (or removed when `raw` is empty).
fn raw_trip(trip_id: &str, field: &str, raw: &str) -> String {
    let mut trip = trip_json(trip_id);
    let map = trip.as_object_mut().expect("an object");
    map.remove(field);
    let body = serde_json::to_string(map).expect("json");
    if raw.is_empty() {
        body
    } else {
        format!("{},\"{field}\":{raw}}}", &body[..body.len() - 1])
    }
}

async fn assert_nothing_written(app: &TestApp) {
    assert_eq!(app.count_rows("esg_impact_ledger").await, 0);
    assert_eq!(app.count_rows("esg_outbox_events").await, 0);
}

async fn one_trip_is_computed_signed_and_stored_with_its_event(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, impact) = app.post_json(TRIPS, &trip_json("trip-0001")).await;
    assert_eq!(status, 201, "{impact}");
    assert_eq!(impact["distance_km"], "12.500000");
    assert_eq!(impact["thermal_factor_local"], "0.192000");
    assert_eq!(impact["ev_factor_local"], "0.048000");
    assert_eq!(impact["co2_avoided_kg"], "1.800000");
    assert_eq!(impact["event_timestamp"], "2026-02-03T08:15:00.000000Z");
    assert_eq!(impact["model_version"], "co2-v1");
    assert_eq!(impact["signature_algorithm"], "HMAC-SHA256");
    assert_eq!(impact["asym_algorithm"], "ED25519");
    assert!(impact["methodology_version"].is_string());
    assert!(impact["ledger_seq"].as_i64().is_some_and(|s| s > 0));
    assert!(
        impact["correlation_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 1);
    assert_eq!(app.count_rows("esg_outbox_events").await, 1);
    let metrics = app.metrics().await;
    let trips = "greenos_ingest_trips_total";
    assert_eq!(
        metrics.value(trips, &[("outcome", "accepted"), ("source", "http")]),
        Some(1.0),
        "{metrics}"
    );
    for result in ["duplicate", "rejected"] {
        assert_eq!(
            metrics.value(trips, &[("outcome", result), ("source", "http")]),
            Some(0.0),
            "{metrics}"
        );
    }
    assert_eq!(
        metrics.value("greenos_ingest_batches_total", &[("source", "http")]),
        Some(1.0),
        "{metrics}"
    );
}

async fn every_bad_input_class_is_refused_and_nothing_is_written(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let long_id = format!("\"{}\"", "a".repeat(129));
    let cases: Vec<(&str, String)> = vec![
        ("extra", raw_trip("t-1", "extra", "1")),
        ("distance_km", raw_trip("t-1", "distance_km", "\"12.5\"")),
        ("user_id", raw_trip("t-1", "user_id", "42")),
        ("trip_id", raw_trip("t-1", "trip_id", "\"trip 1\"")),
        ("trip_id", raw_trip("t-1", "trip_id", "\"\"")),
        ("trip_id", raw_trip("t-1", "trip_id", &long_id)),
        ("country_code", raw_trip("t-1", "country_code", "\"ci\"")),
        ("geo_hash", raw_trip("t-1", "geo_hash", "\"s0t5a\"")),
        (
            "event_timestamp",
            raw_trip("t-1", "event_timestamp", "\"2026-02-03T08:15:00\""),
        ),
        (
            "event_timestamp",
            raw_trip("t-1", "event_timestamp", "\"2026-02-03T08:15:00.1234567Z\""),
        ),
        ("distance_km", raw_trip("t-1", "distance_km", "0")),
        ("distance_km", raw_trip("t-1", "distance_km", "-3.5")),
        (
            "distance_km",
            raw_trip("t-1", "distance_km", "10000.000001"),
        ),
        ("distance_km", raw_trip("t-1", "distance_km", "1.1234567")),
        ("vehicle_id", raw_trip("t-1", "vehicle_id", "")),
    ];
    for (field, body) in cases {
        let (status, answer) = app.post_raw(TRIPS, "application/json", body.clone()).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(
            answer["error"]["code"], "GREENOS_VALIDATION_FAILED",
            "{body}"
        );
        let errors = answer["error"]["details"]["errors"]
            .as_array()
            .expect("errors");
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["index"] == 0),
            "{body} → {answer}"
        );
    }
    assert_nothing_written(&app).await;
}

async fn malformed_bodies_media_types_and_sizes_get_the_envelope(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |vars| {
        vars.set("GREENOS_MAX_BODY_BYTES", "4096");
    })
    .await
    else {
        return;
    };
    let (status, answer) = app
        .post_raw(TRIPS, "application/json", "{\"trip_id\":")
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_INVALID_JSON");
    let (status, answer) = app.post_raw(TRIPS, "text/plain", "hello").await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_UNSUPPORTED_MEDIA_TYPE");
    let big = format!("[{}]", vec![trip_json("t").to_string(); 40].join(","));
    let (status, answer) = app.post_raw(TRIPS, "application/json", big).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_PAYLOAD_TOO_LARGE");
    assert_nothing_written(&app).await;

    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let many: Vec<Value> = (0..10_001).map(|i| trip_json(&format!("t-{i}"))).collect();
    let (status, answer) = app.post_json(TRIPS, &Value::Array(many)).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_PAYLOAD_TOO_LARGE");
    assert_eq!(answer["error"]["details"]["max_trips"], 10_000);
    assert_nothing_written(&app).await;
}

async fn a_country_without_factors_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut fr = trip_json("t-fr");
    fr["country_code"] = json!("FR");
    let (status, answer) = app.post_json(TRIPS, &fr).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["code"],
        "GREENOS_COUNTRY_FACTOR_NOT_CONFIGURED"
    );
    assert_eq!(answer["error"]["details"]["countries"], json!(["FR"]));
    let batch = json!([trip_json("t-ok"), fr]);
    let (status, answer) = app.post_json(TRIPS, &batch).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"]["indexes"], json!([1]));
    assert_nothing_written(&app).await;
}

async fn a_replay_returns_the_existing_impact(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, first) = app.post_json(TRIPS, &trip_json("trip-r")).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = app.post_json(TRIPS, &trip_json("trip-r")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(first, again);
    assert_eq!(app.count_rows("esg_impact_ledger").await, 1);
    assert_eq!(app.count_rows("esg_outbox_events").await, 1);
}

async fn different_content_for_a_known_trip_conflicts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, _) = app.post_json(TRIPS, &trip_json("trip-c")).await;
    assert_eq!(status, 201);
    let mut changed = trip_json("trip-c");
    changed["distance_km"] = json!(13);
    let (status, answer) = app.post_json(TRIPS, &changed).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_DUPLICATE_IMPACT");
    assert_eq!(
        answer["error"]["details"]["conflicts"][0]["trip_id"],
        "trip-c"
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 1);
    assert_eq!(app.count_rows("esg_outbox_events").await, 1);
}

async fn concurrent_identical_submissions_write_one_row(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = trip_json("trip-race");
    let requests = (0..16).map(|_| app.post_json(TRIPS, &body));
    let answers = futures::future::join_all(requests).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, impact) in &answers {
        assert!(*status == 200 || *status == 201, "{status} {impact}");
        assert_eq!(impact["event_hash"], answers[0].1["event_hash"]);
        assert_eq!(impact["ledger_seq"], answers[0].1["ledger_seq"]);
    }
    assert_eq!(app.count_rows("esg_impact_ledger").await, 1);
    assert_eq!(app.count_rows("esg_outbox_events").await, 1);
}

/// Large batches take the bulk write path (`COPY` on PostgreSQL): batches that share trips,
/// sent at once, all succeed, each shared trip is written once, and every stored impact reads
/// back as it was answered and verifies.
async fn overlapping_large_batches_write_each_trip_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let shared: Vec<Value> = (0..150)
        .map(|i| trip_json(&format!("shared-{i:03}")))
        .collect();
    let requests = (0..6).map(|client| {
        let mut trips = shared.clone();
        trips.extend((0..50).map(|i| trip_json(&format!("own-{client}-{i:02}"))));
        let app = &app;
        async move { app.post_json(TRIPS, &Value::Array(trips)).await }
    });
    let answers = futures::future::join_all(requests).await;
    let mut accepted = 0;
    for (status, answer) in &answers {
        assert_eq!(*status, 201, "{answer}");
        accepted += answer["accepted"].as_i64().expect("accepted");
        assert_eq!(
            answer["accepted"].as_i64().unwrap_or(0) + answer["duplicates"].as_i64().unwrap_or(0),
            200
        );
    }
    assert_eq!(accepted, 150 + 6 * 50);
    assert_eq!(app.count_rows("esg_impact_ledger").await, 450);
    assert_eq!(app.count_rows("esg_outbox_events").await, 450);
    for (status, answer) in &answers {
        assert_eq!(*status, 201);
        for at in [0, 149, 150, 199] {
            let answered = &answer["impacts"][at];
            let trip_id = answered["trip_id"].as_str().expect("trip_id");
            let (status, stored) = app.get_json(&format!("/api/v2/esg/impact/{trip_id}")).await;
            assert_eq!(status, 200, "{stored}");
            for field in [
                "event_hash",
                "ledger_seq",
                "event_timestamp",
                "co2_avoided_kg",
                "created_at",
                "asym_signature",
            ] {
                assert_eq!(stored[field], answered[field], "{field} of {trip_id}");
            }
            let (status, verification) =
                app.get_json(&format!("/api/v2/esg/verify/{trip_id}")).await;
            assert_eq!(status, 200, "{verification}");
            assert_eq!(verification["verified"], true, "{verification}");
        }
    }
}

async fn a_batch_is_all_or_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = format!(
        "[{},{},{}]",
        trip_json("b-1"),
        raw_trip("b-2", "distance_km", "0"),
        raw_trip("b-3", "geo_hash", "\"ail\"")
    );
    let (status, answer) = app.post_raw(TRIPS, "application/json", body).await;
    assert_eq!(status, 422, "{answer}");
    let indexes: Vec<i64> = answer["error"]["details"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["index"].as_i64())
        .collect();
    assert_eq!(indexes, vec![1, 2]);
    assert_nothing_written(&app).await;

    let (status, _) = app.post_json(TRIPS, &trip_json("b-known")).await;
    assert_eq!(status, 201);
    let mut conflicting = trip_json("b-known");
    conflicting["geo_hash"] = json!("s0t5r");
    let batch = json!([trip_json("b-new"), conflicting]);
    let (status, answer) = app.post_json(TRIPS, &batch).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["details"]["conflicts"][0]["index"], 1);
    assert_eq!(app.count_rows("esg_impact_ledger").await, 1);
    assert_eq!(app.count_rows("esg_outbox_events").await, 1);
}

/// A batch the database itself refuses half-way (a trigger raises on its last trip) is
/// answered `500` with nothing of it written, and the appends after it are written in full:
/// on SQLite by the writer's next connection, since a database error closes the one it had.
async fn a_batch_the_database_refuses_leaves_nothing_and_the_next_is_written(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let poison = match backend {
        Backend::Sqlite => vec![
            "CREATE TRIGGER poison BEFORE INSERT ON esg_impact_ledger \
             WHEN NEW.trip_id = 'd-poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.trip_id = 'd-poison' THEN RAISE EXCEPTION 'poisoned'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON esg_impact_ledger \
             FOR EACH ROW EXECUTE FUNCTION poison()",
        ],
    };
    for statement in poison {
        app.db
            .execute_unprepared(statement)
            .await
            .expect("install the trigger");
    }
    let batch = json!([trip_json("d-1"), trip_json("d-2"), trip_json("d-poison")]);
    let (status, answer) = app.post_json(TRIPS, &batch).await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["error"]["code"], "GREENOS_INTERNAL", "{answer}");
    assert_nothing_written(&app).await;

    let (status, answer) = app
        .post_json(TRIPS, &json!([trip_json("d-3"), trip_json("d-4")]))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["accepted"], 2, "{answer}");
    let cure = match backend {
        Backend::Sqlite => "DROP TRIGGER poison",
        Backend::Postgres => "DROP TRIGGER poison ON esg_impact_ledger",
    };
    app.db
        .execute_unprepared(cure)
        .await
        .expect("drop the trigger");
    let (status, answer) = app.post_json(TRIPS, &batch).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(app.count_rows("esg_impact_ledger").await, 5);
    assert_eq!(app.count_rows("esg_outbox_events").await, 5);
}

async fn batches_answer_in_input_order_and_count_duplicates(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, _) = app.post_json(TRIPS, &trip_json("o-0")).await;
    assert_eq!(status, 201);
    let batch = json!([
        trip_json("o-1"),
        trip_json("o-0"),
        trip_json("o-2"),
        trip_json("o-1")
    ]);
    let (status, answer) = app.post_json(TRIPS, &batch).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["duplicates"], 2);
    let ids: Vec<&str> = answer["impacts"]
        .as_array()
        .expect("impacts")
        .iter()
        .filter_map(|i| i["trip_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["o-1", "o-0", "o-2", "o-1"]);
    assert_eq!(answer["impacts"][0], answer["impacts"][3]);
    let (status, replay) = app.post_json(TRIPS, &batch).await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["accepted"], 0);
    assert_eq!(replay["impacts"], answer["impacts"]);
    assert_eq!(app.count_rows("esg_impact_ledger").await, 3);
    assert_eq!(app.count_rows("esg_outbox_events").await, 3);

    let mut other = trip_json("o-3");
    other["user_id"] = json!("u-43");
    let (status, answer) = app
        .post_json(TRIPS, &json!([trip_json("o-3"), other]))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(app.count_rows("esg_impact_ledger").await, 3);
}

async fn json_lines_bodies_are_accepted(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = format!(
        "{}\n{}\n\n{}\n",
        trip_json("l-1"),
        trip_json("l-2"),
        trip_json("l-3")
    );
    let (status, answer) = app.post_raw(TRIPS, "application/x-ndjson", body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["accepted"], 3);
    let body = format!(
        "{}\n{}\n",
        trip_json("l-4"),
        raw_trip("l-5", "country_code", "\"CIV\"")
    );
    let (status, answer) = app.post_raw(TRIPS, "application/x-ndjson", body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["details"]["errors"][0]["line"], 2);
    assert_eq!(app.count_rows("esg_impact_ledger").await, 3);
}

async fn the_outbox_envelope_has_the_documented_shape(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let response = app
        .client
        .post(app.url(TRIPS))
        .header("x-request-id", "corr-123")
        .json(&trip_json("trip-e"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    let (_, impact) = app.get_json("/api/v2/esg/impact/trip-e").await;
    assert_eq!(impact["correlation_id"], "corr-123");
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT event_id, topic, aggregate_id, payload, status, attempts, correlation_id \
             FROM esg_outbox_events",
        ))
        .await
        .expect("outbox rows");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let get = |column: &str| row.try_get::<String>("", column).expect(column);
    assert_eq!(get("topic"), "esg_calculated.v1");
    assert_eq!(get("aggregate_id"), "trip-e");
    assert_eq!(get("status"), "PENDING");
    assert_eq!(get("correlation_id"), "corr-123");
    assert_eq!(row.try_get::<i32>("", "attempts").expect("attempts"), 0);
    let payload = get("payload");
    let envelope: Value = serde_json::from_str(&payload).expect("payload is JSON");
    // Canonical: serde_json's map is sorted and compact, so re-serialising is the identity.
    assert_eq!(serde_json::to_string(&envelope).expect("json"), payload);
    let keys: Vec<&String> = envelope.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "aggregate_id",
            "correlation_id",
            "data",
            "event_id",
            "occurred_at",
            "schema_version"
        ]
    );
    assert_eq!(envelope["schema_version"], "esg_calculated.v1");
    assert_eq!(envelope["event_id"], get("event_id"));
    assert_eq!(envelope["aggregate_id"], "trip-e");
    assert_eq!(envelope["correlation_id"], "corr-123");
    assert_eq!(envelope["occurred_at"], impact["created_at"]);
    let mut stored = impact.clone();
    stored.as_object_mut().and_then(|o| o.remove("leaf_index"));
    assert_eq!(
        envelope["data"], stored,
        "the impact as GET /impact gives it, less its leaf"
    );
}

/// SQLite's WAL is checkpointed beside the writer: a commit far below the writers' own
/// checkpoint threshold still reaches the database file within moments.
#[tokio::test]
async fn sqlite_checkpoints_the_wal_in_the_background() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let pragma = |name: &'static str| {
        let db = app.services.database();
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                format!("PRAGMA {name}"),
            ))
            .await
            .expect("read the pragma")
            .expect("a row")
            .try_get_by_index::<i64>(0)
            .expect("a number")
        }
    };
    assert_eq!(
        pragma("wal_autocheckpoint").await,
        32_768,
        "a commit checkpoints only past 256 MiB of WAL"
    );
    assert_eq!(
        pragma("page_size").await,
        8_192,
        "a new database has 8 KiB pages"
    );
    let url = app.database_url();
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .expect("a path")
        .to_owned();
    let file_size = || std::fs::metadata(&path).map_or(0, |m| m.len());
    let before = file_size();
    let trips: Vec<Value> = (0..100)
        .map(|i| trip_json(&format!("wal-{i:03}")))
        .collect();
    let (status, _) = app.post_json(TRIPS, &Value::Array(trips)).await;
    assert_eq!(status, 201);
    let grew = crate::helpers::within(std::time::Duration::from_secs(5), || async {
        file_size() > before
    })
    .await;
    assert!(
        grew,
        "the database file ({before} bytes) never received the committed pages"
    );
}
