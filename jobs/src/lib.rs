//! GreenOS background work, started by `greenos serve --role worker|all`: today the scheduled
//! MRV exports (the outbox relay and the `trip_completed.v1` consumer are still to come). Each
//! job takes `Services` and its own settings, never the whole application.

pub mod scheduler;
