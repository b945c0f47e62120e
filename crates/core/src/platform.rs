//! The channels Shelfsync can keep in step with the master catalog.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A sales channel's platform. The string form is what the API, the
/// database and webhook paths use (`/webhooks/shopify/{connection}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Shopify,
    WooCommerce,
    Ebay,
    Etsy,
    Amazon,
    Medusa,
}

impl Platform {
    pub const ALL: [Platform; 6] = [
        Platform::Shopify,
        Platform::WooCommerce,
        Platform::Ebay,
        Platform::Etsy,
        Platform::Amazon,
        Platform::Medusa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::WooCommerce => "woocommerce",
            Platform::Ebay => "ebay",
            Platform::Etsy => "etsy",
            Platform::Amazon => "amazon",
            Platform::Medusa => "medusa",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name was not one of [`Platform::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown platform `{0}` (expected one of shopify, woocommerce, ebay, etsy, amazon, medusa)"
)]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        assert!("myspace".parse::<Platform>().is_err());
    }
}
