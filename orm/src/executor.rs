//! The trait that runs statements, implemented by [`Database`](crate::Database) and
//! [`Transaction`](crate::Transaction).

use async_trait::async_trait;

use crate::backend::{Backend, ExecResult, RowSink, Statement};
use crate::error::Result;
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

    /// Begins a transaction, or a savepoint when this is already a transaction.
    ///
    /// # Cancel safety
    ///
    /// A transaction or savepoint begun before the future is dropped is rolled back.
    async fn begin(&self) -> Result<Transaction>;
}
