//! Sessions that read their own writes.

use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::lag::{Lsn, POSTGRES_WRITTEN};
use crate::backend::{Backend, ExecResult, RowSink, RowStream, Statement};
use crate::database::Database;
use crate::error::{Error, Result};
use crate::executor::{Executor, Owned};
use crate::row_stream::{OnEarlyDrop, run_fetch_stream};
use crate::transaction::Transaction;

/// A handle whose reads see its own earlier writes (read-your-writes consistency).
///
/// Created by [`Database::session`]. It runs statements like its [`Database`]: writes on
/// the primary, reads on a replica. After each write it records the primary's WAL
/// position (`pg_current_wal_insert_lsn()`). From then on a read goes to a replica only
/// once that replica's `pg_last_wal_replay_lsn()` has reached the position, and otherwise
/// runs on the primary. Reads before the first write go to any usable replica.
///
/// The cost, on PostgreSQL: one extra round trip to the primary after each write, and one
/// to the replica for a read while the replay position last recorded for that replica is
/// behind the session's writes. Replay positions are stored per replica and shared by all
/// sessions of the database, so reads after the replica caught up cost nothing more.
///
/// On MySQL and MariaDB, and when the WAL position cannot be read, a session that has
/// written reads from the primary from then on.
/// NOTE: waiting on MySQL GTIDs (`WAIT_FOR_EXECUTED_GTID_SET`, MariaDB's
/// `MASTER_GTID_WAIT`) would let those reads use replicas too.
///
/// Transactions run on the primary. Use [`transaction`](Self::transaction), which records
/// the position after the commit. A transaction from [`begin`](Executor::begin) ends out of
/// the session's sight, so after it every read of the session goes to the primary.
///
/// ```no_run
/// # async fn demo(db: covet::Database) -> covet::Result<()> {
/// let session = db.session();
/// covet::raw("INSERT INTO carts (id) VALUES ($1)").bind(7_i64).execute(&session).await?;
/// // Runs on a replica that has replayed the insert, or else on the primary.
/// let found = covet::raw("SELECT count(*) FROM carts WHERE id = $1")
///     .bind(7_i64)
///     .fetch_scalar::<i64, _>(&session)
///     .await?;
/// assert_eq!(found, Some(1));
/// # Ok(()) }
/// ```
pub struct Session {
    db: Database,
    written: Mutex<Written>,
}

/// How far the session's writes have gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    /// No write yet: reads may go to any usable replica.
    Nothing,
    /// The primary's WAL position after the latest write.
    At(Lsn),
    /// A write whose position is unknown: reads go to the primary.
    Unknown,
}

impl Written {
    /// Combines two positions, keeping the later one.
    fn merge(self, other: Written) -> Written {
        match (self, other) {
            (Written::Unknown, _) | (_, Written::Unknown) => Written::Unknown,
            (Written::At(left), Written::At(right)) => Written::At(left.max(right)),
            (Written::Nothing, other) | (other, Written::Nothing) => other,
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("db", &self.db)
            .field("written", &self.written())
            .finish()
    }
}

impl Session {
    pub(crate) fn new(db: Database) -> Self {
        Self {
            db,
            written: Mutex::new(Written::Nothing),
        }
    }

    fn written(&self) -> Written {
        *self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `body` in a transaction on the primary, like [`Database::transaction`], and
    /// then records the primary's position, so that the session's reads see what the
    /// transaction committed.
    ///
    /// # Errors
    ///
    /// The closure's error, after rolling back, or the error of `BEGIN` or `COMMIT`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls the transaction back, or, if it already committed, leaves
    /// the session without its position, so its reads may miss the commit.
    pub async fn transaction<T, E, F, Fut>(&self, body: F) -> Result<T, E>
    where
        F: FnOnce(Transaction) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let result = self.db.transaction(body).await;
        self.record_write().await;
        result
    }

    /// Records the primary's position after a write. A failed statement is recorded too,
    /// because a connection lost during a commit leaves it unknown whether it committed.
    async fn record_write(&self) {
        if self.db.replicas.is_none() {
            return;
        }
        let position = match self.db.backend.system_name() {
            "postgresql" => self.read_primary_position().await,
            _ => Written::Unknown,
        };
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        *written = written.merge(position);
    }

    async fn read_primary_position(&self) -> Written {
        let primary = self.db.primary();
        let text = crate::raw::raw(POSTGRES_WRITTEN)
            .fetch_scalar::<String, _>(&primary)
            .await;
        match text {
            Ok(Some(text)) => match Lsn::parse(&text) {
                Some(lsn) => Written::At(lsn),
                None => {
                    tracing::warn!(
                        target: "covet::replica",
                        position = %text,
                        "the primary returned an invalid WAL position; this session reads \
                         from the primary from now on"
                    );
                    Written::Unknown
                }
            },
            Ok(None) => Written::Unknown,
            Err(error) => {
                tracing::warn!(
                    target: "covet::replica",
                    %error,
                    "reading the primary's WAL position failed; this session reads from the \
                     primary from now on"
                );
                Written::Unknown
            }
        }
    }
}

#[async_trait]
impl Executor for Session {
    fn backend(&self) -> &dyn Backend {
        self.db.backend.as_ref()
    }

    async fn execute(&self, statement: Statement) -> Result<ExecResult> {
        let result = self.db.execute(statement).await;
        self.record_write().await;
        result
    }

    async fn execute_unprepared(&self, statement: Statement) -> Result<ExecResult> {
        let result = self.db.execute_unprepared(statement).await;
        self.record_write().await;
        result
    }

    async fn fetch(&self, statement: Statement, sink: &mut RowSink<'_>) -> Result<u64> {
        let Some(replicas) = self.db.replica_route(&statement) else {
            // A statement that returns rows but is no SELECT, such as INSERT ... RETURNING,
            // may write.
            let result = self.db.fetch(statement, sink).await;
            self.record_write().await;
            return result;
        };
        let primary = self.db.backend.as_ref();
        match self.written() {
            Written::Nothing => {
                replicas
                    .fetch(primary, &self.db.observer, statement, sink)
                    .await
            }
            Written::At(lsn) => {
                replicas
                    .fetch_after(primary, &self.db.observer, lsn, statement, sink)
                    .await
            }
            Written::Unknown => self.db.primary().fetch(statement, sink).await,
        }
    }

    fn fetch_stream(&self, statement: Statement) -> RowStream<'_> {
        // Before any write, a stream may read from a replica. After one, it reads from the
        // primary: a stream cannot wait for a replica to catch up row by row.
        if matches!(self.written(), Written::Nothing) {
            return self.db.fetch_stream(statement);
        }
        let backend = self.db.backend.as_ref();
        run_fetch_stream(
            backend,
            &self.db.observer,
            statement,
            OnEarlyDrop::Discard,
            None,
            async move { Ok(Owned(backend.acquire().await?)) },
        )
    }

    async fn begin(&self) -> Result<Transaction> {
        if self.db.replicas.is_some() {
            let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
            *written = Written::Unknown;
        }
        self.db.begin().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_later_position() {
        let early = Written::At(Lsn::parse("0/10").expect("valid"));
        let late = Written::At(Lsn::parse("0/20").expect("valid"));
        assert_eq!(early.merge(late), late);
        assert_eq!(late.merge(early), late);
        assert_eq!(Written::Nothing.merge(early), early);
    }

    #[test]
    fn merge_keeps_unknown() {
        let at = Written::At(Lsn::parse("0/10").expect("valid"));
        assert_eq!(at.merge(Written::Unknown), Written::Unknown);
        assert_eq!(Written::Unknown.merge(Written::Nothing), Written::Unknown);
    }
}
