//! The committed cross-language vectors, re-checked by an independent Python implementation
//! (`json.dumps(sort_keys=True, ...)`, `rfc8785`, `hashlib`, `hmac`, `cryptography`).

use std::process::Command;

use crate::helpers::unreachable_service;

#[test]
fn python_reproduces_every_vector() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = match Command::new("python3")
        .arg(format!("{root}/tests/vectors/check_vectors.py"))
        .current_dir(root)
        .output()
    {
        Ok(output) => output,
        Err(err) => return unreachable_service("python3", &err),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("ModuleNotFoundError") {
        return unreachable_service(
            "the Python packages of tests/vectors/requirements.txt",
            &stderr,
        );
    }
    assert!(
        output.status.success(),
        "python checker failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
