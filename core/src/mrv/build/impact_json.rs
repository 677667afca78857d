//! The canonical JSON of one impact, written field by field in code-point key order: the same
//! bytes as `to_canonical(&impact)` (a test holds them equal) without building a
//! `serde_json::Value` per impact, which dominated the cost of large exports.

use chrono::{Datelike, Timelike};

use crate::ledger::Impact;
use crate::mrv::error::MrvError;
use crate::proof::UtcMicros;
use crate::proof::canonical::{MAX_SAFE_INTEGER, write_canonical_string};

/// Appends the canonical JSON of `impact` to `out`, with its `leaf_index` in the transparency
/// log when given (`greenos.mrv.v2`).
pub(crate) fn write_impact(
    out: &mut Vec<u8>,
    impact: &Impact,
    leaf_index: Option<u64>,
) -> Result<(), MrvError> {
    let e = &impact.event;
    let s = &impact.signatures;
    if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&impact.ledger_seq) {
        return Err(MrvError::Storage(format!(
            "ledger_seq {} is outside the canonical integer range",
            impact.ledger_seq
        )));
    }
    let strings: [(&str, Option<&str>); 14] = [
        ("asym_algorithm", Some(&s.asym_algorithm)),
        ("asym_key_version", Some(&s.asym_key_version)),
        ("asym_signature", Some(&s.asym_signature)),
        ("checksum", Some(&impact.checksum)),
        ("co2_avoided_kg", Some(&e.co2_avoided_kg.to_string())),
        ("correlation_id", impact.correlation_id.as_deref()),
        ("country_code", Some(&e.country_code)),
        ("created_at", Some(&timestamp(&impact.created_at))),
        ("distance_km", Some(&e.distance_km.to_string())),
        ("ev_factor_local", Some(&e.ev_factor_local.to_string())),
        ("event_hash", Some(&impact.event_hash)),
        ("event_timestamp", Some(&timestamp(&e.event_timestamp))),
        ("geo_hash", Some(&e.geo_hash)),
        ("key_version", Some(&s.key_version)),
    ];
    out.push(b'{');
    for (i, (key, value)) in strings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        member(out, key, *value);
    }
    if let Some(leaf_index) = leaf_index {
        if leaf_index > MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(MrvError::Storage(format!(
                "leaf_index {leaf_index} is outside the canonical integer range"
            )));
        }
        out.extend_from_slice(b",\"leaf_index\":");
        out.extend_from_slice(leaf_index.to_string().as_bytes());
    }
    out.extend_from_slice(b",\"ledger_seq\":");
    out.extend_from_slice(impact.ledger_seq.to_string().as_bytes());
    for (key, value) in [
        ("methodology_version", e.methodology_version.as_str()),
        ("model_version", &e.model_version),
        ("signature", &s.signature),
        ("signature_algorithm", &s.signature_algorithm),
        ("thermal_factor_local", &e.thermal_factor_local.to_string()),
        ("trip_id", &e.trip_id),
        ("user_id", &e.user_id),
        ("vehicle_id", &e.vehicle_id),
    ] {
        out.push(b',');
        member(out, key, Some(value));
    }
    out.push(b'}');
    Ok(())
}

/// `UtcMicros`'s `YYYY-MM-DDTHH:MM:SS.ffffffZ`, formatted by hand: chrono's format strings
/// cost more than the rest of an impact. Years outside 0–9999 take chrono's path.
fn timestamp(at: &UtcMicros) -> String {
    let t = at.as_datetime();
    let Ok(year) = u32::try_from(t.year()) else {
        return at.to_string();
    };
    if year > 9999 {
        return at.to_string();
    }
    let mut out = String::with_capacity(27);
    let mut digits = |value: u32, width: u32, separator: Option<char>| {
        for power in (0..width).rev() {
            let digit = (value / 10u32.pow(power)) % 10;
            out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
        }
        out.extend(separator);
    };
    digits(year, 4, Some('-'));
    digits(t.month(), 2, Some('-'));
    digits(t.day(), 2, Some('T'));
    digits(t.hour(), 2, Some(':'));
    digits(t.minute(), 2, Some(':'));
    digits(t.second(), 2, Some('.'));
    digits(t.nanosecond() / 1000, 6, Some('Z'));
    out
}

/// `"key":"value"`, or `"key":null`.
fn member(out: &mut Vec<u8>, key: &str, value: Option<&str>) {
    // Writing into a Vec cannot fail.
    let _ = write_canonical_string(out, key);
    out.push(b':');
    match value {
        Some(value) => {
            let _ = write_canonical_string(out, value);
        }
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{timestamp, write_impact};
    use crate::ledger::Impact;
    use crate::proof::{Decimal6, EventHashInput, Signatures, UtcMicros, to_canonical};

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

    #[test]
    fn timestamps_are_written_as_utc_micros_displays_them() {
        for text in [
            "2026-02-03T08:15:00Z",
            "1999-12-31T23:59:59.999999Z",
            "0001-01-01T00:00:00.000001Z",
            "2024-02-29T12:34:56.012300+05:30",
        ] {
            let at = UtcMicros::parse_rfc3339(text).expect("instant");
            assert_eq!(timestamp(&at), at.to_string());
        }
        let now = UtcMicros::now();
        assert_eq!(timestamp(&now), now.to_string());
    }

    #[test]
    fn the_hand_written_form_equals_the_generic_canonical_form() {
        for correlation_id in [None, Some("req-\u{1}-ü".to_owned())] {
            let impact = impact(correlation_id);
            let mut written = Vec::new();
            write_impact(&mut written, &impact, None).expect("written");
            assert_eq!(
                String::from_utf8(written).expect("utf-8"),
                String::from_utf8(to_canonical(&impact).expect("canonical")).expect("utf-8")
            );
            let mut logged = Vec::new();
            write_impact(&mut logged, &impact, Some(41)).expect("written");
            let mut value = serde_json::to_value(&impact).expect("a value");
            value["leaf_index"] = serde_json::json!(41);
            assert_eq!(
                String::from_utf8(logged).expect("utf-8"),
                String::from_utf8(crate::proof::to_canonical_vec(&value).expect("canonical"))
                    .expect("utf-8")
            );
        }
    }
}
