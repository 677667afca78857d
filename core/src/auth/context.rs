//! Who is calling one request or run, as established once by the door it came through.

use crate::auth::{AuthError, Principal, Scope};

/// The caller of a use case.
#[derive(Clone, Debug)]
pub enum AuthContext {
    /// Authentication is off (dev or staging with no tokens configured): everything is allowed.
    Disabled,
    /// A valid bearer token was presented.
    Authenticated(Principal),
    /// No token, or one that matched nothing.
    Anonymous,
    /// Work GreenOS starts itself (a CLI command or a job), named by its door.
    System(&'static str),
}

impl AuthContext {
    /// Succeeds when the caller may use an operation that needs `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        match self {
            Self::Disabled | Self::System(_) => Ok(()),
            Self::Authenticated(principal) => principal.require(scope),
            Self::Anonymous => Err(AuthError::Unauthenticated),
        }
    }

    /// The caller's name for logs: a token entry's name, `system:<door>`, `anonymous`, or
    /// `unauthenticated` when auth is off.
    pub fn actor(&self) -> String {
        match self {
            Self::Disabled => "unauthenticated".to_owned(),
            Self::Authenticated(principal) => principal.name.clone(),
            Self::Anonymous => "anonymous".to_owned(),
            Self::System(door) => format!("system:{door}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn scopes_are_required_of_token_holders_only() {
        let reader = AuthContext::Authenticated(Principal {
            name: "dash".to_owned(),
            scopes: BTreeSet::from([Scope::Read]),
        });
        assert_eq!(reader.require(Scope::Read), Ok(()));
        assert_eq!(
            reader.require(Scope::Admin),
            Err(AuthError::Forbidden {
                required: Scope::Admin
            })
        );
        assert_eq!(
            AuthContext::Anonymous.require(Scope::Read),
            Err(AuthError::Unauthenticated)
        );
        assert_eq!(AuthContext::Disabled.require(Scope::Admin), Ok(()));
        assert_eq!(AuthContext::System("cli").require(Scope::Export), Ok(()));
        assert_eq!(AuthContext::System("cli").actor(), "system:cli");
    }
}
