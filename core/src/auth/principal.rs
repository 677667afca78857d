//! An authenticated caller and the refusals a request can meet.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Scope;
use crate::error_code::{DomainError, ErrorCode};

/// A caller whose bearer token matched a configured entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token entry's name in `GREENOS_API_TOKENS_JSON`, safe to log.
    pub name: String,
    /// The scopes granted to that entry.
    pub scopes: BTreeSet<Scope>,
}

impl Principal {
    /// Succeeds when this principal holds `scope` itself (no scope implies another).
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(AuthError::Forbidden { required: scope })
        }
    }
}

/// Why a request is refused; `Display` is the human message of the error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token, a malformed `Authorization` header, or a token nobody configured (401).
    #[error("a valid bearer token is required (header `Authorization: Bearer <token>`)")]
    Unauthenticated,
    /// The token is valid but lacks the scope the operation needs (403).
    #[error("this operation requires the `{required}` scope")]
    Forbidden {
        /// The missing scope.
        required: Scope,
    },
}

impl DomainError for AuthError {
    fn code(&self) -> ErrorCode {
        match self {
            AuthError::Unauthenticated => ErrorCode::Unauthenticated,
            AuthError::Forbidden { .. } => ErrorCode::Forbidden,
        }
    }

    fn details(&self) -> Value {
        match self {
            AuthError::Unauthenticated => json!({}),
            AuthError::Forbidden { required } => json!({"required_scope": required.as_str()}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_exact() {
        let admin = Principal {
            name: "ops".to_owned(),
            scopes: BTreeSet::from([Scope::Admin]),
        };
        assert_eq!(admin.require(Scope::Admin), Ok(()));
        let err = admin.require(Scope::Read).err();
        assert_eq!(
            err,
            Some(AuthError::Forbidden {
                required: Scope::Read
            })
        );
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::Forbidden));
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("this operation requires the `read` scope")
        );
        assert_eq!(
            AuthError::Unauthenticated.code(),
            ErrorCode::Unauthenticated
        );
    }
}
