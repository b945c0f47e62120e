//! Field-level validation errors, collected rather than stopped at the first,
//! so a merchant fixing a bad import row or API call sees every problem at once.

use serde::{Deserialize, Serialize};

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path to the field, e.g. `variants[2].price`.
    pub field: String,
    pub message: String,
}

/// Every problem found in one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was found, so validators can end with `errors.into_result()`.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Prefixes every field path, for errors found in a nested value.
    pub fn extend_nested(&mut self, prefix: &str, nested: ValidationErrors) {
        for e in nested.0 {
            self.0.push(FieldError {
                field: format!("{prefix}{}", e.field),
                message: e.message,
            });
        }
    }

    pub fn summary(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
