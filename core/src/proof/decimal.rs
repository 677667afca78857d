//! Exact quantities with 6 decimal places (SPEC §4): parsed from text without
//! ever passing through `f64`, rounded only on purpose (half-even), and always
//! written as strings with exactly 6 decimals (`"12.500000"`).

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of decimal places every quantity carries.
pub const DECIMAL_PLACES: u32 = 6;

/// A decimal quantity with at most 6 significant decimal places, displayed with exactly 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal6(Decimal);

/// Why a text or value is not an exact 6-decimal quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is not plain decimal notation (or, for raw JSON, not a JSON number).
    #[error("invalid decimal {text:?}: {reason}")]
    Syntax {
        /// The refused text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value has more than 6 decimal places; it is refused, never rounded silently.
    #[error("{0:?} has more than 6 decimal places (values are never rounded silently)")]
    TooManyDecimalPlaces(String),
    /// The value does not fit the representable range.
    #[error("{0:?} is out of range")]
    OutOfRange(String),
    /// The string is a valid quantity but not in the canonical `-?D+.DDDDDD` form.
    #[error("{0:?} is not in canonical 6-decimal form (expected e.g. \"12.500000\")")]
    NotCanonical(String),
}

impl Decimal6 {
    /// Zero (`"0.000000"`).
    pub const ZERO: Decimal6 = Decimal6(Decimal::ZERO);

    /// Parses plain decimal notation (`12.5`, `-3`, `0.000001`) exactly.
    pub fn parse_exact(s: &str) -> Result<Decimal6, DecimalError> {
        let syntax = |reason| DecimalError::Syntax {
            text: s.to_owned(),
            reason,
        };
        let (negative, unsigned) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = match unsigned.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (unsigned, None),
        };
        check_digits(int_part, "expected digits before the decimal point").map_err(syntax)?;
        if int_part.len() > 1 && int_part.starts_with('0') {
            return Err(syntax("leading zeros are not allowed"));
        }
        let frac = frac_part.unwrap_or("");
        if frac_part.is_some() {
            check_digits(frac, "expected digits after the decimal point").map_err(syntax)?;
        }
        Self::from_digits(negative, int_part, frac, 0, s)
    }

    /// Rounds `d` to 6 decimal places, ties to even (banker's rounding).
    pub fn round_half_even(d: Decimal) -> Decimal6 {
        let rounded =
            d.round_dp_with_strategy(DECIMAL_PLACES, RoundingStrategy::MidpointNearestEven);
        Decimal6(rounded.normalize())
    }

    /// Accepts `d` only if it has no significant digit beyond the 6th decimal place.
    pub fn try_from_decimal(d: Decimal) -> Result<Decimal6, DecimalError> {
        let normalized = d.normalize();
        if normalized.scale() > DECIMAL_PLACES {
            return Err(DecimalError::TooManyDecimalPlaces(d.to_string()));
        }
        Ok(Decimal6(normalized))
    }

    /// The quantity whose value is `micro` millionths.
    pub fn from_micro(micro: i64) -> Decimal6 {
        Decimal6(Decimal::new(micro, DECIMAL_PLACES).normalize())
    }

    /// The value in millionths, if it fits an `i64`.
    pub fn to_micro(&self) -> Result<i64, DecimalError> {
        i64::try_from(self.micro_i128()).map_err(|_| DecimalError::OutOfRange(self.to_string()))
    }

    /// The value as a `rust_decimal::Decimal` (trailing zeros stripped).
    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// The value in millionths; a `Decimal` mantissa (< 2^96) times at most 10^6 always fits.
    fn micro_i128(&self) -> i128 {
        let factor = 10_i128.pow(DECIMAL_PLACES - self.0.scale());
        self.0.mantissa() * factor
    }

    /// Builds the value `(-)int.frac × 10^exponent` from validated digit strings.
    fn from_digits(
        negative: bool,
        int_part: &str,
        frac: &str,
        exponent: i64,
        text: &str,
    ) -> Result<Decimal6, DecimalError> {
        let out_of_range = || DecimalError::OutOfRange(text.to_owned());
        let mut digits = format!("{int_part}{frac}");
        let mut scale = i64::try_from(frac.len())
            .ok()
            .and_then(|len| len.checked_sub(exponent))
            .ok_or_else(out_of_range)?;
        // Trailing zeros beyond the 6th place carry no information and may be dropped.
        while scale > i64::from(DECIMAL_PLACES) && digits.ends_with('0') {
            digits.pop();
            scale -= 1;
        }
        let mut mantissa: i128 = 0;
        for byte in digits.bytes() {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(byte - b'0')))
                .ok_or_else(out_of_range)?;
        }
        if mantissa == 0 {
            return Ok(Decimal6::ZERO);
        }
        if scale > i64::from(DECIMAL_PLACES) {
            return Err(DecimalError::TooManyDecimalPlaces(text.to_owned()));
        }
        while scale < 0 {
            mantissa = mantissa.checked_mul(10).ok_or_else(out_of_range)?;
            scale += 1;
        }
        let scale = u32::try_from(scale).map_err(|_| out_of_range())?;
        let signed = if negative { -mantissa } else { mantissa };
        let d = Decimal::try_from_i128_with_scale(signed, scale).map_err(|_| out_of_range())?;
        Ok(Decimal6(d.normalize()))
    }
}

/// Parses the raw text of a JSON number exactly: `1.25e1` is `12.500000`, while a
/// JSON string (`"12.5"`), more than 6 significant decimals, or anything that is not
/// JSON number syntax is refused.
pub fn parse_json_number_exact(raw: &str) -> Result<Decimal6, DecimalError> {
    let syntax = |reason| DecimalError::Syntax {
        text: raw.to_owned(),
        reason,
    };
    if raw.starts_with('"') {
        return Err(syntax("a JSON string where a JSON number is required"));
    }
    let (negative, unsigned) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (mantissa_text, exponent_text) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (int_part, frac_part) = match mantissa_text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa_text, None),
    };
    const NOT_A_NUMBER: &str = "not a JSON number";
    check_digits(int_part, NOT_A_NUMBER).map_err(syntax)?;
    if int_part.len() > 1 && int_part.starts_with('0') {
        return Err(syntax("leading zeros are not allowed in JSON numbers"));
    }
    let frac = frac_part.unwrap_or("");
    if frac_part.is_some() {
        check_digits(frac, NOT_A_NUMBER).map_err(syntax)?;
    }
    let exponent = match exponent_text {
        None => 0,
        Some(text) => {
            let (exp_negative, exp_digits) = match text.as_bytes().first() {
                Some(b'-') => (true, &text[1..]),
                Some(b'+') => (false, &text[1..]),
                _ => (false, text),
            };
            check_digits(exp_digits, NOT_A_NUMBER).map_err(syntax)?;
            // Exponents beyond ±10^6 cannot give a representable value with ≤ 6 decimals
            // (except zero, which from_digits recognises before looking at the scale).
            let magnitude: i64 = exp_digits.parse().unwrap_or(i64::MAX).min(1_000_000);
            if exp_negative { -magnitude } else { magnitude }
        }
    };
    Decimal6::from_digits(negative, int_part, frac, exponent, raw)
}

/// Checks that `s` is a non-empty run of ASCII digits.
fn check_digits(s: &str, reason: &'static str) -> Result<(), &'static str> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(reason)
    }
}

impl fmt::Display for Decimal6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micro = self.micro_i128();
        let sign = if micro < 0 { "-" } else { "" };
        let magnitude = micro.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:06}",
            magnitude / 1_000_000,
            magnitude % 1_000_000
        )
    }
}

impl FromStr for Decimal6 {
    type Err = DecimalError;

    fn from_str(s: &str) -> Result<Decimal6, DecimalError> {
        Decimal6::parse_exact(s)
    }
}

impl Serialize for Decimal6 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal6 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Decimal6, D::Error> {
        let text = String::deserialize(deserializer)?;
        let value = Decimal6::parse_exact(&text).map_err(serde::de::Error::custom)?;
        if value.to_string() != text {
            return Err(serde::de::Error::custom(DecimalError::NotCanonical(text)));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
