//! The impact as the ledger holds it and as `GET /impact` returns it, and the one mapping
//! between an impact and an `esg_impact_ledger` row. The SQLite INSERT path, the PostgreSQL
//! `UNNEST` path and reads all go through these two functions, so the row shape cannot drift.

use greenos_entity::esg_impact_ledger;
use sea_orm::ActiveValue::{NotSet, Set};
use serde::Serialize;

use crate::ledger::compute::NewImpact;
use crate::proof::canonical::push_canonical_string;
use crate::proof::{Decimal6, DecimalError, EventHashInput, Signatures, UtcMicros};

/// One impact of the ledger: every hashed field (decimals as 6-decimal strings, timestamps in
/// the §5 form), the proofs, and where it sits in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// The hashed fields.
    #[serde(flatten)]
    pub event: EventHashInput,
    /// The stored `event_hash` (re-computed by verification, never trusted blindly).
    pub event_hash: String,
    /// The stored `checksum`.
    pub checksum: String,
    /// Both signatures of `event_hash` and their key versions.
    #[serde(flatten)]
    pub signatures: Signatures,
    /// Position in the ledger; increases monotonically.
    pub ledger_seq: i64,
    /// The request (correlation) id that carried the trip.
    pub correlation_id: Option<String>,
    /// When the impact was computed.
    pub created_at: UtcMicros,
}

impl NewImpact {
    /// The impact once the ledger gave it `ledger_seq`.
    pub(crate) fn into_impact(self, ledger_seq: i64) -> Impact {
        Impact {
            event: self.event,
            event_hash: self.event_hash.as_str().to_owned(),
            checksum: self.checksum.as_str().to_owned(),
            signatures: self.signatures,
            ledger_seq,
            correlation_id: self.correlation_id,
            created_at: self.created_at,
        }
    }

    /// The ledger row; `ledger_seq` is left to the database unless given.
    pub(crate) fn to_row(
        &self,
        ledger_seq: Option<i64>,
    ) -> Result<esg_impact_ledger::ActiveModel, DecimalError> {
        let e = &self.event;
        let s = &self.signatures;
        Ok(esg_impact_ledger::ActiveModel {
            ledger_seq: ledger_seq.map_or(NotSet, Set),
            trip_id: Set(e.trip_id.clone()),
            user_id: Set(e.user_id.clone()),
            vehicle_id: Set(e.vehicle_id.clone()),
            country_code: Set(e.country_code.clone()),
            geo_hash: Set(e.geo_hash.clone()),
            event_timestamp: Set(e.event_timestamp.as_datetime()),
            distance_km_micro: Set(e.distance_km.to_micro()?),
            thermal_factor_local_micro: Set(e.thermal_factor_local.to_micro()?),
            ev_factor_local_micro: Set(e.ev_factor_local.to_micro()?),
            co2_avoided_kg_micro: Set(e.co2_avoided_kg.to_micro()?),
            model_version: Set(e.model_version.clone()),
            methodology_version: Set(e.methodology_version.clone()),
            event_hash: Set(self.event_hash.as_str().to_owned()),
            checksum: Set(self.checksum.as_str().to_owned()),
            signature: Set(s.signature.clone()),
            signature_algorithm: Set(s.signature_algorithm.clone()),
            key_version: Set(s.key_version.clone()),
            asym_signature: Set(s.asym_signature.clone()),
            asym_algorithm: Set(s.asym_algorithm.clone()),
            asym_key_version: Set(s.asym_key_version.clone()),
            correlation_id: Set(self.correlation_id.clone()),
            created_at: Set(self.created_at.as_datetime()),
        })
    }
}

impl Impact {
    /// Reads a ledger row as stored; a value altered behind the service's back is kept as it
    /// is, for verification to notice.
    pub(crate) fn from_row(row: esg_impact_ledger::Model) -> Impact {
        Impact {
            event: EventHashInput {
                trip_id: row.trip_id,
                user_id: row.user_id,
                vehicle_id: row.vehicle_id,
                country_code: row.country_code,
                geo_hash: row.geo_hash,
                event_timestamp: UtcMicros::truncating(row.event_timestamp),
                distance_km: Decimal6::from_micro(row.distance_km_micro),
                thermal_factor_local: Decimal6::from_micro(row.thermal_factor_local_micro),
                ev_factor_local: Decimal6::from_micro(row.ev_factor_local_micro),
                co2_avoided_kg: Decimal6::from_micro(row.co2_avoided_kg_micro),
                model_version: row.model_version,
                methodology_version: row.methodology_version,
            },
            event_hash: row.event_hash,
            checksum: row.checksum,
            signatures: Signatures {
                signature: row.signature,
                signature_algorithm: row.signature_algorithm,
                key_version: row.key_version,
                asym_signature: row.asym_signature,
                asym_algorithm: row.asym_algorithm,
                asym_key_version: row.asym_key_version,
            },
            ledger_seq: row.ledger_seq,
            correlation_id: row.correlation_id,
            created_at: UtcMicros::truncating(row.created_at),
        }
    }
}

impl Impact {
    /// The impact as canonical JSON (the `data` of its `esg_calculated.v1` event), written
    /// directly rather than through a `serde_json::Value`: one event per ingested trip.
    pub fn to_canonical_json(&self) -> String {
        enum Field<'a> {
            Text(&'a str),
            Owned(String),
            Integer(i64),
            Null,
        }
        let e = &self.event;
        let s = &self.signatures;
        let mut fields = [
            ("trip_id", Field::Text(&e.trip_id)),
            ("user_id", Field::Text(&e.user_id)),
            ("vehicle_id", Field::Text(&e.vehicle_id)),
            ("country_code", Field::Text(&e.country_code)),
            ("geo_hash", Field::Text(&e.geo_hash)),
            (
                "event_timestamp",
                Field::Owned(e.event_timestamp.to_string()),
            ),
            ("distance_km", Field::Owned(e.distance_km.to_string())),
            (
                "thermal_factor_local",
                Field::Owned(e.thermal_factor_local.to_string()),
            ),
            (
                "ev_factor_local",
                Field::Owned(e.ev_factor_local.to_string()),
            ),
            ("co2_avoided_kg", Field::Owned(e.co2_avoided_kg.to_string())),
            ("model_version", Field::Text(&e.model_version)),
            ("methodology_version", Field::Text(&e.methodology_version)),
            ("event_hash", Field::Text(&self.event_hash)),
            ("checksum", Field::Text(&self.checksum)),
            ("signature", Field::Text(&s.signature)),
            ("signature_algorithm", Field::Text(&s.signature_algorithm)),
            ("key_version", Field::Text(&s.key_version)),
            ("asym_signature", Field::Text(&s.asym_signature)),
            ("asym_algorithm", Field::Text(&s.asym_algorithm)),
            ("asym_key_version", Field::Text(&s.asym_key_version)),
            ("ledger_seq", Field::Integer(self.ledger_seq)),
            (
                "correlation_id",
                self.correlation_id
                    .as_deref()
                    .map_or(Field::Null, Field::Text),
            ),
            ("created_at", Field::Owned(self.created_at.to_string())),
        ];
        fields.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut out = Vec::with_capacity(1024);
        out.push(b'{');
        for (at, (key, value)) in fields.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            push_canonical_string(&mut out, key);
            out.push(b':');
            match value {
                Field::Text(v) => push_canonical_string(&mut out, v),
                Field::Owned(v) => push_canonical_string(&mut out, v),
                Field::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
                Field::Null => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        // Only whole UTF-8 strings and ASCII punctuation were written, so this never replaces.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// Whether two impacts were computed from the same trip content (the client's seven fields):
/// a re-sent trip is a duplicate, a different trip under a known `trip_id` is a conflict.
pub fn same_trip(a: &EventHashInput, b: &EventHashInput) -> bool {
    a.trip_id == b.trip_id
        && a.user_id == b.user_id
        && a.vehicle_id == b.vehicle_id
        && a.country_code == b.country_code
        && a.geo_hash == b.geo_hash
        && a.event_timestamp == b.event_timestamp
        && a.distance_km == b.distance_km
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::to_canonical;

    #[test]
    fn the_direct_canonical_form_equals_the_generic_one() {
        let at = UtcMicros::parse_rfc3339("2026-02-03T08:15:00Z").expect("time");
        let d = |s: &str| Decimal6::parse_exact(s).expect("decimal");
        let mut impact = Impact {
            event: EventHashInput {
                trip_id: "t-1".to_owned(),
                user_id: "u-\u{e9}\"x".to_owned(),
                vehicle_id: "ev-7".to_owned(),
                country_code: "CI".to_owned(),
                geo_hash: "s0t5q".to_owned(),
                event_timestamp: at,
                distance_km: d("12.5"),
                thermal_factor_local: d("0.192"),
                ev_factor_local: d("0.048"),
                co2_avoided_kg: d("1.8"),
                model_version: "co2-v1".to_owned(),
                methodology_version: "m-1".to_owned(),
            },
            event_hash: "a".repeat(64),
            checksum: "b".repeat(64),
            signatures: Signatures {
                signature: "c".repeat(64),
                signature_algorithm: "HMAC-SHA256".to_owned(),
                key_version: "v1".to_owned(),
                asym_signature: "sig==".to_owned(),
                asym_algorithm: "ED25519".to_owned(),
                asym_key_version: "v1".to_owned(),
            },
            ledger_seq: 42,
            correlation_id: Some("corr".to_owned()),
            created_at: at,
        };
        for _ in 0..2 {
            let generic =
                to_canonical(&serde_json::to_value(&impact).expect("json")).expect("canonical");
            assert_eq!(
                impact.to_canonical_json(),
                String::from_utf8(generic).expect("utf-8")
            );
            impact.correlation_id = None;
        }
    }
}
