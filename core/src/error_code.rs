//! One registry maps every `GREENOS_*` code to its HTTP status, so REST, GraphQL and the CLI
//! speak the same words.

macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $status:literal)),+ $(,)?) => {
        /// A stable, documented error code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $code]
                $variant,
            )+
        }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The wire form, e.g. `GREENOS_IMPACT_NOT_FOUND`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }

            /// The HTTP status this code is answered with.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)+
                }
            }
        }
    };
}

error_codes! {
    InvalidRequest => ("GREENOS_INVALID_REQUEST", 400),
    InvalidJson => ("GREENOS_INVALID_JSON", 400),
    ValidationFailed => ("GREENOS_VALIDATION_FAILED", 422),
    GraphqlQueryRefused => ("GREENOS_GRAPHQL_QUERY_REFUSED", 400),
    UnsupportedMediaType => ("GREENOS_UNSUPPORTED_MEDIA_TYPE", 415),
    PayloadTooLarge => ("GREENOS_PAYLOAD_TOO_LARGE", 413),
    RequestTimeout => ("GREENOS_REQUEST_TIMEOUT", 408),
    UriTooLong => ("GREENOS_URI_TOO_LONG", 414),
    HeadersTooLarge => ("GREENOS_HEADERS_TOO_LARGE", 431),
    RouteNotFound => ("GREENOS_ROUTE_NOT_FOUND", 404),
    MethodNotAllowed => ("GREENOS_METHOD_NOT_ALLOWED", 405),
    Unauthenticated => ("GREENOS_UNAUTHENTICATED", 401),
    Forbidden => ("GREENOS_FORBIDDEN", 403),
    CountryFactorNotConfigured => ("GREENOS_COUNTRY_FACTOR_NOT_CONFIGURED", 422),
    DuplicateImpact => ("GREENOS_DUPLICATE_IMPACT", 409),
    ImpactNotFound => ("GREENOS_IMPACT_NOT_FOUND", 404),
    PayloadTampered => ("GREENOS_PAYLOAD_TAMPERED", 400),
    InvalidSignature => ("GREENOS_INVALID_SIGNATURE", 400),
    MethodologyNotFound => ("GREENOS_METHODOLOGY_NOT_FOUND", 404),
    MethodologyInvalid => ("GREENOS_METHODOLOGY_INVALID", 422),
    MethodologyActiveConflict => ("GREENOS_METHODOLOGY_ACTIVE_CONFLICT", 409),
    MethodologyVersionExists => ("GREENOS_METHODOLOGY_VERSION_EXISTS", 409),
    MrvInvalidPeriod => ("GREENOS_MRV_INVALID_PERIOD", 422),
    MrvPeriodNotClosed => ("GREENOS_MRV_PERIOD_NOT_CLOSED", 422),
    MrvExportConflict => ("GREENOS_MRV_EXPORT_CONFLICT", 409),
    MrvExportNotFound => ("GREENOS_MRV_EXPORT_NOT_FOUND", 404),
    MrvPayloadTampered => ("GREENOS_MRV_PAYLOAD_TAMPERED", 400),
    MrvInvalidSignature => ("GREENOS_MRV_INVALID_SIGNATURE", 400),
    PublicKeyNotFound => ("GREENOS_PUBLIC_KEY_NOT_FOUND", 404),
    LogNotIntegrated => ("GREENOS_LOG_NOT_INTEGRATED", 404),
    LogInvalidSize => ("GREENOS_LOG_INVALID_SIZE", 422),
    LogTileNotFound => ("GREENOS_LOG_TILE_NOT_FOUND", 404),
    Unavailable => ("GREENOS_UNAVAILABLE", 503),
    OutboxPublishFailed => ("GREENOS_OUTBOX_PUBLISH_FAILED", 502),
    Internal => ("GREENOS_INTERNAL", 500),
}

/// A domain error that knows its public code and the details a client may see.
///
/// `Internal` errors carry a message for the log only: the HTTP and GraphQL layers answer them
/// with a generic sentence.
pub trait DomainError: std::error::Error {
    /// The code this error is answered with.
    fn code(&self) -> ErrorCode;

    /// Machine-readable details (failing flags, offending fields); empty by default.
    fn details(&self) -> serde_json::Value {
        serde_json::Value::Object(serde_json::Map::new())
    }
}

/// An error as a client may see it, whichever door it leaves by: REST renders it as the
/// `{"error":{"code","message","details"}}` envelope, GraphQL as a message with
/// `extensions.code` and `extensions.details`.
#[derive(Clone, Debug, PartialEq)]
pub struct PublicError {
    /// The stable code.
    pub code: ErrorCode,
    /// A human sentence.
    pub message: String,
    /// Machine-readable specifics (failing flags, offending fields).
    pub details: serde_json::Value,
}

/// The sentence every internal failure is answered with.
pub const INTERNAL_MESSAGE: &str = "An internal error occurred; it has been logged.";

/// The sentence a failure to reach the database is answered with.
pub const UNAVAILABLE_MESSAGE: &str =
    "The database cannot be reached right now; nothing was written. Retry shortly.";

impl PublicError {
    /// An error with empty details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> PublicError {
        PublicError {
            code,
            message: message.into(),
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Attaches details.
    pub fn with_details(mut self, details: serde_json::Value) -> PublicError {
        self.details = details;
        self
    }

    /// An internal failure: logged once here, with its whole source chain, and answered with a
    /// generic sentence, so that no database or library message reaches a client.
    pub fn internal(context: &str, err: &(dyn std::error::Error + 'static)) -> PublicError {
        tracing::error!(error = %error_chain(err), "{context}");
        PublicError::new(ErrorCode::Internal, INTERNAL_MESSAGE)
    }

    /// The one mapping of a domain error to what a client sees.
    pub fn from_domain<E: DomainError + 'static>(err: &E) -> PublicError {
        match err.code() {
            ErrorCode::Internal => PublicError::internal("request failed", err),
            ErrorCode::Unavailable => {
                tracing::warn!(error = %error_chain(err), "the database is unavailable");
                PublicError::new(ErrorCode::Unavailable, UNAVAILABLE_MESSAGE)
            }
            code => PublicError::new(code, err.to_string()).with_details(err.details()),
        }
    }
}

impl<E: DomainError + 'static> From<E> for PublicError {
    fn from(err: E) -> PublicError {
        PublicError::from_domain(&err)
    }
}

/// `error: cause: cause ...`, for the log line of an internal failure.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{DomainError, ErrorCode, INTERNAL_MESSAGE, PublicError, error_chain};

    #[derive(Debug, thiserror::Error)]
    #[error("ledger database error")]
    struct Hidden(#[source] std::io::Error);

    impl DomainError for Hidden {
        fn code(&self) -> ErrorCode {
            ErrorCode::Internal
        }
    }

    #[test]
    fn internal_errors_are_logged_with_their_chain_and_answered_generically() {
        let err = Hidden(std::io::Error::other(
            "relation \"esg_impact_ledger\" does not exist",
        ));
        assert!(error_chain(&err).contains("esg_impact_ledger"));
        let public = PublicError::from(err);
        assert_eq!(public.code, ErrorCode::Internal);
        assert_eq!(public.message, INTERNAL_MESSAGE);
        assert_eq!(public.details, serde_json::json!({}));
    }

    #[test]
    fn codes_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(code.as_str().starts_with("GREENOS_"));
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!((400..=599).contains(&code.http_status()));
        }
    }
}
