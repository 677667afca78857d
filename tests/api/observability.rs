//! Observability checked by the real tools (SPEC §16): `promtool check metrics` lints what
//! `/metrics` exposes after ingest, exports, verifications (one failed), GraphQL, the relay,
//! the consumer and the scheduler have run; a real Prometheus scrapes the service with a
//! bearer token and loads the alert rules; every dashboard query and every alert expression
//! must evaluate there, and every metric it names must be one the service exported.
//!
//! A second test runs the `greenos` binary with JSON logs and `GREENOS_METRICS_BIND`: one
//! `x-request-id` is found in the ledger row, the outbox payload, the published stream entry
//! and a log line, and the private listener serves `/metrics` without a token.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use greenos::config::Config;
use greenos_jobs::consumer::{TRIP_STREAM, TripConsumer};
use greenos_jobs::relay::OutboxRelay;
use greenos_jobs::scheduler::ExportScheduler;
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::credentials::{TOKEN_EXPORT, TOKEN_INGEST, TOKEN_READ, secure};
use crate::helpers::eventually;
use crate::helpers::redis as test_redis;
use crate::helpers::{Backend, TestApp, tool, trip_json};

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `request` with a bearer token; answers the status and the JSON body.
async fn send(request: reqwest::RequestBuilder, token: &str) -> (StatusCode, Value) {
    let response = request.bearer_auth(token).send().await.expect("sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Every `expr` of a dashboard, wherever it sits in the panel tree.
fn dashboard_exprs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", Value::String(expr)) => found.push(expr.clone()),
                    _ => dashboard_exprs(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| dashboard_exprs(item, found)),
        _ => {}
    }
}

/// The `greenos_*` metric names an expression mentions.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut at = 0;
    while let Some(start) = expr[at..].find("greenos_").map(|i| i + at) {
        let preceded =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = expr[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(expr.len(), |i| i + start);
        if !preceded {
            names.insert(expr[start..end].to_owned());
        }
        at = end;
    }
    names
}

/// One instant query; answers Prometheus's JSON answer.
async fn query(client: &reqwest::Client, prometheus: &str, expr: &str) -> Value {
    client
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .expect("Prometheus answers")
        .json()
        .await
        .expect("Prometheus answers JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_evaluates_every_dashboard_query_and_alert_over_real_metrics() {
    let (Some(prometheus_bin), Some(promtool)) = (
        tool("prometheus", "prometheus"),
        tool("promtool", "prometheus"),
    ) else {
        return;
    };
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, secure).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    let client = reqwest::Client::new();

    // Ingest through REST and GraphQL, an export, verifications (one refused).
    let trips: Vec<Value> = ["obs-1", "obs-2", "obs-3"]
        .iter()
        .map(|id| trip_json(id))
        .collect();
    let (status, body) = send(
        client
            .post(app.url("/api/v2/esg/trips"))
            .json(&json!(trips)),
        TOKEN_INGEST,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .graphql_as(
            Some(TOKEN_READ),
            "{ impacts(first: 2) { edges { node { tripId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, export) = send(
        client
            .post(app.url("/api/v2/esg/mrv/export"))
            .json(&json!({"period": "3M", "period_end": "2026-04-01T00:00:00Z"})),
        TOKEN_EXPORT,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{export}");
    let id = export["export_id"]
        .as_str()
        .expect("an export id")
        .to_owned();
    let verify = app.url(&format!("/api/v2/esg/mrv/export/{id}/verify"));
    let (status, body) = send(client.get(&verify), TOKEN_READ).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(client.get(app.url("/api/v2/esg/verify/obs-1")), TOKEN_READ).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.tamper(&format!(
        "UPDATE esg_mrv_exports SET methodology_hash = '{}' WHERE export_id = '{id}'",
        "0".repeat(64)
    ))
    .await;
    let (status, body) = send(client.get(&verify), TOKEN_READ).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The jobs: a trip from the stream, the relay, the scheduler's catch-up.
    let config = Config::from_vars(&app.vars).expect("configuration");
    let stream = format!("{}{TRIP_STREAM}", config.consumer.stream_prefix);
    let _: String = conn
        .xadd(
            &stream,
            "*",
            &[("payload", trip_json("obs-stream").to_string())],
        )
        .await
        .expect("xadd");
    let consumer = TripConsumer::start(
        app.services.clone(),
        test_redis::client(),
        config.consumer.clone(),
    );
    assert!(eventually(|| async { app.count_rows("esg_impact_ledger").await == 4 }).await);
    let relay = OutboxRelay::start(
        app.services.clone(),
        test_redis::client(),
        config.relay.clone(),
    );
    assert!(
        eventually(|| async {
            app.count_rows("esg_outbox_events WHERE status = 'PENDING'")
                .await
                == 0
        })
        .await
    );
    let scheduler = ExportScheduler::start(app.services.clone(), config.exports.clone())
        .await
        .expect("the scheduler starts");
    let scraped = || async {
        let response = client
            .get(app.url("/metrics"))
            .bearer_auth(TOKEN_READ)
            .send()
            .await
            .expect("sent");
        response.text().await.unwrap_or_default()
    };
    assert!(
        eventually(|| async {
            scraped()
                .await
                .contains("greenos_mrv_export_overdue_seconds{")
        })
        .await,
        "the scheduler sets the overdue gauge"
    );

    // promtool lints the exposition.
    let exposition = scraped().await;
    let mut lint = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    lint.stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("exposition written");
    let linted = lint.wait_with_output().expect("promtool ends");
    assert!(
        linted.status.success() && linted.stdout.is_empty() && linted.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&linted.stdout),
        String::from_utf8_lossy(&linted.stderr)
    );

    // A real Prometheus scrapes the service with a bearer token and loads the alert rules.
    let dir = tempfile::tempdir().expect("a scratch directory");
    let token_file = dir.path().join("greenos.token");
    std::fs::write(&token_file, TOKEN_READ).expect("token file");
    let dashboards = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let target = app.address.trim_start_matches("http://");
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(
        &config_file,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: greenos\n    metrics_path: /metrics\n\
             \x20   authorization:\n      type: Bearer\n      credentials_file: {token}\n\
             \x20   static_configs:\n      - targets: ['{target}']\n",
            rules = dashboards.join("alerts.yml").display(),
            token = token_file.display(),
        ),
    )
    .expect("prometheus.yml");
    let port = free_port();
    let _prometheus = Running(
        Command::new(&prometheus_bin)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs"),
    );
    let prometheus = format!("http://127.0.0.1:{port}");
    let up = || async {
        let answer = client
            .get(format!("{prometheus}/api/v1/query"))
            .query(&[("query", "up{job=\"greenos\"}")])
            .send()
            .await;
        match answer {
            Ok(answer) => answer
                .json::<Value>()
                .await
                .is_ok_and(|answer| answer["data"]["result"][0]["value"][1] == "1"),
            Err(_) => false,
        }
    };
    let mut scraping = false;
    for _ in 0..60 {
        if up().await {
            scraping = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        scraping,
        "Prometheus scrapes the service with its bearer token"
    );
    // A few more scrapes, so that rate() and increase() have points to work on.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let names: Value = client
        .get(format!("{prometheus}/api/v1/label/__name__/values"))
        .send()
        .await
        .expect("names")
        .json()
        .await
        .expect("names JSON");
    let exported: BTreeSet<String> = names["data"]
        .as_array()
        .expect("a list of names")
        .iter()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();

    let mut expressions: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(&dashboards).expect("dashboards/") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let dashboard: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("readable"))
                    .expect("a dashboard is JSON");
            let mut found = Vec::new();
            dashboard_exprs(&dashboard["panels"], &mut found);
            assert!(!found.is_empty(), "{} has no query", path.display());
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            for expr in found {
                expressions.push((name.clone().unwrap_or_default(), expr));
            }
        }
    }
    let rules: Value = client
        .get(format!("{prometheus}/api/v1/rules"))
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("rules JSON");
    let loaded: Vec<&Value> = rules["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().into_iter().flatten())
        .collect();
    assert!(loaded.len() >= 6, "the alert rules are loaded: {rules}");
    for rule in &loaded {
        assert_ne!(rule["health"], "err", "{rule}");
        let name = format!("alerts.yml {}", rule["name"]);
        expressions.push((name, rule["query"].as_str().expect("a query").to_owned()));
    }

    let mut failures = Vec::new();
    for (origin, expr) in &expressions {
        let evaluated = expr.replace("$__rate_interval", "1m");
        let answer = query(&client, &prometheus, &evaluated).await;
        if answer["status"] != "success" {
            failures.push(format!("{origin}: {expr}: {}", answer["error"]));
        }
        for name in metric_names(expr) {
            if !exported.contains(&name) {
                failures.push(format!(
                    "{origin}: {expr}: names {name}, which nobody exports"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} expressions fail:\n{}",
        failures.len(),
        expressions.len(),
        failures.join("\n")
    );

    scheduler.shutdown().await;
    relay.shutdown().await;
    consumer.shutdown().await;
    let keys: Vec<String> = conn
        .keys(format!("{}*", config.consumer.stream_prefix))
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: () = conn.del(keys).await.expect("clean up");
    }
}

/// One `x-request-id` end to end through the real binary: the ledger row, the outbox payload,
/// the published stream entry and a JSON log line all carry it; and `GREENOS_METRICS_BIND`
/// serves `/metrics` without a token, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_reaches_the_row_the_event_the_stream_and_the_logs() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let Some(mut conn) = test_redis::connection().await else {
        return;
    };
    let prefix = app
        .vars
        .get("GREENOS_REDIS_STREAM_PREFIX")
        .expect("a prefix")
        .to_owned();
    let (port, metrics_port) = (free_port(), free_port());
    let mut service = Running(
        Command::new(env!("CARGO_BIN_EXE_greenos"))
            .args(["serve", "--role", "all"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("GREENOS_DATABASE_URL", app.database_url())
            .env("GREENOS_DATA_DIR", app.data_dir())
            .env("GREENOS_BIND", format!("127.0.0.1:{port}"))
            .env("GREENOS_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))
            .env("GREENOS_REDIS_STREAM_PREFIX", &prefix)
            .env("GREENOS_EXPORT_SCHEDULE", "off")
            .env("GREENOS_OUTBOX_POLL_MS", "20")
            .env("GREENOS_LOG_FORMAT", "json")
            .env("GREENOS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the service starts"),
    );
    let logs = service.0.stderr.take().expect("stderr");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(logs).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let listening = || async { client.get(format!("{base}/health")).send().await.is_ok() };
    assert!(eventually(listening).await, "the service listens");

    let request_id = "dashboard-req-0042";
    let response = client
        .post(format!("{base}/api/v2/esg/trips"))
        .header("x-request-id", request_id)
        .json(&trip_json("corr-1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(request_id)
    );

    let ledger = app
        .count_rows(&format!(
            "esg_impact_ledger WHERE trip_id = 'corr-1' AND correlation_id = '{request_id}'"
        ))
        .await;
    assert_eq!(ledger, 1, "the ledger row carries the id");
    let outbox = app
        .count_rows(&format!(
            "esg_outbox_events WHERE correlation_id = '{request_id}' AND payload LIKE '%\"correlation_id\":\"{request_id}\"%'"
        ))
        .await;
    assert_eq!(outbox, 1, "the outbox row and its envelope carry the id");
    let stream = format!("{prefix}esg_calculated.v1");
    let published = || async {
        let mut conn = test_redis::connection().await.expect("redis");
        conn.xlen::<_, usize>(&stream).await.unwrap_or_default() >= 1
    };
    assert!(eventually(published).await, "the relay publishes the event");
    let entries: redis::streams::StreamRangeReply = conn.xrange_all(&stream).await.expect("xrange");
    let payload: Value = serde_json::from_str(
        &entries.ids[0]
            .get::<String>("payload")
            .expect("a payload field"),
    )
    .expect("the payload is JSON");
    assert_eq!(payload["correlation_id"], request_id, "{payload}");

    let mut logged = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while logged.is_none() && std::time::Instant::now() < deadline {
        if let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(200)) {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                panic!("a log line that is not JSON: {line}");
            };
            let carries = entry["correlation_id"] == request_id
                && entry["span"]["correlation_id"] == request_id;
            if carries && entry["message"] == "trips ingested" {
                logged = Some(entry);
            }
        }
    }
    let logged = logged.expect("a JSON log line of the request carries its id");
    assert_eq!(logged["level"], "INFO", "{logged}");

    // A client's mistake is logged, below `error`.
    let refused = client
        .post(format!("{base}/api/v2/esg/trips"))
        .header("x-request-id", "dashboard-bad-0043")
        .json(&json!({"trip_id": "corr-2"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut levels = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(200)) else {
            if !levels.is_empty() {
                break;
            }
            continue;
        };
        let entry: Value = serde_json::from_str(&line).expect("a JSON log line");
        if entry["span"]["correlation_id"] == "dashboard-bad-0043" {
            levels.push(entry["level"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert!(!levels.is_empty(), "the refusal is logged");
    assert!(
        levels
            .iter()
            .all(|level| level == "INFO" || level == "WARN"),
        "a 4xx is never an error: {levels:?}"
    );

    let metrics = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .expect("the metrics listener answers");
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.expect("text");
    assert!(text.contains("greenos_build_info{"), "{text}");
    let other = client
        .get(format!(
            "http://127.0.0.1:{metrics_port}/api/v2/esg/impact/corr-1"
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let _: () = conn.del(&stream).await.expect("clean up");
}
