use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn canon(text: &str) -> Result<String, CanonicalError> {
    let value = parse_strict(text.as_bytes())?;
    let bytes = to_canonical_vec(&value)?;
    String::from_utf8(bytes).map_err(|e| CanonicalError::Json(e.to_string()))
}

#[test]
fn sorts_keys_at_every_depth_without_whitespace() {
    let text = r#"{ "b": [ {"z": 1, "a": null} ], "a": {"y": true, "x": false} }"#;
    assert_eq!(
        canon(text),
        Ok(r#"{"a":{"x":false,"y":true},"b":[{"a":null,"z":1}]}"#.to_owned())
    );
}

#[test]
fn keys_sort_by_code_point_not_utf16() {
    // U+FF61 sorts before U+1F600 by code point but after it in UTF-16 units.
    let text = "{\"\u{1F600}\":1,\"\u{FF61}\":2,\"é\":3,\"z\":4}";
    assert_eq!(
        canon(text),
        Ok("{\"z\":4,\"é\":3,\"\u{FF61}\":2,\"\u{1F600}\":1}".to_owned())
    );
}

#[test]
fn escaping_matches_serde_json_for_every_control_and_special_char() {
    let mut all = String::new();
    for c in (0u32..0x80).chain([0x2028, 0x2029, 0xFEFF, 0x1F600]) {
        all.push(char::from_u32(c).unwrap_or('?'));
    }
    let mut ours = Vec::new();
    push_canonical_string(&mut ours, &all);
    assert_eq!(
        String::from_utf8(ours.clone()).ok(),
        serde_json::to_string(&all).ok()
    );
    let mut written = Vec::new();
    assert!(write_canonical_string(&mut written, &all).is_ok());
    assert_eq!(written, ours);
}

#[test]
fn control_chars_use_short_forms_or_lowercase_unicode_escapes() {
    let s = "\u{0}\u{1f}\u{8}\u{c}\n\r\t\"\\/\u{7f}\u{2028}";
    let mut out = Vec::new();
    push_canonical_string(&mut out, s);
    assert_eq!(
        String::from_utf8(out).ok(),
        Some("\"\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\u{7f}\u{2028}\"".to_owned())
    );
}

#[test]
fn integers_at_the_safe_edge_are_kept_and_beyond_are_refused() {
    assert_eq!(
        canon("[9007199254740991,-9007199254740991,0]").as_deref(),
        Ok("[9007199254740991,-9007199254740991,0]")
    );
    assert!(matches!(
        canon("9007199254740992"),
        Err(CanonicalError::IntegerOutOfRange(_))
    ));
    assert!(matches!(
        canon("-9007199254740992"),
        Err(CanonicalError::IntegerOutOfRange(_))
    ));
    assert!(matches!(
        canon("18446744073709551615"),
        Err(CanonicalError::IntegerOutOfRange(_))
    ));
}

#[test]
fn every_float_is_refused() {
    for text in ["1.0", "1.5", "1e2", "-0", "{\"a\":[0.1]}"] {
        assert!(
            matches!(canon(text), Err(CanonicalError::NonIntegerNumber(_))),
            "{text}"
        );
    }
    assert!(matches!(
        to_canonical(&1.0_f64),
        Err(CanonicalError::NonIntegerNumber(_))
    ));
}

#[test]
fn duplicate_keys_are_refused_at_any_depth() {
    assert_eq!(
        parse_strict(br#"{"a":1,"a":2}"#),
        Err(CanonicalError::DuplicateKey("a".to_owned()))
    );
    assert_eq!(
        parse_strict(r#"{"x":[{"k":{"\u00e9":1,"é":2}}]}"#.as_bytes()),
        Err(CanonicalError::DuplicateKey("é".to_owned()))
    );
    assert_eq!(parse_strict(br#"{"a":{"a":1}}"#), Ok(json!({"a":{"a":1}})));
}

#[test]
fn syntax_errors_and_trailing_text_are_json_errors() {
    for text in ["", "{", "[1,]", "{} x", "\"\\ud800\"", "nul"] {
        assert!(
            matches!(parse_strict(text.as_bytes()), Err(CanonicalError::Json(_))),
            "{text}"
        );
    }
    assert!(matches!(
        parse_strict(b"\xff"),
        Err(CanonicalError::Json(_))
    ));
    assert_eq!(parse_strict(b" [] \n"), Ok(json!([])));
}

#[test]
fn string_object_helper_matches_the_generic_path() {
    let fields = [("b", "2"), ("a", "\n"), ("é", "x")];
    let generic = to_canonical(&json!({"b":"2","a":"\n","é":"x"}));
    assert_eq!(Ok(canonical_string_object(&fields)), generic);
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(|i| Value::Number(i.into())),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Writes `value` as JSON text with object keys in reverse order and some spacing.
fn reversed_text(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(reversed_text).collect();
            format!("[ {} ]", parts.join(" , "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{} : {}", Value::String(k.clone()), reversed_text(v)))
                .collect();
            format!("{{ {} }}", parts.join(" , "))
        }
        other => other.to_string(),
    }
}

proptest! {
    #[test]
    fn canonical_form_ignores_key_order_and_is_idempotent(value in arb_value()) {
        let canonical = to_canonical_vec(&value);
        prop_assert!(canonical.is_ok());
        let canonical = canonical.unwrap_or_default();
        let from_reversed = parse_strict(reversed_text(&value).as_bytes())
            .and_then(|v| to_canonical_vec(&v));
        prop_assert_eq!(from_reversed.as_ref(), Ok(&canonical));
        let again = parse_strict(&canonical).and_then(|v| to_canonical_vec(&v));
        prop_assert_eq!(again.as_ref(), Ok(&canonical));
        // serde_json's compact writer sorts the same way and escapes the same way.
        prop_assert_eq!(serde_json::to_vec(&value).ok(), Some(canonical));
    }

    #[test]
    fn escaping_matches_serde_json_inside_and_across_blocks(
        s in "([a-f0-9é/+=]{0,37}[\\x00-\\x1f\"\\\\]?){0,4}"
    ) {
        let mut ours = Vec::new();
        push_canonical_string(&mut ours, &s);
        prop_assert_eq!(String::from_utf8(ours).ok(), serde_json::to_string(&s).ok());
    }
}
