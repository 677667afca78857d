//! The real Redis the job tests publish to and read from.

use std::time::Duration;

use crate::helpers::unreachable_service;

/// The Redis server every test uses (each with its own stream prefix).
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A connection, or `None` (with a loud message) when Redis is down outside CI.
pub async fn connection() -> Option<redis::aio::MultiplexedConnection> {
    let connected = match redis::Client::open(REDIS_URL) {
        Ok(client) => client.get_multiplexed_async_connection().await,
        Err(err) => Err(err),
    };
    match connected {
        Ok(conn) => Some(conn),
        Err(err) => {
            unreachable_service("Redis at 127.0.0.1:6379", &err);
            None
        }
    }
}

/// A client for a job under test.
pub fn client() -> redis::Client {
    redis::Client::open(REDIS_URL).expect("a Redis URL")
}

/// Waits, 10 s at most, until `done` holds; answers whether it did.
pub async fn eventually<F, Fut>(mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
