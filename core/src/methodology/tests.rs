use std::collections::BTreeMap;

use sea_orm::TryIntoModel;
use serde_json::json;

use super::store::{from_row, to_row};
use super::*;
use crate::error_code::{DomainError, ErrorCode};
use crate::proof::{Decimal6, sha256_hex, to_canonical};

fn factors(thermal: &str, ev: &str) -> DraftFactors {
    DraftFactors {
        thermal_factor_local: thermal.to_owned(),
        ev_factor_local: ev.to_owned(),
    }
}

fn draft() -> MethodologyDraft {
    MethodologyDraft {
        methodology_version: "greenos-mrv-2026.1".to_owned(),
        baseline_reference: "distance_km * thermal_factor_local baseline".to_owned(),
        factor_references: vec!["IPCC 2006 Vol. 2 Ch. 3".to_owned()],
        geographic_scope: vec![
            "SN".to_owned(),
            "CI".to_owned(),
            "KE".to_owned(),
            "CI".to_owned(),
        ],
        country_factors: BTreeMap::from([
            ("CI".to_owned(), factors("0.192", "0.048000")),
            ("KE".to_owned(), factors("0.192000", "0.012")),
            ("SN".to_owned(), factors("0.192000", "0")),
        ]),
        formula:
            "co2_avoided_kg = distance_km * thermal_factor_local - distance_km * ev_factor_local"
                .to_owned(),
        rounding: "half_even_6dp".to_owned(),
    }
}

fn invalid_field(result: Result<ValidatedDraft, MethodologyError>) -> String {
    match result {
        Err(MethodologyError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_valid_draft_is_normalised_and_hashed_as_canonical_json() {
    let validated = draft().validate().expect("valid");
    let input = validated.hash_input();
    assert_eq!(input.geographic_scope, ["CI", "KE", "SN"]);
    assert_eq!(
        input.country_factors["CI"].thermal_factor_local.to_string(),
        "0.192000"
    );
    assert_eq!(input.country_factors["SN"].ev_factor_local, Decimal6::ZERO);
    // An independent route to the same bytes: the generic canonical serialisation.
    let generic = to_canonical(input).expect("canonical");
    assert_eq!(validated.methodology_hash(), &sha256_hex(&generic));
    let text = String::from_utf8(generic).expect("utf-8");
    assert!(
        text.contains(r#""CI":{"ev_factor_local":"0.048000","thermal_factor_local":"0.192000"}"#)
    );
}

#[test]
fn factor_rules_name_the_offending_field() {
    for (thermal, ev, field) in [
        ("0", "0.01", "country_factors.CI.thermal_factor_local"),
        ("-0.1", "0.01", "country_factors.CI.thermal_factor_local"),
        ("0.1", "-0.000001", "country_factors.CI.ev_factor_local"),
        (
            "0.1234567",
            "0.01",
            "country_factors.CI.thermal_factor_local",
        ),
        ("1e-3", "0.01", "country_factors.CI.thermal_factor_local"),
        (
            "1000.000001",
            "0.01",
            "country_factors.CI.thermal_factor_local",
        ),
        ("0.1", "abc", "country_factors.CI.ev_factor_local"),
    ] {
        let mut d = draft();
        d.country_factors
            .insert("CI".to_owned(), factors(thermal, ev));
        assert_eq!(invalid_field(d.validate()), field, "{thermal} / {ev}");
    }
}

#[test]
fn every_scope_country_needs_factors_and_every_factor_a_scope_country() {
    let mut d = draft();
    d.geographic_scope
        .extend(["NG".to_owned(), "GH".to_owned()]);
    match d.validate() {
        Err(err @ MethodologyError::MissingCountryFactors { .. }) => {
            assert_eq!(err.code(), ErrorCode::CountryFactorNotConfigured);
            assert_eq!(err.details(), json!({"countries": ["GH", "NG"]}));
        }
        other => panic!("expected MissingCountryFactors, got {other:?}"),
    }
    let mut d = draft();
    d.geographic_scope.retain(|c| c != "KE");
    assert_eq!(invalid_field(d.validate()), "country_factors");
}

#[test]
fn text_fields_and_codes_are_checked() {
    type Edit = fn(&mut MethodologyDraft);
    let cases: [(Edit, &str); 11] = [
        (
            |d| d.methodology_version = "current".to_owned(),
            "methodology_version",
        ),
        (
            |d| d.baseline_reference = "  ".to_owned(),
            "baseline_reference",
        ),
        (|d| d.factor_references.clear(), "factor_references"),
        (
            |d| d.factor_references.push(String::new()),
            "factor_references[1]",
        ),
        (|d| d.formula.clear(), "formula"),
        (|d| d.rounding = "x".repeat(65), "rounding"),
        (
            |d| d.methodology_version = "v 1".to_owned(),
            "methodology_version",
        ),
        (
            |d| d.methodology_version = "v".repeat(65),
            "methodology_version",
        ),
        (|d| d.methodology_version.clear(), "methodology_version"),
        (
            |d| d.geographic_scope.push("ci".to_owned()),
            "geographic_scope",
        ),
        (|d| d.geographic_scope.clear(), "geographic_scope"),
    ];
    for (edit, field) in cases {
        let mut d = draft();
        edit(&mut d);
        assert_eq!(invalid_field(d.validate()), field);
    }
    let mut d = draft();
    d.country_factors
        .insert("CIV".to_owned(), factors("0.1", "0.1"));
    assert_eq!(invalid_field(d.validate()), "country_factors.CIV");
    let mut d = draft();
    d.methodology_version = "A-z.0_9:x".to_owned();
    assert!(d.validate().is_ok());
}

#[test]
fn drafts_refuse_unknown_fields_and_numbers_for_factors() {
    let mut body = serde_json::to_value(draft()).expect("serialise");
    body["extra"] = json!(1);
    let err = serde_json::from_value::<MethodologyDraft>(body).expect_err("unknown field");
    assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    let mut body = serde_json::to_value(draft()).expect("serialise");
    body["country_factors"]["CI"]["thermal_factor_local"] = json!(0.192);
    assert!(serde_json::from_value::<MethodologyDraft>(body).is_err());
}

#[test]
fn rows_round_trip_with_canonical_json_columns() {
    let validated = draft().validate().expect("valid");
    let now = UtcMicros::now();
    let row = to_row(&validated, MethodologyStatus::Active, now)
        .expect("row")
        .try_into_model()
        .expect("every column set");
    assert_eq!(row.geographic_scope, r#"["CI","KE","SN"]"#);
    assert_eq!(row.factor_references, r#"["IPCC 2006 Vol. 2 Ch. 3"]"#);
    assert!(row.country_factors.starts_with(
        r#"{"CI":{"ev_factor_local":"0.048000","thermal_factor_local":"0.192000"},"KE":"#
    ));
    assert_eq!(row.status, "ACTIVE");
    let methodology = from_row(row.clone()).expect("decodes");
    assert_eq!(methodology.status, MethodologyStatus::Active);
    assert_eq!(methodology.activated_at, Some(now));
    assert_eq!(&methodology.content, validated.hash_input());
    assert_eq!(methodology.recompute_hash(), methodology.methodology_hash);
    assert!(methodology.check_complete().is_ok());
    assert_eq!(
        methodology
            .factors_for("KE")
            .map(|f| f.ev_factor_local.to_string()),
        Some("0.012000".to_owned())
    );
    assert!(methodology.factors_for("NG").is_none());
    let mut corrupt = row;
    corrupt.country_factors = r#"{"CI":{"ev_factor_local":"0.048"}}"#.to_owned();
    let err = from_row(corrupt).expect_err("corrupt row");
    assert_eq!(err.code(), ErrorCode::Internal);
}

#[test]
fn statuses_and_codes_use_the_registry_words() {
    for status in [
        MethodologyStatus::Draft,
        MethodologyStatus::Active,
        MethodologyStatus::Deprecated,
    ] {
        assert_eq!(status.as_str().parse::<MethodologyStatus>(), Ok(status));
        let json = serde_json::to_value(status).expect("serialise");
        assert_eq!(json, json!(status.as_str()));
    }
    assert!("active".parse::<MethodologyStatus>().is_err());
    let exists = MethodologyError::AlreadyExists {
        version: "v1".to_owned(),
    };
    assert_eq!(exists.code().as_str(), "GREENOS_METHODOLOGY_VERSION_EXISTS");
    assert_eq!(exists.code().http_status(), 409);
    let not_found = MethodologyError::NotFound {
        version: "v9".to_owned(),
    };
    assert_eq!(not_found.code().http_status(), 404);
    assert_eq!(not_found.details(), json!({"methodology_version": "v9"}));
}
