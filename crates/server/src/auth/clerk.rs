//! Clerk session tokens: RS256 JWTs verified against the instance's JWKS.
//!
//! Keys are cached and refetched when a token names a key id we do not know
//! (Clerk rotates keys), at most once per [`MIN_REFRESH_INTERVAL`] so a flood of
//! forged `kid`s cannot turn us into a traffic amplifier.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::RwLock;

const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct ClerkConfig {
    pub jwks_url: String,
    /// Expected `iss`, e.g. `https://clerk.example.com`. Checked when set.
    pub issuer: Option<String>,
    /// Accepted `azp` values (the front-end origins). Checked when non-empty.
    pub authorized_parties: Vec<String>,
}

/// Why a session token was refused. Messages are safe to show the client.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("session token is malformed")]
    Malformed,
    #[error("session token must be signed with RS256")]
    WrongAlgorithm,
    #[error("session token is signed by an unknown key")]
    UnknownKey,
    #[error("session token is invalid: {0}")]
    Invalid(String),
    #[error("session token was issued for another application")]
    WrongParty,
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

/// What we use from a verified session.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionClaims {
    pub sub: String,
    #[serde(default)]
    pub azp: Option<String>,
    /// Clerk v1 session tokens name the active organisation here.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Clerk v2 session tokens put the organisation under `o.id`.
    #[serde(default)]
    pub o: Option<OrgClaim>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrgClaim {
    pub id: String,
}

impl SessionClaims {
    pub fn organisation(&self) -> Option<&str> {
        self.o
            .as_ref()
            .map(|o| o.id.as_str())
            .or(self.org_id.as_deref())
    }
}

struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

pub struct ClerkVerifier {
    config: ClerkConfig,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
}

impl ClerkVerifier {
    pub fn new(config: ClerkConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            cache: RwLock::new(KeyCache {
                keys: HashMap::new(),
                fetched_at: None,
            }),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<SessionClaims, JwtError> {
        let header = decode_header(token).map_err(|_| JwtError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(JwtError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(JwtError::UnknownKey)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = &self.config.issuer {
            validation.set_issuer(&[iss]);
        }
        let data = decode::<SessionClaims>(token, &key, &validation)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if !self.config.authorized_parties.is_empty()
            && let Some(azp) = &claims.azp
            && !self.config.authorized_parties.iter().any(|p| p == azp)
        {
            return Err(JwtError::WrongParty);
        }
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, JwtError> {
        {
            let cache = self.cache.read().await;
            let fresh = cache.fetched_at.is_some_and(|t| t.elapsed() < MAX_KEY_AGE);
            if fresh && let Some(k) = cache.keys.get(kid) {
                return Ok(k.clone());
            }
        }
        let mut cache = self.cache.write().await;
        let may_refresh = cache
            .fetched_at
            .is_none_or(|t| t.elapsed() >= MIN_REFRESH_INTERVAL);
        if may_refresh {
            match self.fetch().await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched_at = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not fetch Clerk JWKS");
                    if cache.keys.is_empty() {
                        return Err(JwtError::KeysUnavailable);
                    }
                }
            }
        }
        cache.keys.get(kid).cloned().ok_or(JwtError::UnknownKey)
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        let set: JwkSet = self
            .http
            .get(&self.config.jwks_url)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let Some(kid) = &jwk.common.key_id
                && let Ok(key) = DecodingKey::from_jwk(jwk)
            {
                keys.insert(kid.clone(), key);
            }
        }
        Ok(keys)
    }
}
