//! The HTTP/1 server: hyper driven directly, so GreenOS sets what a public service needs and
//! `axum::serve` does not expose — a deadline on a client's request head, the head limits, and
//! the error envelope even for requests the router never sees.
//!
//! The first request head of every connection is read and checked here (with `httparse`)
//! before hyper parses it: a garbage request line, a control byte in a header, too many or too
//! large headers, or an over-long URI are answered with the §10 envelope and the connection is
//! closed. Later requests on a kept-alive connection meet hyper's own limits (the same numbers)
//! and the router's checks.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use greenos_core::error_code::ErrorCode;
use greenos_core::metrics::Metrics;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::error::envelope;
use crate::router::router;

/// The most headers a request may carry.
pub const MAX_HEADERS: usize = 100;
/// The longest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The longest request target (path and query) accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// How long shutdown waits for in-flight requests before closing their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server enforces on each connection.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// `GREENOS_HTTP_HEADER_TIMEOUT_S`: the time a client has to send a whole request head.
    pub header_timeout: Duration,
}

/// Serves the application's router on `listener` until `shutdown` completes.
pub async fn serve_app(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = router(state.clone());
    serve_state(listener, &state, app, shutdown).await
}

/// Serves only `GET /metrics`, without a token, on `listener` (`GREENOS_METRICS_BIND`, a
/// private network) until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = crate::router::metrics_router(&state);
    serve_state(listener, &state, app, shutdown).await
}

/// Serves `app` with the limits and the metrics of `state`.
async fn serve_state(
    listener: TcpListener,
    state: &AppState,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = ServerLimits {
        header_timeout: state.config.http.header_timeout,
    };
    let metrics = state.services.metrics().clone();
    serve(listener, app, limits, metrics, shutdown).await
}

/// A server running in the background (tests and benchmarks): dropping it, or calling
/// [`Background::stop`], shuts it down.
pub struct Background {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Background {
    /// Serves `state` on `listener` on a task of its own.
    pub fn spawn(listener: TcpListener, state: AppState) -> Background {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_app(listener, state, async {
            let _ = stopped.await;
        }));
        Background {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Shuts the server down and waits until its requests are drained.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a little instead of spinning.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let metrics = metrics.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(stream) = first_head(stream, limits.header_timeout, &metrics).await else {
                return;
            };
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_headers(MAX_HEADERS)
                .max_buf_size(2 * MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
            if let Err(err) = watcher.watch(connection).await {
                if err.is_timeout() {
                    metrics.record_http_timeout("header");
                }
                tracing::debug!(error = %err, "HTTP connection closed with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: in-flight requests did not finish in time; closing them");
    }
    Ok(())
}

/// Reads and checks the connection's first request head; answers a bad one with the envelope
/// and `None`, or hands the connection on with the bytes read so far put back in front.
async fn first_head(
    mut stream: TcpStream,
    timeout: Duration,
    metrics: &Metrics,
) -> Option<Prefixed<TcpStream>> {
    let mut head = Vec::with_capacity(4096);
    let verdict = tokio::time::timeout(timeout, async {
        loop {
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await.ok()?;
            if read == 0 {
                // Closed before a request: nothing to answer; hyper sees an empty stream.
                return Some(Verdict::Pass);
            }
            head.extend_from_slice(&chunk[..read]);
            match check_head(&head) {
                Verdict::Incomplete => continue,
                verdict => return Some(verdict),
            }
        }
    })
    .await;
    match verdict {
        Ok(Some(Verdict::Pass)) => Some(Prefixed {
            prefix: head,
            position: 0,
            inner: stream,
        }),
        Ok(Some(Verdict::Refuse(status, code, message))) => {
            answer(&mut stream, status, code, &message).await;
            None
        }
        Ok(Some(Verdict::Incomplete) | None) => None,
        Err(_) => {
            metrics.record_http_timeout("header");
            tracing::debug!("a client did not send its request head in time; connection closed");
            None
        }
    }
}

/// What the first bytes of a connection amount to.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// A whole, acceptable head (or not HTTP/1 enough to judge: hyper will say so).
    Pass,
    /// More bytes are needed.
    Incomplete,
    /// Refused with this status, code and message.
    Refuse(StatusCode, ErrorCode, String),
}

fn check_head(bytes: &[u8]) -> Verdict {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {
            if request.path.is_some_and(|path| path.len() > MAX_URI_BYTES) {
                uri_too_long()
            } else {
                Verdict::Pass
            }
        }
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD_BYTES => {
            let request_line_done = bytes.windows(2).any(|w| w == b"\r\n");
            if request_line_done {
                headers_too_large(format!(
                    "The request headers are larger than {MAX_HEAD_BYTES} bytes."
                ))
            } else {
                uri_too_long()
            }
        }
        Ok(httparse::Status::Partial) => {
            let request_line_len = bytes.iter().position(|&b| b == b'\n');
            if request_line_len.is_none() && bytes.len() > MAX_URI_BYTES + 64 {
                uri_too_long()
            } else {
                Verdict::Incomplete
            }
        }
        Err(httparse::Error::TooManyHeaders) => headers_too_large(format!(
            "The request carries more than {MAX_HEADERS} headers."
        )),
        Err(err) => Verdict::Refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("The request is not well-formed HTTP/1.1: {err}."),
        ),
    }
}

fn uri_too_long() -> Verdict {
    Verdict::Refuse(
        StatusCode::URI_TOO_LONG,
        ErrorCode::UriTooLong,
        format!("The request URI is longer than {MAX_URI_BYTES} bytes."),
    )
}

fn headers_too_large(message: String) -> Verdict {
    Verdict::Refuse(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ErrorCode::HeadersTooLarge,
        message,
    )
}

/// Writes a complete envelope response and closes the connection.
async fn answer(stream: &mut TcpStream, status: StatusCode, code: ErrorCode, message: &str) {
    let body = envelope(code, message, &serde_json::json!({})).to_string();
    let response = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if stream.write_all(response.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// A stream whose first bytes were already read: they are read again, then the stream.
struct Prefixed<S> {
    prefix: Vec<u8>,
    position: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.position < self.prefix.len() {
            let rest = &self.prefix[self.position..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            self.position += n;
            if self.position == self.prefix.len() {
                self.prefix = Vec::new();
                self.position = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(verdict: Verdict) -> Option<ErrorCode> {
        match verdict {
            Verdict::Refuse(_, code, _) => Some(code),
            _ => None,
        }
    }

    #[test]
    fn heads_are_judged_before_routing() {
        assert_eq!(
            check_head(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"),
            Verdict::Pass
        );
        assert_eq!(
            check_head(b"GET /health HTTP/1.1\r\nhost"),
            Verdict::Incomplete
        );
        assert_eq!(
            code(check_head(b"\x01\x02 garbage\r\n\r\n")),
            Some(ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code(check_head(b"GET / HTTP/1.1\r\nx-a: b\x01c\r\n\r\n")),
            Some(ErrorCode::InvalidRequest)
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_BYTES + 1));
        assert_eq!(
            code(check_head(long.as_bytes())),
            Some(ErrorCode::UriTooLong)
        );
        let very_long = format!("GET /{}", "a".repeat(100 * 1024));
        assert_eq!(
            code(check_head(very_long.as_bytes())),
            Some(ErrorCode::UriTooLong)
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            code(check_head(many.as_bytes())),
            Some(ErrorCode::HeadersTooLarge)
        );
    }
}
