//! `TestApp`: the real application on port 0, against a fresh database per test.

use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::AtomicBool;

use greenos::app::AppState;
use greenos::config::{Config, Vars};
use greenos::server::Background;
use greenos_core::services::Services;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use tempfile::TempDir;

mod graphql;
pub mod metrics;
pub mod proxy;
pub mod redis;
pub use graphql::graphql_code;
mod tampering;

/// The PostgreSQL server every test database is created on.
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which store a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database, dropped afterwards.
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each scenario `async fn name(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$scenario($crate::helpers::Backend::Postgres).await;
            }
        }
    )+};
}

fn in_ci() -> bool {
    #[expect(
        clippy::disallowed_methods,
        reason = "the test harness reads CI and TEST_LOG"
    )]
    let ci = std::env::var("CI");
    ci.is_ok_and(|v| v == "true" || v == "1")
}

/// Called when a service cannot be reached: fails under CI, skips loudly elsewhere.
pub fn unreachable_service(what: &str, err: &dyn std::fmt::Display) {
    assert!(!in_ci(), "{what} is unreachable under CI=true: {err}");
    eprintln!("\n!!! SKIPPED: {what} is unreachable ({err}); run it to exercise this test !!!\n");
}

/// The path of `name` on `PATH`; when it is missing, fails under CI and skips loudly elsewhere
/// (Debian's `package` brings it).
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the test looks for a tool on PATH, as a shell would"
    )]
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    if found.is_none() {
        unreachable_service(name, &format!("not installed (Debian's {package} package)"));
    }
    found
}

fn init_test_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[expect(
            clippy::disallowed_methods,
            reason = "the test harness reads CI and TEST_LOG"
        )]
        let wanted = std::env::var("TEST_LOG").is_ok();
        if wanted {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info")
                .with_test_writer()
                .try_init();
        }
    });
}

/// A database that exists for one test.
pub struct TestDb {
    /// The URL the application connects to.
    pub url: String,
    dir: TempDir,
    postgres_name: Option<String>,
}

impl TestDb {
    /// Creates a fresh database, or `None` (with a loud message) when PostgreSQL is down
    /// outside CI.
    pub async fn create(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => {
                let path = dir.path().join("greenos.db");
                Some(Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    dir,
                    postgres_name: None,
                })
            }
            Backend::Postgres => {
                let admin = match Database::connect(POSTGRES_ADMIN_URL).await {
                    Ok(admin) => admin,
                    Err(err) => {
                        unreachable_service("PostgreSQL at 127.0.0.1:5432", &err);
                        return None;
                    }
                };
                let name = format!("greenos_t_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create the test database");
                Some(Self {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    dir,
                    postgres_name: Some(name),
                })
            }
        }
    }

    /// A scratch directory that lives as long as the database.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a short-lived runtime on its own thread.
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(POSTGRES_ADMIN_URL).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            }
        });
        let _ = handle.join();
    }
}

/// The base variables of every test application (fixed test keys, scratch data dir).
pub fn base_vars(db: &TestDb) -> Vars {
    let mut vars = Vars::default();
    vars.set("GREENOS_DATABASE_URL", db.url.clone())
        .set("GREENOS_DATABASE_MAX_CONNECTIONS", "8")
        .set("GREENOS_BIND", "127.0.0.1:0")
        .set(
            "GREENOS_REDIS_STREAM_PREFIX",
            format!("test-{}:", uuid::Uuid::new_v4().simple()),
        )
        .set(
            "GREENOS_DATA_DIR",
            db.dir().join("data").display().to_string(),
        );
    vars
}

/// The application, served on an ephemeral port.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// A separate connection for raw SQL, as an attacker or an operator would have.
    pub db: DatabaseConnection,
    /// The variables the application was started with (to start a second instance on the
    /// same database).
    pub vars: Vars,
    /// The application's service layer, for driving use cases as a job or a command would.
    pub services: Services,
    /// Set once `tamper` dropped the append-only triggers: the database no longer refuses an
    /// `UPDATE` or a `DELETE` of the ledger, the audit metadata, the exports or the methodology.
    append_only_triggers_dropped: AtomicBool,
    /// The running server; dropped with the app, which stops it.
    _server: Background,
    /// Kept last so the database outlives every connection above.
    _test_db: TestDb,
}

impl TestApp {
    /// Spawns the application with the default test configuration.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns the application after `configure` adjusted its variables.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Vars)) -> Option<Self> {
        init_test_log();
        let test_db = TestDb::create(backend).await?;
        let mut vars = base_vars(&test_db);
        configure(&mut vars);
        let config = Config::from_vars(&vars).expect("test configuration is valid");
        let state = AppState::build(config).await.expect("application builds");
        let services = state.services.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let address = format!("http://{}", listener.local_addr().expect("local address"));
        let server = Background::spawn(listener, state);
        let db = Database::connect(test_db.url.as_str())
            .await
            .expect("raw connection");
        Some(Self {
            address,
            client: reqwest::Client::new(),
            db,
            vars,
            services,
            append_only_triggers_dropped: AtomicBool::new(false),
            _server: server,
            _test_db: test_db,
        })
    }

    /// The absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `GET path`, answering the status and the JSON body (`Null` when not JSON).
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON body, answering the status and the JSON body (`Null` when not
    /// JSON).
    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a raw body and content type, answering the status and the JSON body
    /// (`Null` when not JSON).
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The number of rows of `table`, counted with raw SQL.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("one row");
        row.try_get::<i64>("", "n").expect("a count")
    }

    /// The URL of the test database (for running the `greenos` binary against it).
    pub fn database_url(&self) -> &str {
        &self._test_db.url
    }

    /// The application's `GREENOS_DATA_DIR` (its development signing keys live there).
    pub fn data_dir(&self) -> PathBuf {
        self._test_db.dir().join("data")
    }

    /// `GET path` as text, with an `Accept` header.
    pub async fn get_text_accepting(&self, path: &str, accept: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    /// `GET path` as text.
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }
}

/// One valid trip of the §4 schema (CI, 12.5 km), as a JSON value.
pub fn trip_json(trip_id: &str) -> Value {
    serde_json::json!({
        "trip_id": trip_id,
        "user_id": "u-42",
        "vehicle_id": "ev-7",
        "country_code": "CI",
        "geo_hash": "s0t5q",
        "event_timestamp": "2026-02-03T08:15:00Z",
        "distance_km": 12.5
    })
}

/// MRV export helpers.
impl TestApp {
    /// `POST /api/v2/esg/mrv/export` for `period` ending at `period_end`.
    pub async fn create_export(&self, period: &str, period_end: &str) -> (StatusCode, Value) {
        self.post_json(
            "/api/v2/esg/mrv/export",
            &serde_json::json!({"period": period, "period_end": period_end}),
        )
        .await
    }

    /// The artifact of `export_id`, which must exist.
    pub async fn export_artifact(&self, export_id: &str) -> Value {
        let (status, artifact) = self
            .get_json(&format!("/api/v2/esg/mrv/export/{export_id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{artifact}");
        artifact
    }

    /// `GET /api/v2/esg/mrv/export/{export_id}/verify`.
    pub async fn verify_export(&self, export_id: &str) -> (StatusCode, Value) {
        self.get_json(&format!("/api/v2/esg/mrv/export/{export_id}/verify"))
            .await
    }
}

/// Waits, 10 s at most, until `done` holds; answers whether it did.
pub async fn eventually<F, Fut>(done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    within(std::time::Duration::from_secs(10), done).await
}

/// Waits, `limit` at most, until `done` holds (checked every 50 ms); answers whether it did.
pub async fn within<F, Fut>(limit: std::time::Duration, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
