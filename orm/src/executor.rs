//! The trait that runs statements, implemented by [`Database`](crate::Database) and
//! [`Transaction`](crate::Transaction).

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use async_trait::async_trait;
use sea_query::Values;

use crate::backend::{Backend, BackendConnection, ExecResult, RowSink, RowStream, Statement};
use crate::error::Result;
use crate::stats::Observer;
use crate::trace::{Outcome, traced};
use crate::transaction::Transaction;

/// A target that runs statements: a [`Database`](crate::Database), which borrows a pooled
/// connection per statement, or a [`Transaction`](crate::Transaction), which keeps one.
///
/// Every query and write in covet takes `&impl Executor`, so the same code runs inside and
/// outside a transaction.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Returns the backend statements are rendered for.
    fn backend(&self) -> &dyn Backend;

    /// Runs a statement that returns no rows.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, the statement may or may not have run. Outside a
    /// transaction its effect is then committed or not; inside one, the transaction decides.
    async fn execute(&self, statement: Statement) -> Result<ExecResult>;

    /// Runs SQL text that has no bind values without preparing it, as migration files need:
    /// some statements cannot be prepared.
    ///
    /// # Cancel safety
    ///
    /// As for [`execute`](Self::execute).
    async fn execute_unprepared(&self, statement: Statement) -> Result<ExecResult>;

    /// Runs a statement and passes each row to `sink`, returning the number of rows.
    ///
    /// # Cancel safety
    ///
    /// As for [`execute`](Self::execute). Rows already passed to `sink` stay passed.
    async fn fetch(&self, statement: Statement, sink: &mut RowSink<'_>) -> Result<u64>;

    /// Runs a query and returns its rows as a stream, read from the server one at a time
    /// as it is polled. The statement's tracing span lasts until the stream ends or is
    /// dropped and then records the number of rows read. The stream keeps a connection
    /// until then: a pooled one for a [`Database`](crate::Database), or the transaction's
    /// own for a [`Transaction`](crate::Transaction), whose other statements fail with
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) meanwhile rather than wait for
    /// a stream that their own task may be holding open.
    ///
    /// # Cancel safety
    ///
    /// Dropping a [`Database`](crate::Database)'s stream before its end closes its
    /// connection instead of returning it to the pool. Dropping a transaction's stream
    /// between rows leaves the transaction usable, and the driver drops the rest of the
    /// result before its next statement. If the stream is dropped while a poll awaits the
    /// server, the transaction's next statement fails with
    /// [`Error::Connection`](crate::Error::Connection).
    fn fetch_stream(&self, statement: Statement) -> RowStream<'_>;

    /// Begins a transaction, or a savepoint when this is already a transaction.
    ///
    /// # Cancel safety
    ///
    /// A transaction or savepoint begun before the future is dropped is rolled back.
    async fn begin(&self) -> Result<Transaction>;
}

/// A connection owned outright, so that it derefs like a `MutexGuard` of a shared one.
pub(crate) struct Owned(pub(crate) Box<dyn BackendConnection>);

impl Deref for Owned {
    type Target = Box<dyn BackendConnection>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Owned {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Runs a statement that returns no rows inside its span, on the connection `conn`
/// resolves to. Taking the connection is inside the span, so its wait is part of the
/// recorded duration. `prepared` is false for SQL run as plain text, without binds.
/// `observer` counts the statement for its database.
pub(crate) async fn run_execute<G, F>(
    backend: &dyn Backend,
    observer: &Observer,
    mut statement: Statement,
    prepared: bool,
    conn: F,
) -> Result<ExecResult>
where
    F: Future<Output = Result<G>> + Send,
    G: DerefMut<Target = Box<dyn BackendConnection>> + Send,
{
    let values = std::mem::replace(&mut statement.values, Values(Vec::new()));
    let sql = Arc::clone(&statement.sql);
    let affected = |done: &ExecResult| Outcome::Affected(done.rows_affected);
    traced(backend, Some(observer), &statement, affected, async move {
        let mut conn = conn.await?;
        if prepared {
            conn.execute(sql, values).await
        } else {
            conn.execute_unprepared(sql).await
        }
    })
    .await
}

/// Runs a query inside its span, passing each row to `sink`.
pub(crate) async fn run_fetch<G, F>(
    backend: &dyn Backend,
    observer: &Observer,
    mut statement: Statement,
    sink: &mut RowSink<'_>,
    conn: F,
) -> Result<u64>
where
    F: Future<Output = Result<G>> + Send,
    G: DerefMut<Target = Box<dyn BackendConnection>> + Send,
{
    let values = std::mem::replace(&mut statement.values, Values(Vec::new()));
    let sql = Arc::clone(&statement.sql);
    let returned = |rows: &u64| Outcome::Returned(*rows);
    traced(backend, Some(observer), &statement, returned, async move {
        let mut conn = conn.await?;
        conn.fetch(sql, values, sink).await
    })
    .await
}
