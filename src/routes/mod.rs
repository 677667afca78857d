//! REST routes, one file per area.

pub mod health;
pub mod metrics;
