//! GraphiQL in a real headless browser: the page, its vendored scripts and its styles come from
//! GreenOS itself, and the editor renders (nothing is fetched from outside; this machine's
//! network would refuse it anyway).

use std::time::Duration;

use crate::helpers::{Backend, TestApp, unreachable_service};

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_renders_in_a_headless_browser_from_vendored_assets() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (status, page) = app.get_text_accepting("/graphql", "text/html").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(page.contains("/graphql/assets/graphiql.min.js"), "{page}");
    assert!(
        !page.contains("https://"),
        "the page loads nothing from outside"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
    ] {
        let (status, _) = app.get_text(&format!("/graphql/assets/{asset}")).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{asset}");
    }
    if !std::path::Path::new(CHROMIUM).exists() {
        unreachable_service(
            "Chromium (/usr/bin/chromium, Debian's chromium package)",
            &"not installed",
        );
        return;
    }
    let profile = tempfile::tempdir().expect("browser profile");
    let url = app.url("/graphql");
    let profile_dir = profile.path().display().to_string();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=15000",
            ])
            .arg(format!("--user-data-dir={profile_dir}"))
            .arg("--dump-dom")
            .arg(url)
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser finished")
        .expect("the browser task")
        .expect("the browser ran");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL did not render:\n{dom}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
