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
    UnsupportedMediaType => ("GREENOS_UNSUPPORTED_MEDIA_TYPE", 415),
    PayloadTooLarge => ("GREENOS_PAYLOAD_TOO_LARGE", 413),
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
    MrvExportConflict => ("GREENOS_MRV_EXPORT_CONFLICT", 409),
    MrvExportNotFound => ("GREENOS_MRV_EXPORT_NOT_FOUND", 404),
    MrvPayloadTampered => ("GREENOS_MRV_PAYLOAD_TAMPERED", 400),
    MrvInvalidSignature => ("GREENOS_MRV_INVALID_SIGNATURE", 400),
    PublicKeyNotFound => ("GREENOS_PUBLIC_KEY_NOT_FOUND", 404),
    ServiceUnavailable => ("GREENOS_SERVICE_UNAVAILABLE", 503),
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

#[cfg(test)]
mod tests {
    use super::ErrorCode;

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
