//! `GREENOS_GRAPHQL_*`: the GraphQL limits and switches.

use greenos_graphql::GraphqlSettings;

use super::{ConfigError, Environment, Vars};

pub(super) fn graphql_config(vars: &Vars) -> Result<GraphqlSettings, ConfigError> {
    let environment: Environment = vars.parse_with("GREENOS_ENV")?;
    let introspection = match vars.optional("GREENOS_GRAPHQL_INTROSPECTION").as_deref() {
        None => environment != Environment::Production,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(ConfigError {
                var: "GREENOS_GRAPHQL_INTROSPECTION",
                expected: "true or false".to_owned(),
                got: Some(other.to_owned()),
            });
        }
    };
    let bounded = |var: &'static str, range: std::ops::RangeInclusive<usize>| {
        let expected = format!("a whole number from {} to {}", range.start(), range.end());
        let value: usize = vars.parse(var, &expected)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError {
                var,
                expected,
                got: Some(value.to_string()),
            })
        }
    };
    Ok(GraphqlSettings {
        max_depth: bounded("GREENOS_GRAPHQL_MAX_DEPTH", 2..=64)?,
        max_complexity: bounded("GREENOS_GRAPHQL_MAX_COMPLEXITY", 10..=1_000_000)?,
        max_query_bytes: bounded("GREENOS_GRAPHQL_MAX_QUERY_BYTES", 1024..=1_048_576)?,
        introspection,
    })
}
