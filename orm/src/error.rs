//! The one error type every covet operation returns.

use std::fmt;
use std::time::Duration;

use covet_pool::PoolStatus;

/// The result type of covet operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from a covet operation.
///
/// Match on [`Error::kind`] for the class of failure, and use [`Error::constraint`],
/// [`Error::code`] and [`Error::table`] for details, so that callers never parse messages.
/// No message contains a password from the database URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lookup that had to find a row found none.
    #[error("{entity} not found where {detail}")]
    NotFound {
        /// The model or table that was searched.
        entity: &'static str,
        /// The condition that matched no row, without bind values.
        detail: String,
    },
    /// An update or delete of a model with a `#[covet(version)]` column found the row, but
    /// with another version than the one read: another write changed it in between.
    #[error(
        "version conflict on {entity} where {detail}: another write changed the row after it \
         was read; reload it and apply the change again"
    )]
    Conflict {
        /// The model's table.
        entity: &'static str,
        /// The primary key and the expected version, without other values.
        detail: String,
    },
    /// The database rejected a statement.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// No pooled connection became free in time.
    #[error(
        "timed out after {waited:?} waiting for a database connection ({status}); \
         raise the pool's max size or acquire timeout, or hold connections for less time"
    )]
    PoolTimeout {
        /// How long the caller waited.
        waited: Duration,
        /// The pool's counts when the wait gave up.
        status: PoolStatus,
    },
    /// Opening or using a connection failed at the network or protocol level.
    #[error("connection to the {backend} database{} failed", at_target(.target))]
    Connection {
        /// The backend's `db.system.name`, such as `postgresql`.
        backend: &'static str,
        /// The database URL with its password removed, or the file, where known.
        target: Option<String>,
        /// The driver error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A column's value could not be read into its Rust type.
    #[error("failed to decode column `{column}`: {message}")]
    Decode {
        /// The column name.
        column: String,
        /// The reason the value does not fit.
        message: String,
    },
    /// A value or argument is invalid. The message names the value and the fix.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database URL could not be used. The URL in the message has its password removed.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// The reason for the rejection and the form to use instead.
        reason: String,
    },
    /// The backend lacks a capability the operation needs.
    #[error("{backend} does not support {feature}")]
    Unsupported {
        /// The backend's `db.system.name`.
        backend: &'static str,
        /// The missing capability.
        feature: &'static str,
    },
    /// The pool was closed.
    #[error("the connection pool is closed")]
    PoolClosed,
    /// Any other driver error.
    #[error("database driver error")]
    Driver(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn at_target(target: &Option<String>) -> String {
    match target {
        Some(target) => format!(" at `{target}`"),
        None => String::new(),
    }
}

/// The class of an [`Error`], for matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Conflict`].
    Conflict,
    /// A unique or primary key constraint was violated.
    UniqueViolation,
    /// A foreign key constraint was violated.
    ForeignKeyViolation,
    /// A check constraint was violated.
    CheckViolation,
    /// A NOT NULL constraint was violated.
    NotNullViolation,
    /// The transaction could not be serialized and may succeed if retried.
    SerializationFailure,
    /// The transaction was chosen as a deadlock victim, or a lock wait timed out. Retryable.
    Deadlock,
    /// A write was attempted in a read-only transaction, or on a database opened read-only.
    ReadOnly,
    /// Any other error reported by the database.
    OtherDatabase,
    /// See [`Error::PoolTimeout`].
    PoolTimeout,
    /// See [`Error::Connection`].
    Connection,
    /// See [`Error::Decode`].
    Decode,
    /// See [`Error::InvalidInput`] and [`Error::InvalidUrl`].
    InvalidInput,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::PoolClosed`].
    PoolClosed,
    /// See [`Error::Driver`].
    Driver,
}

impl Error {
    /// Returns the class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Database(error) => error.kind,
            Error::PoolTimeout { .. } => ErrorKind::PoolTimeout,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::InvalidInput(_) | Error::InvalidUrl { .. } => ErrorKind::InvalidInput,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::PoolClosed => ErrorKind::PoolClosed,
            Error::Driver(_) => ErrorKind::Driver,
        }
    }

    /// Returns the violated constraint's name, where the database reports it.
    pub fn constraint(&self) -> Option<&str> {
        self.as_database()
            .and_then(|error| error.constraint.as_deref())
    }

    /// Returns the database's error code (SQLSTATE on PostgreSQL, the error number on MySQL,
    /// the extended result code on SQLite).
    pub fn code(&self) -> Option<&str> {
        self.as_database().and_then(|error| error.code.as_deref())
    }

    /// Returns the table the database named in the error, where it names one.
    pub fn table(&self) -> Option<&str> {
        self.as_database().and_then(|error| error.table.as_deref())
    }

    /// Returns whether running the same transaction again may succeed: serialization
    /// failures and deadlocks.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::SerializationFailure | ErrorKind::Deadlock
        )
    }

    /// Returns the database error, if the database rejected the statement.
    pub fn as_database(&self) -> Option<&DatabaseError> {
        match self {
            Error::Database(error) => Some(error),
            _ => None,
        }
    }

    pub(crate) fn decode(column: &str, message: impl fmt::Display) -> Self {
        Error::Decode {
            column: column.to_owned(),
            message: message.to_string(),
        }
    }
}

/// An error the database returned for a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatabaseError {
    /// The class of the error.
    pub kind: ErrorKind,
    /// The backend's `db.system.name`.
    pub backend: &'static str,
    /// The database's error code.
    pub code: Option<String>,
    /// The violated constraint's name, where reported.
    pub constraint: Option<String>,
    /// The table named by the database, where reported.
    pub table: Option<String>,
    /// The database's message.
    pub message: String,
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.kind {
            ErrorKind::UniqueViolation => "unique constraint violated",
            ErrorKind::ForeignKeyViolation => "foreign key constraint violated",
            ErrorKind::CheckViolation => "check constraint violated",
            ErrorKind::NotNullViolation => "not-null constraint violated",
            ErrorKind::SerializationFailure => "serialization failure, retry the transaction",
            ErrorKind::Deadlock => "deadlock or lock timeout, retry the transaction",
            ErrorKind::ReadOnly => "write rejected in a read-only transaction or database",
            _ => "error",
        };
        write!(f, "{} {class}", self.backend)?;
        if let Some(constraint) = &self.constraint {
            write!(f, " (constraint `{constraint}`)")?;
        }
        if let Some(code) = &self.code {
            write!(f, " [code {code}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DatabaseError {}

/// Replaces the password in a database URL with `***`, for messages and logs.
///
/// Both places a driver reads a password from are covered: the user information
/// (`user:secret@host`) and query parameters whose name contains `password`
/// (`?password=secret`, `?sslpassword=secret`).
pub fn redact_url(url: &str) -> String {
    if let Some(redacted) = redact_credentials(url) {
        // The text before `@` had a `:` after the scheme: treat what follows it as a
        // password, whatever the parser makes of the URL (it may read it as a path).
        return redact_query_passwords(&redacted);
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return redact_unparsable(url);
    };
    let has_secret_query = parsed.query_pairs().any(|(key, _)| is_password_key(&key));
    if parsed.password().is_none() && !has_secret_query {
        // Nothing to hide: keep the URL exactly as written, since the parser would
        // normalize it (lowercase the scheme, trim spaces) and hide what is wrong with it.
        return url.to_owned();
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if has_secret_query {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_password_key(&key) {
                    "***".into()
                } else {
                    value
                };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Returns the position of the `:` that starts a password in `scheme:...user:secret@host`,
/// whether or not the URL is well formed: the last `:` before the last `@`, unless it is the
/// one that ends the scheme.
fn password_colon(url: &str) -> Option<(usize, usize)> {
    let at = url.rfind('@')?;
    let colon = url[..at].rfind(':')?;
    let before = &url[..colon];
    let ends_scheme = !before.is_empty()
        && before
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (!ends_scheme).then_some((colon, at))
}

/// Replaces the password in `scheme:...user:secret@host...` by `***`, or returns `None`
/// when there is none.
fn redact_credentials(url: &str) -> Option<String> {
    let (colon, at) = password_colon(url)?;
    Some(format!("{}:***{}", &url[..colon], &url[at..]))
}

/// Returns the password between the user and `@`, as written, if there is one.
pub(crate) fn url_password(url: &str) -> Option<&str> {
    let (colon, at) = password_colon(url)?;
    Some(&url[colon + 1..at]).filter(|password| !password.is_empty())
}

fn redact_query_passwords(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_password_key(key) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

fn is_password_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("password")
}

/// Redacts a URL the parser rejected. It may still hold `user:secret@host` or
/// `?password=secret`, so everything between the scheme and the last `@` and everything
/// after `?` is cut.
fn redact_unparsable(url: &str) -> String {
    let without_query = url.split('?').next().unwrap_or_default();
    let query = if without_query.len() < url.len() {
        "?***"
    } else {
        ""
    };
    match (without_query.find("://"), without_query.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!(
                "{}://***{}{query}",
                &without_query[..scheme_end],
                &without_query[at..]
            )
        }
        _ => format!("{without_query}{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_password() {
        let redacted = redact_url("postgres://app:s3cret@db.example:5432/prod");
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(redacted.contains("app:***@db.example"), "{redacted}");
    }

    #[test]
    fn redact_url_unparsable_hides_password() {
        let redacted = redact_url("postgres://app:s3cret@db example/prod");
        assert!(!redacted.contains("s3cret"), "{redacted}");
    }

    #[test]
    fn redact_url_hides_query_password() {
        let redacted = redact_url("postgres://app@db/prod?sslmode=require&password=s3cret");
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(redacted.contains("sslmode=require"), "{redacted}");
        let unparsable = redact_url("postgres://app@db:port/prod?password=s3cret");
        assert!(!unparsable.contains("s3cret"), "{unparsable}");
    }

    #[test]
    fn redact_url_hides_malformed_passwords() {
        for url in [
            "postgres:root:S3cr3tPW@127.0.0.1/x",
            "postgres:/root:S3cr3tPW@127.0.0.1/x",
            "postgresql//root:S3cr3tPW@127.0.0.1/x",
            "mysql://root:S3cr3t?PW@127.0.0.1:3306/db",
        ] {
            let redacted = redact_url(url);
            assert!(!redacted.contains("S3cr3t"), "{url} became {redacted}");
            assert!(!redacted.contains("PW@"), "{url} became {redacted}");
        }
    }

    #[test]
    fn redact_url_keeps_url_as_written() {
        assert_eq!(redact_url(" SQLITE::memory:"), " SQLITE::memory:");
        assert_eq!(redact_url("Postgres://db/app"), "Postgres://db/app");
    }

    #[test]
    fn redact_url_without_password_is_unchanged() {
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
    }
}
