//! The ebay adapter (being written).

use std::sync::Arc;

use url::Url;

use crate::oauth::{ClientAuth, OAuthEndpoints};
use crate::{Channel, ChannelDeps, ChannelError, ConnectionConfig, PlatformEndpoints};

pub fn connect(
    config: ConnectionConfig,
    deps: &ChannelDeps,
) -> Result<Arc<dyn Channel>, ChannelError> {
    let _ = (config, deps);
    Err(ChannelError::Config(
        "the ebay adapter is not built yet".into(),
    ))
}

pub fn endpoints(account: &str, base: Option<&Url>) -> PlatformEndpoints {
    let _ = account;
    let url = base
        .cloned()
        .unwrap_or_else(|| "https://example.invalid".parse().expect("static URL"));
    PlatformEndpoints {
        api: url.clone(),
        auth: url,
    }
}

pub fn oauth_endpoints(endpoints: &PlatformEndpoints) -> OAuthEndpoints {
    OAuthEndpoints {
        authorize: crate::join(&endpoints.auth, "authorize"),
        token: crate::join(&endpoints.auth, "token"),
        revoke: None,
        scopes: vec![],
        scope_separator: " ",
        pkce: false,
        client_auth: ClientAuth::Body,
        code_param: "code",
        client_id_param: "client_id",
    }
}
