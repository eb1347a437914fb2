//! Raw SQL with bind values: the escape hatch for what the builders do not cover.

use sea_query::{Value, Values};

use crate::backend::{ExecResult, Statement};
use crate::error::Result;
use crate::executor::Executor;
use crate::model::Model;
use crate::row::RowReader;
use crate::value::Field;

/// A raw SQL statement with its bind values, created by [`raw`].
///
/// Placeholders follow the backend: `$1, $2, ...` on PostgreSQL and `?` on MySQL and
/// SQLite. Values are bound, never written into the SQL text.
#[derive(Clone, Debug)]
pub struct Raw {
    sql: String,
    values: Vec<Value>,
}

/// Starts a raw SQL statement.
///
/// ```no_run
/// # async fn demo(db: covet::Database) -> covet::Result<()> {
/// let done = covet::raw("UPDATE users SET active = ? WHERE id = ?")
///     .bind(false)
///     .bind(42_i64)
///     .execute(&db)
///     .await?;
/// # Ok(()) }
/// ```
pub fn raw(sql: impl Into<String>) -> Raw {
    Raw {
        sql: sql.into(),
        values: Vec::new(),
    }
}

impl Raw {
    /// Binds the next placeholder to `value`. `None` binds NULL.
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    fn statement(self) -> Statement {
        let operation = operation_name(&self.sql);
        Statement::new(self.sql, Values(self.values), operation)
    }

    /// Runs the statement and returns what it did.
    ///
    /// # Errors
    ///
    /// The database's error, and connection and pool errors.
    pub async fn execute<E: Executor + ?Sized>(self, db: &E) -> Result<ExecResult> {
        db.execute(self.statement()).await
    }

    /// Runs the statement without preparing it, for SQL that cannot be prepared. Bind
    /// values are not allowed here.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when values were bound, the
    /// database's error, and connection and pool errors.
    pub async fn execute_unprepared<E: Executor + ?Sized>(self, db: &E) -> Result<ExecResult> {
        if !self.values.is_empty() {
            return Err(crate::Error::InvalidInput(format!(
                "execute_unprepared cannot bind values, but {} were bound; use execute()",
                self.values.len()
            )));
        }
        db.execute_unprepared(self.statement()).await
    }

    /// Runs a query and decodes each row as model `M`, whose columns must come in
    /// [`Model::COLUMNS`] order.
    ///
    /// # Errors
    ///
    /// Decode errors, the database's error, and connection and pool errors.
    pub async fn fetch_all<M: Model, E: Executor + ?Sized>(self, db: &E) -> Result<Vec<M>> {
        let mut rows = Vec::new();
        db.fetch(self.statement(), &mut |row| {
            rows.push(M::decode(row, 0)?);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Runs a query and returns the first column of the first row, or `None` when there
    /// is no row.
    ///
    /// # Errors
    ///
    /// Decode errors, the database's error, and connection and pool errors.
    pub async fn fetch_scalar<T: Field, E: Executor + ?Sized>(self, db: &E) -> Result<Option<T>> {
        let mut value = None;
        db.fetch(self.statement(), &mut |row| {
            if value.is_none() {
                value = Some(T::decode(row, 0)?);
            }
            Ok(())
        })
        .await?;
        Ok(value)
    }

    /// Runs a query and passes each row to `visit`, returning the number of rows.
    ///
    /// # Errors
    ///
    /// The first error `visit` returns, the database's error, and connection and pool
    /// errors.
    pub async fn fetch_with<E, F>(self, db: &E, mut visit: F) -> Result<u64>
    where
        E: Executor + ?Sized,
        F: FnMut(&dyn RowReader) -> Result<()> + Send,
    {
        db.fetch(self.statement(), &mut visit).await
    }
}

/// Returns the statement's leading keyword for `db.operation.name`.
fn operation_name(sql: &str) -> &'static str {
    let keyword = sql.split_whitespace().next().unwrap_or_default();
    const KNOWN: [&str; 12] = [
        "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "WITH", "SET", "PRAGMA",
        "TRUNCATE", "CALL",
    ];
    KNOWN
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(keyword))
        .unwrap_or("RAW")
}
