//! GreenOS integration tests: the real application, on a fresh SQLite file and a fresh
//! PostgreSQL database per test, seen as a user sees it.

mod correlation;
mod credentials;
mod helpers;

mod graphql;
mod health;
mod hostile;
mod impact;
mod ingest;
mod ingest_file;
mod jobs;
mod log;
mod methodology;
mod mrv;
mod observability;
mod production;
mod schema;
mod security;
mod services;
mod startup;
mod vault;
mod vectors;
