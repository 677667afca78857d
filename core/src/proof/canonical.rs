//! Canonical JSON (SPEC §5): RFC 8785 restricted to what every language can
//! reproduce byte for byte — keys sorted by code point, no whitespace, UTF-8
//! without escaping non-ASCII, and integers as the only numbers.
//!
//! The output equals Python's
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()`.

use std::convert::Infallible;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

/// The largest integer magnitude every JSON implementation represents exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Why a value has no canonical form, or why JSON text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The text is not valid JSON (or a value could not be converted to JSON).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// An object holds the same key twice, which JSON parsers resolve differently.
    #[error("duplicate object key {0:?}")]
    DuplicateKey(String),
    /// A number has a fraction or exponent; decimals must be 6-decimal strings.
    #[error("non-integer number {0}: canonical JSON carries decimals as 6-decimal strings")]
    NonIntegerNumber(String),
    /// An integer lies outside ±(2^53 − 1).
    #[error("integer {0} is outside ±(2^53 − 1)")]
    IntegerOutOfRange(String),
}

/// Serialises `value` to canonical JSON bytes.
pub fn to_canonical_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    push_value(&mut out, value)?;
    Ok(out)
}

/// Serialises any `Serialize` value to canonical JSON bytes (via `serde_json::Value`).
///
/// serde_json turns non-finite floats into `null` during that conversion; every
/// other float is refused as [`CanonicalError::NonIntegerNumber`].
pub fn to_canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError::Json(e.to_string()))?;
    to_canonical_vec(&value)
}

/// Parses JSON text, refusing duplicate object keys at any depth.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, CanonicalError> {
    crate::proof::strict_json::parse(bytes)
}

/// Writes `s` as a canonical JSON string literal, quotes included.
pub fn write_canonical_string<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    escape_string(s, |chunk| w.write_all(chunk))
}

/// Appends `s` as a canonical JSON string literal to `out`.
pub(crate) fn push_canonical_string(out: &mut Vec<u8>, s: &str) {
    let Ok(()) = escape_string::<Infallible>(s, |chunk| {
        out.extend_from_slice(chunk);
        Ok(())
    });
}

/// Canonical bytes of an object whose values are all strings; infallible by construction.
pub(crate) fn canonical_string_object(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = fields.to_vec();
    sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = Vec::with_capacity(64 * sorted.len());
    out.push(b'{');
    for (i, (key, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_canonical_string(&mut out, key);
        out.push(b':');
        push_canonical_string(&mut out, value);
    }
    out.push(b'}');
    out
}

fn push_value(out: &mut Vec<u8>, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => push_integer(out, n)?,
        Value::String(s) => push_canonical_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorting here, rather than trusting the map's iteration order, keeps the
            // output canonical even if feature unification ever turns on serde_json's
            // `preserve_order`. UTF-8 byte order equals code point order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_canonical_string(out, key);
                out.push(b':');
                push_value(out, item)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn push_integer(out: &mut Vec<u8>, n: &serde_json::Number) -> Result<(), CanonicalError> {
    if let Some(i) = n.as_i64() {
        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
            return Err(CanonicalError::IntegerOutOfRange(i.to_string()));
        }
        out.extend_from_slice(i.to_string().as_bytes());
        Ok(())
    } else if n.is_u64() {
        Err(CanonicalError::IntegerOutOfRange(n.to_string()))
    } else {
        Err(CanonicalError::NonIntegerNumber(n.to_string()))
    }
}

/// Bytes checked at once for one that needs escaping.
const BLOCK: usize = 16;

/// Whether `byte` is escaped in a canonical string: a control character, `"` or `\`.
fn escaped(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Emits the escaped literal in as few chunks as possible: runs of bytes that need
/// no escaping are passed through unchanged (non-ASCII included). Runs are skipped a block of
/// [`BLOCK`] bytes at a time, checked without a branch per byte: hashes, signatures and ids,
/// most of what GreenOS writes, never need escaping.
fn escape_string<E>(s: &str, mut emit: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    emit(b"\"")?;
    let mut start = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if let Some(block) = bytes.get(i..i + BLOCK)
            && !block.iter().fold(false, |any, &b| any | escaped(b))
        {
            i += BLOCK;
            continue;
        }
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => &[],
            _ => {
                i += 1;
                continue;
            }
        };
        if start < i {
            emit(&bytes[start..i])?;
        }
        if short.is_empty() {
            let unicode = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0x0f)],
            ];
            emit(&unicode)?;
        } else {
            emit(short)?;
        }
        i += 1;
        start = i;
    }
    if start < bytes.len() {
        emit(&bytes[start..])?;
    }
    emit(b"\"")
}

#[cfg(test)]
mod tests;
