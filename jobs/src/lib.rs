//! GreenOS background work: scheduled MRV exports, the outbox relay to Redis Streams and the
//! `trip_completed.v1` consumer. Each job gets a narrow set of dependencies, never the whole app.
