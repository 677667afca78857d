//! `GET /health`: database reachability (required) and Redis reachability (reported only:
//! when Redis is down the service keeps working and events wait in the outbox).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::AppState;

/// How long a health probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1000);

/// Reports the service's and its dependencies' state.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.services.database_status(PROBE_TIMEOUT).await;
    let database_up = database.up;
    let redis_up = redis_reachable(&state.redis).await;
    let status = if database_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": match (database_up, redis_up) {
            (true, true) => "ok",
            (true, false) => "degraded",
            _ => "down",
        },
        "version": env!("CARGO_PKG_VERSION"),
        "environment": state.config.environment.as_str(),
        "database": {"status": if database_up { "up" } else { "down" }, "backend": database.backend},
        "redis": {"status": if redis_up { "up" } else { "down" }},
    });
    (status, Json(body))
}

async fn redis_reachable(client: &redis::Client) -> bool {
    let probe = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)))
}
