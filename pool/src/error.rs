use std::time::Duration;

use crate::pool::PoolStatus;

/// An error acquiring a connection from the pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError<E: std::error::Error + 'static> {
    /// No connection became free within the acquire timeout.
    #[error(
        "timed out after {waited:?} waiting for a pooled connection \
         ({status}); raise the pool's max size or acquire timeout"
    )]
    AcquireTimeout {
        /// How long the caller waited.
        waited: Duration,
        /// The pool's counts when the wait gave up.
        status: PoolStatus,
    },
    /// Opening a new connection took longer than the connect timeout, retries included.
    #[error(
        "timed out after {waited:?} opening a new database connection ({status}){}",
        last_error.as_ref().map(|error| format!("; the last attempt failed with: {error}")).unwrap_or_default()
    )]
    ConnectTimeout {
        /// The connect timeout in force.
        waited: Duration,
        /// The pool's counts when the connect gave up.
        status: PoolStatus,
        /// The error of the last failed connect attempt, if one failed.
        last_error: Option<String>,
    },
    /// Opening a new connection failed.
    #[error("failed to open a database connection")]
    Connect(#[source] E),
    /// The pool was closed.
    #[error("the connection pool is closed")]
    Closed,
}
