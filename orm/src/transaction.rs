//! Transactions and savepoints.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard};

use crate::backend::{Backend, BackendConnection, ExecResult, RowSink, RowStream, Statement};
use crate::error::{Error, Result};
use crate::executor::{Executor, run_execute, run_fetch};
use crate::row_stream::{OnEarlyDrop, run_fetch_stream};
use crate::stats::Observer;
use crate::trace::{traced_control, traced_control_text};
use crate::transaction_options::TransactionOptions;

/// A transaction on one pooled connection, or a savepoint inside one.
///
/// End it with [`commit`](Self::commit) or [`rollback`](Self::rollback). A transaction
/// dropped without either is rolled back: the rollback is queued without blocking and sent
/// before the connection runs anything else. [`begin`](Self::begin) on a transaction opens a
/// savepoint, so an inner failure can be rolled back while the outer transaction goes on.
pub struct Transaction {
    shared: Arc<Shared>,
    /// The nesting level this handle ends: 1 for the transaction, 2 for its first
    /// savepoint, and so on.
    depth: usize,
    /// Whether dropping this handle rolls back its level. Handles passed to closures do not.
    owner: bool,
}

/// One connection and its backend, shared by a [`Connection`](crate::Connection) and the
/// transactions begun on it.
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) conn: Mutex<Box<dyn BackendConnection>>,
    /// The statement counters of the database the connection came from.
    pub(crate) observer: Arc<Observer>,
    /// Set while a row stream keeps `conn` locked. Statements fail rather than wait for it,
    /// since a task that runs one while its own stream is open would wait forever.
    pub(crate) streaming: AtomicBool,
}

impl Shared {
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        conn: Box<dyn BackendConnection>,
        observer: Arc<Observer>,
    ) -> Self {
        Self {
            backend,
            conn: Mutex::new(conn),
            observer,
            streaming: AtomicBool::new(false),
        }
    }

    /// Locks the connection for a statement.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] while a row stream over the connection is open.
    pub(crate) async fn lock(&self) -> Result<MutexGuard<'_, Box<dyn BackendConnection>>> {
        if self.streaming.load(Ordering::Acquire) {
            return Err(Error::InvalidInput(String::from(
                "a row stream over this connection is still open and keeps it locked; read \
                 the stream to its end or drop it before running another statement here",
            )));
        }
        Ok(self.conn.lock().await)
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("backend", &self.shared.backend.system_name())
            .field("depth", &self.depth)
            .finish()
    }
}

impl Transaction {
    /// Begins a transaction on a pooled connection, with `options` when they are given.
    pub(crate) async fn begin_on(
        backend: Arc<dyn Backend>,
        observer: Arc<Observer>,
        options: Option<TransactionOptions>,
    ) -> Result<Self> {
        let conn = backend.acquire().await?;
        let shared = Arc::new(Shared::new(backend, conn, observer));
        let Some(options) = options else {
            return Self::begin_on_shared(shared, None).await;
        };
        let depth = {
            let mut conn = shared.conn.lock().await;
            let backend = shared.backend.as_ref();
            let begin = conn.begin_with_options(&options);
            traced_control_text(
                backend,
                &shared.observer,
                "BEGIN",
                options.begin_text(),
                begin,
            )
            .await?;
            conn.transaction_depth()
        };
        Ok(Self {
            shared,
            depth,
            owner: true,
        })
    }

    /// Begins a transaction on a shared connection, with `BEGIN` or a custom statement.
    pub(crate) async fn begin_on_shared(
        shared: Arc<Shared>,
        statement: Option<&'static str>,
    ) -> Result<Self> {
        let depth = {
            let mut conn = shared.lock().await?;
            let backend = shared.backend.as_ref();
            let observer = shared.observer.as_ref();
            match statement {
                Some(statement) => {
                    let begin = conn.begin_with(statement);
                    traced_control(backend, observer, statement, begin).await?
                }
                None => traced_control(backend, observer, "BEGIN", conn.begin()).await?,
            }
            conn.transaction_depth()
        };
        Ok(Self {
            shared,
            depth,
            owner: true,
        })
    }

    /// Opens a savepoint inside this transaction.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when this level has already ended, and the database's error
    /// for `SAVEPOINT`.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the savepoint was created, the enclosing level's
    /// commit releases it and its rollback discards it.
    pub async fn begin(&self) -> Result<Transaction> {
        let mut conn = self.shared.lock().await?;
        self.check_open(conn.as_ref())?;
        let observer = self.shared.observer.as_ref();
        traced_control(self.backend(), observer, "SAVEPOINT", conn.begin()).await?;
        Ok(Self {
            shared: Arc::clone(&self.shared),
            depth: conn.transaction_depth(),
            owner: true,
        })
    }

    /// Commits this level: the transaction, or for a savepoint, releases it into the
    /// enclosing level.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when a savepoint opened inside this level is still open, and
    /// the database's error for `COMMIT`, after which the transaction is rolled back.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, the commit may or may not have happened.
    pub async fn commit(mut self) -> Result<()> {
        // Locking fails while a stream is open, and this level then stays owned, so that
        // dropping it still rolls it back.
        let mut conn = self.shared.lock().await?;
        self.owner = false;
        self.check_open(conn.as_ref())?;
        let sql = if self.depth > 1 {
            "RELEASE SAVEPOINT"
        } else {
            "COMMIT"
        };
        let observer = self.shared.observer.as_ref();
        traced_control(self.backend(), observer, sql, conn.commit()).await
    }

    /// Rolls back this level: the whole transaction, or everything since the savepoint.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when a savepoint opened inside this level is still open, and
    /// the database's error for `ROLLBACK`.
    pub async fn rollback(mut self) -> Result<()> {
        // Locking fails while a stream is open, and this level then stays owned, so that
        // dropping it still rolls it back.
        let mut conn = self.shared.lock().await?;
        self.owner = false;
        self.check_open(conn.as_ref())?;
        let sql = if self.depth > 1 {
            "ROLLBACK TO SAVEPOINT"
        } else {
            "ROLLBACK"
        };
        let observer = self.shared.observer.as_ref();
        traced_control(self.backend(), observer, sql, conn.rollback()).await
    }

    /// Runs `body` in a savepoint that is released when it returns `Ok` and rolled back
    /// when it returns `Err`.
    ///
    /// # Errors
    ///
    /// The closure's error, after rolling back to the savepoint, or the error of
    /// `SAVEPOINT` or `RELEASE`.
    pub async fn transaction<T, E, F, Fut>(&self, body: F) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let savepoint = self.begin().await?;
        savepoint.run(body).await
    }

    /// Runs `body` with a non-owning handle, then commits or rolls back this level.
    pub(crate) async fn run<T, E, F, Fut>(self, body: F) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.run_reporting(body).await.0
    }

    /// Like [`run`](Self::run), also returning whether the body ended the level itself
    /// (committed or rolled back), so that a retry can tell an attempt whose writes may be
    /// committed from one that was rolled back.
    pub(crate) async fn run_reporting<T, E, F, Fut>(self, body: F) -> (Result<T, E>, bool)
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let handle = Transaction {
            shared: Arc::clone(&self.shared),
            depth: self.depth,
            owner: false,
        };
        let outcome = body(handle).await;
        // A body that committed or rolled back the level itself has ended it. That is its
        // choice, and committing or rolling back again would only fail.
        let ended = self.shared.conn.lock().await.transaction_depth() < self.depth;
        if ended {
            let mut this = self;
            this.owner = false;
            return (outcome, true);
        }
        match outcome {
            Ok(value) => match self.commit().await {
                Ok(()) => (Ok(value), false),
                Err(error) => (Err(E::from(error)), false),
            },
            Err(error) => {
                if let Err(rollback_error) = self.rollback().await {
                    tracing::warn!(
                        target: "covet::query",
                        error = %rollback_error,
                        "rollback after a failed transaction body also failed"
                    );
                }
                (Err(error), false)
            }
        }
    }

    /// Returns the nesting level: 1 for a transaction, 2 or more for savepoints.
    pub fn depth(&self) -> usize {
        self.depth
    }

    fn check_open(&self, conn: &dyn BackendConnection) -> Result<()> {
        let current = conn.transaction_depth();
        if current == self.depth {
            return Ok(());
        }
        let reason = if current > self.depth {
            "a savepoint opened inside it is still open; commit or roll back the savepoint first"
        } else {
            "it has already been committed or rolled back"
        };
        Err(Error::InvalidInput(format!(
            "transaction level {} cannot be used: {reason}",
            self.depth
        )))
    }

    async fn locked_conn(&self) -> Result<MutexGuard<'_, Box<dyn BackendConnection>>> {
        let conn = self.shared.lock().await?;
        // Statements may run at this level or inside a savepoint opened by another handle.
        if conn.transaction_depth() < self.depth {
            return Err(Error::InvalidInput(format!(
                "transaction level {} has already been committed or rolled back",
                self.depth
            )));
        }
        Ok(conn)
    }
}

impl Transaction {
    /// Sends a queued rollback of the whole transaction at once when a runtime is there to
    /// do it. Otherwise it goes out before the connection's next statement, and until then
    /// the transaction's locks stay held, but no operation here needs a runtime.
    fn send_rollback_now(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        runtime.spawn(async move {
            let mut conn = shared.conn.lock().await;
            if let Err(error) = conn.flush().await {
                tracing::warn!(
                    target: "covet::query",
                    %error,
                    "sending the rollback of a dropped transaction failed"
                );
            }
        });
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        match self.shared.conn.try_lock() {
            Ok(mut conn) => {
                // Count first: SQLite lowers its depth only when its worker thread has run
                // the queued rollback, so re-reading the depth in a loop would over-count.
                let open_levels = (conn.transaction_depth() + 1).saturating_sub(self.depth);
                for _ in 0..open_levels {
                    conn.start_rollback();
                }
                drop(conn);
                if open_levels > 0 && self.depth == 1 {
                    self.send_rollback_now();
                }
            }
            Err(_) => {
                // NOTE: another handle is mid-statement on this connection, so the rollback
                // cannot be queued now. The pool rolls back every open level when the
                // connection is returned.
                tracing::warn!(
                    target: "covet::query",
                    depth = self.depth,
                    "transaction dropped while its connection was busy; it rolls back when \
                     the connection returns to the pool"
                );
            }
        }
    }
}

#[async_trait]
impl Executor for Transaction {
    fn backend(&self) -> &dyn Backend {
        self.shared.backend.as_ref()
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        run_execute(
            self.shared.backend.as_ref(),
            &self.shared.observer,
            statement,
            true,
            self.locked_conn(),
        )
        .await
    }

    async fn execute_unprepared(&self, statement: Statement) -> Result<ExecResult> {
        run_execute(
            self.shared.backend.as_ref(),
            &self.shared.observer,
            statement,
            false,
            self.locked_conn(),
        )
        .await
    }

    async fn fetch(&self, statement: Statement, sink: &mut RowSink<'_>) -> Result<u64> {
        run_fetch(
            self.shared.backend.as_ref(),
            &self.shared.observer,
            statement,
            sink,
            self.locked_conn(),
        )
        .await
    }

    fn fetch_stream(&self, statement: Statement) -> RowStream<'_> {
        run_fetch_stream(
            self.shared.backend.as_ref(),
            &self.shared.observer,
            statement,
            OnEarlyDrop::Keep,
            Some(&self.shared.streaming),
            self.locked_conn(),
        )
    }

    async fn begin(&self) -> Result<Transaction> {
        Transaction::begin(self).await
    }
}
