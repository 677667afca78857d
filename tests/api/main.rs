//! GreenOS integration tests: the real application, on a fresh SQLite file and a fresh
//! PostgreSQL database per test, seen as a user sees it.

mod helpers;

mod health;
mod schema;
mod startup;
