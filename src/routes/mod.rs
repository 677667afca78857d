//! REST routes, one file per area.

pub mod health;
pub mod keys;
pub mod metrics;
pub mod secrets;
