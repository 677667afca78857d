//! The real binary in production mode: it refuses to start on any critical-secret fault, names
//! the variable, never prints the value; with proper secrets it serves and logs no secret.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use greenos_core::auth::token_sha256;

use crate::credentials::{self, TOKEN_ADMIN, TOKEN_READ};

fn production(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenos"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GREENOS_ENV", "production")
        .env("GREENOS_DATA_DIR", dir.join("data"))
        .env(
            "GREENOS_REDIS_STREAM_PREFIX",
            format!("test-{}:", uuid::Uuid::new_v4().simple()),
        )
        .env(
            "GREENOS_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("p.db").display()),
        )
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in credentials::secret_pairs() {
        cmd.env(name, value);
    }
    cmd
}

/// Waits for the child to exit (killing it after `limit`); answers (exited?, success, stderr).
fn finish(mut child: Child, limit: Duration) -> (bool, bool, String) {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (
        status.is_some(),
        status.is_some_and(|s| s.success()),
        stderr,
    )
}

/// One fault: the variable, its bad value (`None` = unset), and the value that must not leak.
struct Fault {
    var: &'static str,
    value: Option<String>,
    leak: Option<String>,
}

fn fault(var: &'static str, value: Option<&str>, leak: Option<&str>) -> Fault {
    Fault {
        var,
        value: value.map(str::to_owned),
        leak: leak.map(str::to_owned),
    }
}

fn faults() -> Vec<Fault> {
    let zero_seed = BASE64.encode([0u8; 32]);
    let short_seed = BASE64.encode([7u8, 1, 9, 3, 4, 8, 2, 6, 5, 0, 11, 13, 17, 19, 23, 29]);
    let placeholder_tokens = format!(
        r#"{{"ops":{{"token_sha256":"{}","scopes":["admin"]}}}}"#,
        token_sha256("changeme")
    );
    vec![
        fault("GREENOS_SIGNING_KEYS_JSON", None, None),
        fault(
            "GREENOS_SIGNING_KEYS_JSON",
            Some(r#"{"v1":"kP3xQ9"#),
            Some("kP3xQ9"),
        ),
        fault(
            "GREENOS_SIGNING_KEYS_JSON",
            Some(r#"{"v1":"changemechangemechangemechangeme"}"#),
            Some("changemechangeme"),
        ),
        fault(
            "GREENOS_SIGNING_KEYS_JSON",
            Some(r#"{"v1":"kP3xQ9wZ"}"#),
            Some("kP3xQ9wZ"),
        ),
        fault("GREENOS_SIGNING_ACTIVE_KEY_VERSION", Some("v9"), None),
        fault("GREENOS_ED25519_KEYS_JSON", None, None),
        fault(
            "GREENOS_ED25519_KEYS_JSON",
            Some("not json at all"),
            Some("not json at all"),
        ),
        fault(
            "GREENOS_ED25519_KEYS_JSON",
            Some(&format!(r#"{{"v1":"{zero_seed}"}}"#)),
            Some(&zero_seed),
        ),
        fault(
            "GREENOS_ED25519_KEYS_JSON",
            Some(&format!(r#"{{"v1":"{short_seed}"}}"#)),
            Some(&short_seed),
        ),
        fault("GREENOS_ED25519_ACTIVE_KEY_VERSION", Some("v2"), None),
        fault("GREENOS_API_TOKENS_JSON", None, None),
        fault("GREENOS_API_TOKENS_JSON", Some(r#"{"ops":"#), None),
        fault(
            "GREENOS_API_TOKENS_JSON",
            Some(&placeholder_tokens),
            Some(&token_sha256("changeme")),
        ),
        fault(
            "GREENOS_API_TOKENS_JSON",
            Some(r#"{"ops":{"token_sha256":"abc","scopes":["admin"]}}"#),
            None,
        ),
        fault(
            "GREENOS_API_TOKENS_JSON",
            Some(&format!(
                r#"{{"ops":{{"token_sha256":"{}","scopes":["root"]}}}}"#,
                token_sha256("x7Qp2Lm9Vz")
            )),
            None,
        ),
    ]
}

#[test]
fn production_refuses_every_critical_secret_fault() {
    for fault in faults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = production(dir.path());
        match &fault.value {
            Some(value) => cmd.env(fault.var, value),
            None => cmd.env_remove(fault.var),
        };
        let child = cmd.arg("serve").spawn().expect("spawn greenos");
        let (exited, success, stderr) = finish(child, Duration::from_secs(20));
        let label = format!("{}={:?}", fault.var, fault.value);
        assert!(
            exited,
            "{label}: production must refuse to start, it kept running"
        );
        assert!(!success, "{label}: exit status must be non-zero");
        assert!(
            stderr.contains(fault.var),
            "{label}: stderr names the variable: {stderr}"
        );
        if let Some(leak) = &fault.leak {
            assert!(
                !stderr.contains(leak.as_str()),
                "{label}: stderr leaks the value: {stderr}"
            );
        }
        for secret in credentials::secret_values() {
            assert!(
                !stderr.contains(&secret),
                "{label}: stderr leaks a configured secret"
            );
        }
        assert!(
            !dir.path().join("p.db").exists(),
            "{label}: refused before touching the database"
        );
    }
}

#[test]
fn production_with_proper_secrets_serves_and_logs_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = production(dir.path())
        .env("GREENOS_BIND", format!("127.0.0.1:{port}"))
        .env("GREENOS_LOG", "debug")
        .arg("serve")
        .spawn()
        .expect("spawn greenos");
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let statuses = runtime.block_on(async {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/health")).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the production server never came up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut statuses = Vec::new();
        for (path, token) in [
            ("/api/v2/esg/internal/secrets/status", Some(TOKEN_ADMIN)),
            ("/api/v2/esg/internal/secrets/status", Some(TOKEN_READ)),
            ("/metrics", Some(TOKEN_READ)),
            ("/metrics", Some("tok-wrong-0000")),
            ("/api/v2/esg/public-key", None),
        ] {
            let mut request = client.get(format!("{base}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            statuses.push(request.send().await.expect("sent").status().as_u16());
        }
        statuses
    });
    assert_eq!(statuses, vec![200, 403, 200, 401, 200]);
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let (exited, success, stderr) = finish(child, Duration::from_secs(20));
    assert!(exited && success, "graceful shutdown on SIGTERM: {stderr}");
    assert!(stderr.contains("GreenOS listening"), "{stderr}");
    for secret in credentials::secret_values() {
        assert!(!stderr.contains(&secret), "the logs leak a secret");
    }
}
