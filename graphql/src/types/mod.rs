//! The schema's own types, one file per domain: never derived on sea-orm models, each a view
//! over a core type.

pub mod export;
pub mod impact;
pub mod keys;
pub mod log;
pub mod methodology;
pub mod outbox;
pub mod page;
pub mod totals;
