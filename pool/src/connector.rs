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
}
