//! `greenos keygen`: a new Ed25519 seed (and optionally an HMAC secret), ready to paste into a
//! keyring, with the public key and fingerprint to publish.

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use greenos_core::proof::{KeyVersion, generate_ed25519_seed, generate_hmac_secret};
use secrecy::ExposeSecret;
use serde_json::json;

/// Generates the keys and prints them to stdout (human-readable, or one JSON object).
pub fn run(key_version: &str, with_hmac: bool, as_json: bool) -> anyhow::Result<()> {
    let version = KeyVersion::parse(key_version)
        .with_context(|| format!("invalid --key-version {key_version:?}"))?;
    let (seed, public) = generate_ed25519_seed(&version);
    let seed_b64 = BASE64.encode(seed);
    let hmac = with_hmac.then(generate_hmac_secret);
    if as_json {
        let mut out = json!({
            "key_version": version.as_str(),
            "ed25519_seed": seed_b64,
            "public_key": public,
        });
        if let Some(secret) = &hmac {
            out["hmac_secret"] = json!(secret.expose_secret());
        }
        println!("{out}");
        return Ok(());
    }
    println!("key_version:        {}", version.as_str());
    println!("ed25519 seed:       {seed_b64}   (secret: store it in your secret provider)");
    println!("public_key:         {}", public.public_key);
    println!("fingerprint_sha256: {}", public.fingerprint_sha256);
    println!();
    println!(
        "Add to GREENOS_ED25519_KEYS_JSON:   \"{}\":\"{seed_b64}\"",
        version.as_str()
    );
    if let Some(secret) = &hmac {
        println!(
            "Add to GREENOS_SIGNING_KEYS_JSON:   \"{}\":\"{}\"",
            version.as_str(),
            secret.expose_secret()
        );
    }
    println!(
        "Then set the ACTIVE_KEY_VERSION variables to {} and keep the old versions in the rings.",
        version.as_str()
    );
    Ok(())
}
