//! GreenOS background work, started by `greenos serve --role worker|all`: the scheduled MRV
//! exports and the outbox relay to Redis Streams (the `trip_completed.v1` consumer is still to
//! come). Each job takes `Services` and its own settings, never the whole application.

pub mod relay;
pub mod scheduler;
