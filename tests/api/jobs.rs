//! The background jobs as a worker runs them, against the real stores.

mod relay;
mod scheduler;
