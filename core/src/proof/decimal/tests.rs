use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn shown(s: &str) -> Result<String, DecimalError> {
    Decimal6::parse_exact(s).map(|d| d.to_string())
}

#[test]
fn parses_plain_notation_exactly() {
    for (input, expected) in [
        ("12.5", "12.500000"),
        ("12.500000", "12.500000"),
        ("-3", "-3.000000"),
        ("0.000001", "0.000001"),
        ("0", "0.000000"),
        ("-0.000000", "0.000000"),
        ("-0.5", "-0.500000"),
        ("12.5000000000", "12.500000"),
        (
            "79228162514264337593543950335",
            "79228162514264337593543950335.000000",
        ),
    ] {
        assert_eq!(shown(input).as_deref(), Ok(expected), "{input}");
    }
}

#[test]
fn refuses_more_than_six_places_with_a_clear_message() {
    let err = Decimal6::parse_exact("0.0000001");
    assert_eq!(
        err,
        Err(DecimalError::TooManyDecimalPlaces("0.0000001".to_owned()))
    );
    let message = err.map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(message.contains("more than 6 decimal places"), "{message}");
    assert!(message.contains("never rounded"), "{message}");
}

#[test]
fn refuses_everything_that_is_not_plain_decimal_notation() {
    for input in [
        "", "+1", " 1", "1 ", "1e3", "1E3", "NaN", "inf", "-inf", ".5", "5.", "-", "1_000", "01",
        "0x10", "1,5", "--1", "١",
    ] {
        assert!(
            matches!(
                Decimal6::parse_exact(input),
                Err(DecimalError::Syntax { .. })
            ),
            "{input:?}"
        );
    }
    assert!(matches!(
        Decimal6::parse_exact("79228162514264337593543950336"),
        Err(DecimalError::OutOfRange(_))
    ));
}

#[test]
fn json_numbers_accept_exponents_only_when_exact() {
    for (raw, expected) in [
        ("12.5", "12.500000"),
        ("1.25e1", "12.500000"),
        ("125E-1", "12.500000"),
        ("1e+2", "100.000000"),
        ("1e-6", "0.000001"),
        ("1.5e-5", "0.000015"),
        ("-0", "0.000000"),
        ("0e-999999999999", "0.000000"),
        ("10000", "10000.000000"),
        ("1.0000000e0", "1.000000"),
    ] {
        assert_eq!(
            parse_json_number_exact(raw)
                .map(|d| d.to_string())
                .as_deref(),
            Ok(expected),
            "{raw}"
        );
    }
    assert!(matches!(
        parse_json_number_exact("1e-7"),
        Err(DecimalError::TooManyDecimalPlaces(_))
    ));
    assert!(matches!(
        parse_json_number_exact("1.2345678"),
        Err(DecimalError::TooManyDecimalPlaces(_))
    ));
    assert!(matches!(
        parse_json_number_exact("1e99999999999"),
        Err(DecimalError::OutOfRange(_))
    ));
    for raw in [
        "\"12.5\"", "true", "null", "", "+1", "01", "1.", ".1", "1e", "1e+", " 1", "NaN", "1.5x",
    ] {
        assert!(
            matches!(
                parse_json_number_exact(raw),
                Err(DecimalError::Syntax { .. })
            ),
            "{raw:?}"
        );
    }
}

#[test]
fn rounds_half_to_even() {
    for (input, expected) in [
        ("0.0000005", "0.000000"),
        ("0.0000015", "0.000002"),
        ("0.0000025", "0.000002"),
        ("-0.0000005", "0.000000"),
        ("-0.0000015", "-0.000002"),
        ("2.4999995", "2.500000"),
        ("1.00000049999", "1.000000"),
    ] {
        let d = Decimal::from_str(input).unwrap_or_default();
        assert_eq!(
            Decimal6::round_half_even(d).to_string(),
            expected,
            "{input}"
        );
    }
}

#[test]
fn micro_conversions_are_exact_and_checked() {
    assert_eq!(Decimal6::from_micro(12_500_000).to_string(), "12.500000");
    assert_eq!(Decimal6::from_micro(-1).to_string(), "-0.000001");
    assert_eq!(Decimal6::from_micro(i64::MIN).to_micro(), Ok(i64::MIN));
    let huge = Decimal6::parse_exact("10000000000000000");
    assert!(matches!(
        huge.map(|d| d.to_micro()),
        Ok(Err(DecimalError::OutOfRange(_)))
    ));
    assert_eq!(
        Decimal6::try_from_decimal(Decimal::new(1, 7)),
        Err(DecimalError::TooManyDecimalPlaces("0.0000001".to_owned()))
    );
    assert_eq!(
        Decimal6::try_from_decimal(Decimal::new(1_000, 9))
            .map(|d| d.to_string())
            .as_deref(),
        Ok("0.000001")
    );
}

#[test]
fn equal_values_are_equal_whatever_their_scale() {
    assert_eq!(
        Decimal6::parse_exact("1.5"),
        Decimal6::parse_exact("1.500000")
    );
    assert_eq!(
        Decimal6::from_str("1.5").map(|d| d.as_decimal()),
        Ok(Decimal::new(15, 1))
    );
    assert!(Decimal6::from_micro(1) > Decimal6::ZERO);
}

#[test]
fn serde_is_a_strict_canonical_string() {
    let d = Decimal6::from_micro(12_500_000);
    assert_eq!(
        serde_json::to_string(&d).ok().as_deref(),
        Some("\"12.500000\"")
    );
    assert_eq!(
        serde_json::from_str::<Decimal6>("\"12.500000\"").ok(),
        Some(d)
    );
    for bad in [
        "\"12.5\"",
        "12.5",
        "\"-0.000000\"",
        "\"12.5000000\"",
        "\" 1.000000\"",
    ] {
        assert!(serde_json::from_str::<Decimal6>(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn display_and_parse_round_trip(micro in any::<i64>()) {
        let d = Decimal6::from_micro(micro);
        let text = d.to_string();
        prop_assert_eq!(Decimal6::parse_exact(&text), Ok(d));
        prop_assert_eq!(parse_json_number_exact(&text), Ok(d));
        prop_assert_eq!(d.to_micro(), Ok(micro));
        let (_, frac) = text.split_once('.').unwrap_or_default();
        prop_assert_eq!(frac.len(), 6);
    }

    #[test]
    fn rounding_is_within_half_a_micro(mantissa in any::<i64>(), scale in 0u32..=12) {
        let d = Decimal::new(mantissa, scale);
        let rounded = Decimal6::round_half_even(d).as_decimal();
        prop_assert!((rounded - d).abs() <= Decimal::new(5, 7));
    }
}
