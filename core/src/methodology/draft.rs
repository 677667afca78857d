//! The input of a new methodology version and its §7 validation: a `MethodologyDraft` (from an
//! admin request or from configuration) becomes a `ValidatedDraft`, which carries its hash and is
//! the only thing the registry stores.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::methodology::MethodologyError;
use crate::proof::{
    CountryFactors, Decimal6, MethodologyContent, MethodologyHashInput, Sha256Hex, methodology_hash,
};

/// The longest `methodology_version` (the column is 64 characters wide).
const MAX_VERSION_CHARS: usize = 64;
/// `GET .../methodology/current` is the ACTIVE version, so no version may be called that.
const RESERVED_VERSION: &str = "current";
/// The longest `rounding` rule (the column is 64 characters wide).
const MAX_ROUNDING_CHARS: usize = 64;
/// No emission factor exceeds 1 t CO2 per km; a larger value is a unit error, and would overflow
/// the micro-unit columns of the ledger once multiplied by a distance.
const MAX_FACTOR: Decimal = Decimal::ONE_THOUSAND;

/// The factors of one country as given in a draft: decimal strings with at most 6 decimals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftFactors {
    /// Emission factor of the thermal baseline (kg CO2 per km), e.g. `"0.192"` or `"0.192000"`.
    pub thermal_factor_local: String,
    /// Emission factor of the electric vehicle (kg CO2 per km), e.g. `"0.048000"`.
    pub ev_factor_local: String,
}

/// A methodology version to create, as an admin submits it (unknown fields are refused).
pub type MethodologyDraft = MethodologyContent<DraftFactors>;

/// A draft that passed every §7 rule, with its `methodology_hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedDraft {
    input: MethodologyHashInput,
    hash: Sha256Hex,
}

impl ValidatedDraft {
    /// The hashed fields, normalised (scope sorted, factors exact).
    pub fn hash_input(&self) -> &MethodologyHashInput {
        &self.input
    }

    /// The hash of [`Self::hash_input`].
    pub fn methodology_hash(&self) -> &Sha256Hex {
        &self.hash
    }

    /// The version name.
    pub fn methodology_version(&self) -> &str {
        &self.input.methodology_version
    }
}

impl MethodologyDraft {
    /// Parses the factors exactly, normalises the scope and checks every §7 rule.
    pub fn validate(self) -> Result<ValidatedDraft, MethodologyError> {
        let mut input = self.try_map_factors(|country, factors| {
            check_country(&format!("country_factors.{country}"), country)?;
            Ok::<_, MethodologyError>(CountryFactors {
                thermal_factor_local: parse_factor(
                    country,
                    "thermal_factor_local",
                    &factors.thermal_factor_local,
                )?,
                ev_factor_local: parse_factor(
                    country,
                    "ev_factor_local",
                    &factors.ev_factor_local,
                )?,
            })
        })?;
        input.geographic_scope.sort_unstable();
        input.geographic_scope.dedup();
        check_hash_input(&input)?;
        let hash = methodology_hash(&input);
        Ok(ValidatedDraft { input, hash })
    }
}

fn parse_factor(country: &str, name: &str, text: &str) -> Result<Decimal6, MethodologyError> {
    Decimal6::parse_exact(text).map_err(|e| {
        MethodologyError::invalid(format!("country_factors.{country}.{name}"), e.to_string())
    })
}

/// Every §7 rule on the hashed fields; also re-checks stored versions.
pub(crate) fn check_hash_input(input: &MethodologyHashInput) -> Result<(), MethodologyError> {
    check_version(&input.methodology_version)?;
    non_blank("baseline_reference", &input.baseline_reference)?;
    if input.factor_references.is_empty() {
        return Err(MethodologyError::invalid(
            "factor_references",
            "at least one factor reference is required",
        ));
    }
    for (i, reference) in input.factor_references.iter().enumerate() {
        non_blank(&format!("factor_references[{i}]"), reference)?;
    }
    non_blank("formula", &input.formula)?;
    non_blank("rounding", &input.rounding)?;
    if input.rounding.chars().count() > MAX_ROUNDING_CHARS {
        return Err(MethodologyError::invalid(
            "rounding",
            format!("at most {MAX_ROUNDING_CHARS} characters"),
        ));
    }
    check_scope(&input.geographic_scope)?;
    for (country, factors) in &input.country_factors {
        check_country(&format!("country_factors.{country}"), country)?;
        check_factors(country, factors)?;
    }
    check_coverage(&input.geographic_scope, &input.country_factors)
}

/// Whether `version` has the form of a version name (1–64 characters of `[A-Za-z0-9._:-]`).
pub fn is_version_name(version: &str) -> bool {
    (1..=MAX_VERSION_CHARS).contains(&version.len())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn check_version(version: &str) -> Result<(), MethodologyError> {
    if version == RESERVED_VERSION {
        Err(MethodologyError::invalid(
            "methodology_version",
            "`current` is reserved: it names the ACTIVE version in the API",
        ))
    } else if is_version_name(version) {
        Ok(())
    } else {
        Err(MethodologyError::invalid(
            "methodology_version",
            format!("must be 1 to {MAX_VERSION_CHARS} characters of [A-Za-z0-9._:-]"),
        ))
    }
}

/// Free text must say something, and hold no NUL character (which PostgreSQL cannot store and
/// C-based tools cut short).
fn non_blank(field: &str, value: &str) -> Result<(), MethodologyError> {
    if value.trim().is_empty() {
        Err(MethodologyError::invalid(field, "must not be empty"))
    } else if value.contains('\0') {
        Err(MethodologyError::invalid(
            field,
            "must not contain a NUL character (\\u0000)",
        ))
    } else {
        Ok(())
    }
}

fn check_country(field: &str, code: &str) -> Result<(), MethodologyError> {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(MethodologyError::invalid(
            field,
            format!("{code:?} is not an ISO 3166-1 alpha-2 code in uppercase"),
        ))
    }
}

fn check_scope(scope: &[String]) -> Result<(), MethodologyError> {
    if scope.is_empty() {
        return Err(MethodologyError::invalid(
            "geographic_scope",
            "at least one country is required",
        ));
    }
    for code in scope {
        check_country("geographic_scope", code)?;
    }
    if scope.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(MethodologyError::invalid(
            "geographic_scope",
            "must be sorted and free of duplicates",
        ));
    }
    Ok(())
}

fn check_factors(country: &str, factors: &CountryFactors) -> Result<(), MethodologyError> {
    let field = |name: &str| format!("country_factors.{country}.{name}");
    let thermal = factors.thermal_factor_local.as_decimal();
    let ev = factors.ev_factor_local.as_decimal();
    if thermal <= Decimal::ZERO {
        return Err(MethodologyError::invalid(
            field("thermal_factor_local"),
            "must be greater than 0",
        ));
    }
    if ev < Decimal::ZERO {
        return Err(MethodologyError::invalid(
            field("ev_factor_local"),
            "must be greater than or equal to 0",
        ));
    }
    for (name, value) in [("thermal_factor_local", thermal), ("ev_factor_local", ev)] {
        if value > MAX_FACTOR {
            return Err(MethodologyError::invalid(
                field(name),
                "must be at most 1000 kg CO2 per km (a larger value is a unit error)",
            ));
        }
    }
    Ok(())
}

fn check_coverage(
    scope: &[String],
    factors: &BTreeMap<String, CountryFactors>,
) -> Result<(), MethodologyError> {
    let scope_set: BTreeSet<&str> = scope.iter().map(String::as_str).collect();
    let missing: Vec<String> = scope
        .iter()
        .filter(|c| !factors.contains_key(c.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(MethodologyError::MissingCountryFactors { countries: missing });
    }
    let extra: Vec<&str> = factors
        .keys()
        .map(String::as_str)
        .filter(|c| !scope_set.contains(c))
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(MethodologyError::invalid(
            "country_factors",
            format!(
                "factors for {}, which geographic_scope does not list (add the country to the scope or remove its factors)",
                extra.join(", ")
            ),
        ))
    }
}
