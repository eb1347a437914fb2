//! A dedicated connection outside the pool.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::backend::{Backend, ExecResult, RowSink, RowStream, Statement};
use crate::error::Result;
use crate::executor::{Executor, run_execute, run_fetch};
use crate::row_stream::{OnEarlyDrop, run_fetch_stream};
use crate::stats::Observer;
use crate::transaction::{Shared, Transaction};

/// One connection opened outside the pool with
/// [`Database::dedicated_connection`](crate::Database::dedicated_connection), for work that
/// needs one session throughout, such as holding a lock. It closes when dropped, together
/// with every session-level lock it holds.
///
/// Statements run in autocommit mode; [`begin`](Self::begin) starts a transaction on it.
pub struct Connection {
    shared: Arc<Shared>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("backend", &self.shared.backend.system_name())
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub(crate) async fn open(backend: Arc<dyn Backend>, observer: Arc<Observer>) -> Result<Self> {
        let conn = backend.connect_dedicated().await?;
        Ok(Self {
            shared: Arc::new(Shared::new(backend, conn, observer)),
        })
    }

    /// Begins a transaction with `statement` in place of `BEGIN`, such as SQLite's
    /// `BEGIN IMMEDIATE`, which takes the write lock at once.
    ///
    /// # Errors
    ///
    /// The database's error, and an error when a transaction is already open.
    pub async fn begin_with(&self, statement: &'static str) -> Result<Transaction> {
        Transaction::begin_on_shared(Arc::clone(&self.shared), Some(statement)).await
    }
}

#[async_trait]
impl Executor for Connection {
    fn backend(&self) -> &dyn Backend {
        self.shared.backend.as_ref()
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        run_execute(
            self.shared.backend.as_ref(),
            &self.shared.observer,
            statement,
            true,
            async { self.shared.lock().await },
        )
        .await
    }

    async fn execute_unprepared(&self, statement: Statement) -> Result<ExecResult> {
        run_execute(
            self.shared.backend.as_ref(),
            &self.shared.observer,
            statement,
            false,
            async { self.shared.lock().await },
        )
        .await
    }

    async fn fetch(&self, statement: Statement, sink: &mut RowSink<'_>) -> Result<u64> {
        run_fetch(
            self.shared.backend.as_ref(),
            &self.shared.observer,
            statement,
            sink,
            async { self.shared.lock().await },
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
            self.shared.lock(),
        )
    }

    async fn begin(&self) -> Result<Transaction> {
        Transaction::begin_on_shared(Arc::clone(&self.shared), None).await
    }
}
