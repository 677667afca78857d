//! Per-field authorisation: `#[graphql(guard = "ScopeGuard(Scope::Admin)")]`.
//!
//! The HTTP layer authenticates the bearer token once per request and puts core's
//! `AuthContext` into the request data; this guard only asks it.

use async_graphql::{Context, Guard, Result};
use greenos_core::auth::{AuthContext, AuthError, Scope};

use crate::error::coded;

/// Requires the caller to hold one scope.
#[derive(Clone, Copy, Debug)]
pub struct ScopeGuard(pub Scope);

impl Guard for ScopeGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        match ctx.data_opt::<AuthContext>() {
            Some(auth) => auth.require(self.0),
            None => Err(AuthError::Unauthenticated),
        }
        .map_err(coded)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use async_graphql::{EmptyMutation, EmptySubscription, Object, Request, Schema};
    use greenos_core::auth::Principal;

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        #[graphql(guard = "ScopeGuard(Scope::Admin)")]
        async fn admin_only(&self) -> &'static str {
            "ok"
        }
    }

    async fn run(auth: Option<AuthContext>) -> async_graphql::Response {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let mut request = Request::new("{ adminOnly }");
        if let Some(auth) = auth {
            request = request.data(auth);
        }
        schema.execute(request).await
    }

    fn principal(scopes: &[Scope]) -> AuthContext {
        AuthContext::Authenticated(Principal {
            name: "t".to_owned(),
            scopes: scopes.iter().copied().collect::<BTreeSet<_>>(),
        })
    }

    fn code(response: &async_graphql::Response) -> Option<String> {
        let ext = response.errors.first()?.extensions.as_ref()?;
        match ext.get("code")? {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn scopes_are_enforced_with_the_rest_codes() {
        assert!(
            run(Some(principal(&[Scope::Admin])))
                .await
                .errors
                .is_empty()
        );
        assert!(run(Some(AuthContext::Disabled)).await.errors.is_empty());
        let forbidden = run(Some(principal(&[Scope::Read]))).await;
        assert_eq!(code(&forbidden).as_deref(), Some("GREENOS_FORBIDDEN"));
        let anonymous = run(Some(AuthContext::Anonymous)).await;
        assert_eq!(code(&anonymous).as_deref(), Some("GREENOS_UNAUTHENTICATED"));
        let missing = run(None).await;
        assert_eq!(code(&missing).as_deref(), Some("GREENOS_UNAUTHENTICATED"));
    }
}
