//! One page of an export's impacts, read from its stored payload: exactly the impacts the
//! export holds, in payload order (`trip_id` code-point order), whatever entered the ledger
//! since. The cursor is the `trip_id` a page starts after or ends before.

use std::collections::VecDeque;
use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use serde_json::{Map, Value};

use crate::ledger::Impact;
use crate::mrv::error::MrvError;
use crate::mrv::read::PayloadReader;
use crate::mrv::read::walk::for_each_impact;
use crate::page::PageRequest;
use crate::proof::{EVENT_HASH_FIELDS, EventHashInput, SIGNATURE_FIELDS, Signatures, UtcMicros};

/// One page of an export's impacts, each with its cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportImpactPage {
    /// The impacts, in payload order, with their cursors.
    pub edges: Vec<(String, Impact)>,
    /// More impacts follow the page.
    pub has_next_page: bool,
    /// Impacts precede the page.
    pub has_previous_page: bool,
}

const CURSOR_PREFIX: &str = "export-impact:";

fn encode(trip_id: &str) -> String {
    BASE64_URL.encode(format!("{CURSOR_PREFIX}{trip_id}"))
}

fn decode(text: &str, field: &'static str) -> Result<String, MrvError> {
    BASE64_URL
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX).map(str::to_owned))
        .ok_or_else(|| MrvError::InvalidQuery {
            field,
            reason: "not a cursor of this export's impacts".to_owned(),
        })
}

/// Walks `reader` (on a blocking thread) for the page `page` asks for.
pub(crate) fn page_of_payload(
    reader: PayloadReader,
    page: &PageRequest,
) -> Result<ExportImpactPage, MrvError> {
    let (size, backward) = page.size().map_err(|e| MrvError::InvalidQuery {
        field: e.field,
        reason: e.reason,
    })?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let after = page
        .after
        .as_deref()
        .map(|c| decode(c, "after"))
        .transpose()?;
    let before = page
        .before
        .as_deref()
        .map(|c| decode(c, "before"))
        .transpose()?;
    let mut kept: VecDeque<Map<String, Value>> = VecDeque::with_capacity(size + 1);
    let mut skipped_before = false;
    let mut complete = false;
    let walked = for_each_impact(reader, |impact| {
        let trip_id = impact
            .get("trip_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if after
            .as_deref()
            .is_some_and(|a| trip_id.as_bytes() <= a.as_bytes())
        {
            skipped_before = true;
            return Ok(());
        }
        if before
            .as_deref()
            .is_some_and(|b| trip_id.as_bytes() >= b.as_bytes())
        {
            complete = true;
            return Err(io::Error::new(io::ErrorKind::Interrupted, "page complete"));
        }
        kept.push_back(impact);
        if backward {
            if kept.len() > size {
                kept.pop_front();
                skipped_before = true;
            }
        } else if kept.len() > size {
            complete = true;
            return Err(io::Error::new(io::ErrorKind::Interrupted, "page complete"));
        }
        Ok(())
    });
    if let Err(err) = walked
        && !complete
    {
        return Err(err);
    }
    let has_more_after = !backward && kept.len() > size;
    kept.truncate(size);
    let edges = kept
        .into_iter()
        .map(|impact| {
            let impact = impact_from_payload(impact)?;
            Ok((encode(&impact.event.trip_id), impact))
        })
        .collect::<Result<Vec<_>, MrvError>>()?;
    Ok(ExportImpactPage {
        edges,
        has_next_page: if backward {
            before.is_some()
        } else {
            has_more_after
        },
        has_previous_page: skipped_before,
    })
}

/// An impact of a payload, read back into the ledger's shape.
fn impact_from_payload(mut impact: Map<String, Value>) -> Result<Impact, MrvError> {
    let unreadable = |what: &str| MrvError::Storage(format!("stored payload: impact {what}"));
    let mut take = |keys: &[&str]| -> Map<String, Value> {
        keys.iter()
            .filter_map(|key| impact.remove(*key).map(|value| ((*key).to_owned(), value)))
            .collect()
    };
    let event: EventHashInput = serde_json::from_value(Value::Object(take(&EVENT_HASH_FIELDS)))
        .map_err(|e| unreadable(&format!("fields: {e}")))?;
    let signatures: Signatures = serde_json::from_value(Value::Object(take(&SIGNATURE_FIELDS)))
        .map_err(|e| unreadable(&format!("signatures: {e}")))?;
    let text = |impact: &Map<String, Value>, key: &str| {
        impact
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| unreadable(key))
    };
    Ok(Impact {
        event_hash: text(&impact, "event_hash")?,
        checksum: text(&impact, "checksum")?,
        ledger_seq: impact
            .get("ledger_seq")
            .and_then(Value::as_i64)
            .ok_or_else(|| unreadable("ledger_seq"))?,
        correlation_id: impact
            .get("correlation_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created_at: UtcMicros::parse_rfc3339(&text(&impact, "created_at")?)
            .map_err(|e| unreadable(&format!("created_at: {e}")))?,
        event,
        signatures,
    })
}
