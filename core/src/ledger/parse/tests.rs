use super::*;
use crate::ledger::fields::{FieldProblem, parse_json_trip, parse_text_trip};

const GOOD: &str = r#"{"trip_id":"trip-0001","user_id":"u-42","vehicle_id":"ev-7","country_code":"CI","geo_hash":"s0t5q","event_timestamp":"2026-02-03T08:15:00Z","distance_km":12.5}"#;

fn with(field: &str, raw: &str) -> String {
    let mut value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(GOOD).expect("good trip");
    value.remove(field);
    let body = serde_json::to_string(&value).expect("json");
    format!("{},\"{field}\":{raw}}}", &body[..body.len() - 1])
}

fn problems(json: &str) -> Vec<FieldProblem> {
    parse_json_trip(json.as_bytes())
        .expect_err("must be rejected")
        .problems
}

fn only_field(json: &str) -> String {
    let found = problems(json);
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].field.clone().unwrap_or_default()
}

#[test]
fn a_good_trip_parses_exactly() {
    let trip = parse_json_trip(GOOD.as_bytes()).expect("valid");
    assert_eq!(trip.trip_id.as_str(), "trip-0001");
    assert_eq!(trip.distance_km.value().to_string(), "12.500000");
    assert_eq!(
        trip.event_timestamp.to_string(),
        "2026-02-03T08:15:00.000000Z"
    );
}

#[test]
fn each_bad_input_class_names_its_field() {
    assert_eq!(only_field(&with("distance_km", "\"12.5\"")), "distance_km");
    assert_eq!(only_field(&with("distance_km", "0")), "distance_km");
    assert_eq!(only_field(&with("distance_km", "-1")), "distance_km");
    assert_eq!(only_field(&with("distance_km", "10000.5")), "distance_km");
    assert_eq!(only_field(&with("distance_km", "1.1234567")), "distance_km");
    assert_eq!(only_field(&with("trip_id", "\"trip 1\"")), "trip_id");
    assert_eq!(only_field(&with("trip_id", "\"\"")), "trip_id");
    assert_eq!(only_field(&with("user_id", "42")), "user_id");
    assert_eq!(only_field(&with("country_code", "\"ci\"")), "country_code");
    assert_eq!(only_field(&with("geo_hash", "\"s0t5a\"")), "geo_hash");
    assert_eq!(
        only_field(&with("event_timestamp", "\"2026-02-03T08:15:00\"")),
        "event_timestamp"
    );
    assert_eq!(
        only_field(&with("event_timestamp", "\"2026-02-03T08:15:00.1234567Z\"")),
        "event_timestamp"
    );
    assert_eq!(only_field(&with("extra", "1")), "extra");
}

#[test]
fn exact_numbers_are_not_rounded() {
    let trip = parse_json_trip(with("distance_km", "1.25e1").as_bytes()).expect("valid");
    assert_eq!(trip.distance_km.value().to_string(), "12.500000");
    let trip = parse_json_trip(with("distance_km", "0.1000000").as_bytes()).expect("valid");
    assert_eq!(trip.distance_km.value().to_string(), "0.100000");
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let found = problems(r#"{"trip_id":"","country_code":"ci","distance_km":"1","x":1}"#);
    let fields: Vec<_> = found.iter().filter_map(|p| p.field.as_deref()).collect();
    for field in [
        "x",
        "trip_id",
        "user_id",
        "vehicle_id",
        "country_code",
        "geo_hash",
        "event_timestamp",
        "distance_km",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
}

#[test]
fn repeated_keys_are_refused() {
    let json = format!("{},\"trip_id\":\"other\"}}", &GOOD[..GOOD.len() - 1]);
    assert_eq!(only_field(&json), "trip_id");
}

#[test]
fn malformed_json_is_told_apart_from_invalid_trips() {
    assert!(parse_json_trip(b"{\"trip_id\":").is_err_and(|r| r.malformed_json));
    assert!(parse_json_trip(b"[1]").is_err_and(|r| !r.malformed_json));
}

#[test]
fn batches_report_every_bad_item_by_index() {
    let body = format!(
        "[{GOOD},{},{GOOD},{}]",
        with("distance_km", "0"),
        with("geo_hash", "\"a\"")
    );
    match parse_body(BodyFormat::Json, body.as_bytes()) {
        Err(IngestError::Validation { problems }) => {
            let located: Vec<_> = problems
                .iter()
                .map(|p| (p.index, p.field.clone().unwrap_or_default()))
                .collect();
            assert_eq!(
                located,
                vec![(1, "distance_km".to_owned()), (3, "geo_hash".to_owned())]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn json_lines_report_line_numbers() {
    let body = format!("{GOOD}\n\n{}\n", with("country_code", "\"CIV\""));
    match parse_body(BodyFormat::JsonLines, body.as_bytes()) {
        Err(IngestError::Validation { problems }) => {
            assert_eq!(problems[0].index, 1);
            assert_eq!(problems[0].line, Some(3));
        }
        other => panic!("unexpected {other:?}"),
    }
    let body = format!("{GOOD}\r\n{GOOD}\r\n");
    assert!(matches!(
        parse_body(BodyFormat::JsonLines, body.as_bytes()),
        Ok(TripsBody::Batch(trips)) if trips.len() == 2
    ));
}

#[test]
fn too_many_and_empty_batches_are_refused() {
    let body = format!("[{}]", vec![GOOD; MAX_TRIPS_PER_REQUEST + 1].join(","));
    assert!(matches!(
        parse_body(BodyFormat::Json, body.as_bytes()),
        Err(IngestError::TooManyTrips { .. })
    ));
    assert!(matches!(
        parse_body(BodyFormat::Json, b"[]"),
        Err(IngestError::Validation { .. })
    ));
    assert!(matches!(
        parse_body(BodyFormat::Json, b"[1"),
        Err(IngestError::InvalidJson { .. })
    ));
    assert!(matches!(
        parse_body(BodyFormat::Json, b"\"trip\""),
        Err(IngestError::Validation { .. })
    ));
}

#[test]
fn text_columns_parse_distance_exactly() {
    let columns = [
        ("trip_id", "t-1"),
        ("user_id", "u-1"),
        ("vehicle_id", "v-1"),
        ("country_code", "SN"),
        ("geo_hash", "edm"),
        ("event_timestamp", "2026-01-01T00:00:00+01:00"),
        ("distance_km", "3.141592"),
    ];
    let trip = parse_text_trip(columns).expect("valid");
    assert_eq!(trip.distance_km.value().to_string(), "3.141592");
    assert_eq!(
        trip.event_timestamp.to_string(),
        "2025-12-31T23:00:00.000000Z"
    );
    let mut bad = columns;
    bad[6] = ("distance_km", "3.1415926");
    assert!(parse_text_trip(bad).is_err());
}
