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
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite's extended codes keep the primary code in the low byte: 5 busy,
                // 6 locked, 10 I/O error, 13 disk full.
                let primary = code.parse::<i32>().unwrap_or_default() & 0xff;
                return matches!(primary, 5 | 6 | 10 | 13);
            }
            // PostgreSQL: 57014 statement timeout, 57P01-03 shutdown, 53300 too many
            // connections, 53100 disk full, 08xxx connection failures.
            matches!(
                code.as_ref(),
                "57014" | "57P01" | "57P02" | "57P03" | "53300" | "53100"
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

impl StoreError {
    /// A copy for each caller that shared one failed read (a batch of lookups, or one load
    /// that moka hands out behind an `Arc`), keeping the kind and the cause's text, which is
    /// what the log shows.
    /// A copy of a copy (a batched read shared by one load) reads as the first copy.
    pub(crate) fn shared_copy(&self) -> StoreError {
        fn text_of(err: &sqlx::Error) -> String {
            match err {
                // The variants copies are made of: their text as it was, not wrapped again.
                sqlx::Error::Io(io) => io.to_string(),
                sqlx::Error::Protocol(text) => text.clone(),
                other => other.to_string(),
            }
        }
        match self {
            StoreError::Unavailable(err) => {
                StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(text_of(err))))
            }
            StoreError::Conflict(message) => StoreError::Conflict(message.clone()),
            StoreError::NotFound(what) => StoreError::NotFound(what),
            StoreError::Database(err) => StoreError::Database(sqlx::Error::Protocol(text_of(err))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    /// The error chain as the log writes it.
    fn chain(err: &dyn Error) -> String {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }

    #[test]
    fn a_shared_failure_keeps_its_kind_and_cause() {
        let cause = "terminating connection due to administrator command";
        let unavailable = StoreError::Unavailable(sqlx::Error::Protocol(cause.into()));
        let copy = unavailable.shared_copy();
        assert!(matches!(copy, StoreError::Unavailable(_)), "{copy:?}");
        assert!(chain(&copy).contains(cause), "{}", chain(&copy));

        let failed = StoreError::Database(sqlx::Error::Protocol("bad row".into()));
        let copy = failed.shared_copy();
        assert!(matches!(copy, StoreError::Database(_)), "{copy:?}");
        assert!(chain(&copy).contains("bad row"), "{}", chain(&copy));
    }

    #[test]
    fn a_copy_of_a_copy_reads_as_the_first() {
        let originals = [
            StoreError::Unavailable(sqlx::Error::PoolTimedOut),
            StoreError::Database(sqlx::Error::RowNotFound),
        ];
        for original in originals {
            let cause = std::error::Error::source(&original).unwrap().to_string();
            let copy = original.shared_copy();
            let again = copy.shared_copy();
            assert_eq!(chain(&again), chain(&copy));
            assert!(chain(&again).contains(&cause), "{}", chain(&again));
        }
    }
}
