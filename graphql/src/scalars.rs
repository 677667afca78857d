//! The two scalars of the schema: `Decimal`, the 6-decimal string of SPEC §4 (parsed exactly,
//! never rounded), and `DateTime`, the §5 form `YYYY-MM-DDTHH:MM:SS.ffffffZ`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use greenos_core::proof::{Decimal6, UtcMicros};

/// A decimal quantity: written as a string with exactly 6 decimals; read from a string or a
/// number with at most 6 decimals (more is refused, never rounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal(pub Decimal6);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        Decimal6::parse_exact(&text)
            .map(Decimal)
            .map_err(|e| InputValueError::custom(format!("{text:?}: {e}")))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// An instant: written as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, 6 fractional digits); read as
/// RFC 3339 with an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub UtcMicros);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => UtcMicros::parse_rfc3339(text)
                .map(DateTime)
                .map_err(|e| InputValueError::custom(format!("{text:?}: {e}"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}
