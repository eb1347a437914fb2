//! Isolation level and access mode of a transaction.

/// A transaction isolation level, from the weakest to the strongest, as the SQL standard
/// names them.
///
/// PostgreSQL and MySQL/MariaDB run the transaction at the requested level, except that
/// PostgreSQL runs `ReadUncommitted` as `ReadCommitted`, a stronger level. SQLite runs every transaction serializably: it has no
/// weaker level, so each of these levels gets serializable isolation, which prevents every
/// anomaly the weaker levels allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// A transaction may read rows other transactions have not committed yet.
    ReadUncommitted,
    /// Each statement reads rows committed before it started.
    ReadCommitted,
    /// Rows read once read the same for the rest of the transaction.
    RepeatableRead,
    /// The outcome is that of some serial order of the committed transactions. Conflicting
    /// transactions fail with [`ErrorKind::SerializationFailure`](crate::ErrorKind) or
    /// [`ErrorKind::Deadlock`](crate::ErrorKind) and may be retried.
    Serializable,
}

impl IsolationLevel {
    /// Returns the level as SQL spells it, such as `REPEATABLE READ`.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// Options for [`Database::begin_with`](crate::Database::begin_with): the isolation level
/// and whether the transaction may write.
///
/// The default is the server's default level (READ COMMITTED on PostgreSQL, REPEATABLE READ
/// on MySQL and MariaDB, serializable on SQLite) and read-write access, the same as
/// [`Database::begin`](crate::Database::begin).
///
/// What each backend sends:
///
/// | backend | statements |
/// |---|---|
/// | PostgreSQL | `BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY` |
/// | MySQL, MariaDB | `SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`, then `START TRANSACTION READ ONLY` |
/// | SQLite | `PRAGMA query_only = ON`, then `BEGIN`, and `PRAGMA query_only = OFF` when it ends |
///
/// A write in a read-only transaction fails with
/// [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly). The options apply to one
/// transaction only: the next transaction on the same pooled connection starts with the
/// defaults again, also when this one was dropped or failed to begin.
///
/// ```
/// use covet::{IsolationLevel, TransactionOptions};
///
/// let options = TransactionOptions::new()
///     .isolation(IsolationLevel::Serializable)
///     .read_only(true);
/// assert_eq!(options.get_isolation(), Some(IsolationLevel::Serializable));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TransactionOptions {
    isolation: Option<IsolationLevel>,
    read_only: bool,
}

impl TransactionOptions {
    /// Creates the default options: the server's isolation level, read-write.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the isolation level.
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// Sets whether the transaction is read-only, so that every write in it fails.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Returns the isolation level, or `None` for the server's default.
    pub fn get_isolation(&self) -> Option<IsolationLevel> {
        self.isolation
    }

    /// Returns whether the transaction is read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Returns the statement text that tracing reports for the `BEGIN` of these options,
    /// in PostgreSQL's spelling whatever the backend.
    pub(crate) fn begin_text(&self) -> String {
        let mut text = String::from("BEGIN");
        if let Some(level) = self.isolation {
            text.push_str(" ISOLATION LEVEL ");
            text.push_str(level.as_sql());
        }
        if self.read_only {
            text.push_str(" READ ONLY");
        }
        text
    }
}

/// The statements a backend sends to begin a transaction with [`TransactionOptions`].
#[derive(Debug)]
pub(crate) struct BeginPlan {
    /// Sent before `begin`, such as MySQL's `SET TRANSACTION ISOLATION LEVEL ...`.
    pub(crate) prepare: Option<String>,
    /// The statement that opens the transaction.
    pub(crate) begin: String,
    /// Sent once the transaction has ended, to undo a session setting that `prepare` made.
    pub(crate) reset: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use sea_query::Values;

    use super::*;
    use crate::backend::{BackendConnection, ExecResult, RowSink};
    use crate::error::{ErrorKind, Result};

    /// A connection of a backend written outside covet, which keeps the trait's default
    /// `begin_with_options`. It counts the transactions begun on it.
    struct PlainConnection {
        depth: usize,
    }

    #[async_trait]
    impl BackendConnection for PlainConnection {
        async fn execute(&mut self, _sql: Arc<str>, _values: Values) -> Result<ExecResult> {
            Ok(ExecResult::default())
        }

        async fn execute_unprepared(&mut self, _sql: Arc<str>) -> Result<ExecResult> {
            Ok(ExecResult::default())
        }

        async fn fetch(
            &mut self,
            _sql: Arc<str>,
            _values: Values,
            _sink: &mut RowSink<'_>,
        ) -> Result<u64> {
            Ok(0)
        }

        async fn begin(&mut self) -> Result<()> {
            self.depth += 1;
            Ok(())
        }

        async fn begin_with(&mut self, _statement: &'static str) -> Result<()> {
            self.depth += 1;
            Ok(())
        }

        async fn commit(&mut self) -> Result<()> {
            self.depth -= 1;
            Ok(())
        }

        async fn rollback(&mut self) -> Result<()> {
            self.depth -= 1;
            Ok(())
        }

        fn start_rollback(&mut self) {
            self.depth -= 1;
        }

        async fn flush(&mut self) -> Result<()> {
            Ok(())
        }

        fn transaction_depth(&self) -> usize {
            self.depth
        }
    }

    #[tokio::test]
    async fn default_begin_with_options_rejects_options() {
        let mut conn = PlainConnection { depth: 0 };
        conn.begin_with_options(&TransactionOptions::new())
            .await
            .expect("default options begin a plain transaction");
        assert_eq!(conn.transaction_depth(), 1);

        let read_only = TransactionOptions::new().read_only(true);
        let error = conn.begin_with_options(&read_only).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        assert!(error.to_string().contains("read-only"), "{error}");
        assert_eq!(conn.transaction_depth(), 1, "nothing more was begun");
    }

    #[test]
    fn begin_text_lists_options() {
        let options = TransactionOptions::new()
            .isolation(IsolationLevel::RepeatableRead)
            .read_only(true);
        assert_eq!(
            options.begin_text(),
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        );
        assert_eq!(TransactionOptions::new().begin_text(), "BEGIN");
    }
}
