//! What can go wrong talking to a channel, sorted by what the caller should do.

use std::time::Duration;

use crate::model::ItemError;

/// A failed channel call. Messages never carry credentials: adapters build
/// them from status codes and the platform's error text only.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChannelError {
    /// The channel kept throttling after our retries; try the job later.
    #[error("throttled by the channel; retry in {retry_after:?}")]
    Throttled { retry_after: Option<Duration> },
    /// A daily cap is spent; nothing will pass before `retry_after`.
    #[error("the channel's daily quota is spent; retry in {retry_after:?}")]
    QuotaExhausted { retry_after: Duration },
    /// The credentials were refused; refresh them or ask the merchant to reconnect.
    #[error("the channel refused our credentials: {0}")]
    Unauthorized(String),
    /// A network fault, timeout or 5xx that outlasted our retries.
    #[error("the channel is unavailable: {0}")]
    Transient(String),
    /// The channel refused the whole call as invalid; retrying unchanged will not help.
    #[error("the channel rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The channel answered with a shape we do not understand.
    #[error("unexpected answer from the channel: {0}")]
    Protocol(String),
    /// The connection lacks something the adapter needs (a setting, a scope).
    #[error("the connection is not set up for this: {0}")]
    Config(String),
}

impl ChannelError {
    /// Whether the same call may succeed later without any change on our side.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ChannelError::Throttled { .. }
                | ChannelError::QuotaExhausted { .. }
                | ChannelError::Transient(_)
        )
    }

    /// Whether no later call of the same run can succeed either (the
    /// credentials or the connection's setup are wrong), so a run stops
    /// instead of failing every remaining item the same way.
    pub fn stops_run(&self) -> bool {
        matches!(
            self,
            ChannelError::Unauthorized(_) | ChannelError::Config(_)
        )
    }

    /// This error as the outcome of each item a failed call carried, once
    /// earlier calls of the run have written something (failing the whole
    /// run would lose their results).
    pub fn as_item_error(&self) -> ItemError {
        let code = match self {
            ChannelError::Throttled { .. } | ChannelError::QuotaExhausted { .. } => "throttled",
            ChannelError::Transient(_) => "unavailable",
            ChannelError::Rejected { .. } => "rejected",
            ChannelError::Protocol(_) => "protocol",
            ChannelError::Unauthorized(_) => "unauthorized",
            ChannelError::Config(_) => "config",
        };
        ItemError {
            code: code.into(),
            message: self.to_string(),
            retryable: self.is_retryable(),
        }
    }
}

/// Why an incoming webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("the body is not a payload we understand: {0}")]
    Malformed(String),
    #[error("the connection has no webhook secret")]
    NoSecret,
}
