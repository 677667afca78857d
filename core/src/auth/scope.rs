//! The permissions a token can carry.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// One permission; a route or mutation requires exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read impacts, exports, methodology and verification results.
    Read,
    /// Send trips.
    Ingest,
    /// Create MRV exports.
    Export,
    /// Manage methodology, see secret status and outbox statistics.
    Admin,
}

impl Scope {
    /// Every scope, in the order documentation lists them.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Ingest, Scope::Export, Scope::Admin];

    /// The lowercase name used in `GREENOS_API_TOKENS_JSON` and in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Export => "export",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is not one of `read`, `ingest`, `export`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{value}` (allowed: read, ingest, export, admin)")]
pub struct UnknownScope {
    /// The rejected name.
    pub value: String,
}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == value)
            .ok_or_else(|| UnknownScope {
                value: value.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_json() {
        for scope in Scope::ALL {
            assert_eq!(scope.to_string().parse::<Scope>(), Ok(scope));
            assert_eq!(
                serde_json::to_string(&scope).ok(),
                Some(format!("\"{scope}\""))
            );
        }
    }

    #[test]
    fn rejects_unknown_and_differently_cased_names() {
        assert_eq!(
            "Admin".parse::<Scope>().map_err(|e| e.to_string()),
            Err("unknown scope `Admin` (allowed: read, ingest, export, admin)".to_owned())
        );
        assert!("write".parse::<Scope>().is_err());
    }
}
