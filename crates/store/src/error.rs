use shelfsync_core::ValidationErrors;

/// What can go wrong in storage, in terms the API can turn into a status code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (a SKU or handle already in use).
    #[error("{0}")]
    Conflict(String),
    /// The input is well-formed but breaks a rule that needs the database to check.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// Stored data could not be read back (a corrupt decimal, unknown status).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::default();
        errors.push(field, message);
        StoreError::Invalid(errors)
    }

    /// A unique-constraint violation, so callers can turn a race into a clean 409.
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
