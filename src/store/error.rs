use std::sync::Arc;

use sqlx::error::ErrorKind;

pub type StoreResult<T> = Result<T, StoreError>;

/// How a store call failed, sorted by what the caller can do about it.
///
/// Cheap to clone: the database's error is shared, so every caller of one failed read (a
/// batch of lookups, a load that several redirects wait on) gets the same cause, logged as
/// it was said.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule: the message names the field and is safe to show a client.
    #[error("{0}")]
    Conflict(String),
    /// The named row (`"user"`, `"link"`) does not exist.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The database did not answer in time or the connection broke: worth a retry later.
    #[error("database unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// Anything else the database said. Its text goes to the log, never to a client.
    #[error("database error")]
    Database(#[source] Arc<sqlx::Error>),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(Arc::new(err))
        } else {
            Self::Database(Arc::new(err))
        }
    }
}

/// Whether opening the database failed in a way that waiting may cure: the server is not
/// answering yet, is starting or is short of connections. A wrong address scheme, a refused
/// password, a database that does not exist, a file that cannot be opened or TLS that cannot
/// work (`sslmode=require`: hop is built without TLS to PostgreSQL) are mistakes in the
/// configuration, and waiting only hides them for a minute.
pub fn worth_waiting_for(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
        .any(|err| {
            let mistaken = match err {
                sqlx::Error::Database(db) => db.code().as_deref() == Some("3D000"),
                sqlx::Error::Tls(_) => true,
                _ => false,
            };
            is_unavailable(err) && !mistaken
        })
}

/// Whether `err` says the database's storage is full (SQLite's code 13, PostgreSQL's 53100):
/// it answers reads, but cannot take writes until space is freed.
pub fn is_storage_full(err: &(dyn std::error::Error + 'static)) -> bool {
    database_error_in(err).is_some_and(|db| match sqlite_primary_code(db) {
        Some(primary) => primary == 13,
        None => db.code().as_deref() == Some("53100"),
    })
}

/// Whether `err` is PostgreSQL ending one transaction of a conflict with another: a deadlock
/// (40P01) or a serialization failure (40001). Nothing was wrong with the request, and its
/// transaction was rolled back whole, so the same call can simply be made again.
pub fn is_conflict(err: &(dyn std::error::Error + 'static)) -> bool {
    database_error_in(err)
        .and_then(|db| db.code())
        .is_some_and(|code| CONFLICT.contains(&code.as_ref()))
}

/// PostgreSQL's codes for a transaction given up to resolve a conflict (see [`is_conflict`]).
const CONFLICT: [&str; 2] = ["40P01", "40001"];

/// The database's own error in the chain of `err`, if the database said anything.
fn database_error_in<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a dyn sqlx::error::DatabaseError> {
    let mut cause = Some(err);
    while let Some(err) = cause {
        let sqlx = err
            .downcast_ref::<sqlx::Error>()
            .or_else(|| err.downcast_ref::<Arc<sqlx::Error>>().map(Arc::as_ref));
        if let Some(sqlx::Error::Database(db)) = sqlx {
            return Some(db.as_ref());
        }
        cause = err.source();
    }
    None
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
            // SQLite: 5 busy, 6 locked, 10 I/O error, 13 disk full.
            if let Some(primary) = sqlite_primary_code(db.as_ref()) {
                return matches!(primary, 5 | 6 | 10 | 13);
            }
            let code = db.code().unwrap_or_default();
            // PostgreSQL: 57014 statement timeout, 57P01-03 shutdown, 57P04 database
            // dropped; on connecting, 55000 a database that does not accept connections
            // (`ALLOW_CONNECTIONS false`) and 3D000 one that is not there (dropped or renamed
            // while hop runs); 25006 a write sent to a read-only server (a standby, mid
            // failover); 53xxx out of resources (connections, disk, memory); 08xxx connection
            // failures; and a transaction given up to resolve a conflict (`is_conflict`).
            matches!(
                code.as_ref(),
                "57014" | "57P01" | "57P02" | "57P03" | "57P04" | "55000" | "3D000" | "25006"
            ) || CONFLICT.contains(&code.as_ref())
                || code.starts_with("53")
                || code.starts_with("08")
        }
        _ => false,
    }
}

/// SQLite's primary result code of `db` (its extended codes keep it in the low byte); `None`
/// for another database's error.
fn sqlite_primary_code(db: &dyn sqlx::error::DatabaseError) -> Option<i32> {
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    Some(db.code()?.parse::<i32>().unwrap_or_default() & 0xff)
}

/// Whether `err` is a unique-index violation (a duplicate short code, email, ...).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation)
}

/// Whether `err` is a foreign key violation (the row pointed at is gone).
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == ErrorKind::ForeignKeyViolation)
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

    /// What the log shows of a failure shared by several callers is what the database said,
    /// once, as for a caller that had it alone.
    #[test]
    fn a_shared_failure_reads_as_the_original() {
        let timed_out = "pool timed out while waiting for an open connection";
        let cases = [
            (sqlx::Error::PoolTimedOut, "database unavailable", timed_out),
            (
                sqlx::Error::RowNotFound,
                "database error",
                "no rows returned",
            ),
        ];
        for (cause, kind, said) in cases {
            let original = StoreError::from(cause);
            let shared = original.clone();
            assert_eq!(chain(&shared), chain(&original));
            assert!(
                chain(&shared).starts_with(&format!("{kind}: ")),
                "{}",
                chain(&shared)
            );
            assert_eq!(
                chain(&shared).matches(said).count(),
                1,
                "{}",
                chain(&shared)
            );
            assert!(
                !chain(&shared).contains("communicating"),
                "{}",
                chain(&shared)
            );
        }
    }
}
