//! A [`Connector`] for sqlx connections of any backend.

use std::fmt;

use sqlx::{ConnectOptions, Connection, Database};
use sqlx_core::transaction::TransactionManager;

use crate::connector::Connector;

/// Connect error codes that retrying cannot fix. PostgreSQL SQLSTATEs: 28000 and 28P01
/// (authentication), 3D000 (unknown database), 42501 (no privilege). MySQL reports SQLSTATE
/// 28000 for access denied and 42000 for an unknown database. SQLite's 14 is "unable to open
/// the database file".
const PERMANENT_CODES: [&str; 6] = ["28000", "28P01", "3D000", "42501", "42000", "14"];

type TxManager<O> =
    <<<O as ConnectOptions>::Connection as Connection>::Database as Database>::TransactionManager;

/// Opens sqlx connections from connect options, for example
/// `sqlx::postgres::PgConnectOptions`.
///
/// Its `Debug` output shows only the label given to [`SqlxConnector::new`], because sqlx's
/// own options print the password.
pub struct SqlxConnector<O: ConnectOptions> {
    options: O,
    label: String,
    after_connect: Vec<String>,
}

impl<O: ConnectOptions> SqlxConnector<O> {
    /// Creates a connector. `label` names the database in `Debug` output and must not
    /// contain a password.
    pub fn new(options: O, label: impl Into<String>) -> Self {
        Self {
            options,
            label: label.into(),
            after_connect: Vec::new(),
        }
    }

    /// Adds SQL that runs on every new connection before it joins the pool, such as
    /// `PRAGMA busy_timeout = 10000` or `SET statement_timeout = '5s'`. It runs unprepared,
    /// without bind values.
    pub fn after_connect(mut self, sql: impl Into<String>) -> Self {
        self.after_connect.push(sql.into());
        self
    }

    /// Returns the label that names the database in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Returns the connect options.
    pub fn options(&self) -> &O {
        &self.options
    }
}

impl<O: ConnectOptions> fmt::Debug for SqlxConnector<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxConnector")
            .field("database", &self.label)
            .finish_non_exhaustive()
    }
}

impl<O> Connector for SqlxConnector<O>
where
    O: ConnectOptions + Send + Sync + 'static,
    O::Connection: Sized + Send + 'static,
    for<'c> &'c mut O::Connection:
        sqlx::Executor<'c, Database = <O::Connection as Connection>::Database>,
{
    type Connection = O::Connection;
    type Error = sqlx::Error;

    async fn connect(&self) -> Result<O::Connection, sqlx::Error> {
        self.options.connect().await
    }

    async fn after_connect(&self, conn: &mut O::Connection) -> Result<(), sqlx::Error> {
        for sql in &self.after_connect {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn ping(&self, conn: &mut O::Connection) -> Result<(), sqlx::Error> {
        conn.ping().await
    }

    /// Treats failed authentication, an unknown database, TLS and configuration errors as
    /// permanent, and a refused or unreachable server as permanent only before the first
    /// connection succeeded.
    fn is_permanent(&self, error: &sqlx::Error, ever_connected: bool) -> bool {
        match error {
            sqlx::Error::Database(database) => {
                let code = database.code();
                let code = code.as_deref().unwrap_or_default();
                PERMANENT_CODES.contains(&code)
            }
            sqlx::Error::Tls(_) | sqlx::Error::Configuration(_) => true,
            sqlx::Error::Io(io) => {
                !ever_connected
                    && matches!(
                        io.kind(),
                        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
                    )
            }
            _ => false,
        }
    }

    /// Rolls back any transaction or savepoint a caller left open, so the next borrower
    /// starts outside a transaction.
    async fn reset(&self, conn: &mut O::Connection) -> Result<(), sqlx::Error> {
        while TxManager::<O>::get_transaction_depth(conn) > 0 {
            tracing::debug!(
                target: "covet::pool",
                depth = TxManager::<O>::get_transaction_depth(conn),
                "rolling back a transaction left open on a returned connection"
            );
            TxManager::<O>::rollback(conn).await?;
        }
        Ok(())
    }
}
