//! Batch loaders, so a list never issues one query per item: every methodology and impact a
//! response needs is read in one query per kind.

mod impact;
mod methodology;

pub use impact::ImpactLoader;
pub use methodology::MethodologyLoader;
