//! GreenOS background work, started by `greenos serve --role worker|all`: the scheduled MRV
//! exports, the outbox relay to Redis Streams and the `trip_completed.v1` consumer. Each job
//! takes `Services` and its own settings, never the whole application.

pub mod consumer;
pub mod relay;
pub mod scheduler;
pub mod streams;
