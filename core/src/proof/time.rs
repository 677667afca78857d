//! UTC instants with microsecond precision (SPEC §4, §5), written as
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ` so that every language prints the same bytes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 2000-01-01T00:00:00Z in seconds since the Unix epoch.
const EARLIEST_TRIP_UNIX_S: i64 = 946_684_800;

/// A UTC instant whose sub-second part is a whole number of microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcMicros(DateTime<Utc>);

/// Why a text or instant is not an RFC 3339 timestamp with at most microsecond precision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text is not `YYYY-MM-DDTHH:MM:SS[.f]` followed by `Z` or `±HH:MM`.
    #[error("invalid timestamp {text:?}: {reason}")]
    Syntax {
        /// The refused text.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More than 6 fractional digits; refused rather than truncated.
    #[error("timestamp {0:?} has more than 6 fractional digits (microsecond precision at most)")]
    TooPrecise(String),
    /// The instant carries nanoseconds that are not a whole number of microseconds.
    #[error("instant {0} has sub-microsecond precision")]
    SubMicrosecond(String),
    /// Leap seconds (`:60`) have no single UTC representation across languages.
    #[error("timestamp {0:?} is a leap second, which is not supported")]
    LeapSecond(String),
}

impl UtcMicros {
    /// Parses RFC 3339 with an explicit offset (`Z` or `±HH:MM`) and converts it to UTC.
    pub fn parse_rfc3339(s: &str) -> Result<UtcMicros, TimeError> {
        let syntax = |reason: &str| TimeError::Syntax {
            text: s.to_owned(),
            reason: reason.to_owned(),
        };
        let fraction_digits = check_shape(s.as_bytes()).map_err(syntax)?;
        if fraction_digits > 6 {
            return Err(TimeError::TooPrecise(s.to_owned()));
        }
        let parsed = DateTime::parse_from_rfc3339(s).map_err(|e| syntax(&e.to_string()))?;
        if parsed.nanosecond() >= 1_000_000_000 {
            return Err(TimeError::LeapSecond(s.to_owned()));
        }
        Ok(UtcMicros(parsed.with_timezone(&Utc)))
    }

    /// Wraps `dt`, refusing sub-microsecond precision and leap seconds.
    pub fn from_datetime(dt: DateTime<Utc>) -> Result<UtcMicros, TimeError> {
        let nanos = dt.nanosecond();
        if nanos >= 1_000_000_000 {
            return Err(TimeError::LeapSecond(
                dt.to_rfc3339_opts(SecondsFormat::Nanos, true),
            ));
        }
        if !nanos.is_multiple_of(1_000) {
            return Err(TimeError::SubMicrosecond(
                dt.to_rfc3339_opts(SecondsFormat::Nanos, true),
            ));
        }
        Ok(UtcMicros(dt))
    }

    /// Wraps `dt`, dropping any sub-microsecond part (a leap second becomes its last microsecond).
    pub fn truncating(dt: DateTime<Utc>) -> UtcMicros {
        let micros_in_nanos = (dt.nanosecond().min(999_999_999) / 1_000) * 1_000;
        UtcMicros(dt.with_nanosecond(micros_in_nanos).unwrap_or(dt))
    }

    /// 2000-01-01T00:00:00Z: no trip GreenOS records is older, so every timestamp it accepts
    /// has the four-digit-year form of SPEC §5.
    pub fn earliest_trip() -> UtcMicros {
        UtcMicros(DateTime::from_timestamp(EARLIEST_TRIP_UNIX_S, 0).unwrap_or_default())
    }

    /// The current instant, truncated to microseconds.
    pub fn now() -> UtcMicros {
        UtcMicros::truncating(Utc::now())
    }

    /// The wrapped `chrono` instant.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Checks `YYYY-MM-DD[Tt]HH:MM:SS(.d+)?([Zz]|[+-]HH:MM)` and returns the number of
/// fractional digits. chrono alone would also accept a space separator and silently
/// truncate digits beyond nanoseconds.
fn check_shape(b: &[u8]) -> Result<usize, &'static str> {
    const SHAPE: &str = "expected YYYY-MM-DDTHH:MM:SS[.ffffff] followed by Z or ±HH:MM";
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let byte_at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    let head_ok = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        .iter()
        .all(|&i| digit_at(i))
        && byte_at(4, b"-")
        && byte_at(7, b"-")
        && byte_at(10, b"Tt")
        && byte_at(13, b":")
        && byte_at(16, b":");
    if !head_ok {
        return Err(SHAPE);
    }
    let mut i = 19;
    let mut fraction_digits = 0;
    if byte_at(i, b".") {
        i += 1;
        while digit_at(i) {
            i += 1;
            fraction_digits += 1;
        }
        if fraction_digits == 0 {
            return Err("expected digits after the decimal point");
        }
    }
    let rest = &b[i.min(b.len())..];
    let offset_ok = match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        [] => return Err("missing UTC offset (Z or ±HH:MM)"),
        _ => false,
    };
    if offset_ok {
        Ok(fraction_digits)
    } else {
        Err(SHAPE)
    }
}

impl fmt::Display for UtcMicros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `YYYY-MM-DDTHH:MM:SS.ffffffZ` (every value has a four-digit year); chrono's RFC 3339
        // writer is several times cheaper than interpreting a `strftime` pattern each time.
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }
}

impl FromStr for UtcMicros {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<UtcMicros, TimeError> {
        UtcMicros::parse_rfc3339(s)
    }
}

impl Serialize for UtcMicros {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcMicros {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UtcMicros, D::Error> {
        let text = String::deserialize(deserializer)?;
        UtcMicros::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(s: &str) -> Result<String, TimeError> {
        UtcMicros::parse_rfc3339(s).map(|t| t.to_string())
    }

    #[test]
    fn converts_offsets_to_utc_with_six_fraction_digits() {
        for (input, expected) in [
            ("2026-02-03T10:15:00.5+02:00", "2026-02-03T08:15:00.500000Z"),
            ("2026-02-03T08:15:00Z", "2026-02-03T08:15:00.000000Z"),
            ("2026-02-03t08:15:00.123456z", "2026-02-03T08:15:00.123456Z"),
            ("2026-01-01T00:30:00-01:00", "2026-01-01T01:30:00.000000Z"),
            (
                "2025-12-31T23:59:59.999999-00:00",
                "2025-12-31T23:59:59.999999Z",
            ),
            ("2026-03-01T01:00:00+05:45", "2026-02-28T19:15:00.000000Z"),
            (
                "2024-02-29T12:00:00.000001+00:00",
                "2024-02-29T12:00:00.000001Z",
            ),
        ] {
            assert_eq!(utc(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn refuses_missing_offsets_extra_precision_and_bad_shapes() {
        let too_precise = utc("2026-02-03T08:15:00.1234567Z");
        assert!(matches!(too_precise, Err(TimeError::TooPrecise(_))));
        let message = too_precise.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("more than 6 fractional digits"),
            "{message}"
        );
        for input in [
            "2026-02-03T08:15:00",
            "2026-02-03 08:15:00Z",
            "2026-02-03T08:15Z",
            "2026-02-03T08:15:00.Z",
            "2026-02-03T08:15:00+0200",
            "2026-02-03T08:15:00+02",
            "2026-02-30T08:15:00Z",
            "2026-02-03T24:00:00Z",
            "2026-02-03",
            " 2026-02-03T08:15:00Z",
            "2026-02-03T08:15:00Z ",
            "",
        ] {
            assert!(
                matches!(utc(input), Err(TimeError::Syntax { .. })),
                "{input:?}"
            );
        }
        assert!(matches!(
            utc("2016-12-31T23:59:60Z"),
            Err(TimeError::LeapSecond(_))
        ));
    }

    #[test]
    fn datetime_constructors_check_or_truncate_precision() {
        let base = Utc.with_ymd_and_hms(2026, 2, 3, 8, 15, 0).single();
        let Some(base) = base else {
            panic!("valid date");
        };
        let nanos = base.with_nanosecond(1_234_567).unwrap_or(base);
        assert!(matches!(
            UtcMicros::from_datetime(nanos),
            Err(TimeError::SubMicrosecond(_))
        ));
        assert_eq!(
            UtcMicros::truncating(nanos).to_string(),
            "2026-02-03T08:15:00.001234Z"
        );
        let micros = base.with_nanosecond(1_234_000).unwrap_or(base);
        assert_eq!(
            UtcMicros::from_datetime(micros).map(|t| t.as_datetime()),
            Ok(micros)
        );
        assert_eq!(UtcMicros::now().as_datetime().nanosecond() % 1_000, 0);
    }

    #[test]
    fn serde_round_trips_and_orders_by_instant() {
        let early = UtcMicros::parse_rfc3339("2026-02-03T10:00:00+02:00").ok();
        let late = UtcMicros::parse_rfc3339("2026-02-03T08:00:00.000001Z").ok();
        assert!(early.is_some() && early < late);
        let json = serde_json::to_string(&early);
        assert_eq!(
            json.ok().as_deref(),
            Some("\"2026-02-03T08:00:00.000000Z\"")
        );
        let back: Result<UtcMicros, _> = serde_json::from_str("\"2026-02-03T10:00:00+02:00\"");
        assert_eq!(back.ok(), early);
        assert!(serde_json::from_str::<UtcMicros>("\"2026-02-03T10:00:00\"").is_err());
    }
}
