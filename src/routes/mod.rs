//! REST routes, one file per area.

pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod impact;
pub mod keys;
pub mod log;
pub mod methodology;
pub mod metrics;
pub mod mrv;
pub mod outbox;
pub mod secrets;
pub mod trips;
