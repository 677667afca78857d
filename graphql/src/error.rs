//! GraphQL errors carry the same `GREENOS_*` code as REST, in `extensions.code`.

use async_graphql::{Error, ErrorExtensions};
use greenos_core::error_code::ErrorCode;

/// A GraphQL error with `extensions.code` set to the registry's code.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, ext| ext.set("code", code.as_str()))
}
