//! GreenOS background work, started by `greenos serve --role worker|all`: the scheduled MRV
//! exports, the outbox relay to Redis Streams, the `trip_completed.v1` consumer and the
//! transparency log's integrator. Each job
//! takes `Services` and its own settings, never the whole application.

pub mod consumer;
pub mod integrator;
pub mod relay;
pub mod scheduler;
pub mod streams;
