//! Who is calling: bearer tokens from `GREENOS_API_TOKENS_JSON`, and the scopes they carry.
//!
//! Only SHA-256 digests of tokens are configured; a presented token is hashed and
//! compared with every digest in constant time. Scopes are exact: `admin` does not
//! imply `read`, `ingest` or `export`.

mod context;
mod principal;
mod registry;
mod scope;

pub use context::AuthContext;
pub use principal::{AuthError, Principal};
pub use registry::{AuthConfigError, TokenRegistry, token_sha256};
pub use scope::{Scope, UnknownScope};
