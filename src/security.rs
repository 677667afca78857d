//! Start-up of everything secret: the provider, the fail-closed production gate, the signing
//! keyrings and the API tokens. Runs before the database is opened, so a misconfigured
//! production process stops at once.

use std::sync::Arc;

use anyhow::{Context, bail};
use greenos_core::auth::TokenRegistry;
use greenos_core::proof::{Ed25519Keyring, HmacKeyring, Signer, load_or_create_dev_keys};
use greenos_core::secrets::{
    EnvSecretProvider, KmsSecretProvider, ProviderKind, SecretFinding, SecretName, SecretProvider,
    SecretStatus, SecretsReport, VaultSecretProvider, enforce_production, inspect,
};
use secrecy::ExposeSecret;

use crate::config::{Config, Environment};

/// The file, under `GREENOS_DATA_DIR`, where dev mode keeps its generated keys.
pub const DEV_KEY_FILE: &str = "dev-keys.json";

/// The loaded secrets: never printed, never serialised.
pub struct Security {
    /// Signs and verifies hashes with the HMAC and Ed25519 keyrings.
    pub signer: Arc<Signer>,
    /// The API tokens; `None` means authentication is off (dev or staging only).
    pub tokens: Option<TokenRegistry>,
    /// The statuses found at start-up.
    pub started_with: SecretsReport,
    provider: Arc<dyn SecretProvider>,
    environment: Environment,
}

impl Security {
    /// Builds the provider, applies the production gate, and loads keyrings and tokens.
    pub async fn load(config: &Config) -> anyhow::Result<Self> {
        let provider = provider(config)?;
        let findings = inspect(provider.as_ref())
            .await
            .context("cannot read the critical secrets")?;
        if config.environment == Environment::Production {
            enforce_production(&findings)?;
        }
        let signer = signer(config, provider.as_ref(), &findings).await?;
        let tokens = tokens(config, provider.as_ref(), &findings).await?;
        let started_with =
            SecretsReport::from_findings(provider.kind(), config.environment.as_str(), &findings);
        Ok(Self {
            signer: Arc::new(signer),
            tokens,
            started_with,
            provider,
            environment: config.environment,
        })
    }

    /// The statuses of every critical secret, never their values.
    pub async fn report(&self) -> anyhow::Result<SecretsReport> {
        let findings = inspect(self.provider.as_ref()).await?;
        Ok(SecretsReport::from_findings(
            self.provider.kind(),
            self.environment.as_str(),
            &findings,
        ))
    }
}

fn provider(config: &Config) -> anyhow::Result<Arc<dyn SecretProvider>> {
    let secrets = &config.secrets;
    Ok(match secrets.provider {
        ProviderKind::Env => Arc::new(EnvSecretProvider::new(secrets.env_values.clone())),
        ProviderKind::Vault => {
            let settings = secrets.vault.clone().context(
                "invalid configuration: GREENOS_VAULT_ADDR is required for the vault provider",
            )?;
            Arc::new(VaultSecretProvider::new(settings)?)
        }
        ProviderKind::Kms => Arc::new(KmsSecretProvider::default()),
    })
}

fn status_of(findings: &[SecretFinding], name: SecretName) -> SecretStatus {
    findings
        .iter()
        .find(|f| f.name == name)
        .map_or(SecretStatus::Missing, |f| f.status)
}

/// Explains every finding about `names` that is not OK, in one sentence.
fn problems(findings: &[SecretFinding], names: &[SecretName]) -> String {
    findings
        .iter()
        .filter(|f| names.contains(&f.name) && f.status != SecretStatus::Ok)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

async fn secret(provider: &dyn SecretProvider, name: SecretName) -> anyhow::Result<String> {
    let value = provider
        .get(name)
        .await?
        .with_context(|| format!("{} is missing", name.env_name()))?;
    Ok(value.expose_secret().to_owned())
}

async fn signer(
    config: &Config,
    provider: &dyn SecretProvider,
    findings: &[SecretFinding],
) -> anyhow::Result<Signer> {
    let ring_names = [
        SecretName::SigningKeysJson,
        SecretName::SigningActiveKeyVersion,
        SecretName::Ed25519KeysJson,
        SecretName::Ed25519ActiveKeyVersion,
    ];
    let all_missing = ring_names
        .iter()
        .all(|name| status_of(findings, *name) == SecretStatus::Missing);
    if all_missing && config.environment == Environment::Dev {
        let path = config.data_dir.join(DEV_KEY_FILE);
        let (hmac, ed25519, created) = load_or_create_dev_keys(&path)?;
        tracing::warn!(
            path = %path.display(),
            created,
            "DEV MODE: no signing keys configured; using locally generated development keys. \
             Never use them for real reporting: configure GREENOS_SIGNING_KEYS_JSON and GREENOS_ED25519_KEYS_JSON"
        );
        return Ok(Signer::new(hmac, ed25519));
    }
    let broken = problems(findings, &ring_names);
    if !broken.is_empty() {
        bail!("cannot load the signing keys: {broken}");
    }
    let hmac = HmacKeyring::from_json(
        &secret(provider, SecretName::SigningActiveKeyVersion).await?,
        &secret(provider, SecretName::SigningKeysJson).await?,
    )
    .context("GREENOS_SIGNING_KEYS_JSON")?;
    let ed25519 = Ed25519Keyring::from_json(
        &secret(provider, SecretName::Ed25519ActiveKeyVersion).await?,
        &secret(provider, SecretName::Ed25519KeysJson).await?,
    )
    .context("GREENOS_ED25519_KEYS_JSON")?;
    Ok(Signer::new(hmac, ed25519))
}

async fn tokens(
    config: &Config,
    provider: &dyn SecretProvider,
    findings: &[SecretFinding],
) -> anyhow::Result<Option<TokenRegistry>> {
    match status_of(findings, SecretName::ApiTokensJson) {
        SecretStatus::Missing if config.environment != Environment::Production => {
            tracing::warn!(
                "AUTHENTICATION IS OFF: GREENOS_API_TOKENS_JSON is not set, every route is open. \
                 Acceptable on a developer machine only"
            );
            Ok(None)
        }
        SecretStatus::Ok => {
            let json = secret(provider, SecretName::ApiTokensJson).await?;
            let registry = TokenRegistry::from_json(&json)
                .map_err(|e| anyhow::anyhow!("GREENOS_API_TOKENS_JSON: {e}"))?;
            Ok(Some(registry))
        }
        _ => bail!(
            "cannot load the API tokens: {}",
            problems(findings, &[SecretName::ApiTokensJson])
        ),
    }
}
