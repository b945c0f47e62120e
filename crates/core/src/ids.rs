//! Typed identifiers.
//!
//! Every entity id is a UUIDv7 (sortable by creation time, so cursor pagination
//! is an index range scan) wrapped in its own type, so a `ProductId` can never be
//! passed where a `TenantId` is expected. On the wire they carry a prefix
//! (`prod_…`) so a person reading a log or a URL knows what an id names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string could not be read as an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id: expected `{prefix}_` followed by 32 hex digits")]
pub struct IdParseError {
    pub kind: &'static str,
    pub prefix: &'static str,
}

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// The prefix this id carries on the wire.
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps a raw UUID read from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = IdParseError { kind: $kind, prefix: $prefix };
                let rest = s
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or(err.clone())?;
                if rest.len() != 32 {
                    return Err(err);
                }
                Uuid::try_parse(rest).map(Self).map_err(|_| err)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-9a-f]{32}$")))
                    .examples([serde_json::json!(concat!($prefix, "_0192f5a0c3d87a1b9e2f4c6d8e0a1b2c"))])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

typed_id!(
    /// A merchant account: every other row belongs to exactly one.
    TenantId, "ten", "tenant"
);
typed_id!(UserId, "user", "user");
typed_id!(ApiKeyId, "key", "API key");
typed_id!(ProductId, "prod", "product");
typed_id!(VariantId, "var", "variant");
typed_id!(
    /// A place stock is held (warehouse, shop floor).
    LocationId, "loc", "location"
);
typed_id!(ConnectionId, "conn", "connection");
typed_id!(ListingId, "lst", "listing");
typed_id!(JobId, "job", "job");
typed_id!(
    /// A sync rule: a condition and the actions it triggers on one or all channels.
    RuleId, "rule", "rule"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_wire_form() {
        let id = ProductId::new();
        let text = id.to_string();
        assert!(text.starts_with("prod_"));
        assert_eq!(text.parse::<ProductId>().unwrap(), id);
    }

    #[test]
    fn rejects_another_kind_of_id() {
        let variant = VariantId::new().to_string();
        assert!(variant.parse::<ProductId>().is_err());
        assert!("prod_xyz".parse::<ProductId>().is_err());
        assert!("prod_".parse::<ProductId>().is_err());
        let hyphenated = format!("prod_{}", uuid::Uuid::now_v7());
        assert!(hyphenated.parse::<ProductId>().is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = ProductId::new();
        let b = ProductId::new();
        assert!(a < b);
    }
}
