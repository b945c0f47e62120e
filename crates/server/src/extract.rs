//! Extractors that turn every malformed request into a problem document
//! rather than axum's plain-text rejections.

use std::str::FromStr;

use axum::extract::{FromRequest, FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::Json` with our error shape.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with our error shape.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// One typed id from the path (`/v1/products/{id}`): a malformed id is a 400
/// that says what was expected.
pub struct IdPath<T>(pub T);

impl<S, T> FromRequestParts<S> for IdPath<T>
where
    S: Send + Sync,
    T: FromStr + Send,
    T::Err: std::fmt::Display,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        raw.parse::<T>()
            .map(IdPath)
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}

/// Deserialises JSON or explains, for callers that read raw bytes themselves.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::Unprocessable(format!(
                "request body does not match the expected shape: {e}"
            ))
        } else {
            ApiError::BadRequest(format!("request body is not valid JSON: {e}"))
        }
    })
}

/// A list route's optional `connection_id` filter: a 400 naming the value
/// when it is not a connection id.
pub fn connection_filter(
    value: Option<&str>,
) -> Result<Option<shelfsync_core::ConnectionId>, ApiError> {
    value
        .map(|c| {
            c.parse()
                .map_err(|_| ApiError::BadRequest(format!("`{c}` is not a connection id")))
        })
        .transpose()
}

/// A list route's `limit` (1 to 250, default 50) and `cursor` (the id the
/// previous page ended on), checked once for every list.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: i64,
    pub after: Option<uuid::Uuid>,
}

impl Paging {
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(50);
        if !(1..=250).contains(&limit) {
            return Err(ApiError::BadRequest(
                "limit must be between 1 and 250".into(),
            ));
        }
        let after = cursor
            .map(|c| {
                c.parse::<uuid::Uuid>()
                    .map_err(|_| ApiError::BadRequest("cursor is not one this API issued".into()))
            })
            .transpose()?;
        Ok(Self {
            limit: i64::from(limit),
            after,
        })
    }

    /// The cursor of the next page: the last item's id when the page is full.
    pub fn next_cursor(&self, returned: usize, last: Option<uuid::Uuid>) -> Option<String> {
        (returned as i64 == self.limit)
            .then_some(last)
            .flatten()
            .map(|id| id.to_string())
    }
}
