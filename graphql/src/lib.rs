//! The GreenOS GraphQL layer, free of any web framework: the root crate mounts it on axum.

pub mod error;
pub mod guard;
