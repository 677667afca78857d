//! GreenOS composition root: configuration, wiring, the HTTP router and its REST routes.
//! The domain lives in `greenos-core`; this crate only assembles it.

pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod context;
pub mod db;
pub mod edge;
pub mod error;
pub mod export;
pub mod extract;
pub mod ingest;
pub mod keygen;
pub mod router;
pub mod routes;
pub mod security;
pub mod server;
pub mod telemetry;
pub mod transparency;
pub mod verify;
