//! `StrictJson<T>`: a JSON request body read strictly, every refusal in the GREENOS envelope.
//!
//! Not JSON (or a duplicate key, which parsers resolve differently) → `400 GREENOS_INVALID_JSON`
//! / `422 GREENOS_VALIDATION_FAILED`; valid JSON that does not fit `T` (unknown field, wrong
//! type, missing field; `T` should `deny_unknown_fields`) → `422 GREENOS_VALIDATION_FAILED` with
//! the offending field's path in `details.field`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use greenos_core::error_code::ErrorCode;
use greenos_core::ledger::BodyFormat;
use greenos_core::proof::{CanonicalError, parse_strict};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;

/// A request body deserialised strictly from JSON into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StrictJson<T>(pub T);

impl<T, S> FromRequest<S> for StrictJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON, with `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        "The request body is larger than this route accepts.",
                    )
                } else {
                    ApiError::new(ErrorCode::InvalidRequest, rejection.body_text())
                }
            })?;
        parse_body(&bytes).map(StrictJson)
    }
}

/// Parses `bytes` as one JSON document of shape `T`, with the refusals of [`StrictJson`].
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match parse_strict(bytes) {
        Ok(value) if holds_nul(&value) => {
            return Err(ApiError::new(
                ErrorCode::ValidationFailed,
                "A string of the body holds a NUL character (\\u0000), which no GreenOS text may contain.",
            ));
        }
        Ok(_) => {}
        Err(CanonicalError::DuplicateKey(key)) => {
            return Err(ApiError::new(
                ErrorCode::ValidationFailed,
                format!("The key {key:?} appears twice in one object; send each key once."),
            )
            .with_details(json!({"field": key})));
        }
        Err(err) => {
            return Err(ApiError::new(
                ErrorCode::InvalidJson,
                format!("The request body is not valid JSON: {err}."),
            ));
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| shape_error(&err, ""))
}

/// Whether a string or key anywhere in `value` holds a NUL character: text PostgreSQL cannot
/// store and that C-based tools cut short.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(members) => members
            .iter()
            .any(|(key, member)| key.contains('\0') || holds_nul(member)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Deserialises a member of an already parsed body into `T`, with the refusals of
/// [`StrictJson`]; `at` is where the value sits in the body (`""` for the whole body).
pub fn from_value<T: DeserializeOwned>(value: Value, at: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| shape_error(&err, at))
}

/// `422 GREENOS_VALIDATION_FAILED` naming the offending field.
fn shape_error(err: &serde_path_to_error::Error<serde_json::Error>, at: &str) -> ApiError {
    let inner = err.path().to_string();
    let path = match (at, inner.as_str()) {
        ("", inner) => inner.to_owned(),
        (at, ".") => at.to_owned(),
        (at, inner) => format!("{at}.{inner}"),
    };
    let reason = err.inner().to_string();
    let details = match field_of(&path, &reason) {
        Some(field) => json!({"field": field, "reason": reason}),
        None => json!({"reason": reason}),
    };
    let message = match details.get("field").and_then(|f| f.as_str()) {
        Some(field) => format!("The request body is not accepted at `{field}`: {reason}."),
        None => format!("The request body does not have the expected shape: {reason}."),
    };
    ApiError::new(ErrorCode::ValidationFailed, message).with_details(details)
}

/// `application/json`, or any `application/*+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body of `POST /api/v2/esg/trips`, read whole (within `GREENOS_MAX_BODY_BYTES`) but not
/// parsed: JSON (one trip or an array) or JSON Lines, chosen by `Content-Type`.
#[derive(Debug, Clone)]
pub struct TripsPayload {
    /// How the trips are encoded.
    pub format: BodyFormat,
    /// The raw body.
    pub bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for TripsPayload {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let essence = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let format = match essence.as_str() {
            "application/json" => BodyFormat::Json,
            "application/x-ndjson"
            | "application/jsonl"
            | "application/json-lines"
            | "application/x-jsonlines" => BodyFormat::JsonLines,
            _ => {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "Send trips as `Content-Type: application/json` (one object or an array) or `application/x-ndjson` (one object per line).",
                )
                .with_details(json!({"content_type": essence})));
            }
        };
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        "The request body is larger than GREENOS_MAX_BODY_BYTES; split the batch, or load files with `greenos ingest FILE`.",
                    )
                } else {
                    ApiError::new(ErrorCode::InvalidRequest, rejection.body_text())
                }
            })?;
        Ok(Self { format, bytes })
    }
}

/// The path of the offending field. The path already ends with an unknown field's name, while a
/// missing or duplicate field is reported at the object holding it and named only in the message.
fn field_of(path: &str, reason: &str) -> Option<String> {
    let base = if path == "." { "" } else { path };
    let named = ["unknown field `", "missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| reason.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match named {
        Some(name) if base == name || base.ends_with(&format!(".{name}")) => base.to_owned(),
        Some(name) if base.is_empty() => name.to_owned(),
        Some(name) => format!("{base}.{name}"),
        None => base.to_owned(),
    };
    (!field.is_empty()).then_some(field)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{field_of, holds_nul};

    #[test]
    fn nul_characters_are_found_in_strings_and_keys_at_any_depth() {
        assert!(holds_nul(&json!({"a": [{"b": "x\u{0}"}]})));
        assert!(holds_nul(&json!({"k\u{0}": 1})));
        assert!(!holds_nul(&json!({"a": ["\u{1}", 2, null, true]})));
    }

    #[test]
    fn fields_are_named_by_their_path() {
        assert_eq!(
            field_of("extra", "unknown field `extra`, expected one of `a`").as_deref(),
            Some("extra")
        );
        assert_eq!(
            field_of("country_factors.CI.x", "unknown field `x`, expected `a`").as_deref(),
            Some("country_factors.CI.x")
        );
        assert_eq!(
            field_of("country_factors.CI", "missing field `ev_factor_local`").as_deref(),
            Some("country_factors.CI.ev_factor_local")
        );
        assert_eq!(
            field_of(
                "activate",
                "invalid type: string \"yes\", expected a boolean"
            )
            .as_deref(),
            Some("activate")
        );
        assert_eq!(
            field_of(".", "invalid type: sequence, expected struct"),
            None
        );
    }
}
