//! The methodology an empty registry is bootstrapped with (SPEC §7): `GREENOS_MRV_*` and
//! `GREENOS_COUNTRY_FACTORS_JSON`, checked by the same rules as an admin's draft so that a bad
//! value stops start-up naming its variable.

use std::collections::BTreeMap;

use greenos_core::methodology::{DraftFactors, MethodologyDraft, MethodologyError, ValidatedDraft};

use super::{ConfigError, Vars};

/// Default `GREENOS_MRV_FACTOR_REFERENCES` (illustrative; a `;`-separated list).
pub(super) const DEFAULT_FACTOR_REFERENCES: &str = "IPCC 2006 Guidelines for National Greenhouse Gas Inventories, Vol. 2, Ch. 3 (Mobile Combustion);GreenOS illustrative development factors for CI, KE and SN, to be replaced by nationally governed values";

/// Default `GREENOS_COUNTRY_FACTORS_JSON`: illustrative development values, not official factors.
pub(super) const DEFAULT_COUNTRY_FACTORS_JSON: &str = r#"{"CI":{"thermal_factor_local":"0.192000","ev_factor_local":"0.048000"},"KE":{"thermal_factor_local":"0.192000","ev_factor_local":"0.012000"},"SN":{"thermal_factor_local":"0.192000","ev_factor_local":"0.075000"}}"#;

const VERSION: &str = "GREENOS_MRV_METHODOLOGY_VERSION";
const BASELINE: &str = "GREENOS_MRV_BASELINE_REFERENCE";
const REFERENCES: &str = "GREENOS_MRV_FACTOR_REFERENCES";
const SCOPE: &str = "GREENOS_MRV_GEOGRAPHIC_SCOPE";
const FACTORS: &str = "GREENOS_COUNTRY_FACTORS_JSON";
const FORMULA: &str = "GREENOS_MRV_FORMULA";
const ROUNDING: &str = "GREENOS_MRV_ROUNDING";

/// Reads and validates the bootstrap methodology.
pub(super) fn methodology_settings(vars: &Vars) -> Result<ValidatedDraft, ConfigError> {
    let draft = MethodologyDraft {
        methodology_version: vars.string(VERSION),
        baseline_reference: vars.string(BASELINE),
        factor_references: factor_references(&vars.string(REFERENCES))?,
        geographic_scope: vars
            .string(SCOPE)
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        country_factors: country_factors(&vars.string(FACTORS))?,
        formula: vars.string(FORMULA),
        rounding: vars.string(ROUNDING),
    };
    draft.validate().map_err(|err| config_error(vars, &err))
}

/// A JSON array of strings, or a `;`-separated list.
fn factor_references(raw: &str) -> Result<Vec<String>, ConfigError> {
    if raw.trim_start().starts_with('[') {
        return serde_json::from_str(raw).map_err(|e| ConfigError {
            var: REFERENCES,
            expected: format!("a JSON array of strings or a ;-separated list ({e})"),
            got: Some(raw.to_owned()),
        });
    }
    Ok(raw
        .split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect())
}

fn country_factors(raw: &str) -> Result<BTreeMap<String, DraftFactors>, ConfigError> {
    serde_json::from_str(raw).map_err(|e| ConfigError {
        var: FACTORS,
        expected: format!(
            "a JSON object like {{\"CI\":{{\"thermal_factor_local\":\"0.192000\",\"ev_factor_local\":\"0.048000\"}}}} with decimal strings ({e})"
        ),
        got: Some(raw.to_owned()),
    })
}

/// Names the variable a validation error comes from.
fn config_error(vars: &Vars, err: &MethodologyError) -> ConfigError {
    let var = match err {
        MethodologyError::Invalid { field, .. } => [
            ("methodology_version", VERSION),
            ("baseline_reference", BASELINE),
            ("factor_references", REFERENCES),
            ("geographic_scope", SCOPE),
            ("formula", FORMULA),
            ("rounding", ROUNDING),
        ]
        .into_iter()
        .find(|(prefix, _)| field.starts_with(prefix))
        .map_or(FACTORS, |(_, var)| var),
        _ => FACTORS,
    };
    ConfigError {
        var,
        expected: err.to_string(),
        got: Some(vars.string(var)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn defaults_cover_ci_ke_sn_with_illustrative_factors() {
        let config = Config::from_vars(&Vars::default()).expect("defaults are valid");
        let m = config.methodology.hash_input();
        assert_eq!(m.methodology_version, "greenos-mrv-2026.1");
        assert_eq!(m.geographic_scope, ["CI", "KE", "SN"]);
        assert_eq!(m.factor_references.len(), 2);
        assert_eq!(m.rounding, "half_even_6dp");
        let ev = |c: &str| m.country_factors[c].ev_factor_local.to_string();
        assert_eq!(
            (ev("CI"), ev("KE"), ev("SN")),
            ("0.048000".into(), "0.012000".into(), "0.075000".into())
        );
        assert_eq!(
            m.country_factors["CI"].thermal_factor_local.to_string(),
            "0.192000"
        );
    }

    #[test]
    fn references_take_a_json_array_or_a_list() {
        let vars = Vars::from_pairs([(REFERENCES, r#"["a; b", "c"]"#)]);
        let config = Config::from_vars(&vars).expect("valid");
        assert_eq!(
            config.methodology.hash_input().factor_references,
            ["a; b", "c"]
        );
        let vars = Vars::from_pairs([(REFERENCES, " a ; b ;")]);
        let config = Config::from_vars(&vars).expect("valid");
        assert_eq!(
            config.methodology.hash_input().factor_references,
            ["a", "b"]
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let long = "x".repeat(65);
        for (var, value, named) in [
            (VERSION, "has spaces", VERSION),
            (SCOPE, "ci", SCOPE),
            // A scope country without factors: the factors are what is missing.
            (SCOPE, "CI,KE,SN,NG", FACTORS),
            (FACTORS, "{\"CI\":1}", FACTORS),
            (
                FACTORS,
                r#"{"CI":{"thermal_factor_local":"0","ev_factor_local":"0"}}"#,
                FACTORS,
            ),
            (REFERENCES, "[1]", REFERENCES),
            (REFERENCES, " ; ", REFERENCES),
            (ROUNDING, long.as_str(), ROUNDING),
        ] {
            let err = Config::from_vars(&Vars::from_pairs([(var, value)])).expect_err("must fail");
            assert_eq!(err.var, named, "{var}={value}: {err}");
        }
    }
}
