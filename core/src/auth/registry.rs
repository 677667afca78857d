//! The configured API tokens, known only by their SHA-256 digests.

use std::{collections::BTreeSet, fmt};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::{AuthError, Principal, Scope};

/// Lowercase hex SHA-256 of `token`: the `token_sha256` to configure for it.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why `GREENOS_API_TOKENS_JSON` cannot be used; never quotes a token or a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthConfigError {
    /// The text is not JSON.
    #[error("not valid JSON (line {line}, column {column})")]
    Syntax {
        /// Line of the first syntax error.
        line: usize,
        /// Column of the first syntax error.
        column: usize,
    },
    /// The JSON is not an object of token entries.
    #[error(
        "must be a JSON object of token entries, like {{\"<name>\":{{\"token_sha256\":\"<hex>\",\"scopes\":[\"read\"]}}}}"
    )]
    NotAnObject,
    /// One entry is malformed.
    #[error("token entry `{name}`: {reason}")]
    Entry {
        /// The entry's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two entries hold the digest of the same token, so a caller would be ambiguous.
    #[error("token entries `{first}` and `{second}` have the same token")]
    DuplicateToken {
        /// The first entry's name.
        first: String,
        /// The second entry's name.
        second: String,
    },
}

/// One configured token.
#[derive(Clone)]
struct TokenEntry {
    name: String,
    digest: [u8; 32],
    scopes: BTreeSet<Scope>,
}

/// The API tokens GreenOS accepts, parsed from `GREENOS_API_TOKENS_JSON`.
#[derive(Clone, Default)]
pub struct TokenRegistry {
    entries: Vec<TokenEntry>,
}

impl fmt::Debug for TokenRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        f.debug_struct("TokenRegistry")
            .field("tokens", &names)
            .finish()
    }
}

impl TokenRegistry {
    /// Parses `{"<name>":{"token_sha256":"<64 lowercase hex>","scopes":["read",...]}}`.
    pub fn from_json(json: &str) -> Result<Self, AuthConfigError> {
        let value: Value = serde_json::from_str(json).map_err(|e| AuthConfigError::Syntax {
            line: e.line(),
            column: e.column(),
        })?;
        let Value::Object(map) = value else {
            return Err(AuthConfigError::NotAnObject);
        };
        let mut entries: Vec<TokenEntry> = Vec::with_capacity(map.len());
        for (name, entry) in map {
            let entry = parse_entry(name, entry)?;
            if let Some(twin) = entries.iter().find(|e| e.digest == entry.digest) {
                return Err(AuthConfigError::DuplicateToken {
                    first: twin.name.clone(),
                    second: entry.name,
                });
            }
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    /// True when no token is configured (nobody can authenticate).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Authenticates an `Authorization` header value of the form `Bearer <token>`.
    pub fn authenticate(&self, authorization_header: Option<&str>) -> Result<Principal, AuthError> {
        let token = authorization_header
            .and_then(bearer_token)
            .ok_or(AuthError::Unauthenticated)?;
        self.authenticate_token(token)
    }

    /// Authenticates a bare token.
    ///
    /// Its digest is compared with every entry in constant time, and the loop never
    /// stops early, so timing reveals neither which entry matched nor how much of it.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, AuthError> {
        let digest = Sha256::digest(token.as_bytes());
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (position, entry) in (0u64..).zip(&self.entries) {
            let same = entry.digest[..].ct_eq(&digest[..]);
            index.conditional_assign(&position, same);
            found |= same;
        }
        if !bool::from(found) {
            return Err(AuthError::Unauthenticated);
        }
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| self.entries.get(i))
            .ok_or(AuthError::Unauthenticated)?;
        Ok(Principal {
            name: entry.name.clone(),
            scopes: entry.scopes.clone(),
        })
    }
}

/// The token of a `Bearer <token>` header (scheme case-insensitive), if well formed.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn parse_entry(name: String, entry: Value) -> Result<TokenEntry, AuthConfigError> {
    let fail = |reason: &str| AuthConfigError::Entry {
        name: name.clone(),
        reason: reason.to_owned(),
    };
    if name.trim().is_empty() {
        return Err(fail("the entry name is empty"));
    }
    let Value::Object(fields) = entry else {
        return Err(fail("must be an object with `token_sha256` and `scopes`"));
    };
    if let Some(field) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "token_sha256" | "scopes"))
    {
        return Err(fail(&format!(
            "unknown field `{field}` (allowed: token_sha256, scopes)"
        )));
    }
    let digest = parse_digest(&fields).ok_or_else(|| {
        fail("`token_sha256` must be the SHA-256 of the token as 64 lowercase hex characters")
    })?;
    let scopes = parse_scopes(&fields).map_err(|reason| fail(&reason))?;
    Ok(TokenEntry {
        name,
        digest,
        scopes,
    })
}

fn parse_digest(fields: &Map<String, Value>) -> Option<[u8; 32]> {
    let hex_text = fields.get("token_sha256")?.as_str()?;
    let lowercase_hex = hex_text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !lowercase_hex {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut digest).ok()?;
    Some(digest)
}

fn parse_scopes(fields: &Map<String, Value>) -> Result<BTreeSet<Scope>, String> {
    let malformed = || "`scopes` must be a non-empty list of scope names".to_owned();
    let list = fields
        .get("scopes")
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .ok_or_else(malformed)?;
    list.iter()
        .map(|item| {
            let name = item.as_str().ok_or_else(malformed)?;
            name.parse::<Scope>().map_err(|e| e.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS_TOKEN: &str = "gos_ops_4f8b2c9e71d3a6058e2b7c1d9f4a6e30";
    const READER_TOKEN: &str = "gos_reader_9a1c7e3b5d2f8064c1e9b7a3d5f20c48";

    fn registry() -> TokenRegistry {
        let json = serde_json::json!({
            "ops": {"token_sha256": token_sha256(OPS_TOKEN), "scopes": ["admin", "export"]},
            "dashboard": {"token_sha256": token_sha256(READER_TOKEN), "scopes": ["read"]},
        });
        TokenRegistry::from_json(&json.to_string()).unwrap_or_default()
    }

    #[test]
    fn valid_token_gives_its_principal() {
        let registry = registry();
        assert_eq!(registry.len(), 2);
        let principal = registry.authenticate(Some(&format!("Bearer {OPS_TOKEN}")));
        assert_eq!(
            principal,
            Ok(Principal {
                name: "ops".to_owned(),
                scopes: BTreeSet::from([Scope::Admin, Scope::Export]),
            })
        );
        let reader = registry.authenticate(Some(&format!("bearer  {READER_TOKEN} ")));
        assert_eq!(reader.map(|p| p.name), Ok("dashboard".to_owned()));
    }

    #[test]
    fn wrong_missing_or_non_bearer_credentials_are_unauthenticated() {
        let registry = registry();
        for header in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer gos_ops_wrong"),
            Some(OPS_TOKEN),
            Some(&*format!("Basic {OPS_TOKEN}")),
            Some(&*format!("Token {OPS_TOKEN}")),
        ] {
            assert_eq!(
                registry.authenticate(header),
                Err(AuthError::Unauthenticated),
                "{header:?}"
            );
        }
        assert_eq!(
            TokenRegistry::default().authenticate(Some(&format!("Bearer {OPS_TOKEN}"))),
            Err(AuthError::Unauthenticated)
        );
    }

    #[test]
    fn wrong_scope_is_forbidden() {
        let reader = registry().authenticate(Some(&format!("Bearer {READER_TOKEN}")));
        assert_eq!(
            reader.and_then(|p| p.require(Scope::Admin)),
            Err(AuthError::Forbidden {
                required: Scope::Admin
            })
        );
    }

    #[test]
    fn config_errors_name_the_entry_but_never_the_digest() {
        let digest = token_sha256(OPS_TOKEN);
        let entry = |body: &str| format!(r#"{{"ops":{body}}}"#);
        let cases = [
            ("{".to_owned(), "not valid JSON (line 1, column 1)"),
            (
                "[]".to_owned(),
                "must be a JSON object of token entries, like {\"<name>\":{\"token_sha256\":\"<hex>\",\"scopes\":[\"read\"]}}",
            ),
            (
                entry(&format!(
                    r#"{{"token_sha256":"{}","scopes":["read"]}}"#,
                    digest.to_uppercase()
                )),
                "token entry `ops`: `token_sha256` must be the SHA-256 of the token as 64 lowercase hex characters",
            ),
            (
                entry(&format!(
                    r#"{{"token_sha256":"{digest}","scopes":["read","root"]}}"#
                )),
                "token entry `ops`: unknown scope `root` (allowed: read, ingest, export, admin)",
            ),
            (
                entry(&format!(r#"{{"token_sha256":"{digest}","scopes":[]}}"#)),
                "token entry `ops`: `scopes` must be a non-empty list of scope names",
            ),
            (
                entry(&format!(
                    r#"{{"token_sha256":"{digest}","scopes":["read"],"token":"x"}}"#
                )),
                "token entry `ops`: unknown field `token` (allowed: token_sha256, scopes)",
            ),
            (
                format!(
                    r#"{{"a":{{"token_sha256":"{digest}","scopes":["read"]}},"b":{{"token_sha256":"{digest}","scopes":["admin"]}}}}"#
                ),
                "token entries `a` and `b` have the same token",
            ),
        ];
        for (json, expected) in cases {
            let message = TokenRegistry::from_json(&json).err().map(|e| e.to_string());
            assert_eq!(message.as_deref(), Some(expected), "{json}");
            assert!(!expected.to_lowercase().contains(&digest));
        }
    }

    #[test]
    fn debug_shows_names_only() {
        let shown = format!("{:?}", registry());
        assert!(shown.contains("ops") && shown.contains("dashboard"));
        assert!(!shown.contains(&token_sha256(OPS_TOKEN)));
    }
}
