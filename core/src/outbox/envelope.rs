//! The event envelope every stream entry carries: `{"schema_version","event_id","occurred_at",
//! "aggregate_id","correlation_id","data"}` as canonical JSON.

use serde_json::Value;
use uuid::Uuid;

use crate::proof::canonical::push_canonical_string;
use crate::proof::{CanonicalError, UtcMicros, to_canonical_vec};

/// The topic (and envelope `schema_version`) of a computed impact.
pub const ESG_CALCULATED_V1: &str = "esg_calculated.v1";

/// The topic (and envelope `schema_version`) of a generated MRV export.
pub const AUDIT_GENERATED_V1: &str = "audit_generated.v1";

/// A versioned event, serialised as canonical JSON into the outbox `payload`.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The topic name, e.g. `esg_calculated.v1`.
    pub schema_version: &'static str,
    /// Unique id (a UUID) consumers de-duplicate on (delivery is at-least-once).
    pub event_id: String,
    /// When the change happened.
    pub occurred_at: UtcMicros,
    /// The id of the thing that changed (a `trip_id`, an `export_id`).
    pub aggregate_id: String,
    /// The request that caused the change, when known.
    pub correlation_id: Option<String>,
    data: Data,
}

/// The event body, as a JSON value or as text already in canonical form.
#[derive(Clone, Debug, PartialEq)]
enum Data {
    Value(Value),
    Canonical(String),
}

impl Envelope {
    /// A new envelope with a fresh time-ordered `event_id`.
    pub fn new(
        schema_version: &'static str,
        occurred_at: UtcMicros,
        aggregate_id: impl Into<String>,
        correlation_id: Option<String>,
        data: Value,
    ) -> Envelope {
        Envelope {
            schema_version,
            event_id: Uuid::now_v7().to_string(),
            occurred_at,
            aggregate_id: aggregate_id.into(),
            correlation_id,
            data: Data::Value(data),
        }
    }

    /// Like [`Envelope::new`], with a body that is already canonical JSON text (hot paths that
    /// write one event per ingested trip serialise it directly).
    pub fn with_canonical_data(
        schema_version: &'static str,
        occurred_at: UtcMicros,
        aggregate_id: impl Into<String>,
        correlation_id: Option<String>,
        canonical_data: String,
    ) -> Envelope {
        Envelope {
            data: Data::Canonical(canonical_data),
            ..Envelope::new(
                schema_version,
                occurred_at,
                aggregate_id,
                correlation_id,
                Value::Null,
            )
        }
    }

    /// The canonical JSON text stored as the outbox `payload` and published as is.
    pub fn to_canonical_string(&self) -> Result<String, CanonicalError> {
        let data = match &self.data {
            Data::Value(value) => to_canonical_vec(value)?,
            Data::Canonical(text) => text.as_bytes().to_vec(),
        };
        // Keys in code point order: aggregate_id, correlation_id, data, event_id, occurred_at,
        // schema_version.
        let mut out = Vec::with_capacity(data.len() + 256);
        out.extend_from_slice(b"{\"aggregate_id\":");
        push_canonical_string(&mut out, &self.aggregate_id);
        out.extend_from_slice(b",\"correlation_id\":");
        match &self.correlation_id {
            Some(id) => push_canonical_string(&mut out, id),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(&data);
        out.extend_from_slice(b",\"event_id\":");
        push_canonical_string(&mut out, &self.event_id);
        out.extend_from_slice(b",\"occurred_at\":");
        push_canonical_string(&mut out, &self.occurred_at.to_string());
        out.extend_from_slice(b",\"schema_version\":");
        push_canonical_string(&mut out, self.schema_version);
        out.push(b'}');
        String::from_utf8(out).map_err(|e| CanonicalError::Json(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::proof::to_canonical;

    #[test]
    fn the_hand_written_form_is_the_canonical_form() {
        let at = UtcMicros::parse_rfc3339("2026-02-03T08:15:00.5Z").expect("time");
        let data = json!({"b": "ü", "a": [1, 2], "n": null});
        let envelope = Envelope::new(ESG_CALCULATED_V1, at, "trip-1", None, data.clone());
        let expected = json!({
            "schema_version": ESG_CALCULATED_V1,
            "event_id": envelope.event_id,
            "occurred_at": "2026-02-03T08:15:00.500000Z",
            "aggregate_id": "trip-1",
            "correlation_id": null,
            "data": data,
        });
        let canonical =
            String::from_utf8(to_canonical(&expected).expect("canonical")).expect("utf-8");
        assert_eq!(envelope.to_canonical_string().expect("envelope"), canonical);
        let again = Envelope::with_canonical_data(
            ESG_CALCULATED_V1,
            at,
            "trip-1",
            Some("c-1".to_owned()),
            r#"{"a":[1,2],"b":"ü","n":null}"#.to_owned(),
        );
        let text = again.to_canonical_string().expect("envelope");
        assert!(text.contains(r#""correlation_id":"c-1","data":{"a":[1,2],"b":"ü","n":null}"#));
    }
}
