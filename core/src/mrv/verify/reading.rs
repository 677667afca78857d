//! Reading an artifact an auditor holds (`POST /api/v2/esg/mrv/verify`, `greenos verify`): its
//! payload is re-canonicalised and hashed as it is parsed, one impact at a time, and audited on
//! the way. Whatever whitespace or key order the holder's tools gave the impacts, the hash is
//! that of `canonical(payload)` (SPEC §5).
//!
//! The payload's own top-level members must arrive in canonical order to be streamed — GreenOS
//! writes them so, and key-sorting tools keep them so. When they do not, the artifact is read
//! again through an in-memory `serde_json::Value` (whose maps iterate sorted). Duplicate keys,
//! anywhere, are refused: parsers disagree on what they mean.

mod value;

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::value::CanonicalSeed;
use crate::mrv::error::MrvError;
use crate::mrv::read::artifact::ArtifactHeader;
use crate::mrv::verify::consistency::{PayloadAudit, ProofReport};
use crate::mrv::verify::pool::AuditOptions;
use crate::proof::canonical::write_canonical_string;
use crate::proof::{CanonicalError, Sha256Hex, parse_strict};

/// An artifact as read: its declared fields, and what its payload really hashes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactReading {
    /// Every field but the payload, as declared.
    pub header: ArtifactHeader,
    /// `sha256_hex(canonical(payload))`.
    pub recomputed_hash: Sha256Hex,
    /// Length of `canonical(payload)` in bytes.
    pub payload_size_bytes: u64,
    /// The payload's proof and internal consistency.
    pub proof: ProofReport,
}

/// Reads an artifact held in memory, auditing its impacts in this thread.
pub fn read_artifact_bytes(bytes: &[u8]) -> Result<ArtifactReading, MrvError> {
    let options = AuditOptions::default();
    let context = Context::default();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let streamed = ArtifactSeed {
        context: &context,
        options: &options,
    }
    .deserialize(&mut deserializer)
    .and_then(|reading| deserializer.end().map(|()| reading));
    match streamed {
        Err(_) if context.out_of_order() => read_in_memory(bytes, &options),
        other => other.map_err(|e| context.error(e)),
    }
}

/// Reads an artifact file, holding one run of impacts at a time (or the whole file, when the
/// payload's members are not in canonical order).
pub fn read_artifact_file(
    path: &Path,
    options: &AuditOptions,
) -> Result<ArtifactReading, MrvError> {
    read_artifact_from(|| File::open(path), options)
}

/// Reads the artifact that `open` gives (called again, for a second read from the start, when
/// the payload's members are not in canonical order).
pub fn read_artifact_from<R: Read>(
    open: impl Fn() -> std::io::Result<R>,
    options: &AuditOptions,
) -> Result<ArtifactReading, MrvError> {
    let context = Context::default();
    let reader = BufReader::with_capacity(1024 * 1024, open()?);
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let streamed = ArtifactSeed {
        context: &context,
        options,
    }
    .deserialize(&mut deserializer)
    .and_then(|reading| deserializer.end().map(|()| reading));
    match streamed {
        Err(_) if context.out_of_order() => {
            let mut bytes = Vec::new();
            open()?.read_to_end(&mut bytes)?;
            read_in_memory(&bytes, options)
        }
        other => other.map_err(|e| context.error(e)),
    }
}

fn read_in_memory(bytes: &[u8], options: &AuditOptions) -> Result<ArtifactReading, MrvError> {
    let value = parse_strict(bytes).map_err(|e| match e {
        CanonicalError::DuplicateKey(key) => duplicate(&key),
        other => MrvError::InvalidJson {
            reason: other.to_string(),
        },
    })?;
    let context = Context::default();
    ArtifactSeed {
        context: &context,
        options,
    }
    .deserialize(value)
    .map_err(|e| context.error(e))
}

fn duplicate(key: &str) -> MrvError {
    MrvError::InvalidArtifact {
        reason: format!("the key {key:?} appears twice in one object"),
    }
}

/// Why a streamed read stopped, beside the serde error (which only carries text).
#[derive(Debug)]
pub(super) enum Failure {
    OutOfOrder,
    Duplicate(String),
    Shape(String),
}

#[derive(Debug, Default)]
pub(super) struct Context {
    failure: RefCell<Option<Failure>>,
}

impl Context {
    pub(super) fn fail<E: de::Error>(&self, failure: Failure) -> E {
        let message = match &failure {
            Failure::OutOfOrder => "payload members are not in canonical order".to_owned(),
            Failure::Duplicate(key) => format!("duplicate key {key:?}"),
            Failure::Shape(reason) => reason.clone(),
        };
        self.failure.replace(Some(failure));
        E::custom(message)
    }

    fn out_of_order(&self) -> bool {
        matches!(*self.failure.borrow(), Some(Failure::OutOfOrder))
    }

    fn error(&self, err: serde_json::Error) -> MrvError {
        match self.failure.take() {
            Some(Failure::Duplicate(key)) => duplicate(&key),
            Some(Failure::Shape(reason)) => MrvError::InvalidArtifact { reason },
            Some(Failure::OutOfOrder) | None if err.is_syntax() || err.is_eof() => {
                MrvError::InvalidJson {
                    reason: err.to_string(),
                }
            }
            Some(Failure::OutOfOrder) | None if err.is_io() => {
                MrvError::Io(std::io::Error::other(err.to_string()))
            }
            Some(Failure::OutOfOrder) | None => MrvError::InvalidArtifact {
                reason: err.to_string(),
            },
        }
    }
}

struct ArtifactSeed<'c> {
    context: &'c Context,
    options: &'c AuditOptions,
}

impl<'de> DeserializeSeed<'de> for ArtifactSeed<'_> {
    type Value = ArtifactReading;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ArtifactSeed<'_> {
    type Value = ArtifactReading;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an MRV export artifact object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        let mut payload = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "payload" {
                if payload.is_some() {
                    return Err(self.context.fail(Failure::Duplicate(key)));
                }
                payload = Some(map.next_value_seed(PayloadSeed {
                    context: self.context,
                    options: self.options,
                })?);
            } else {
                if fields.contains_key(&key) {
                    return Err(self.context.fail(Failure::Duplicate(key)));
                }
                let value: Value = map.next_value()?;
                fields.insert(key, value);
            }
        }
        let Some((hasher, audit)) = payload else {
            return Err(self
                .context
                .fail(Failure::Shape("missing field `payload`".to_owned())));
        };
        let header: ArtifactHeader = serde_json::from_value(Value::Object(fields))
            .map_err(|e| self.context.fail(Failure::Shape(e.to_string())))?;
        let proof = audit.finish(&header);
        Ok(ArtifactReading {
            header,
            recomputed_hash: Sha256Hex::from_digest(hasher.sha.finalize().into()),
            payload_size_bytes: hasher.size_bytes,
            proof,
        })
    }
}

/// SHA-256 over the canonical payload, with its length.
#[derive(Default)]
struct PayloadHasher {
    sha: Sha256,
    size_bytes: u64,
}

impl PayloadHasher {
    fn put(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.size_bytes += bytes.len() as u64;
    }
}

struct PayloadSeed<'c> {
    context: &'c Context,
    options: &'c AuditOptions,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = (PayloadHasher, PayloadAudit);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = (PayloadHasher, PayloadAudit);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a payload object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = PayloadHasher::default();
        let mut audit = PayloadAudit::new(self.options);
        let mut previous: Option<String> = None;
        out.put(b"{");
        while let Some(key) = map.next_key::<String>()? {
            if let Some(previous) = &previous {
                match previous.as_bytes().cmp(key.as_bytes()) {
                    std::cmp::Ordering::Less => out.put(b","),
                    std::cmp::Ordering::Equal => {
                        return Err(self.context.fail(Failure::Duplicate(key)));
                    }
                    std::cmp::Ordering::Greater => {
                        return Err(self.context.fail(Failure::OutOfOrder));
                    }
                }
            }
            let mut member = Vec::new();
            put_string(&mut member, &key);
            member.push(b':');
            out.put(&member);
            if key == "impacts" {
                map.next_value_seed(ImpactsSeed {
                    context: self.context,
                    out: &mut out,
                    audit: &mut audit,
                })?;
                audit.saw_impacts();
            } else {
                let mut value = Vec::new();
                map.next_value_seed(CanonicalSeed {
                    context: self.context,
                    out: &mut value,
                    prefix: b"",
                })?;
                out.put(&value);
                audit.member(&key, value);
            }
            previous = Some(key);
        }
        out.put(b"}");
        Ok((out, audit))
    }
}

/// Streams `impacts`: each element is canonicalised alone, hashed, audited, then dropped.
struct ImpactsSeed<'c, 'o> {
    context: &'c Context,
    out: &'o mut PayloadHasher,
    audit: &'o mut PayloadAudit,
}

impl<'de> DeserializeSeed<'de> for ImpactsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ImpactsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of impacts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.put(b"[");
        let mut impact = Vec::with_capacity(1024);
        let mut first = true;
        loop {
            impact.clear();
            let seed = CanonicalSeed {
                context: self.context,
                out: &mut impact,
                prefix: b"",
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            if !first {
                self.out.put(b",");
            }
            first = false;
            self.out.put(&impact);
            self.audit.impact(&impact);
        }
        self.out.put(b"]");
        Ok(())
    }
}

pub(super) fn put_string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = write_canonical_string(out, s);
}
