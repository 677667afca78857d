//! Development keys kept in a local file, so that artifacts signed before a
//! restart still verify after it. Production keys come from configuration.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::ExposeSecret;
use secrecy::zeroize::Zeroizing;
use serde::{Deserialize, Serialize};

use crate::proof::canonical::parse_strict;
use crate::proof::ed25519_ring::{Ed25519Keyring, generate_ed25519_seed};
use crate::proof::hmac_ring::{HmacKeyring, generate_hmac_secret};
use crate::proof::keys::{KeyVersion, KeyringError};

/// The version name of freshly created development keys.
const DEV_VERSION: &str = "dev-1";

/// `{"hmac":{"dev-1":"<hex>"},"ed25519":{"dev-1":"<base64 seed>"},"active":"dev-1"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DevKeyFile {
    hmac: BTreeMap<String, String>,
    ed25519: BTreeMap<String, String>,
    active: String,
}

/// Loads the development keyrings from `path`, creating the file (mode 0600, parent
/// directories included) with fresh random keys if it does not exist. The flag is
/// `true` when the file was created.
pub fn load_or_create_dev_keys(
    path: &Path,
) -> Result<(HmacKeyring, Ed25519Keyring, bool), KeyringError> {
    let file_error = |reason: String| KeyringError::DevKeyFile {
        path: path.to_owned(),
        reason,
    };
    let exists = path
        .try_exists()
        .map_err(|e| file_error(format!("cannot read: {e}")))?;
    let created = !exists
        && match create(path) {
            Ok(()) => true,
            // Another process created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(file_error(format!("cannot create: {e}"))),
        };
    let bytes =
        Zeroizing::new(fs::read(path).map_err(|e| file_error(format!("cannot read: {e}")))?);
    let parsed = parse_strict(&bytes)
        .ok()
        .and_then(|value| serde_json::from_value::<DevKeyFile>(value).ok());
    let Some(file) = parsed else {
        return Err(file_error(
            "expected {\"hmac\":{..},\"ed25519\":{..},\"active\":\"..\"}".to_owned(),
        ));
    };
    let hmac_json = Zeroizing::new(to_json(&file.hmac).map_err(file_error)?);
    let ed25519_json = Zeroizing::new(to_json(&file.ed25519).map_err(file_error)?);
    let hmac = HmacKeyring::from_json(&file.active, &hmac_json)?;
    let ed25519 = Ed25519Keyring::from_json(&file.active, &ed25519_json)?;
    Ok((hmac, ed25519, created))
}

fn to_json(keys: &BTreeMap<String, String>) -> Result<String, String> {
    serde_json::to_string(keys).map_err(|_| "cannot re-encode keys".to_owned())
}

/// Writes a new key file; fails with `AlreadyExists` rather than overwrite one.
fn create(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let version = KeyVersion::parse(DEV_VERSION).map_err(io::Error::other)?;
    let (seed, _) = generate_ed25519_seed(&version);
    let seed = Zeroizing::new(seed);
    let hmac_secret = generate_hmac_secret();
    let file = DevKeyFile {
        hmac: BTreeMap::from([(
            DEV_VERSION.to_owned(),
            hmac_secret.expose_secret().to_owned(),
        )]),
        ed25519: BTreeMap::from([(DEV_VERSION.to_owned(), BASE64.encode(*seed))]),
        active: DEV_VERSION.to_owned(),
    };
    let text = Zeroizing::new(serde_json::to_vec_pretty(&file).map_err(io::Error::other)?);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(path)?;
    out.write_all(&text)?;
    out.write_all(b"\n")?;
    out.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_reuses_the_same_keys() {
        let dir = tempfile::tempdir();
        let Ok(dir) = dir else {
            panic!("temp dir");
        };
        let path = dir.path().join("nested").join("dev-keys.json");
        let first = load_or_create_dev_keys(&path);
        let Ok((hmac, ed25519, created)) = first else {
            panic!("first load: {first:?}");
        };
        assert!(created);
        assert_eq!(hmac.active_version().as_str(), "dev-1");
        let second = load_or_create_dev_keys(&path);
        let Ok((hmac2, ed2, created2)) = second else {
            panic!("second load: {second:?}");
        };
        assert!(!created2);
        assert_eq!(ed2.active_public_key(), ed25519.active_public_key());
        assert_eq!(hmac2.sign_hex(b"m"), hmac.sign_hex(b"m"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
    }

    #[test]
    fn a_corrupt_file_is_an_error_that_does_not_quote_it() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("temp dir");
        };
        let path = dir.path().join("keys.json");
        let secret = "0123456789abcdef0123456789abcdef-secret";
        assert!(fs::write(&path, format!("{{\"hmac\":{{\"dev-1\":\"{secret}\"}}")).is_ok());
        let message = load_or_create_dev_keys(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("keys.json"), "{message}");
        assert!(!message.contains(secret), "{message}");
    }
}
