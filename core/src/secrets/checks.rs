//! The individual checks behind [`super::inspect`].
//!
//! Every reason is built from lengths, positions, version names and entry names only,
//! so no reason can carry a secret; JSON parser messages, which may quote the input,
//! are never passed on.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::{SecretName, is_placeholder, placeholder::PLACEHOLDER_WORDS};
use crate::auth::TokenRegistry;

/// Shortest HMAC key accepted, in bytes.
const MIN_HMAC_KEY_BYTES: usize = 32;

/// Length of an Ed25519 seed, in bytes.
const ED25519_SEED_BYTES: usize = 32;

/// Longest version name quoted in a reason; longer names are referred to by position.
const MAX_QUOTED_VERSION_CHARS: usize = 16;

/// Why a secret is not OK.
pub(super) enum Problem {
    /// Not set, or empty.
    Missing(String),
    /// Set but unusable.
    Invalid(String),
}

/// A keyring variable as far as it could be parsed.
pub(super) enum Ring {
    /// Not set, or empty.
    Missing(String),
    /// Not a JSON object.
    Unparsable(String),
    /// A JSON object of version → value (values not yet checked).
    Parsed(Map<String, Value>),
}

/// Parses a keyring variable into its versions without judging the keys.
pub(super) fn parse_ring(value: Option<&SecretString>) -> Ring {
    let text = match present(value) {
        Ok(text) => text,
        Err(reason) => return Ring::Missing(reason),
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ring::Parsed(map),
        Ok(_) => Ring::Unparsable(
            r#"must be a JSON object of key versions, like {"v1":"..."}"#.to_owned(),
        ),
        Err(e) => Ring::Unparsable(syntax_reason(&e)),
    }
}

/// Checks an HMAC-SHA256 ring: every key at least 32 bytes and not a placeholder.
pub(super) fn hmac_ring(ring: &Ring) -> Result<(), Problem> {
    check_keys(ring, |key| {
        if is_placeholder(key.as_bytes()) {
            Some("is a placeholder".to_owned())
        } else if key.len() < MIN_HMAC_KEY_BYTES {
            Some(format!(
                "is {} bytes, at least {MIN_HMAC_KEY_BYTES} are required",
                key.len()
            ))
        } else {
            None
        }
    })
}

/// Checks an Ed25519 ring: every key the standard base64 of a 32-byte seed, not a placeholder.
pub(super) fn ed25519_ring(ring: &Ring) -> Result<(), Problem> {
    check_keys(ring, |key| {
        if is_placeholder(key.as_bytes()) {
            return Some("is a placeholder".to_owned());
        }
        match STANDARD.decode(key) {
            Err(_) => Some("is not valid standard base64".to_owned()),
            Ok(seed) if seed.len() != ED25519_SEED_BYTES => Some(format!(
                "decodes to {} bytes, a {ED25519_SEED_BYTES}-byte seed is required",
                seed.len()
            )),
            Ok(seed) if is_placeholder(&seed) => Some("is a placeholder".to_owned()),
            Ok(_) => None,
        }
    })
}

/// Checks an active version: set, and one of the versions of `ring_name`.
pub(super) fn active_version(
    value: Option<&SecretString>,
    ring_name: SecretName,
    ring: &Ring,
) -> Result<(), Problem> {
    let active = present(value).map_err(Problem::Missing)?;
    if active != active.trim() {
        return Err(Problem::Invalid(
            "has leading or trailing whitespace".to_owned(),
        ));
    }
    match ring {
        Ring::Missing(_) => Err(Problem::Invalid(format!(
            "cannot be checked because {ring_name} is missing"
        ))),
        Ring::Unparsable(_) => Err(Problem::Invalid(format!(
            "cannot be checked because {ring_name} is invalid"
        ))),
        Ring::Parsed(map) if map.contains_key(active) => Ok(()),
        Ring::Parsed(_) => Err(Problem::Invalid(match quotable(active) {
            Some(version) => format!("active version {version} is not in {ring_name}"),
            None => format!("the active version is not in {ring_name}"),
        })),
    }
}

/// Checks the API tokens: well formed, at least one, none the digest of a placeholder word.
pub(super) fn api_tokens(value: Option<&SecretString>) -> Result<(), Problem> {
    let text = present(value).map_err(Problem::Missing)?;
    let registry = TokenRegistry::from_json(text).map_err(|e| Problem::Invalid(e.to_string()))?;
    if registry.is_empty() {
        return Err(Problem::Invalid("contains no token".to_owned()));
    }
    let mut weak: Vec<String> = PLACEHOLDER_WORDS
        .iter()
        .flat_map(|word| word_variants(word))
        .filter_map(|token| registry.authenticate_token(&token).ok())
        .map(|principal| format!("token entry `{}` uses a placeholder token", principal.name))
        .collect();
    weak.sort();
    weak.dedup();
    if weak.is_empty() {
        Ok(())
    } else {
        Err(Problem::Invalid(weak.join("; ")))
    }
}

/// The value's text, or why it counts as missing.
fn present(value: Option<&SecretString>) -> Result<&str, String> {
    let text = value.ok_or_else(|| "not set".to_owned())?.expose_secret();
    if text.trim().is_empty() {
        Err("is empty".to_owned())
    } else {
        Ok(text)
    }
}

/// Runs `key_problem` on every key of a ring and gathers the reasons.
fn check_keys(ring: &Ring, key_problem: impl Fn(&str) -> Option<String>) -> Result<(), Problem> {
    let map = match ring {
        Ring::Missing(reason) => return Err(Problem::Missing(reason.clone())),
        Ring::Unparsable(reason) => return Err(Problem::Invalid(reason.clone())),
        Ring::Parsed(map) => map,
    };
    if map.is_empty() {
        return Err(Problem::Invalid("contains no key".to_owned()));
    }
    let problems: Vec<String> = map
        .iter()
        .enumerate()
        .filter_map(|(position, (version, value))| {
            let label =
                quotable(version).map_or_else(|| format!("#{}", position + 1), str::to_owned);
            if version.trim().is_empty() {
                return Some(format!("key {label} has an empty version name"));
            }
            let Some(key) = value.as_str() else {
                return Some(format!("key {label} is not a string"));
            };
            key_problem(key).map(|reason| format!("key {label} {reason}"))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problem::Invalid(problems.join("; ")))
    }
}

/// `version` when it looks like a version name (`v1`, `2026-q1`) and may be quoted.
fn quotable(version: &str) -> Option<&str> {
    let looks_like_version = (1..=MAX_QUOTED_VERSION_CHARS).contains(&version.chars().count())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    looks_like_version.then_some(version)
}

/// Where the JSON broke, without serde_json's message (which can quote the input).
fn syntax_reason(error: &serde_json::Error) -> String {
    format!(
        "not valid JSON (line {}, column {})",
        error.line(),
        error.column()
    )
}

/// `word`, `WORD` and `Word`: the spellings a stand-in token is likely to have.
fn word_variants(word: &str) -> [String; 3] {
    let mut capitalised = word.to_owned();
    if let Some(first) = capitalised.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    [word.to_owned(), word.to_ascii_uppercase(), capitalised]
}
