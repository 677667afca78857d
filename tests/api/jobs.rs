//! The background jobs as a worker runs them, against the real stores.

mod consumer;
mod relay;
mod scheduler;
