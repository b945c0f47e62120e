//! A connection's credentials, typed so they cannot be logged or serialised
//! by accident: every secret is a [`SecretString`], which prints as
//! `[REDACTED]` and has no `Serialize`. The only way to bytes is
//! [`Credentials::to_plaintext`], which exists to be sealed by the vault.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_core::vault::{ExposeSecret, SecretString};

/// OAuth tokens for one connection.
#[derive(Debug, Clone)]
pub struct OAuthTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    /// When the access token stops working; `None` for tokens that do not
    /// expire (Shopify offline tokens).
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: Option<String>,
}

impl OAuthTokens {
    /// Whether the access token should be refreshed before use at `now`:
    /// inside the last `margin` of its life, so a call never races expiry.
    pub fn needs_refresh(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        match (self.expires_at, &self.refresh_token) {
            (Some(expires_at), Some(_)) => expires_at - margin <= now,
            _ => false,
        }
    }
}

/// What a connection authenticates with.
#[derive(Debug, Clone)]
pub enum Credentials {
    OAuth(OAuthTokens),
    /// WooCommerce REST API keys.
    ConsumerKey {
        key: SecretString,
        secret: SecretString,
    },
}

/// A connection's credentials plus the secret its webhooks are signed with.
#[derive(Debug, Clone)]
pub struct ConnectionSecrets {
    pub credentials: Credentials,
    /// Signs the channel's webhooks to us (Shopify: the app's client secret;
    /// WooCommerce: the secret set when the webhook was created).
    pub webhook_secret: Option<SecretString>,
}

/// The app Shelfsync is registered as on a platform (client id and secret).
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// The stored form, only ever held long enough to seal or after opening.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Stored {
    Oauth {
        access_token: String,
        refresh_token: Option<String>,
        expires_at: Option<DateTime<Utc>>,
        scope: Option<String>,
        webhook_secret: Option<String>,
    },
    ConsumerKey {
        key: String,
        secret: String,
        webhook_secret: Option<String>,
    },
}

/// The plaintext could not be read back as credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored credentials are not in a known format")]
pub struct CredentialsFormatError;

impl ConnectionSecrets {
    /// The bytes to seal. The caller hands them straight to the vault.
    pub fn to_plaintext(&self) -> Vec<u8> {
        let webhook_secret = self
            .webhook_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        let stored = match &self.credentials {
            Credentials::OAuth(t) => Stored::Oauth {
                access_token: t.access_token.expose_secret().to_owned(),
                refresh_token: t
                    .refresh_token
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned()),
                expires_at: t.expires_at,
                scope: t.scope.clone(),
                webhook_secret,
            },
            Credentials::ConsumerKey { key, secret } => Stored::ConsumerKey {
                key: key.expose_secret().to_owned(),
                secret: secret.expose_secret().to_owned(),
                webhook_secret,
            },
        };
        serde_json::to_vec(&stored).expect("credentials serialise")
    }

    /// Read back what [`Self::to_plaintext`] wrote.
    pub fn from_plaintext(bytes: &[u8]) -> Result<Self, CredentialsFormatError> {
        let stored: Stored = serde_json::from_slice(bytes).map_err(|_| CredentialsFormatError)?;
        Ok(match stored {
            Stored::Oauth {
                access_token,
                refresh_token,
                expires_at,
                scope,
                webhook_secret,
            } => ConnectionSecrets {
                credentials: Credentials::OAuth(OAuthTokens {
                    access_token: access_token.into(),
                    refresh_token: refresh_token.map(Into::into),
                    expires_at,
                    scope,
                }),
                webhook_secret: webhook_secret.map(Into::into),
            },
            Stored::ConsumerKey {
                key,
                secret,
                webhook_secret,
            } => ConnectionSecrets {
                credentials: Credentials::ConsumerKey {
                    key: key.into(),
                    secret: secret.into(),
                },
                webhook_secret: webhook_secret.map(Into::into),
            },
        })
    }

    /// The OAuth tokens, when the connection uses OAuth.
    pub fn oauth(&self) -> Option<&OAuthTokens> {
        match &self.credentials {
            Credentials::OAuth(t) => Some(t),
            Credentials::ConsumerKey { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_round_trips_and_debug_redacts() {
        let secrets = ConnectionSecrets {
            credentials: Credentials::OAuth(OAuthTokens {
                access_token: "shpat_secret_value".to_owned().into(),
                refresh_token: Some("refresh_secret_value".to_owned().into()),
                expires_at: None,
                scope: Some("write_products".into()),
            }),
            webhook_secret: Some("whsec_value".to_owned().into()),
        };
        let debug = format!("{secrets:?}");
        assert!(!debug.contains("shpat_secret_value"), "{debug}");
        assert!(!debug.contains("whsec_value"), "{debug}");
        let back = ConnectionSecrets::from_plaintext(&secrets.to_plaintext()).unwrap();
        assert_eq!(
            back.oauth().unwrap().access_token.expose_secret(),
            "shpat_secret_value"
        );
        assert_eq!(back.webhook_secret.unwrap().expose_secret(), "whsec_value");
        assert!(ConnectionSecrets::from_plaintext(b"{}").is_err());
    }

    #[test]
    fn refresh_is_due_inside_the_margin_only_with_a_refresh_token() {
        let now = Utc::now();
        let mut tokens = OAuthTokens {
            access_token: "a".to_owned().into(),
            refresh_token: Some("r".to_owned().into()),
            expires_at: Some(now + chrono::Duration::seconds(100)),
            scope: None,
        };
        assert!(tokens.needs_refresh(now, chrono::Duration::seconds(300)));
        assert!(!tokens.needs_refresh(now, chrono::Duration::seconds(10)));
        tokens.refresh_token = None;
        assert!(!tokens.needs_refresh(now, chrono::Duration::seconds(300)));
    }
}
