//! What a client sends on the wire before any route sees it: a head or a body sent too slowly,
//! an over-long URI, too many headers, bytes that are not HTTP. Each is answered with the §10
//! envelope where the server can still answer, and slow connections are closed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    slow_clients_are_disconnected,
    malformed_requests_get_the_envelope
);

/// A connection the server has not answered or closed by then is a failure.
const HANG: Duration = Duration::from_secs(20);

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// Sends `bytes` and reads until the server closes the connection: the status and the body.
async fn exchange(app: &TestApp, bytes: &[u8]) -> (u16, Value) {
    let mut stream = connect(app).await;
    stream.write_all(bytes).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(HANG, stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection")
        .expect("read");
    parse(&answer)
}

fn parse(answer: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn assert_envelope((status, body): (u16, Value), expected: StatusCode, code: &str) {
    assert_eq!(status, expected.as_u16(), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}

async fn slow_clients_are_disconnected(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |vars| {
        vars.set("GREENOS_HTTP_HEADER_TIMEOUT_S", "1")
            .set("GREENOS_HTTP_BODY_TIMEOUT_S", "1");
    })
    .await
    else {
        return;
    };
    // Headers that never finish: the connection is closed, with nothing to answer.
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: greenos\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(HANG, stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the slow connection")
        .expect("read");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    // A body announced as 100 bytes of which 10 arrive: 408, then the connection is closed.
    let late_body = b"POST /api/v2/esg/trips HTTP/1.1\r\nhost: greenos\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"trip_id\"";
    assert_envelope(
        exchange(&app, late_body).await,
        StatusCode::REQUEST_TIMEOUT,
        "GREENOS_REQUEST_TIMEOUT",
    );
    assert_eq!(app.count_rows("esg_impact_ledger").await, 0);

    let metrics = app.metrics().await;
    for phase in ["header", "body"] {
        assert_eq!(
            metrics.value("greenos_http_timeouts_total", &[("phase", phase)]),
            Some(1.0),
            "{phase}: {metrics}"
        );
    }
}

async fn malformed_requests_get_the_envelope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let long_path = format!(
        "GET /{} HTTP/1.1\r\nhost: g\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    assert_envelope(
        exchange(&app, long_path.as_bytes()).await,
        StatusCode::URI_TOO_LONG,
        "GREENOS_URI_TOO_LONG",
    );
    let headers: String = (0..500).map(|i| format!("x-h-{i}: v\r\n")).collect();
    let many = format!("GET /health HTTP/1.1\r\nhost: g\r\n{headers}\r\n");
    assert_envelope(
        exchange(&app, many.as_bytes()).await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "GREENOS_HEADERS_TOO_LARGE",
    );
    let auths: String = (0..100)
        .map(|i| format!("authorization: Bearer t{i}\r\n"))
        .collect();
    let many_auth = format!("GET /health HTTP/1.1\r\nhost: g\r\n{auths}\r\n");
    assert_envelope(
        exchange(&app, many_auth.as_bytes()).await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "GREENOS_HEADERS_TOO_LARGE",
    );
    for garbage in [
        &b"GET /health HTTP/1.1\r\nx-bad: a\x01b\r\n\r\n"[..],
        &b"\x16\x03\x01 not http at all\r\n\r\n"[..],
        &b"GET /health HTTP/9.9\r\n\r\n"[..],
    ] {
        assert_envelope(
            exchange(&app, garbage).await,
            StatusCode::BAD_REQUEST,
            "GREENOS_INVALID_REQUEST",
        );
    }
    // A later request on a kept-alive connection is checked too.
    let mut stream = connect(&app).await;
    let second = format!(
        "GET /health HTTP/1.1\r\nhost: g\r\n\r\nGET /{} HTTP/1.1\r\nhost: g\r\nconnection: close\r\n\r\n",
        "b".repeat(20 * 1024)
    );
    stream.write_all(second.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(HANG, stream.read_to_end(&mut answer))
        .await
        .expect("closed")
        .expect("read");
    let text = String::from_utf8_lossy(&answer);
    let last = text.rfind("HTTP/1.1 ").expect("two responses");
    assert_envelope(
        parse(text[last..].as_bytes()),
        StatusCode::URI_TOO_LONG,
        "GREENOS_URI_TOO_LONG",
    );
}
