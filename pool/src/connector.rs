use std::error::Error as StdError;
use std::fmt::Debug;
use std::future::Future;

/// Opens and resets connections of one kind for a [`Pool`](crate::Pool).
pub trait Connector: Debug + Send + Sync + 'static {
    /// The connection type the pool hands out.
    type Connection: Send + 'static;
    /// The error opening or resetting a connection returns.
    type Error: StdError + Send + Sync + 'static;

    /// Opens one new connection.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Brings a returned connection back to a clean state before it is handed out again,
    /// for example by rolling back a transaction that was left open. An error discards the
    /// connection. The default does nothing.
    fn reset(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// Checks with a round trip that an idle connection still works. The pool calls it on
    /// checkout only for connections unused for longer than
    /// [`health_check_after`](crate::PoolConfig::health_check_after). The default does
    /// nothing.
    fn ping(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// Runs once on each new connection before it joins the pool, for per-connection
    /// settings such as SQLite pragmas or a PostgreSQL `SET`. An error discards the
    /// connection and fails the connect. The default does nothing.
    fn after_connect(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// Runs each time a connection is about to be handed out, new or reused. An error
    /// discards the connection, and the caller gets another. The default does nothing.
    fn before_acquire(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// Runs each time a caller returns a connection, before it is back in the pool. It
    /// cannot wait, so it suits bookkeeping; cleanup that needs the server belongs in
    /// [`reset`](Self::reset). The default does nothing.
    fn after_release(&self, conn: &mut Self::Connection) {
        let _ = conn;
    }

    /// Returns whether retrying cannot fix a connect error, such as a wrong password or an
    /// unknown database. Such errors are returned at once; others are retried with backoff
    /// until the connect timeout. `ever_connected` is false until the pool has opened its
    /// first connection, when an unreachable server is more likely a wrong address than an
    /// outage. The default retries every error.
    fn is_permanent(&self, error: &Self::Error, ever_connected: bool) -> bool {
        let _ = (error, ever_connected);
        false
    }
}
