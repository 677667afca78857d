//! GraphQL errors carry the same `GREENOS_*` code as REST, in `extensions.code`, and the same
//! details in `extensions.details`: this is the GraphQL rendering of
//! `greenos_core::error_code::PublicError`, the one mapping of every error.

use async_graphql::{Error, ErrorExtensions};
use greenos_core::error_code::{DomainError, PublicError};

/// A GraphQL error for what a client may see of an error.
pub fn to_graphql(err: PublicError) -> Error {
    let details = async_graphql::Value::from_json(err.details).unwrap_or_default();
    let code = err.code.as_str();
    Error::new(err.message).extend_with(|_, ext| {
        ext.set("code", code);
        ext.set("details", details.clone());
    })
}

/// A GraphQL error for a domain error (internal ones are logged and hidden).
pub fn coded<E: DomainError + 'static>(err: E) -> Error {
    to_graphql(PublicError::from_domain(&err))
}

#[cfg(test)]
mod tests {
    use greenos_core::error_code::{ErrorCode, INTERNAL_MESSAGE};
    use greenos_core::ledger::{ImpactError, IngestError};

    use super::*;

    fn extension(err: &Error, key: &str) -> Option<async_graphql::Value> {
        err.extensions.as_ref()?.get(key).cloned()
    }

    #[test]
    fn internal_errors_never_show_their_text() {
        let err = coded(IngestError::Task(
            "worker 3 lost /var/lib/greenos".to_owned(),
        ));
        assert_eq!(err.message, INTERNAL_MESSAGE);
        assert_eq!(
            extension(&err, "code"),
            Some(async_graphql::Value::from(ErrorCode::Internal.as_str()))
        );
    }

    #[test]
    fn domain_errors_keep_their_code_and_details() {
        let err = coded(ImpactError::NotFound {
            trip_id: "t-1".to_owned(),
            model_version: None,
        });
        assert_eq!(
            extension(&err, "code"),
            Some(async_graphql::Value::from("GREENOS_IMPACT_NOT_FOUND"))
        );
        let details = extension(&err, "details").map(|d| d.into_json().ok());
        assert_eq!(
            details.flatten(),
            Some(serde_json::json!({"trip_id": "t-1", "model_version": null}))
        );
    }
}
