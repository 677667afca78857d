//! sea-orm entities for the GreenOS tables.
//!
//! `generated/` holds the table shapes (one module per table, as `sea-orm-cli generate entity`
//! lays them out); `behavior.rs` holds the hand-written lifecycle hooks. No business rule lives
//! here: the domain is in `greenos-core`.

mod behavior;
mod generated;

pub use generated::*;
