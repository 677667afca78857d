//! The real binary: bad configuration stops start-up with a message naming the variable.

use std::process::Command;

fn greenos() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenos"));
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    cmd
}

#[test]
fn bad_values_stop_start_up_naming_the_variable() {
    for (var, value) in [
        ("GREENOS_BIND", "not-an-address"),
        ("GREENOS_ENV", "prodution"),
        ("GREENOS_DATABASE_URL", "mysql://root:hunter2@localhost/db"),
        ("GREENOS_DATABASE_MAX_CONNECTIONS", "many"),
        ("GREENOS_LOG_FORMAT", "xml"),
        ("GREENOS_MAX_BODY_BYTES", "12"),
        ("GREENOS_REDIS_URL", "http://localhost"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = greenos()
            .current_dir(dir.path())
            .env(var, value)
            .arg("serve")
            .output()
            .expect("run greenos");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{var}={value} must stop start-up");
        assert!(stderr.contains(var), "{var}: stderr names it: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "a database password is never echoed: {stderr}"
        );
    }
}

#[test]
fn migrate_command_applies_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    for _ in 0..2 {
        let output = greenos()
            .env("GREENOS_DATABASE_URL", &url)
            .arg("migrate")
            .output()
            .expect("run greenos migrate");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied (sqlite)"));
    }
}
