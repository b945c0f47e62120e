//! Clerk's user and organisation events, applied to tenants and users.
//!
//! A Clerk user without an organisation works in a tenant of their own; an
//! organisation is a tenant its members share (the same mapping session
//! tokens use, `shelfsync_store::Store::user_for_session`). Every effect is
//! idempotent, so a redelivered event changes nothing.
//!
//! Payload shapes: <https://clerk.com/docs/webhooks/overview> (the `type`
//! and `data` envelope) and Clerk's Backend API objects for `data`.

use async_trait::async_trait;
use serde_json::Value;
use shelfsync_store::{JobRecord, Store, StoreError};

use crate::webhooks::received_log;
use crate::worker::{JobContext, JobError, JobHandler};

/// What an event did, as recorded on its log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClerkOutcome {
    Applied(String),
    Ignored(String),
}

/// Applies one Clerk event.
pub async fn apply_clerk_event(store: &Store, event: &Value) -> Result<ClerkOutcome, StoreError> {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let data = event.get("data").unwrap_or(&Value::Null);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let missing = |what: &str| Ok(ClerkOutcome::Ignored(format!("{kind} without {what}")));
    Ok(match kind {
        "user.created" => {
            let Some(user) = text(data.get("id")) else {
                return missing("data.id");
            };
            let email = primary_email(data);
            let owner = store
                .user_for_session(&user, email.as_deref(), None)
                .await?;
            ClerkOutcome::Applied(format!("user {user} works in tenant {}", owner.tenant))
        }
        "user.deleted" => {
            let Some(user) = text(data.get("id")) else {
                return missing("data.id");
            };
            let removed = store.delete_user_by_external_id(&user).await?;
            let own_tenant = store.delete_tenant_by_external_ref(&user).await?;
            ClerkOutcome::Applied(format!(
                "user {user}: row removed {removed}, own tenant removed {own_tenant}"
            ))
        }
        "organization.created" | "organization.updated" => {
            let Some(org) = text(data.get("id")) else {
                return missing("data.id");
            };
            let name = text(data.get("name")).unwrap_or_else(|| org.clone());
            let tenant = store.ensure_tenant(&org, &name).await?;
            ClerkOutcome::Applied(format!("organisation {org} is tenant {tenant}"))
        }
        "organization.deleted" => {
            let Some(org) = text(data.get("id")) else {
                return missing("data.id");
            };
            let removed = store.delete_tenant_by_external_ref(&org).await?;
            ClerkOutcome::Applied(format!("organisation {org}: tenant removed {removed}"))
        }
        "organizationMembership.created" | "organizationMembership.updated" => {
            let org = text(data.pointer("/organization/id"));
            let user = text(data.pointer("/public_user_data/user_id"));
            let (Some(org), Some(user)) = (org, user) else {
                return missing("the organisation or user id");
            };
            let email = text(data.pointer("/public_user_data/identifier"));
            let owner = store
                .user_for_session(&user, email.as_deref(), Some(&org))
                .await?;
            ClerkOutcome::Applied(format!("user {user} works in tenant {}", owner.tenant))
        }
        "organizationMembership.deleted" => {
            let org = text(data.pointer("/organization/id"));
            let user = text(data.pointer("/public_user_data/user_id"));
            let (Some(org), Some(user)) = (org, user) else {
                return missing("the organisation or user id");
            };
            let removed = store.remove_membership(&user, &org).await?;
            ClerkOutcome::Applied(format!("user {user} left {org}: row removed {removed}"))
        }
        other => ClerkOutcome::Ignored(format!("event {other} is not acted on")),
    })
}

/// The user's primary address, else their first.
fn primary_email(user: &Value) -> Option<String> {
    let addresses = user.get("email_addresses")?.as_array()?;
    let primary = user.get("primary_email_address_id").and_then(Value::as_str);
    addresses
        .iter()
        .find(|a| primary.is_some() && a.get("id").and_then(Value::as_str) == primary)
        .or_else(|| addresses.first())
        .and_then(|a| a.get("email_address"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The handler for `clerk.apply` jobs.
pub struct ClerkApplyJob;

#[async_trait]
impl JobHandler for ClerkApplyJob {
    async fn run(&self, job: &JobRecord, cx: &JobContext) -> Result<(), JobError> {
        let Some(log) = received_log(job, cx).await? else {
            return Ok(());
        };
        let retry = |e: StoreError| JobError::Retry(e.to_string());
        let event = log.event.unwrap_or(Value::Null);
        let (status, detail) = match apply_clerk_event(&cx.store, &event).await.map_err(retry)? {
            ClerkOutcome::Applied(what) => ("processed", what),
            ClerkOutcome::Ignored(why) => ("ignored", why),
        };
        cx.store
            .finish_webhook(log.id, status, Some(&detail))
            .await
            .map_err(retry)
    }
}
