//! The adapter trait each database backend implements, and the three built-in backends.
//!
//! A backend renders sea-query statements in its SQL dialect, binds values through sqlx,
//! maps its driver's errors to [`Error`](crate::Error) and declares what it can do in
//! [`Capabilities`]. Models and query code only talk to the [`Backend`] and
//! [`BackendConnection`] traits, so a new backend needs no change to either.

mod cache;
mod capabilities;
pub(crate) mod owned_row;
mod statement;
pub(crate) mod support;

#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use covet_pool::PoolStatus;
use futures_util::stream::BoxStream;
use sea_query::Values;

pub(crate) use self::cache::Shape;
#[doc(hidden)]
pub use self::cache::StatementCache;
pub use self::capabilities::{AutoIncrementColumn, Capabilities, UpsertStyle};
pub use self::statement::{ExecResult, QueryStatement, SchemaStatement, Statement};
use crate::error::Result;
use crate::row::RowReader;
use crate::transaction_options::TransactionOptions;
use crate::value::SqlType;

/// The callback that receives each result row of [`BackendConnection::fetch`].
pub type RowSink<'a> = dyn FnMut(&dyn RowReader) -> Result<()> + Send + 'a;

/// The rows of [`BackendConnection::fetch_stream`] and
/// [`Executor::fetch_stream`](crate::Executor::fetch_stream), each owned and read one at a
/// time. The stream ends after its first error.
pub type RowStream<'a> = BoxStream<'a, Result<Box<dyn RowReader + Send>>>;

/// A database backend: dialect, capabilities and a pool of connections.
#[async_trait]
pub trait Backend: Debug + Send + Sync + 'static {
    /// Returns the OpenTelemetry `db.system.name` of this backend, such as `postgresql`,
    /// `mysql`, `mariadb` or `sqlite`.
    fn system_name(&self) -> &'static str;

    /// Returns the database (or schema) name reported as `db.namespace`, if known.
    fn namespace(&self) -> Option<&str>;

    /// Returns what this backend supports and its limits.
    fn capabilities(&self) -> &Capabilities;

    /// Renders a query statement in this backend's dialect, returning SQL with
    /// placeholders and the values to bind.
    fn render(&self, statement: &QueryStatement) -> (String, Values);

    /// Renders a schema statement (DDL) in this backend's dialect.
    fn render_schema(&self, statement: &SchemaStatement) -> String;

    /// Returns the column type this backend uses for a type family. `key` is true for
    /// primary key and unique columns, which some backends must give a bounded length.
    fn column_type(&self, sql_type: SqlType, key: bool) -> &'static str;

    /// Returns the column definition of a single-column auto-increment primary key.
    fn auto_increment_column(&self, sql_type: SqlType) -> AutoIncrementColumn;

    /// Takes a connection from the pool.
    ///
    /// # Errors
    ///
    /// [`Error::PoolTimeout`](crate::Error::PoolTimeout) when none is free in time and
    /// [`Error::Connection`](crate::Error::Connection) when opening one fails.
    async fn acquire(&self) -> Result<Box<dyn BackendConnection>>;

    /// Opens a connection outside the pool, for one owner that needs the same session for
    /// a long time, such as the migration runner's lock. It closes when dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Connection`](crate::Error::Connection) when the connection cannot be opened.
    async fn connect_dedicated(&self) -> Result<Box<dyn BackendConnection>>;

    /// Returns the cache of statements rendered once per model, if the backend keeps one.
    /// Built-in backends do; others render every statement.
    #[doc(hidden)]
    fn statement_cache(&self) -> Option<&StatementCache> {
        None
    }

    /// Returns the pool's counts.
    fn pool_status(&self) -> PoolStatus;

    /// Returns the pool's totals since it was created.
    fn pool_metrics(&self) -> covet_pool::PoolMetrics;

    /// Closes the pool.
    fn close(&self);
}

/// One connection of a backend, checked out of its pool.
///
/// Transactions nest: [`begin`](Self::begin) inside a transaction creates a savepoint,
/// and [`commit`](Self::commit) or [`rollback`](Self::rollback) end the innermost level.
#[async_trait]
pub trait BackendConnection: Send {
    /// Runs a statement that returns no rows.
    async fn execute(&mut self, sql: Arc<str>, values: Values) -> Result<ExecResult>;

    /// Runs SQL text without preparing it and without bind values, through the backend's
    /// simple or text protocol. Some statements (MySQL's `CREATE TRIGGER`, for one) cannot be
    /// prepared. PostgreSQL and MySQL accept several statements separated by semicolons.
    async fn execute_unprepared(&mut self, sql: Arc<str>) -> Result<ExecResult>;

    /// Runs a statement and passes each row to `sink`, returning the number of rows.
    async fn fetch(&mut self, sql: Arc<str>, values: Values, sink: &mut RowSink<'_>)
    -> Result<u64>;

    /// Runs a query and returns its rows as a stream that reads each row from the server
    /// when it is polled, so memory stays flat however many rows there are.
    ///
    /// The default returns a stream whose only item is
    /// [`Error::Unsupported`](crate::Error::Unsupported), for backends written before this
    /// method existed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream between rows leaves the connection usable: the driver discards
    /// the rest of the result before the connection's next statement. Dropping it while a
    /// poll awaits the server leaves the protocol state unknown, so the connection is
    /// discarded and its next statement fails with
    /// [`Error::Connection`](crate::Error::Connection).
    fn fetch_stream<'a>(&'a mut self, sql: Arc<str>, values: Values) -> RowStream<'a> {
        let _ = (sql, values);
        Box::pin(futures_util::stream::once(async {
            Err(crate::Error::Unsupported {
                backend: "this custom backend",
                feature: "streaming rows; implement BackendConnection::fetch_stream",
            })
        }))
    }

    /// Marks this connection so that the pool closes it instead of reusing it, for example
    /// after a stream over it was dropped with rows left unread. The default does nothing.
    fn discard(&mut self) {}

    /// Begins a transaction, or a savepoint inside one.
    async fn begin(&mut self) -> Result<()>;

    /// Begins a transaction with a custom statement, such as SQLite's `BEGIN IMMEDIATE`.
    ///
    /// # Errors
    ///
    /// The database's error, or an error when a transaction is already open.
    async fn begin_with(&mut self, statement: &'static str) -> Result<()>;

    /// Begins a transaction with an isolation level and access mode. The options last for
    /// this transaction only, so a later one on the same connection starts with the
    /// defaults.
    ///
    /// # Errors
    ///
    /// The database's error, an error when a transaction is already open, and, in this
    /// default implementation, [`Error::Unsupported`](crate::Error::Unsupported) for any options but the defaults.
    async fn begin_with_options(&mut self, options: &TransactionOptions) -> Result<()> {
        if *options == TransactionOptions::default() {
            return self.begin().await;
        }
        Err(crate::error::Error::Unsupported {
            backend: "this backend",
            feature: "transaction isolation levels and read-only transactions",
        })
    }

    /// Commits the innermost transaction level.
    async fn commit(&mut self) -> Result<()>;

    /// Rolls back the innermost transaction level.
    async fn rollback(&mut self) -> Result<()>;

    /// Queues a rollback of the innermost level without waiting, for use in `Drop`. The
    /// rollback is sent before the connection's next statement, or when the pool resets it.
    fn start_rollback(&mut self);

    /// Sends anything queued, such as a rollback from
    /// [`start_rollback`](Self::start_rollback), with a round trip to the server.
    async fn flush(&mut self) -> Result<()>;

    /// Returns how many transaction levels are open: 0 outside a transaction.
    fn transaction_depth(&self) -> usize;
}
