//! The canonical JSON of one impact, written field by field in code-point key order straight
//! from a row of the window (`select::COLUMNS`): the same bytes as `to_canonical(&impact)` of
//! the row's `Impact` (a test holds them equal) without building the `Impact`, its strings or
//! a `serde_json::Value`, which dominated the cost of large exports.

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::mrv::build::batch::Micros;
use crate::mrv::build::select::{Columns, col};
use crate::mrv::error::MrvError;
use crate::proof::UtcMicros;
use crate::proof::canonical::{MAX_SAFE_INTEGER, push_canonical_string};

/// Appends the canonical JSON of the impact in `row`, with its `leaf_index` in the transparency
/// log (`greenos.mrv.v2`), and returns its `ledger_seq` and amounts.
pub(crate) fn write_row(out: &mut Vec<u8>, row: &impl Columns) -> Result<(i64, Micros), MrvError> {
    let ledger_seq = safe_integer("ledger_seq", row.int(col::LEDGER_SEQ)?)?;
    let leaf_index = safe_integer("leaf_index", row.int(col::LEAF_INDEX)?)?;
    if leaf_index < 0 {
        return Err(MrvError::Storage(format!(
            "leaf_index {leaf_index} of ledger_seq {ledger_seq} is negative"
        )));
    }
    let micros = Micros {
        distance_km: row.int(col::DISTANCE_KM_MICRO)?,
        co2_avoided_kg: row.int(col::CO2_AVOIDED_KG_MICRO)?,
        thermal_factor_local: row.int(col::THERMAL_FACTOR_LOCAL_MICRO)?,
        ev_factor_local: row.int(col::EV_FACTOR_LOCAL_MICRO)?,
    };
    let mut object = Members::open(out);
    object.text("asym_algorithm", row.text(col::ASYM_ALGORITHM)?);
    object.text("asym_key_version", row.text(col::ASYM_KEY_VERSION)?);
    object.text("asym_signature", row.text(col::ASYM_SIGNATURE)?);
    object.text("checksum", row.text(col::CHECKSUM)?);
    object.decimal("co2_avoided_kg", micros.co2_avoided_kg);
    object.optional_text("correlation_id", row.optional_text(col::CORRELATION_ID)?);
    object.text("country_code", row.text(col::COUNTRY_CODE)?);
    object.time("created_at", row.time(col::CREATED_AT)?);
    object.decimal("distance_km", micros.distance_km);
    object.decimal("ev_factor_local", micros.ev_factor_local);
    object.text("event_hash", row.text(col::EVENT_HASH)?);
    object.time("event_timestamp", row.time(col::EVENT_TIMESTAMP)?);
    object.text("geo_hash", row.text(col::GEO_HASH)?);
    object.text("key_version", row.text(col::KEY_VERSION)?);
    object.integer("leaf_index", leaf_index);
    object.integer("ledger_seq", ledger_seq);
    object.text("methodology_version", row.text(col::METHODOLOGY_VERSION)?);
    object.text("model_version", row.text(col::MODEL_VERSION)?);
    object.text("signature", row.text(col::SIGNATURE)?);
    object.text("signature_algorithm", row.text(col::SIGNATURE_ALGORITHM)?);
    object.decimal("thermal_factor_local", micros.thermal_factor_local);
    object.text("trip_id", row.text(col::TRIP_ID)?);
    object.text("user_id", row.text(col::USER_ID)?);
    object.text("vehicle_id", row.text(col::VEHICLE_ID)?);
    object.close();
    Ok((ledger_seq, micros))
}

/// `value`, if canonical JSON can carry it as an integer.
fn safe_integer(name: &str, value: i64) -> Result<i64, MrvError> {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value) {
        Ok(value)
    } else {
        Err(MrvError::Storage(format!(
            "{name} {value} is outside the canonical integer range"
        )))
    }
}

/// The members of one JSON object, written in the order given. The keys are this module's
/// literals, plain ASCII that needs no escaping.
struct Members<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Members<'a> {
    fn open(out: &'a mut Vec<u8>) -> Members<'a> {
        out.push(b'{');
        Members { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn text(&mut self, key: &str, value: &str) {
        self.key(key);
        push_canonical_string(self.out, value);
    }

    fn optional_text(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(value) => self.text(key, value),
            None => {
                self.key(key);
                self.out.extend_from_slice(b"null");
            }
        }
    }

    fn integer(&mut self, key: &str, value: i64) {
        self.key(key);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// `Decimal6`'s form of `micro` millionths: the 6-decimal string.
    fn decimal(&mut self, key: &str, micro: i64) {
        self.key(key);
        self.out.push(b'"');
        if micro < 0 {
            self.out.push(b'-');
        }
        let magnitude = micro.unsigned_abs();
        self.out
            .extend_from_slice(itoa::Buffer::new().format(magnitude / 1_000_000).as_bytes());
        self.out.push(b'.');
        digits(self.out, magnitude % 1_000_000, 6);
        self.out.push(b'"');
    }

    fn time(&mut self, key: &str, at: DateTime<Utc>) {
        self.key(key);
        self.out.push(b'"');
        write_timestamp(self.out, &UtcMicros::truncating(at));
        self.out.push(b'"');
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// The last `width` decimal digits of `value`, zero-padded.
fn digits(out: &mut Vec<u8>, value: u64, width: u32) {
    for power in (0..width).rev() {
        let digit = (value / 10u64.pow(power)) % 10;
        out.push(b'0' + u8::try_from(digit).unwrap_or(0));
    }
}

/// `UtcMicros`'s `YYYY-MM-DDTHH:MM:SS.ffffffZ`, formatted by hand: chrono's format strings
/// cost more than the rest of an impact. Years outside 0–9999 take chrono's path.
fn write_timestamp(out: &mut Vec<u8>, at: &UtcMicros) {
    let t = at.as_datetime();
    let year = u64::try_from(t.year()).ok().filter(|year| *year <= 9999);
    let Some(year) = year else {
        out.extend_from_slice(at.to_string().as_bytes());
        return;
    };
    let fields = [
        (year, 4, b'-'),
        (u64::from(t.month()), 2, b'-'),
        (u64::from(t.day()), 2, b'T'),
        (u64::from(t.hour()), 2, b':'),
        (u64::from(t.minute()), 2, b':'),
        (u64::from(t.second()), 2, b'.'),
        (u64::from(t.nanosecond() / 1000), 6, b'Z'),
    ];
    for (value, width, separator) in fields {
        digits(out, value, width);
        out.push(separator);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{DateTime, Utc};
    use greenos_entity::esg_impact_ledger;

    use super::{write_row, write_timestamp};
    use crate::ledger::Impact;
    use crate::mrv::build::batch::Micros;
    use crate::mrv::build::select::{Columns, col};
    use crate::mrv::error::MrvError;
    use crate::proof::{Decimal6, EventHashInput, Signatures, UtcMicros, to_canonical_vec};

    /// A struct literal: a field added to `Impact` stops this test from compiling, so the
    /// hand-written form cannot silently drift from the wire type.
    pub(crate) fn impact(correlation_id: Option<String>) -> Impact {
        Impact {
            event: EventHashInput {
                trip_id: "trip-é\"1".to_owned(),
                user_id: "u-42".to_owned(),
                vehicle_id: "ev-7".to_owned(),
                country_code: "CI".to_owned(),
                geo_hash: "s0t5q".to_owned(),
                event_timestamp: UtcMicros::parse_rfc3339("2026-02-03T08:15:00.5Z")
                    .expect("instant"),
                distance_km: Decimal6::parse_exact("12.5").expect("decimal"),
                thermal_factor_local: Decimal6::parse_exact("0.192").expect("decimal"),
                ev_factor_local: Decimal6::parse_exact("0.048").expect("decimal"),
                co2_avoided_kg: Decimal6::parse_exact("1.8").expect("decimal"),
                model_version: "co2-v1".to_owned(),
                methodology_version: "m\n1".to_owned(),
            },
            event_hash: "a".repeat(64),
            checksum: "b".repeat(64),
            signatures: Signatures {
                signature: "c".repeat(64),
                signature_algorithm: "HMAC-SHA256".to_owned(),
                key_version: "v1".to_owned(),
                asym_signature: "d/+=".to_owned(),
                asym_algorithm: "ED25519".to_owned(),
                asym_key_version: "v2".to_owned(),
            },
            ledger_seq: 9_007_199_254_740_991,
            correlation_id,
            created_at: UtcMicros::parse_rfc3339("2026-02-03T08:15:01Z").expect("instant"),
        }
    }

    /// A row of the window: the stored ledger row and its leaf index in the log.
    #[derive(Clone, Debug)]
    pub(crate) struct Stored(pub esg_impact_ledger::Model, pub i64);

    impl Stored {
        /// The row `impact` is stored as; a struct literal, like [`impact`].
        pub(crate) fn of(impact: &Impact, leaf_index: i64) -> Stored {
            let micro = |d: Decimal6| d.to_micro().expect("millionths");
            let (e, s) = (&impact.event, &impact.signatures);
            let row = esg_impact_ledger::Model {
                ledger_seq: impact.ledger_seq,
                trip_id: e.trip_id.clone(),
                user_id: e.user_id.clone(),
                vehicle_id: e.vehicle_id.clone(),
                country_code: e.country_code.clone(),
                geo_hash: e.geo_hash.clone(),
                event_timestamp: e.event_timestamp.as_datetime(),
                distance_km_micro: micro(e.distance_km),
                thermal_factor_local_micro: micro(e.thermal_factor_local),
                ev_factor_local_micro: micro(e.ev_factor_local),
                co2_avoided_kg_micro: micro(e.co2_avoided_kg),
                model_version: e.model_version.clone(),
                methodology_version: e.methodology_version.clone(),
                event_hash: impact.event_hash.clone(),
                checksum: impact.checksum.clone(),
                signature: s.signature.clone(),
                signature_algorithm: s.signature_algorithm.clone(),
                key_version: s.key_version.clone(),
                asym_signature: s.asym_signature.clone(),
                asym_algorithm: s.asym_algorithm.clone(),
                asym_key_version: s.asym_key_version.clone(),
                correlation_id: impact.correlation_id.clone(),
                created_at: impact.created_at.as_datetime(),
            };
            Stored(row, leaf_index)
        }
    }

    fn no_column(index: usize) -> MrvError {
        MrvError::Storage(format!("no column {index} of that type"))
    }

    impl Columns for Stored {
        fn int(&self, index: usize) -> Result<i64, MrvError> {
            let row = &self.0;
            Ok(match index {
                col::LEDGER_SEQ => row.ledger_seq,
                col::DISTANCE_KM_MICRO => row.distance_km_micro,
                col::THERMAL_FACTOR_LOCAL_MICRO => row.thermal_factor_local_micro,
                col::EV_FACTOR_LOCAL_MICRO => row.ev_factor_local_micro,
                col::CO2_AVOIDED_KG_MICRO => row.co2_avoided_kg_micro,
                col::LEAF_INDEX => self.1,
                _ => return Err(no_column(index)),
            })
        }

        fn text(&self, index: usize) -> Result<&str, MrvError> {
            let row = &self.0;
            Ok(match index {
                col::TRIP_ID => &row.trip_id,
                col::USER_ID => &row.user_id,
                col::VEHICLE_ID => &row.vehicle_id,
                col::COUNTRY_CODE => &row.country_code,
                col::GEO_HASH => &row.geo_hash,
                col::MODEL_VERSION => &row.model_version,
                col::METHODOLOGY_VERSION => &row.methodology_version,
                col::EVENT_HASH => &row.event_hash,
                col::CHECKSUM => &row.checksum,
                col::SIGNATURE => &row.signature,
                col::SIGNATURE_ALGORITHM => &row.signature_algorithm,
                col::KEY_VERSION => &row.key_version,
                col::ASYM_SIGNATURE => &row.asym_signature,
                col::ASYM_ALGORITHM => &row.asym_algorithm,
                col::ASYM_KEY_VERSION => &row.asym_key_version,
                _ => return Err(no_column(index)),
            })
        }

        fn optional_text(&self, index: usize) -> Result<Option<&str>, MrvError> {
            match index {
                col::CORRELATION_ID => Ok(self.0.correlation_id.as_deref()),
                _ => Err(no_column(index)),
            }
        }

        fn time(&self, index: usize) -> Result<DateTime<Utc>, MrvError> {
            match index {
                col::EVENT_TIMESTAMP => Ok(self.0.event_timestamp),
                col::CREATED_AT => Ok(self.0.created_at),
                _ => Err(no_column(index)),
            }
        }
    }

    #[test]
    fn timestamps_are_written_as_utc_micros_displays_them() {
        let now = UtcMicros::now();
        for at in [
            "2026-02-03T08:15:00Z",
            "1999-12-31T23:59:59.999999Z",
            "0001-01-01T00:00:00.000001Z",
            "2024-02-29T12:34:56.012300+05:30",
        ]
        .map(|text| UtcMicros::parse_rfc3339(text).expect("instant"))
        .into_iter()
        .chain([now])
        {
            let mut written = Vec::new();
            write_timestamp(&mut written, &at);
            assert_eq!(String::from_utf8(written).expect("utf-8"), at.to_string());
        }
    }

    #[test]
    fn a_row_is_written_as_the_canonical_form_of_its_impact() {
        for correlation_id in [None, Some("req-\u{1}-ü".to_owned())] {
            let impact = impact(correlation_id);
            let stored = Stored::of(&impact, 41);
            assert_eq!(Impact::from_row(stored.0.clone()), impact);
            let mut written = Vec::new();
            let (ledger_seq, micros) = write_row(&mut written, &stored).expect("written");
            let mut value = serde_json::to_value(&impact).expect("a value");
            value["leaf_index"] = serde_json::json!(41);
            assert_eq!(
                String::from_utf8(written).expect("utf-8"),
                String::from_utf8(to_canonical_vec(&value).expect("canonical")).expect("utf-8")
            );
            assert_eq!(ledger_seq, impact.ledger_seq);
            assert_eq!(
                micros,
                Micros {
                    distance_km: 12_500_000,
                    co2_avoided_kg: 1_800_000,
                    thermal_factor_local: 192_000,
                    ev_factor_local: 48_000,
                }
            );
        }
    }

    #[test]
    fn amounts_are_written_as_decimal6_displays_them() {
        let mut stored = Stored::of(&impact(None), 0);
        for micro in [
            0,
            1,
            -1,
            999_999,
            1_000_000,
            -12_345_678,
            i64::MAX,
            i64::MIN,
        ] {
            stored.0.co2_avoided_kg_micro = micro;
            let mut written = Vec::new();
            write_row(&mut written, &stored).expect("written");
            let value: serde_json::Value = serde_json::from_slice(&written).expect("JSON");
            assert_eq!(
                value["co2_avoided_kg"],
                Decimal6::from_micro(micro).to_string(),
                "{micro}"
            );
        }
    }

    #[test]
    fn integers_outside_the_canonical_range_are_refused() {
        let stored = Stored::of(&impact(None), 0);
        for (ledger_seq, leaf_index) in [(9_007_199_254_740_992, 0), (1, -1), (1, i64::MAX)] {
            let mut row = stored.clone();
            row.0.ledger_seq = ledger_seq;
            row.1 = leaf_index;
            let err = write_row(&mut Vec::new(), &row).expect_err("refused");
            assert!(matches!(err, MrvError::Storage(_)), "{err}");
        }
    }
}
