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

/// A `redis-server` of the test's own, on a free port, that the test may stop and start again
/// (it keeps nothing on disk, so a restart is an empty server). Killed when dropped.
pub struct PrivateRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    process: Option<std::process::Child>,
}

impl PrivateRedis {
    /// Starts one, or `None` (with a loud message) where `redis-server` cannot run outside CI.
    pub async fn start() -> Option<PrivateRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free port");
        let mut redis = PrivateRedis {
            port,
            process: None,
        };
        match redis.resume().await {
            Ok(()) => Some(redis),
            Err(err) => {
                unreachable_service("a private redis-server", &err);
                None
            }
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (connections drop at once).
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts the server again on the same port and waits until it answers.
    pub async fn resume(&mut self) -> Result<(), String> {
        let process = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot run redis-server: {err}"))?;
        self.process = Some(process);
        let client = redis::Client::open(self.url()).map_err(|err| err.to_string())?;
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "redis-server on port {} does not answer",
            self.port
        ))
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
