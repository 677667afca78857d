//! A TCP proxy the test owns, in front of a real server: `cut` closes every connection through
//! it and refuses new ones (the network to the database is gone), `restore` lets them through
//! again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::helpers::{Backend, TestApp};

/// A proxy on `127.0.0.1:port` forwarding to `upstream`.
pub struct TcpProxy {
    /// The port clients connect to.
    pub port: u16,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl TcpProxy {
    /// Starts forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &'static str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = {
            let cut = Arc::clone(&cut);
            let connections = Arc::clone(&connections);
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        // Dropping the socket closes it: the client sees the network fail.
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections
                        .lock()
                        .expect("connection list")
                        .push(task.abort_handle());
                }
            })
            .abort_handle()
        };
        TcpProxy {
            port,
            cut,
            connections,
            accept,
        }
    }

    /// Closes every open connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().expect("connection list").drain(..) {
            connection.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The application on a fresh PostgreSQL database reached through `proxy`, waiting at most
/// `acquire_timeout_ms` for a connection (`None` when PostgreSQL is down outside CI).
pub async fn spawn_behind(proxy: &TcpProxy, acquire_timeout_ms: u64) -> Option<TestApp> {
    let port = proxy.port;
    TestApp::spawn_with(Backend::Postgres, |vars| {
        let direct = vars
            .get("GREENOS_DATABASE_URL")
            .expect("a database URL")
            .to_owned();
        vars.set(
            "GREENOS_DATABASE_URL",
            direct.replace("127.0.0.1:5432", &format!("127.0.0.1:{port}")),
        )
        .set(
            "GREENOS_DATABASE_ACQUIRE_TIMEOUT_MS",
            acquire_timeout_ms.to_string(),
        );
    })
    .await
}
