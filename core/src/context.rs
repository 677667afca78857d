//! Who calls a use case, and for which request: every `Services` method takes a
//! [`RequestContext`], so a REST request, a GraphQL field, a job and a CLI command are logged
//! and recorded the same way.

use std::fmt;

use crate::auth::AuthContext;

/// A correlation id as GreenOS records it: 1 to 128 characters of `[A-Za-z0-9._:-]`.
///
/// The ledger, audit and outbox columns hold 128 characters, and the id travels into logs and
/// stream entries, so whatever a client sends is either kept as is (when it already has this
/// form) or replaced by a fresh UUID; it is never cut, and never stored unchecked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CorrelationId(String);

impl CorrelationId {
    /// The longest id kept.
    pub const MAX_CHARS: usize = 128;

    /// The id, when `value` has the recorded form.
    pub fn parse(value: &str) -> Option<CorrelationId> {
        let fits = (1..=Self::MAX_CHARS).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        fits.then(|| CorrelationId(value.to_owned()))
    }

    /// A fresh random id (a UUID).
    pub fn generate() -> CorrelationId {
        CorrelationId(uuid::Uuid::new_v4().to_string())
    }

    /// A fresh id naming the door it came through, e.g. `ingest:6f1c...` for a bulk file.
    pub fn tagged(tag: &'static str) -> CorrelationId {
        CorrelationId(format!("{tag}:{}", uuid::Uuid::new_v4()))
    }

    /// The rule for an id a client sent (raw header bytes, absent when it sent none): a valid
    /// id is kept; anything else (empty, too long, non-ASCII, other characters) is replaced by
    /// a fresh one, and the replacement is logged with the length of what was refused (never
    /// its text, which is the client's).
    pub fn from_client(sent: Option<&[u8]>) -> CorrelationId {
        let Some(sent) = sent else {
            return Self::generate();
        };
        if let Some(id) = std::str::from_utf8(sent).ok().and_then(Self::parse) {
            return id;
        }
        let replacement = Self::generate();
        tracing::info!(
            sent_bytes = sent.len(),
            correlation_id = %replacement,
            "the client's request id is not 1-128 characters of [A-Za-z0-9._:-]; replaced"
        );
        replacement
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The way a call came in: the `source` label of the ingest metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// A REST request.
    Http,
    /// A GraphQL request.
    Graphql,
    /// `greenos ingest FILE`.
    File,
    /// The `trip_completed.v1` stream.
    Stream,
    /// Anything else GreenOS starts itself (a job, a benchmark).
    System,
}

impl Door {
    /// Every door, in label order.
    pub const INGEST: [Door; 5] = [
        Self::Http,
        Self::Graphql,
        Self::File,
        Self::Stream,
        Self::System,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Graphql => "graphql",
            Self::File => "file",
            Self::Stream => "stream",
            Self::System => "system",
        }
    }
}

/// The caller of one use case: who it is, which request (or run) it belongs to, and which
/// door it came through.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// The id recorded on every row and event the call writes, and on its log lines.
    pub correlation_id: CorrelationId,
    /// Who is calling.
    pub auth: AuthContext,
    /// How the call came in.
    pub door: Door,
}

impl RequestContext {
    /// A context for one request that came through `door`.
    pub fn new(door: Door, correlation_id: CorrelationId, auth: AuthContext) -> RequestContext {
        RequestContext {
            correlation_id,
            auth,
            door,
        }
    }

    /// A context for work GreenOS starts itself (a CLI command, a job), with a fresh id tagged
    /// by `tag`.
    pub fn system(tag: &'static str) -> RequestContext {
        RequestContext::new(
            Door::System,
            CorrelationId::tagged(tag),
            AuthContext::System(tag),
        )
    }

    /// The same caller, counted as coming through `door`.
    pub fn via(self, door: Door) -> RequestContext {
        RequestContext { door, ..self }
    }

    /// The caller's name for logs: a token entry's name, `system:<door>` or `anonymous`.
    pub fn actor(&self) -> String {
        self.auth.actor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_ids_and_replaces_everything_else() {
        for valid in ["a", "req-1", "trip_ingest:2026.01", &"x".repeat(128)] {
            assert_eq!(
                CorrelationId::from_client(Some(valid.as_bytes())).as_str(),
                valid
            );
        }
        for invalid in [
            "".to_owned(),
            "x".repeat(129),
            "x".repeat(300),
            "héllo".to_owned(),
            "a b".to_owned(),
            "a/b".to_owned(),
            "a\u{0}b".to_owned(),
        ] {
            let id = CorrelationId::from_client(Some(invalid.as_bytes()));
            assert_ne!(id.as_str(), invalid);
            assert!(CorrelationId::parse(id.as_str()).is_some(), "{id}");
        }
        let not_utf8 = CorrelationId::from_client(Some(&[0xff, 0xfe]));
        assert!(CorrelationId::parse(not_utf8.as_str()).is_some());
        assert!(CorrelationId::parse(CorrelationId::from_client(None).as_str()).is_some());
    }

    #[test]
    fn tagged_ids_have_the_recorded_form() {
        let id = CorrelationId::tagged("ingest");
        assert!(id.as_str().starts_with("ingest:"));
        assert!(CorrelationId::parse(id.as_str()).is_some());
    }
}
