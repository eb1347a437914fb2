//! A [`Connector`] for sqlx connections of any backend.

use std::fmt;

use sqlx::{ConnectOptions, Connection, Database};
use sqlx_core::transaction::TransactionManager;

use crate::connector::Connector;

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
}

impl<O: ConnectOptions> SqlxConnector<O> {
    /// Creates a connector. `label` names the database in `Debug` output and must not
    /// contain a password.
    pub fn new(options: O, label: impl Into<String>) -> Self {
        Self {
            options,
            label: label.into(),
        }
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
{
    type Connection = O::Connection;
    type Error = sqlx::Error;

    async fn connect(&self) -> Result<O::Connection, sqlx::Error> {
        self.options.connect().await
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
