//! Merchant accounts on the simulated platforms and the credentials they
//! accept: OAuth codes (with PKCE when asked), access and refresh tokens
//! with expiry, WooCommerce-style consumer keys, and webhook secrets.
//! Generic so that every platform module checks credentials the same way;
//! each module decides which of them its platform uses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shelfsync_core::quota::QuotaModel;

/// The client secret the simulator's OAuth apps accept (any client id).
/// Shopify signs webhooks with the app's client secret, so tests need it.
pub const SIM_CLIENT_SECRET: &str = "sim-client-secret";

/// What a test gets back when it creates an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountCredentials {
    pub account: String,
    pub access_token: String,
    pub refresh_token: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub webhook_secret: String,
    pub client_secret: String,
}

#[derive(Debug, Clone)]
struct Account {
    consumer_key: String,
    consumer_secret: String,
    webhook_secret: String,
    quota: Option<QuotaModel>,
}

#[derive(Debug, Clone)]
struct Token {
    platform: String,
    account: String,
    expires_at: Option<Instant>,
}

#[derive(Debug, Clone)]
struct PendingCode {
    platform: String,
    account: String,
    redirect_uri: String,
    challenge: Option<String>,
    issued: Instant,
}

/// Why a token request was refused, as an OAuth `error` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthRefusal {
    InvalidGrant(&'static str),
    InvalidClient,
}

impl OAuthRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthRefusal::InvalidGrant(_) => "invalid_grant",
            OAuthRefusal::InvalidClient => "invalid_client",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            OAuthRefusal::InvalidGrant(why) => why,
            OAuthRefusal::InvalidClient => "client authentication failed",
        }
    }
}

/// Tokens issued by a token endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedTokens {
    pub account: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires; `None` when it does not.
    pub expires_in: Option<u64>,
}

#[derive(Default)]
struct Inner {
    accounts: HashMap<(String, String), Account>,
    access: HashMap<String, Token>,
    refresh: HashMap<String, Token>,
    codes: HashMap<String, PendingCode>,
    /// Access-token lifetime per platform; unset means tokens do not expire.
    lifetimes: HashMap<String, Duration>,
}

/// Every account of every simulated platform.
#[derive(Default)]
pub struct Accounts {
    inner: Mutex<Inner>,
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Accounts {
    /// Set how long access tokens of `platform` live (eBay two hours, Etsy
    /// and Amazon one hour; Shopify offline tokens never expire).
    pub fn set_token_lifetime(&self, platform: &str, lifetime: Option<Duration>) {
        let mut inner = self.inner.lock().unwrap();
        match lifetime {
            Some(l) => inner.lifetimes.insert(platform.to_owned(), l),
            None => inner.lifetimes.remove(platform),
        };
    }

    fn lifetime(inner: &Inner, platform: &str) -> Option<Duration> {
        inner.lifetimes.get(platform).copied()
    }

    fn ensure_locked<'a>(inner: &'a mut Inner, platform: &str, account: &str) -> &'a mut Account {
        inner
            .accounts
            .entry((platform.to_owned(), account.to_owned()))
            .or_insert_with(|| Account {
                consumer_key: random_token("ck_"),
                consumer_secret: random_token("cs_"),
                webhook_secret: random_token("whsec_"),
                quota: None,
            })
    }

    fn issue_locked(inner: &mut Inner, platform: &str, account: &str) -> IssuedTokens {
        let lifetime = Self::lifetime(inner, platform);
        let access_token = random_token("sim_at_");
        let refresh_token = random_token("sim_rt_");
        let token = Token {
            platform: platform.to_owned(),
            account: account.to_owned(),
            expires_at: lifetime.map(|l| Instant::now() + l),
        };
        inner.access.insert(access_token.clone(), token.clone());
        inner.refresh.insert(
            refresh_token.clone(),
            Token {
                expires_at: None,
                ..token
            },
        );
        IssuedTokens {
            account: account.to_owned(),
            access_token,
            refresh_token,
            expires_in: lifetime.map(|l| l.as_secs()),
        }
    }

    /// Create (or fetch) an account and hand out a fresh set of credentials.
    pub fn create(
        &self,
        platform: &str,
        account: &str,
        quota: Option<QuotaModel>,
    ) -> AccountCredentials {
        let mut inner = self.inner.lock().unwrap();
        let record = Self::ensure_locked(&mut inner, platform, account);
        if quota.is_some() {
            record.quota = quota;
        }
        let record = record.clone();
        let tokens = Self::issue_locked(&mut inner, platform, account);
        AccountCredentials {
            account: account.to_owned(),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            consumer_key: record.consumer_key,
            consumer_secret: record.consumer_secret,
            webhook_secret: record.webhook_secret,
            client_secret: SIM_CLIENT_SECRET.to_owned(),
        }
    }

    pub fn exists(&self, platform: &str, account: &str) -> bool {
        let inner = self.inner.lock().unwrap();
        inner
            .accounts
            .contains_key(&(platform.to_owned(), account.to_owned()))
    }

    /// Accounts of `platform`, for the OAuth consent screen's default pick.
    pub fn first_account(&self, platform: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        let mut names: Vec<&String> = inner
            .accounts
            .keys()
            .filter(|(p, _)| p == platform)
            .map(|(_, a)| a)
            .collect();
        names.sort();
        names.first().map(|s| (*s).clone())
    }

    /// The quota model a test set for this account, if any.
    pub fn quota(&self, platform: &str, account: &str) -> Option<QuotaModel> {
        let inner = self.inner.lock().unwrap();
        inner
            .accounts
            .get(&(platform.to_owned(), account.to_owned()))
            .and_then(|a| a.quota.clone())
    }

    pub fn set_quota(&self, platform: &str, account: &str, quota: Option<QuotaModel>) {
        let mut inner = self.inner.lock().unwrap();
        Self::ensure_locked(&mut inner, platform, account).quota = quota;
    }

    pub fn webhook_secret(&self, platform: &str, account: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .accounts
            .get(&(platform.to_owned(), account.to_owned()))
            .map(|a| a.webhook_secret.clone())
    }

    /// The account an access token acts for; `None` when unknown, revoked
    /// or expired.
    pub fn authenticate(&self, platform: &str, access_token: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        let token = inner.access.get(access_token)?;
        if token.platform != platform {
            return None;
        }
        if token.expires_at.is_some_and(|at| at <= Instant::now()) {
            return None;
        }
        Some(token.account.clone())
    }

    /// The account whose consumer key and secret these are (WooCommerce).
    pub fn authenticate_consumer(&self, platform: &str, key: &str, secret: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .accounts
            .iter()
            .find(|((p, _), a)| {
                p == platform && a.consumer_key == key && a.consumer_secret == secret
            })
            .map(|((_, account), _)| account.clone())
    }

    /// Remember an authorization code for the consent just given.
    pub fn issue_code(
        &self,
        platform: &str,
        account: &str,
        redirect_uri: &str,
        challenge: Option<&str>,
    ) -> String {
        let mut inner = self.inner.lock().unwrap();
        Self::ensure_locked(&mut inner, platform, account);
        let code = random_token("sim_code_");
        inner.codes.insert(
            code.clone(),
            PendingCode {
                platform: platform.to_owned(),
                account: account.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                challenge: challenge.map(str::to_owned),
                issued: Instant::now(),
            },
        );
        code
    }

    /// Trade a code for tokens: single use, ten minutes, same redirect URI,
    /// and the PKCE verifier when the consent carried a challenge.
    pub fn exchange_code(
        &self,
        platform: &str,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        client_secret: Option<&str>,
    ) -> Result<IssuedTokens, OAuthRefusal> {
        let mut inner = self.inner.lock().unwrap();
        let pending = inner
            .codes
            .remove(code)
            .ok_or(OAuthRefusal::InvalidGrant("unknown or used code"))?;
        if pending.platform != platform || pending.issued.elapsed() > Duration::from_secs(600) {
            return Err(OAuthRefusal::InvalidGrant("code expired"));
        }
        if let Some(uri) = redirect_uri
            && uri != pending.redirect_uri
        {
            return Err(OAuthRefusal::InvalidGrant("redirect_uri mismatch"));
        }
        match (&pending.challenge, verifier) {
            (Some(challenge), Some(verifier)) => {
                let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                if &computed != challenge {
                    return Err(OAuthRefusal::InvalidGrant("code_verifier mismatch"));
                }
            }
            (Some(_), None) => return Err(OAuthRefusal::InvalidGrant("code_verifier required")),
            (None, _) => {
                if client_secret != Some(SIM_CLIENT_SECRET) {
                    return Err(OAuthRefusal::InvalidClient);
                }
            }
        }
        Ok(Self::issue_locked(&mut inner, platform, &pending.account))
    }

    /// A new access token for a refresh token (which stays valid).
    pub fn refresh(
        &self,
        platform: &str,
        refresh_token: &str,
    ) -> Result<IssuedTokens, OAuthRefusal> {
        let mut inner = self.inner.lock().unwrap();
        let token = inner
            .refresh
            .get(refresh_token)
            .filter(|t| t.platform == platform)
            .cloned()
            .ok_or(OAuthRefusal::InvalidGrant("unknown refresh token"))?;
        let lifetime = Self::lifetime(&inner, platform);
        let access_token = random_token("sim_at_");
        inner.access.insert(
            access_token.clone(),
            Token {
                expires_at: lifetime.map(|l| Instant::now() + l),
                ..token.clone()
            },
        );
        Ok(IssuedTokens {
            account: token.account,
            access_token,
            refresh_token: refresh_token.to_owned(),
            expires_in: lifetime.map(|l| l.as_secs()),
        })
    }

    /// Forget a token (access or refresh) and, for a refresh token, every
    /// access token of its account on that platform.
    pub fn revoke(&self, platform: &str, token: &str) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(t) = inner.refresh.remove(token) {
            inner
                .access
                .retain(|_, a| !(a.platform == platform && a.account == t.account));
        }
        inner.access.remove(token);
    }

    /// Expire every access token of an account now (to test refresh).
    pub fn expire_access_tokens(&self, platform: &str, account: &str) {
        let mut inner = self.inner.lock().unwrap();
        let now = Instant::now();
        for token in inner.access.values_mut() {
            if token.platform == platform && token.account == account {
                token.expires_at = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_single_use_and_pkce_is_checked() {
        let accounts = Accounts::default();
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let code = accounts.issue_code("etsy", "shop1", "http://cb", Some(challenge));
        assert!(
            accounts
                .exchange_code("etsy", &code, Some("http://cb"), Some("wrong"), None)
                .is_err()
        );
        let code = accounts.issue_code("etsy", "shop1", "http://cb", Some(challenge));
        let tokens = accounts
            .exchange_code("etsy", &code, Some("http://cb"), Some(verifier), None)
            .unwrap();
        assert_eq!(
            accounts
                .authenticate("etsy", &tokens.access_token)
                .as_deref(),
            Some("shop1")
        );
        assert!(
            accounts
                .exchange_code("etsy", &code, Some("http://cb"), Some(verifier), None)
                .is_err()
        );
        accounts.revoke("etsy", &tokens.refresh_token);
        assert!(
            accounts
                .authenticate("etsy", &tokens.access_token)
                .is_none()
        );
    }

    #[test]
    fn expired_tokens_are_refused_until_refreshed() {
        let accounts = Accounts::default();
        accounts.set_token_lifetime("ebay", Some(Duration::from_secs(7200)));
        let creds = accounts.create("ebay", "seller", None);
        accounts.expire_access_tokens("ebay", "seller");
        assert!(accounts.authenticate("ebay", &creds.access_token).is_none());
        let fresh = accounts.refresh("ebay", &creds.refresh_token).unwrap();
        assert_eq!(fresh.expires_in, Some(7200));
        assert!(accounts.authenticate("ebay", &fresh.access_token).is_some());
    }
}
