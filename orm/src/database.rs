//! The [`Database`] handle that application code passes around.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use covet_pool::{PoolConfig, PoolError, PoolStatus};
use sqlx::error::DatabaseError as SqlxDatabaseError;

use crate::backend::support::Classified;
use crate::backend::{Backend, ExecResult, RowSink, RowStream, Statement};
use crate::connection::Connection;
use crate::error::{Error, Result, redact_url};
use crate::executor::{Executor, Owned, run_execute, run_fetch};
use crate::replica::{ReplicaConfig, ReplicaSet};
use crate::retry::{RetryPolicy, RetryableError, run_with_retry};
use crate::row_stream::{OnEarlyDrop, run_fetch_stream};
use crate::stats::{Observer, QueryStats, SlowQueryThreshold};
use crate::transaction::Transaction;
use crate::transaction_options::TransactionOptions;

/// A database: one backend and its connection pool, opened from a URL.
///
/// Cloning is cheap and shares the pool. The URL's scheme picks the backend:
///
/// | URL | backend |
/// |---|---|
/// | `sqlite::memory:`, `sqlite:app.db`, `sqlite:///abs/app.db` | SQLite (a missing file is created) |
/// | `postgres://user@host/db`, `postgresql://...` | PostgreSQL |
/// | `mysql://user@host/db`, `mariadb://...` | MySQL or MariaDB |
///
/// Opened with [`ConnectOptions::replica`], it also sends reads to read replicas. The
/// [`replica`](crate::replica) module describes the routing rules.
#[derive(Clone)]
pub struct Database {
    pub(crate) backend: Arc<dyn Backend>,
    /// The read replicas, `None` without replicas and for [`primary`](Self::primary).
    pub(crate) replicas: Option<Arc<ReplicaSet>>,
    /// Statement counters, shared with the transactions and connections begun from it.
    pub(crate) observer: Arc<Observer>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("replicas", &self.replicas)
            .finish()
    }
}

/// Pool settings for [`Database::connect_with`].
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    pool: PoolConfig,
    after_connect: Vec<String>,
    slow_query_threshold: SlowQueryThreshold,
    pub(crate) replicas: ReplicaConfig,
}

impl ConnectOptions {
    /// Creates the default options, those of [`PoolConfig::default`]: 10 connections, 30 s
    /// acquire timeout, 10 s connect timeout, and the lifecycle defaults listed there.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the maximum number of pooled connections. A value of 0 is raised to 1.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.pool = self.pool.max_size(max);
        self
    }

    /// Sets how long a statement waits for a free connection before failing with
    /// [`Error::PoolTimeout`].
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.pool = self.pool.acquire_timeout(timeout);
        self
    }

    /// Sets how long opening one connection may take, retries after transient failures
    /// included.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.pool = self.pool.connect_timeout(timeout);
        self
    }

    /// Sets how many connections stay open while unused, at most `max_connections`.
    pub fn min_idle(mut self, connections: usize) -> Self {
        self.pool = self.pool.min_idle(connections);
        self
    }

    /// Sets the age at which a connection is closed instead of reused, or `None`.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.pool = self.pool.max_lifetime(lifetime);
        self
    }

    /// Sets how long a connection above `min_idle` may stay unused before it is closed.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool = self.pool.idle_timeout(timeout);
        self
    }

    /// Sets how long a connection may sit unused before it is checked on checkout.
    pub fn health_check_after(mut self, idle: Duration) -> Self {
        self.pool = self.pool.health_check_after(idle);
        self
    }

    /// Sets how long a caller may hold a connection before a warning names where it was
    /// acquired.
    pub fn leak_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.pool = self.pool.leak_threshold(threshold);
        self
    }

    /// Adds SQL that runs on every new connection before it joins the pool, for settings
    /// that hold per connection: SQLite pragmas such as `PRAGMA busy_timeout = 10000`, or
    /// PostgreSQL `SET statement_timeout = '5s'`. It runs unprepared, without bind values;
    /// a failure fails the connect.
    pub fn after_connect(mut self, sql: impl Into<String>) -> Self {
        self.after_connect.push(sql.into());
        self
    }

    /// Sets the duration from which a statement is logged as slow, at WARN level with the
    /// target `covet::slow_query`, or `None` to turn the log off. The default is 1 s, and
    /// `Duration::ZERO` logs every statement.
    ///
    /// The event carries the SQL text with placeholders (never the bound values), the
    /// duration in `duration_ms`, the table in `db.collection.name` and the operation in
    /// `db.operation.name`. The duration includes any wait for a pooled connection. A row
    /// stream's duration runs until its last row is read, so it also counts the time the
    /// caller spends between rows.
    pub fn slow_query_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow_query_threshold = SlowQueryThreshold(threshold);
        self
    }

    /// Returns the pool settings.
    pub fn pool_config(&self) -> &PoolConfig {
        &self.pool
    }

    /// Adds the `after_connect` statements to a connector.
    pub(crate) fn apply_after_connect<O: sqlx::ConnectOptions>(
        &self,
        connector: covet_pool::sqlx_connector::SqlxConnector<O>,
    ) -> covet_pool::sqlx_connector::SqlxConnector<O> {
        self.after_connect.iter().fold(connector, |connector, sql| {
            connector.after_connect(sql.clone())
        })
    }

    /// Replaces every pool setting at once; see [`PoolConfig`] for each one and its default.
    pub fn pool(mut self, config: PoolConfig) -> Self {
        self.pool = config;
        self
    }
}

impl Database {
    /// Opens a database from a URL with default pool settings, and checks that a connection
    /// can be made.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for an unknown scheme or a malformed URL, and
    /// [`Error::Connection`] when the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// Opens a database from a URL with the given pool and replica settings.
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect). With replicas, also [`Error::Unsupported`] on
    /// SQLite, [`Error::InvalidInput`] for a replica of another backend or a zero check
    /// interval, and [`Error::InvalidUrl`] for a malformed replica URL. An unreachable
    /// replica is no error: reads skip it until a check reaches it.
    pub async fn connect_with(url: &str, options: ConnectOptions) -> Result<Self> {
        if options.pool.get_connect_timeout().is_zero() {
            return Err(Error::InvalidInput(String::from(
                "connect_timeout is zero, so no connection could ever open; give it a few \
                 seconds (the default is 10 s)",
            )));
        }
        let backend = open_backend(url, &options).await?;
        let replicas = match ReplicaSet::open(backend.as_ref(), &options).await {
            Ok(replicas) => replicas,
            Err(error) => {
                backend.close();
                return Err(error);
            }
        };
        let observer = Arc::new(Observer::new(options.slow_query_threshold));
        Ok(Self {
            backend,
            replicas,
            observer,
        })
    }

    /// Wraps a backend built by other code, such as a custom [`Backend`] implementation.
    /// Statements slower than the default 1 s are logged as slow.
    pub fn from_backend(backend: impl Backend) -> Self {
        Self {
            backend: Arc::new(backend),
            observer: Arc::default(),
            replicas: None,
        }
    }

    /// Begins a transaction on a connection held until it ends.
    ///
    /// # Errors
    ///
    /// Pool and connection errors, and the database's error for `BEGIN`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes returns the connection to the pool, which
    /// rolls back a transaction that was begun.
    pub async fn begin(&self) -> Result<Transaction> {
        let observer = Arc::clone(&self.observer);
        Transaction::begin_on(Arc::clone(&self.backend), observer, None).await
    }

    /// Begins a transaction with an isolation level or as read-only; see
    /// [`TransactionOptions`] for the statements each backend sends.
    ///
    /// # Errors
    ///
    /// As for [`begin`](Self::begin), and [`Error::Unsupported`] from a custom backend
    /// that cannot apply the options.
    ///
    /// # Cancel safety
    ///
    /// As for [`begin`](Self::begin). A connection whose options may have been half
    /// applied when the future was dropped is closed instead of returned to the pool.
    pub async fn begin_with(&self, options: TransactionOptions) -> Result<Transaction> {
        let observer = Arc::clone(&self.observer);
        Transaction::begin_on(Arc::clone(&self.backend), observer, Some(options)).await
    }

    /// Runs `body` in a transaction begun with `options`, like
    /// [`transaction`](Self::transaction).
    ///
    /// # Errors
    ///
    /// As for [`transaction`](Self::transaction) and [`begin_with`](Self::begin_with).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls the transaction back.
    pub async fn transaction_with<T, E, F, Fut>(
        &self,
        options: TransactionOptions,
        body: F,
    ) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let tx = self.begin_with(options).await?;
        tx.run(body).await
    }

    /// Runs `body` in a transaction begun with `options`, and runs it again in a new
    /// transaction when an attempt fails with a retryable error. Retryable are a
    /// serialization failure (SQLSTATE 40001), a deadlock (40P01, MySQL 1213), a lock wait
    /// timeout (MySQL 1205) and SQLite's busy or locked, whether `BEGIN`, a statement in
    /// `body` or `COMMIT` returned them. Each attempt's transaction is rolled back before the pause that
    /// [`RetryPolicy`] sets, and each retry is logged at INFO level with the target
    /// `covet::transaction`.
    ///
    /// `body` is called once per attempt, so it must not keep effects outside the
    /// database from a failed attempt.
    ///
    /// ```no_run
    /// # async fn demo(db: covet::Database) -> covet::Result<()> {
    /// use covet::{IsolationLevel, RetryPolicy, TransactionOptions};
    ///
    /// let serializable = TransactionOptions::new().isolation(IsolationLevel::Serializable);
    /// let total = db
    ///     .transaction_with_retry(&RetryPolicy::new(), serializable, |tx| async move {
    ///         covet::raw("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
    ///             .execute(&tx)
    ///             .await?;
    ///         covet::raw("SELECT SUM(balance) FROM accounts")
    ///             .fetch_scalar::<i64, _>(&tx)
    ///             .await
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the policy is invalid (see [`RetryPolicy::validate`]),
    /// a non-retryable error at once, and the last error when every attempt failed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls back the attempt in progress. Earlier attempts were
    /// rolled back already.
    pub async fn transaction_with_retry<T, E, F, Fut>(
        &self,
        policy: &RetryPolicy,
        options: TransactionOptions,
        body: F,
    ) -> Result<T, E>
    where
        F: FnMut(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: RetryableError,
    {
        run_with_retry(self, policy, options, body).await
    }

    /// Runs `body` in a transaction that commits when it returns `Ok` and rolls back when
    /// it returns `Err`. The closure receives a handle to the transaction.
    ///
    /// ```no_run
    /// # async fn demo(db: covet::Database) -> covet::Result<()> {
    /// let count = db
    ///     .transaction(|tx| async move {
    ///         covet::raw("DELETE FROM sessions").execute(&tx).await?;
    ///         Ok::<_, covet::Error>(1)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The closure's error, after rolling back, or the error of `BEGIN` or `COMMIT`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls the transaction back.
    pub async fn transaction<T, E, F, Fut>(&self, body: F) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let tx = self.begin().await?;
        tx.run(body).await
    }

    /// Opens a connection outside the pool, owned by the caller until dropped. Use it for
    /// work that needs one session throughout, such as a session-level lock.
    ///
    /// # Errors
    ///
    /// [`Error::Connection`] when the connection cannot be opened.
    pub async fn dedicated_connection(&self) -> Result<Connection> {
        Connection::open(Arc::clone(&self.backend), Arc::clone(&self.observer)).await
    }

    /// Returns the backend.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Returns the pool's counts.
    pub fn pool_status(&self) -> PoolStatus {
        self.backend.pool_status()
    }

    /// Returns the counts and durations of the statements run so far, by table and
    /// operation, through this database and the transactions and connections begun from
    /// it. Clones of this handle share them.
    pub fn query_stats(&self) -> QueryStats {
        self.observer.snapshot()
    }

    /// Sets the counts of [`query_stats`](Self::query_stats) back to zero.
    pub fn reset_query_stats(&self) {
        self.observer.reset();
    }

    /// Returns the pool's totals: connections opened and closed by reason, acquires, waits,
    /// health checks and leaks.
    pub fn pool_metrics(&self) -> covet_pool::PoolMetrics {
        self.backend.pool_metrics()
    }

    /// Closes the pool. Later statements and [`dedicated_connection`](Self::dedicated_connection)
    /// fail with [`Error::PoolClosed`]; a transaction begun before keeps its connection until
    /// it ends. Replicas' pools close too, and their background checks stop.
    pub fn close(&self) {
        self.backend.close();
        if let Some(replicas) = &self.replicas {
            replicas.close();
        }
    }
}

#[async_trait]
impl Executor for Database {
    fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        run_execute(
            self.backend.as_ref(),
            &self.observer,
            statement,
            true,
            async { Ok(Owned(self.backend.acquire().await?)) },
        )
        .await
    }

    async fn execute_unprepared(&self, statement: Statement) -> Result<ExecResult> {
        run_execute(
            self.backend.as_ref(),
            &self.observer,
            statement,
            false,
            async { Ok(Owned(self.backend.acquire().await?)) },
        )
        .await
    }

    async fn fetch(&self, statement: Statement, sink: &mut RowSink<'_>) -> Result<u64> {
        if let Some(replicas) = self.replica_route(&statement) {
            return replicas
                .fetch(self.backend.as_ref(), &self.observer, statement, sink)
                .await;
        }
        run_fetch(
            self.backend.as_ref(),
            &self.observer,
            statement,
            sink,
            async { Ok(Owned(self.backend.acquire().await?)) },
        )
        .await
    }

    fn fetch_stream(&self, statement: Statement) -> RowStream<'_> {
        // A stream reads from one replica: unlike `fetch`, it does not move to another
        // server when the replica fails, since rows may already have been passed on.
        let source = match self.replica_route(&statement) {
            Some(replicas) => replicas.stream_source(),
            None => None,
        };
        let backend = self.backend.as_ref();
        run_fetch_stream(
            backend,
            &self.observer,
            statement,
            OnEarlyDrop::Discard,
            None,
            async move {
                let conn = match source {
                    Some(replica) => replica.acquire().await?,
                    None => backend.acquire().await?,
                };
                Ok(Owned(conn))
            },
        )
    }

    async fn begin(&self) -> Result<Transaction> {
        Database::begin(self).await
    }
}

/// Opens the backend a URL's scheme names, with the given pool settings.
pub(crate) async fn open_backend(url: &str, options: &ConnectOptions) -> Result<Arc<dyn Backend>> {
    let scheme = url.split(':').next().unwrap_or_default();
    let backend: Arc<dyn Backend> = match scheme {
        #[cfg(feature = "sqlite")]
        "sqlite" => Arc::new(crate::backend::sqlite::SqliteBackend::connect(url, options).await?),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            Arc::new(crate::backend::postgres::PostgresBackend::connect(url, options).await?)
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            Arc::new(crate::backend::mysql::MySqlBackend::connect(url, options).await?)
        }
        #[cfg(not(all(feature = "sqlite", feature = "postgres", feature = "mysql")))]
        "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => {
            return Err(Error::InvalidUrl {
                url: redact_url(url),
                reason: format!(
                    "covet was built without the backend for `{scheme}`; enable its \
                     cargo feature (`sqlite`, `postgres` or `mysql`)"
                ),
            });
        }
        _ => {
            return Err(Error::InvalidUrl {
                url: redact_url(url),
                reason: String::from(
                    "unknown scheme; use sqlite:, postgres://, postgresql://, mysql:// \
                     or mariadb://",
                ),
            });
        }
    };
    Ok(backend)
}

/// Maps a pool error to a covet error.
pub(crate) fn map_pool_error(
    backend: &'static str,
    target: &str,
    error: PoolError<sqlx::Error>,
    classify: fn(&dyn SqlxDatabaseError) -> Classified,
) -> Error {
    match error {
        PoolError::AcquireTimeout { waited, status } => Error::PoolTimeout { waited, status },
        PoolError::ConnectTimeout { .. } => Error::Connection {
            backend,
            target: Some(target.to_owned()),
            source: Box::new(error),
        },
        PoolError::Connect(source) => {
            // Any failure while connecting, authentication included, is a connection error.
            let source: Box<dyn std::error::Error + Send + Sync> =
                match crate::backend::support::map_sqlx_error(backend, source, classify) {
                    Error::Database(database) => Box::new(database),
                    Error::Connection { source, .. } => source,
                    other => Box::new(other),
                };
            Error::Connection {
                backend,
                target: Some(target.to_owned()),
                source,
            }
        }
        PoolError::Closed => Error::PoolClosed,
        _ => Error::PoolClosed,
    }
}

/// Rebuilds `error` without the password of `url` when any message in its chain quotes
/// it, as a server may when a malformed URL put the password into the user name.
pub(crate) fn scrub_error(error: Error, url: &str) -> Error {
    let Some(password) = crate::error::url_password(url) else {
        return error;
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let chain = causes.join(": ");
    let quoted = |text: &str| text.contains(password) || text.contains(&percent_decode(password));
    if !quoted(&chain) && !quoted(&error.to_string()) {
        return error;
    }
    let (backend, target) = match &error {
        Error::Connection {
            backend, target, ..
        } => (*backend, target.clone()),
        _ => ("database", None),
    };
    Error::Connection {
        backend,
        target,
        source: scrub(&chain, url).into(),
    }
}

/// Removes the password of `url` from a driver message, in case the driver quoted it, in
/// its percent-encoded and its decoded form.
pub(crate) fn scrub(message: &str, url: &str) -> String {
    let Some(encoded) = crate::error::url_password(url) else {
        return message.to_owned();
    };
    let decoded = percent_decode(encoded);
    message.replace(encoded, "***").replace(&decoded, "***")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%');
        let value = escape
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match value {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_both_password_forms() {
        let url = "postgres://app:p%40ss@localhost/db";
        let scrubbed = scrub("bad password p@ss and p%40ss", url);
        assert_eq!(scrubbed, "bad password *** and ***");
    }
}
