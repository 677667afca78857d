//! The keys an auditor gives `greenos verify`: a bare base64 key, a file holding one or a
//! public-key payload, or the URL of `/api/v2/esg/public-key` or `/api/v2/esg/public-keys`.

use std::path::Path;

use anyhow::{Context, bail};
use greenos_core::proof::{PublicKeyPayload, PublicKeyRing};
use serde::Deserialize;

/// Any public-key payload GreenOS publishes: one key, the history route's body, or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Published {
    One(PublicKeyPayload),
    Ring { keys: Vec<PublicKeyPayload> },
    List(Vec<PublicKeyPayload>),
}

/// The keys of a payload.
pub(crate) fn payloads(published: Published) -> Vec<PublicKeyPayload> {
    match published {
        Published::One(key) => vec![key],
        Published::Ring { keys } | Published::List(keys) => keys,
    }
}

/// Adds the keys `spec` names to `ring`; answers where they came from, for the report.
pub(crate) async fn load(
    spec: &str,
    flag: &str,
    ring: &mut PublicKeyRing,
) -> anyhow::Result<String> {
    let (text, origin) = if spec.starts_with("http://") || spec.starts_with("https://") {
        let body = reqwest::get(spec)
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("{flag}: cannot fetch {spec}"))?
            .text()
            .await
            .with_context(|| format!("{flag}: cannot read {spec}"))?;
        (body, spec.to_owned())
    } else if Path::new(spec).is_file() {
        let text = std::fs::read_to_string(spec)
            .with_context(|| format!("{flag}: cannot read the file {spec}"))?;
        (text, spec.to_owned())
    } else {
        (spec.to_owned(), "the command line".to_owned())
    };
    let text = text.trim();
    if !text.starts_with('{') && !text.starts_with('[') {
        ring.insert_bare(text).map_err(|e| {
            anyhow::anyhow!("{flag}: {e} (expected a key, a file, or a URL of the key routes)")
        })?;
        return Ok(format!("a bare key from {origin}"));
    }
    let published: Published = serde_json::from_str(text)
        .with_context(|| format!("{flag}: {origin} is not a GreenOS public-key payload"))?;
    let keys = payloads(published);
    if keys.is_empty() {
        bail!("{flag}: {origin} holds no key");
    }
    for key in &keys {
        ring.insert(key).map_err(|e| {
            anyhow::anyhow!("{flag}: {origin}: {e}; treat the key material as untrusted")
        })?;
    }
    let versions: Vec<&str> = keys.iter().map(|k| k.key_version.as_str()).collect();
    Ok(format!(
        "key versions {} from {origin}",
        versions.join(", ")
    ))
}
