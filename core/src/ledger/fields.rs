//! One trip's fields, checked one by one: unknown, repeated, missing and ill-typed fields and
//! every rule of SPEC §4, each problem named with its field. JSON values are looked at as raw
//! text so that `distance_km` is read exactly, never through `f64`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ledger::trip::{CountryCode, DistanceKm, GeoHash, Identifier, ValidatedTrip};
use crate::proof::decimal::parse_json_number_exact;
use crate::proof::{Decimal6, UtcMicros};

/// The fields of the ingest schema, in the order problems about missing ones are reported.
pub const TRIP_FIELDS: [&str; 7] = [
    "trip_id",
    "user_id",
    "vehicle_id",
    "country_code",
    "geo_hash",
    "event_timestamp",
    "distance_km",
];
const DISTANCE_KM: usize = 6;

/// One problem with one field of a trip (`field` is `None` when the trip as a whole is wrong).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The offending field.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

/// Why one JSON trip was refused: unreadable JSON, or readable but invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TripRejected {
    /// The text is not JSON at all (as opposed to JSON that breaks a rule).
    pub malformed_json: bool,
    /// Every problem found.
    pub problems: Vec<FieldProblem>,
}

/// Parses one trip from JSON text (a request item, a JSON Lines line, a stream entry).
pub fn parse_json_trip(json: &[u8]) -> Result<ValidatedTrip, TripRejected> {
    match serde_json::from_slice::<RawFields<'_>>(json) {
        Ok(fields) => {
            let mut draft = Draft::default();
            for (key, raw) in fields.0 {
                draft.offer_json(&key, raw);
            }
            draft.finish().map_err(|problems| TripRejected {
                malformed_json: false,
                problems,
            })
        }
        Err(err) => Err(TripRejected {
            malformed_json: !err.is_data(),
            problems: vec![FieldProblem {
                field: None,
                reason: if err.is_data() {
                    "expected a JSON object with the trip fields".to_owned()
                } else {
                    format!("invalid JSON: {err}")
                },
            }],
        }),
    }
}

/// Parses one trip from named text columns (a CSV record): `distance_km` is read exactly from
/// its text in plain decimal notation; unknown, repeated and missing columns are problems.
pub fn parse_text_trip<'a>(
    columns: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ValidatedTrip, Vec<FieldProblem>> {
    let mut draft = Draft::default();
    for (name, text) in columns {
        draft.offer_text(name, text);
    }
    draft.finish()
}

/// The members of a JSON object in document order, duplicates kept, values unparsed.
struct RawFields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = RawFields<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields<'de>, A::Error> {
                let mut fields = Vec::with_capacity(TRIP_FIELDS.len());
                while let Some(key) = map.next_key::<String>()? {
                    fields.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawFields(fields))
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A field as received, before its own rules are applied.
#[derive(Default)]
enum Slot<'a> {
    #[default]
    Missing,
    /// Already reported (wrong JSON type, repeated).
    Reported,
    Text(Cow<'a, str>),
    Distance(Decimal6),
}

/// Collects the fields of one trip and every problem found in them.
#[derive(Default)]
struct Draft<'a> {
    slots: [Slot<'a>; 7],
    problems: Vec<FieldProblem>,
}

impl<'a> Draft<'a> {
    fn problem(&mut self, field: &str, reason: impl Into<String>) {
        self.problems.push(FieldProblem {
            field: Some(field.to_owned()),
            reason: reason.into(),
        });
    }

    /// The slot index of `name`, reporting unknown and repeated fields.
    fn claim(&mut self, name: &str) -> Option<usize> {
        let Some(at) = TRIP_FIELDS.iter().position(|f| *f == name) else {
            self.problem(name, "unknown field");
            return None;
        };
        if matches!(self.slots[at], Slot::Missing) {
            Some(at)
        } else {
            self.problem(name, "appears more than once");
            self.slots[at] = Slot::Reported;
            None
        }
    }

    fn offer_json(&mut self, name: &str, raw: &'a RawValue) {
        let Some(at) = self.claim(name) else {
            return;
        };
        let text = raw.get();
        let kind = json_kind(text);
        self.slots[at] = if at == DISTANCE_KM {
            match kind {
                "a number" => match parse_json_number_exact(text) {
                    Ok(d) => Slot::Distance(d),
                    Err(err) => {
                        self.problem(name, err.to_string());
                        Slot::Reported
                    }
                },
                other => {
                    self.problem(
                        name,
                        format!("must be a JSON number, got {other} (no coercion from strings)"),
                    );
                    Slot::Reported
                }
            }
        } else if kind == "a string" {
            match json_string(text) {
                Some(s) => Slot::Text(s),
                None => {
                    self.problem(name, "is not a valid JSON string");
                    Slot::Reported
                }
            }
        } else {
            self.problem(name, format!("must be a JSON string, got {kind}"));
            Slot::Reported
        };
    }

    fn offer_text(&mut self, name: &str, text: &'a str) {
        let Some(at) = self.claim(name) else {
            return;
        };
        self.slots[at] = if at == DISTANCE_KM {
            match Decimal6::parse_exact(text.trim()) {
                Ok(d) => Slot::Distance(d),
                Err(err) => {
                    self.problem(name, err.to_string());
                    Slot::Reported
                }
            }
        } else {
            Slot::Text(Cow::Borrowed(text))
        };
    }

    fn check<T>(&mut self, at: usize, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let field = TRIP_FIELDS[at];
        match std::mem::take(&mut self.slots[at]) {
            Slot::Text(text) => parse(&text)
                .map_err(|reason| self.problem(field, reason))
                .ok(),
            Slot::Missing => {
                self.problem(field, "is required");
                None
            }
            Slot::Reported | Slot::Distance(_) => None,
        }
    }

    fn finish(mut self) -> Result<ValidatedTrip, Vec<FieldProblem>> {
        let trip_id = self.check(0, Identifier::parse);
        let user_id = self.check(1, Identifier::parse);
        let vehicle_id = self.check(2, Identifier::parse);
        let country_code = self.check(3, CountryCode::parse);
        let geo_hash = self.check(4, GeoHash::parse);
        let event_timestamp = self.check(5, parse_event_timestamp);
        let distance_km = match std::mem::take(&mut self.slots[DISTANCE_KM]) {
            Slot::Distance(d) => DistanceKm::new(d)
                .map_err(|reason| self.problem("distance_km", reason))
                .ok(),
            Slot::Missing => {
                self.problem("distance_km", "is required");
                None
            }
            Slot::Reported | Slot::Text(_) => None,
        };
        match (
            trip_id,
            user_id,
            vehicle_id,
            country_code,
            geo_hash,
            event_timestamp,
            distance_km,
        ) {
            (
                Some(trip_id),
                Some(user_id),
                Some(vehicle_id),
                Some(country_code),
                Some(geo_hash),
                Some(event_timestamp),
                Some(distance_km),
            ) if self.problems.is_empty() => Ok(ValidatedTrip {
                trip_id,
                user_id,
                vehicle_id,
                country_code,
                geo_hash,
                event_timestamp,
                distance_km,
            }),
            _ => Err(self.problems),
        }
    }
}

/// The JSON type of a raw value, from its first character, for error messages.
fn json_kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The content of a raw JSON string, borrowed when it holds no escape.
fn json_string(raw: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<&str>(raw)
        .map(Cow::Borrowed)
        .or_else(|_| serde_json::from_str::<String>(raw).map(Cow::Owned))
        .ok()
}

/// An RFC 3339 timestamp with an offset, microsecond precision at most, not before
/// 2000-01-01T00:00:00Z (the upper bound, now plus the allowed skew, is checked when the trip is
/// computed).
fn parse_event_timestamp(text: &str) -> Result<UtcMicros, String> {
    let timestamp = UtcMicros::parse_rfc3339(text).map_err(|e| e.to_string())?;
    if timestamp < UtcMicros::earliest_trip() {
        return Err(format!(
            "is before {}: no trip of the ledger can be that old",
            UtcMicros::earliest_trip()
        ));
    }
    Ok(timestamp)
}
