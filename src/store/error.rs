use sqlx::error::ErrorKind;

pub type StoreResult<T> = Result<T, StoreError>;

/// How a store call failed, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule: the message names the field and is safe to show a client.
    #[error("{0}")]
    Conflict(String),
    /// The named row (`"user"`, `"link"`) does not exist.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The database did not answer in time or the connection broke: worth a retry later.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else the database said. Its text goes to the log, never to a client.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Database(err)
        }
    }
}

/// Errors that say "the database is not there right now" rather than "this query is wrong".
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            // 57014 statement timeout, 57P01-03 shutdown, 53300 too many connections,
            // 08xxx connection failures; SQLite 5/6 busy or locked.
            let code = db.code().unwrap_or_default();
            matches!(
                code.as_ref(),
                "57014" | "57P01" | "57P02" | "57P03" | "53300" | "5" | "6"
            ) || code.starts_with("08")
        }
        _ => false,
    }
}

/// Whether `err` is a unique-index violation (a duplicate short code, email, ...).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation)
}

/// Whether `err` is a foreign key violation (the row pointed at is gone).
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == ErrorKind::ForeignKeyViolation)
}
