//! OAuth 2 authorization-code flow, shared by the platforms that use it
//! (Shopify, eBay, Etsy with PKCE, Amazon's Login with Amazon).
//!
//! Small and written here rather than taken from the `oauth2` crate: that
//! crate's HTTP integration pins an older reqwest, and the platforms differ
//! in exactly the places it abstracts least (Shopify's per-shop hosts,
//! Amazon's `spapi_oauth_code`, eBay's Basic-auth token calls). What is
//! generic (PKCE, the token response, expiry) is here; each adapter module
//! supplies its [`OAuthEndpoints`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shelfsync_core::vault::ExposeSecret;
use url::Url;

use crate::credentials::{AppCredentials, OAuthTokens};
use crate::error::ChannelError;

/// How the token endpoint wants the app to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)` (eBay, Etsy refresh is body).
    Basic,
    /// `client_id` and `client_secret` in the form body (Shopify, Amazon).
    Body,
    /// Only `client_id` in the body; PKCE proves the caller (Etsy).
    PublicPkce,
}

/// Where a platform's OAuth endpoints are and how it wants them called.
#[derive(Debug, Clone)]
pub struct OAuthEndpoints {
    pub authorize: Url,
    pub token: Url,
    pub revoke: Option<Url>,
    pub scopes: Vec<String>,
    /// Separator between scopes in the authorize URL (space for most, comma for Shopify).
    pub scope_separator: &'static str,
    pub pkce: bool,
    pub client_auth: ClientAuth,
    /// The query parameter the callback carries the code in.
    pub code_param: &'static str,
    /// The name of the app-id parameter on the authorize URL.
    pub client_id_param: &'static str,
}

/// A PKCE pair: the verifier stays with us (beside the state), the
/// challenge goes in the authorize URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier of 64 random URL-safe characters and its S256 challenge.
    pub fn generate() -> Self {
        let bytes: [u8; 48] = rand::random();
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        Self::from_verifier(verifier)
    }

    pub fn from_verifier(verifier: String) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The URL to send the merchant to.
pub fn authorize_url(
    endpoints: &OAuthEndpoints,
    app: &AppCredentials,
    redirect_uri: &str,
    state: &str,
    pkce: Option<&Pkce>,
) -> Url {
    let mut url = endpoints.authorize.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair(endpoints.client_id_param, &app.client_id);
        q.append_pair("response_type", "code");
        q.append_pair("redirect_uri", redirect_uri);
        if !endpoints.scopes.is_empty() {
            q.append_pair("scope", &endpoints.scopes.join(endpoints.scope_separator));
        }
        q.append_pair("state", state);
        if let Some(pkce) = pkce {
            q.append_pair("code_challenge", &pkce.challenge);
            q.append_pair("code_challenge_method", "S256");
        }
    }
    url
}

/// The token endpoint's answer (RFC 6749 §5.1; every platform here uses it).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

impl TokenResponse {
    fn into_tokens(self, now: DateTime<Utc>, previous_refresh: Option<&str>) -> OAuthTokens {
        OAuthTokens {
            access_token: self.access_token.into(),
            // Some platforms do not rotate the refresh token on refresh: keep the old one.
            refresh_token: self
                .refresh_token
                .or_else(|| previous_refresh.map(str::to_owned))
                .map(Into::into),
            expires_at: self
                .expires_in
                .map(|secs| now + chrono::Duration::seconds(secs)),
            scope: self.scope,
        }
    }
}

async fn token_call(
    client: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    app: &AppCredentials,
    mut form: Vec<(&str, String)>,
) -> Result<TokenResponse, ChannelError> {
    let mut request = client.post(endpoints.token.clone());
    match endpoints.client_auth {
        ClientAuth::Basic => {
            request = request.basic_auth(&app.client_id, Some(app.client_secret.expose_secret()));
        }
        ClientAuth::Body => {
            form.push(("client_id", app.client_id.clone()));
            form.push((
                "client_secret",
                app.client_secret.expose_secret().to_owned(),
            ));
        }
        ClientAuth::PublicPkce => form.push(("client_id", app.client_id.clone())),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| ChannelError::Transient(e.without_url().to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| ChannelError::Transient(e.without_url().to_string()))?;
    if status.is_server_error() {
        return Err(ChannelError::Transient(format!(
            "token endpoint answered {status}"
        )));
    }
    if !status.is_success() {
        // The error body of a token endpoint is `{"error": "...", "error_description": "..."}`;
        // never echo anything else from it, it may reflect what we sent.
        #[derive(Deserialize)]
        struct OAuthErrorBody {
            error: Option<String>,
            error_description: Option<String>,
        }
        let detail = serde_json::from_slice::<OAuthErrorBody>(&body)
            .ok()
            .map(|e| {
                format!(
                    "{} {}",
                    e.error.unwrap_or_default(),
                    e.error_description.unwrap_or_default()
                )
            })
            .unwrap_or_default();
        return Err(ChannelError::Unauthorized(format!(
            "token endpoint answered {}: {}",
            status.as_u16(),
            detail.trim()
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ChannelError::Protocol(format!("token response: {e}")))
}

/// Trade the callback's code for tokens.
pub async fn exchange_code(
    client: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    app: &AppCredentials,
    code: &str,
    redirect_uri: &str,
    pkce_verifier: Option<&str>,
    now: DateTime<Utc>,
) -> Result<OAuthTokens, ChannelError> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
    ];
    if let Some(verifier) = pkce_verifier {
        form.push(("code_verifier", verifier.to_owned()));
    }
    Ok(token_call(client, endpoints, app, form)
        .await?
        .into_tokens(now, None))
}

/// New tokens from a refresh token.
pub async fn refresh(
    client: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    app: &AppCredentials,
    tokens: &OAuthTokens,
    now: DateTime<Utc>,
) -> Result<OAuthTokens, ChannelError> {
    let refresh_token = tokens
        .refresh_token
        .as_ref()
        .ok_or_else(|| ChannelError::Config("no refresh token".into()))?
        .expose_secret()
        .to_owned();
    let mut form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.clone()),
    ];
    if !endpoints.scopes.is_empty() && endpoints.client_auth == ClientAuth::Basic {
        form.push(("scope", endpoints.scopes.join(" ")));
    }
    Ok(token_call(client, endpoints, app, form)
        .await?
        .into_tokens(now, Some(&refresh_token)))
}

/// Tell the platform to forget a token (RFC 7009), where it offers that.
pub async fn revoke(
    client: &reqwest::Client,
    endpoints: &OAuthEndpoints,
    app: &AppCredentials,
    token: &str,
) -> Result<(), ChannelError> {
    let Some(url) = endpoints.revoke.clone() else {
        return Ok(());
    };
    let response = client
        .post(url)
        .basic_auth(&app.client_id, Some(app.client_secret.expose_secret()))
        .form(&[("token", token)])
        .send()
        .await
        .map_err(|e| ChannelError::Transient(e.without_url().to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(ChannelError::Rejected {
            status: response.status().as_u16(),
            message: "token revocation refused".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(
            pkce.challenge,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(Pkce::generate().verifier.len(), 64);
    }

    #[test]
    fn the_authorize_url_carries_state_scopes_and_challenge() {
        let endpoints = OAuthEndpoints {
            authorize: "https://auth.example/authorize".parse().unwrap(),
            token: "https://auth.example/token".parse().unwrap(),
            revoke: None,
            scopes: vec!["listings_r".into(), "listings_w".into()],
            scope_separator: " ",
            pkce: true,
            client_auth: ClientAuth::PublicPkce,
            code_param: "code",
            client_id_param: "client_id",
        };
        let app = AppCredentials {
            client_id: "app1".into(),
            client_secret: "s".to_owned().into(),
        };
        let pkce = Pkce::from_verifier("v".repeat(43));
        let url = authorize_url(&endpoints, &app, "https://me/cb", "st4te", Some(&pkce));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "app1");
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["scope"], "listings_r listings_w");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], pkce.challenge);
        assert!(!url.as_str().contains("client_secret"));
    }
}
