//! Batch loaders, so a list never issues one query per item: every methodology and impact a
//! response needs is read in one query per kind. Each request gets its own loaders, each with a
//! cache that lives as long as the request.

mod impact;
mod leaf;
mod methodology;

use async_graphql::dataloader::{DataLoader, HashMapCache};

pub use impact::ImpactLoader;
pub use leaf::LeafLoader;
pub use methodology::MethodologyLoader;

/// The per-request methodology loader.
pub(crate) type Methodologies = DataLoader<MethodologyLoader, HashMapCache>;

/// The per-request impact loader.
pub(crate) type Impacts = DataLoader<ImpactLoader, HashMapCache>;

/// The per-request transparency-log leaf loader.
pub(crate) type Leaves = DataLoader<LeafLoader, HashMapCache>;
