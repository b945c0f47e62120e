//! Money: exact decimals with an ISO 4217 currency, never floating point.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most currencies have two minor digits and a few have three; four leaves room
/// for unit prices without letting a typo like `19.99999999` through.
pub const MAX_PRICE_SCALE: u32 = 4;

/// A price: a non-negative exact decimal of at most [`MAX_PRICE_SCALE`] places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "Decimal")]
pub struct Price(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("must not be negative")]
    Negative,
    #[error("has more than {MAX_PRICE_SCALE} decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

impl Price {
    /// Largest accepted price; far above any real listing, small enough for every channel.
    pub fn max() -> Decimal {
        Decimal::new(1_000_000_000, 0)
    }

    pub fn new(value: Decimal) -> Result<Self, PriceError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(PriceError::Negative);
        }
        if value.normalize().scale() > MAX_PRICE_SCALE {
            return Err(PriceError::TooPrecise);
        }
        if value > Self::max() {
            return Err(PriceError::TooLarge);
        }
        Ok(Self(value.normalize().max(Decimal::ZERO)))
    }

    pub fn amount(&self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Price {
    type Error = PriceError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Price> for Decimal {
    fn from(p: Price) -> Decimal {
        p.0
    }
}

/// Accepts `"19.99"` (preferred: exact) and `19.99` (a JSON number, read through
/// its shortest decimal form so `19.99` stays `19.99`).
impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Price;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount such as \"19.99\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Price, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Price, E> {
                if !v.is_finite() {
                    return Err(E::custom("price must be a finite number"));
                }
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Price, E> {
                Price::new(Decimal::from(v)).map_err(|e| E::custom(format!("`{v}` {e}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Price, E> {
                Price::new(Decimal::from(v)).map_err(|e| E::custom(format!("`{v}` {e}")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Always show at least two places: "19.90", not "19.9".
        let mut d = self.0;
        if d.scale() < 2 {
            d.rescale(2);
        }
        write!(f, "{d}")
    }
}

impl FromStr for Price {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = Decimal::from_str_exact(s.trim())
            .map_err(|_| format!("`{s}` is not a decimal number"))?;
        Price::new(d).map_err(|e| format!("`{s}` {e}"))
    }
}

impl utoipa::PartialSchema for Price {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d+(\.\d{1,4})?$"))
            .description(Some("Exact decimal amount as a string, e.g. \"19.99\""))
            .examples([serde_json::json!("19.99")])
            .into()
    }
}
impl utoipa::ToSchema for Price {}

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn as_str(&self) -> &str {
        // Construction guarantees ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Currency([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(format!(
                "`{s}` is not a three-letter ISO 4217 currency code"
            ))
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .examples([serde_json::json!("USD")])
            .into()
    }
}
impl utoipa::ToSchema for Currency {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_exact() {
        let p: Price = "0.10".parse().unwrap();
        let q: Price = "0.20".parse().unwrap();
        assert_eq!((p.amount() + q.amount()).to_string(), "0.3");
        assert_eq!(p.to_string(), "0.10");
        assert_eq!("19.9".parse::<Price>().unwrap().to_string(), "19.90");
    }

    #[test]
    fn bad_prices_are_refused_with_a_reason() {
        assert!("-1".parse::<Price>().unwrap_err().contains("negative"));
        assert!(
            "1.23456"
                .parse::<Price>()
                .unwrap_err()
                .contains("decimal places")
        );
        assert!(
            "abc"
                .parse::<Price>()
                .unwrap_err()
                .contains("not a decimal")
        );
        assert!("1e3".parse::<Price>().is_err());
    }

    #[test]
    fn prices_deserialise_from_strings_and_numbers() {
        let p: Price = serde_json::from_str("\"12.50\"").unwrap();
        assert_eq!(p.to_string(), "12.50");
        let n: Price = serde_json::from_str("12.5").unwrap();
        assert_eq!(n, p);
        assert!(serde_json::from_str::<Price>("\"12.5.0\"").is_err());
        assert!(serde_json::from_str::<Price>("-3").is_err());
        assert_eq!(
            serde_json::from_str::<Price>("19.99").unwrap().to_string(),
            "19.99"
        );
        assert_eq!(
            serde_json::from_str::<Price>("7").unwrap().to_string(),
            "7.00"
        );
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"12.5\"");
    }

    #[test]
    fn currency_codes_are_normalised() {
        assert_eq!("eur".parse::<Currency>().unwrap().as_str(), "EUR");
        assert!("EURO".parse::<Currency>().is_err());
        assert!("E1R".parse::<Currency>().is_err());
    }
}
