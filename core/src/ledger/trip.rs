//! A trip that passed every rule of SPEC §4, as types: once a `ValidatedTrip` exists, nothing
//! downstream checks its fields again.

use std::fmt;

use crate::proof::{Decimal6, UtcMicros};

/// The longest identifier accepted for `trip_id`, `user_id` and `vehicle_id`.
pub const MAX_IDENTIFIER_LEN: usize = 128;
/// The longest geohash accepted (12 characters is sub-metre precision).
pub const MAX_GEO_HASH_LEN: usize = 12;
/// The geohash base32 alphabet (no `a`, `i`, `l`, `o`).
const GEO_HASH_ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// An identifier of 1 to 128 characters of `[A-Za-z0-9._:-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identifier(String);

impl Identifier {
    /// Accepts `s` if it is 1–128 characters of `[A-Za-z0-9._:-]`.
    pub fn parse(s: &str) -> Result<Identifier, String> {
        if s.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if s.len() > MAX_IDENTIFIER_LEN {
            return Err(format!(
                "must be at most {MAX_IDENTIFIER_LEN} characters, got {}",
                s.chars().count()
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
        {
            return Err(format!(
                "may only contain A-Z, a-z, 0-9, '.', '_', ':' and '-', found {bad:?}"
            ));
        }
        Ok(Identifier(s.to_owned()))
    }

    /// The identifier text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A country code of two uppercase ASCII letters (ISO 3166-1 alpha-2 shape).
///
/// Whether ISO has assigned the code is not checked here: the ACTIVE methodology's factor table
/// is the allow-list that matters, and a code without factors is refused at computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Accepts exactly two uppercase ASCII letters.
    pub fn parse(s: &str) -> Result<CountryCode, String> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(CountryCode([*a, *b])),
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Err(format!(
                "must be ISO 3166-1 alpha-2 in uppercase, e.g. {:?}",
                s.to_ascii_uppercase()
            )),
            _ => Err("must be an ISO 3166-1 alpha-2 code of two uppercase letters".to_owned()),
        }
    }

    /// The two letters.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII uppercase letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A geohash of 1 to 12 characters of the geohash base32 alphabet.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GeoHash(String);

impl GeoHash {
    /// Accepts 1–12 characters of `0123456789bcdefghjkmnpqrstuvwxyz`.
    pub fn parse(s: &str) -> Result<GeoHash, String> {
        if s.is_empty() || s.len() > MAX_GEO_HASH_LEN {
            return Err(format!(
                "must be 1 to {MAX_GEO_HASH_LEN} geohash characters"
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !u8::try_from(*c).is_ok_and(|b| GEO_HASH_ALPHABET.contains(&b)))
        {
            return Err(format!(
                "{bad:?} is not in the geohash base32 alphabet 0-9 b-z without a, i, l, o"
            ));
        }
        Ok(GeoHash(s.to_owned()))
    }

    /// The geohash text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A distance in km with `0 < d ≤ 10000` and at most 6 decimal places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DistanceKm(Decimal6);

impl DistanceKm {
    /// The largest distance one trip may declare.
    pub const MAX_MICRO: i64 = 10_000 * 1_000_000;

    /// Accepts an exact quantity in `(0, 10000]`.
    pub fn new(d: Decimal6) -> Result<DistanceKm, String> {
        let micro = d.to_micro().map_err(|e| e.to_string())?;
        if micro <= 0 {
            return Err(format!("must be greater than 0, got {d}"));
        }
        if micro > Self::MAX_MICRO {
            return Err(format!("must be at most 10000 km, got {d}"));
        }
        Ok(DistanceKm(d))
    }

    /// The exact quantity.
    pub fn value(&self) -> Decimal6 {
        self.0
    }
}

/// One trip in the §4 ingest schema, every field checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedTrip {
    /// The client's trip identifier.
    pub trip_id: Identifier,
    /// The user who made the trip.
    pub user_id: Identifier,
    /// The vehicle used.
    pub vehicle_id: Identifier,
    /// Where the trip happened.
    pub country_code: CountryCode,
    /// Geohash of the trip.
    pub geo_hash: GeoHash,
    /// When the trip happened, in UTC with microsecond precision.
    pub event_timestamp: UtcMicros,
    /// Distance travelled.
    pub distance_km: DistanceKm,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_charset_and_length() {
        assert!(Identifier::parse("trip-0001:a_b.c").is_ok());
        assert!(Identifier::parse("").is_err());
        assert!(Identifier::parse("trip 1").is_err());
        assert!(Identifier::parse("trip/1").is_err());
        assert!(Identifier::parse(&"a".repeat(128)).is_ok());
        assert!(Identifier::parse(&"a".repeat(129)).is_err());
        assert!(Identifier::parse("tríp").is_err());
    }

    #[test]
    fn country_codes_are_two_uppercase_letters() {
        assert_eq!(
            CountryCode::parse("CI").map(|c| c.to_string()),
            Ok("CI".to_owned())
        );
        assert!(CountryCode::parse("ci").is_err_and(|e| e.contains("uppercase")));
        assert!(CountryCode::parse("CIV").is_err());
        assert!(CountryCode::parse("C1").is_err());
    }

    #[test]
    fn geohashes_use_the_base32_alphabet() {
        assert!(GeoHash::parse("s0t5q").is_ok());
        assert!(GeoHash::parse("s0t5a").is_err());
        assert!(GeoHash::parse("S0T5Q").is_err());
        assert!(GeoHash::parse("").is_err());
        assert!(GeoHash::parse(&"s".repeat(13)).is_err());
    }

    #[test]
    fn distances_are_positive_and_bounded() {
        let d = |s: &str| DistanceKm::new(Decimal6::parse_exact(s).expect("decimal"));
        assert!(d("12.5").is_ok());
        assert!(d("10000").is_ok());
        assert!(d("0.000001").is_ok());
        assert!(d("0").is_err());
        assert!(d("-1").is_err());
        assert!(d("10000.000001").is_err());
    }
}
