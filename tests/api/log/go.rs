//! Independent verification: `tests/log_go`, built offline against Debian's copy of
//! `golang.org/x/mod/sumdb`, opens the service's checkpoint with `note`, checks an inclusion
//! proof with `tlog.CheckRecord`, a consistency proof with `tlog.CheckTree`, and the hash tiles
//! through `tlog.TileHashReader`, all fetched from the running service. GreenOS's output must
//! satisfy code GreenOS did not write; a rewritten ledger row must not.

use std::path::{Path, PathBuf};

use super::{ingest, latest, output};
use crate::helpers::{Backend, TestApp, tool};
use crate::on_both_backends;

on_both_backends!(go_sumdb_verifies_the_checkpoint_proofs_and_tiles);

/// Where Debian's `golang-golang-x-mod-dev` installs `golang.org/x/mod`.
const GOPATH: &str = "/usr/share/gocode";

/// Builds the Go checker into `dir`, offline, in GOPATH mode.
async fn build_checker(go: &Path, dir: &Path) -> Option<PathBuf> {
    if !Path::new(GOPATH)
        .join("src/golang.org/x/mod/sumdb/tlog")
        .is_dir()
    {
        crate::helpers::unreachable_service(
            "golang.org/x/mod/sumdb",
            &"not installed (Debian's golang-golang-x-mod-dev package)",
        );
        return None;
    }
    let binary = dir.join("tlogcheck");
    let mut command = std::process::Command::new(go);
    command
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/log_go"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", dir.join("go-cache"))
        .env("GOFLAGS", "")
        .env("GOTOOLCHAIN", "local");
    let output = output(command).await;
    assert!(
        output.status.success(),
        "go build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(binary)
}

async fn check(binary: &Path, app: &TestApp, trip: &str, old: &Path) -> (bool, String) {
    let mut command = std::process::Command::new(binary);
    command
        .args(["-url", &app.address, "-trip", trip, "-old"])
        .arg(old);
    let output = output(command).await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

async fn go_sumdb_verifies_the_checkpoint_proofs_and_tiles(backend: Backend) {
    let Some(go) = tool("go", "golang-go") else {
        return;
    };
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a directory");
    let Some(checker) = build_checker(&go, dir.path()).await else {
        return;
    };
    ingest(&app, "old", 300).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");
    let (old_note, _) = latest(&app).await;
    let old = dir.path().join("old-checkpoint");
    std::fs::write(&old, &old_note).expect("saved");
    ingest(&app, "new", 333).await;
    app.services
        .log()
        .integrate_all()
        .await
        .expect("integrated");

    for trip in ["old-0", "old-299", "new-17", "new-332"] {
        let (ok, said) = check(&checker, &app, trip, &old).await;
        assert!(ok, "{trip}: {said}");
        assert!(
            said.contains("CheckRecord") && said.contains("CheckTree"),
            "{said}"
        );
    }
    let (ok, said) = check(&checker, &app, "new-332", &old).await;
    assert!(ok && said.contains("633"), "{said}");

    app.tamper(&format!(
        "UPDATE esg_impact_ledger SET event_hash = '{}' WHERE trip_id = 'old-5'",
        "0".repeat(64)
    ))
    .await;
    let (ok, said) = check(&checker, &app, "old-5", &old).await;
    assert!(!ok, "a rewritten row must fail Go's CheckRecord: {said}");
}
