//! Pieces shared by the sqlx-based backends: value checks, row access and error mapping.

use sea_query::{Value, Values};
use sqlx::error::DatabaseError as SqlxDatabaseError;

use crate::backend::Capabilities;
use crate::error::{DatabaseError, Error, ErrorKind, Result};

/// Rejects values this backend cannot store before they reach the driver, whose binding
/// code would otherwise panic or wrap them.
pub(crate) fn check_values(values: &Values, capabilities: &Capabilities) -> Result<()> {
    if values.0.len() > capabilities.max_bind_parameters {
        return Err(Error::InvalidInput(format!(
            "the statement has {} bind values and this backend allows at most {}; split the \
             list (for example an is_in filter) into smaller statements",
            values.0.len(),
            capabilities.max_bind_parameters
        )));
    }
    for value in &values.0 {
        let nan = match value {
            Value::Float(Some(number)) => number.is_nan(),
            Value::Double(Some(number)) => number.is_nan(),
            _ => false,
        };
        if nan && !capabilities.stores_nan {
            return Err(Error::InvalidInput(String::from(
                "NaN cannot be stored on this backend, which would turn it into NULL or reject \
                 it; store None or a number instead",
            )));
        }
        if let Value::BigUnsigned(Some(number)) = value
            && !capabilities.unsigned_64
            && i64::try_from(*number).is_err()
        {
            return Err(Error::InvalidInput(format!(
                "the u64 value {number} is above {} and this backend has no unsigned \
                 64-bit column type; store it as Decimal or String instead",
                i64::MAX
            )));
        }
    }
    Ok(())
}

/// The details a backend read from one of its database errors. A `None` field falls back
/// to the value sqlx reports.
#[derive(Debug, Default)]
pub(crate) struct Classified {
    pub(crate) kind: Option<ErrorKind>,
    pub(crate) code: Option<String>,
    pub(crate) constraint: Option<String>,
    pub(crate) table: Option<String>,
}

impl Classified {
    pub(crate) fn kind(kind: ErrorKind) -> Self {
        Self {
            kind: Some(kind),
            ..Self::default()
        }
    }
}

/// Returns the text between the first `open` after `marker` and the next `close`, used to
/// pull a constraint name out of a MySQL or SQLite message that has no separate field.
pub(crate) fn between<'a>(
    message: &'a str,
    marker: &str,
    open: char,
    close: char,
) -> Option<&'a str> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let start = rest.find(open)? + open.len_utf8();
    let end = start + rest[start..].find(close)?;
    Some(&rest[start..end])
}

/// Classifies a driver error into a covet error. `classify` reads the backend's own error
/// codes for database errors.
pub(crate) fn map_sqlx_error(
    backend: &'static str,
    error: sqlx::Error,
    classify: fn(&dyn SqlxDatabaseError) -> Classified,
) -> Error {
    match error {
        sqlx::Error::Database(database) => {
            let classified = classify(database.as_ref());
            let lost = classified.kind == Some(ErrorKind::Connection);
            let error = DatabaseError {
                kind: classified.kind.unwrap_or(ErrorKind::OtherDatabase),
                backend,
                code: classified
                    .code
                    .or_else(|| database.code().map(|code| code.into_owned())),
                constraint: classified
                    .constraint
                    .or_else(|| database.constraint().map(str::to_owned)),
                table: classified
                    .table
                    .or_else(|| database.table().map(str::to_owned)),
                message: database.message().to_owned(),
            };
            if lost {
                // The server ended the session: discard the connection like a network error.
                return Error::Connection {
                    backend,
                    target: None,
                    source: Box::new(error),
                };
            }
            Error::Database(error)
        }
        sqlx::Error::ColumnDecode { index, source } => Error::Decode {
            column: index,
            message: source.to_string(),
        },
        sqlx::Error::Decode(source) => Error::Decode {
            column: String::from("?"),
            message: source.to_string(),
        },
        sqlx::Error::ColumnNotFound(column) => Error::Decode {
            column,
            message: String::from("column not found in the result"),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => Error::Connection {
            backend,
            target: None,
            source: Box::new(error),
        },
        sqlx::Error::PoolClosed => Error::PoolClosed,
        sqlx::Error::Configuration(source) => Error::InvalidInput(source.to_string()),
        other => Error::Driver(Box::new(other)),
    }
}

/// Reads one column as `T`, naming the column in a decode error.
macro_rules! read_column {
    ($row:expr, $index:expr, $ty:ty) => {{
        use sqlx::Row as _;
        $row.try_get::<Option<$ty>, usize>($index).map_err(|error| {
            let column = sqlx::Row::columns($row)
                .get($index)
                .map(|column| sqlx::Column::name(column).to_owned())
                .unwrap_or_else(|| $index.to_string());
            match error {
                sqlx::Error::ColumnDecode { source, .. } => {
                    $crate::error::Error::decode(&column, source)
                }
                other => $crate::error::Error::decode(&column, other),
            }
        })
    }};
}
pub(crate) use read_column;

/// Implements the [`RowReader`](crate::row::RowReader) methods that every sqlx backend
/// reads the same way.
macro_rules! common_row_reader_methods {
    () => {
        fn len(&self) -> usize {
            sqlx::Row::len(self.0)
        }

        fn column_name(&self, index: usize) -> &str {
            sqlx::Row::columns(self.0)
                .get(index)
                .map(sqlx::Column::name)
                .unwrap_or("?")
        }

        fn is_null(&self, index: usize) -> $crate::error::Result<bool> {
            use sqlx::{Row as _, ValueRef as _};
            self.0
                .try_get_raw(index)
                .map(|value| value.is_null())
                .map_err(|error| $crate::error::Error::decode(&index.to_string(), error))
        }

        fn read_bool(&self, index: usize) -> $crate::error::Result<Option<bool>> {
            $crate::backend::support::read_column!(self.0, index, bool)
        }

        fn read_i16(&self, index: usize) -> $crate::error::Result<Option<i16>> {
            $crate::backend::support::read_column!(self.0, index, i16)
        }

        fn read_i32(&self, index: usize) -> $crate::error::Result<Option<i32>> {
            $crate::backend::support::read_column!(self.0, index, i32)
        }

        fn read_f32(&self, index: usize) -> $crate::error::Result<Option<f32>> {
            $crate::backend::support::read_column!(self.0, index, f32)
        }

        fn read_f64(&self, index: usize) -> $crate::error::Result<Option<f64>> {
            $crate::backend::support::read_column!(self.0, index, f64)
        }

        fn read_string(&self, index: usize) -> $crate::error::Result<Option<String>> {
            $crate::backend::support::read_column!(self.0, index, String)
        }

        fn read_bytes(&self, index: usize) -> $crate::error::Result<Option<Vec<u8>>> {
            $crate::backend::support::read_column!(self.0, index, Vec<u8>)
        }

        fn read_datetime_utc(
            &self,
            index: usize,
        ) -> $crate::error::Result<Option<chrono::DateTime<chrono::Utc>>> {
            $crate::backend::support::read_column!(self.0, index, chrono::DateTime<chrono::Utc>)
        }

        fn read_naive_datetime(
            &self,
            index: usize,
        ) -> $crate::error::Result<Option<chrono::NaiveDateTime>> {
            $crate::backend::support::read_column!(self.0, index, chrono::NaiveDateTime)
        }

        fn read_date(&self, index: usize) -> $crate::error::Result<Option<chrono::NaiveDate>> {
            $crate::backend::support::read_column!(self.0, index, chrono::NaiveDate)
        }

        fn read_uuid(&self, index: usize) -> $crate::error::Result<Option<uuid::Uuid>> {
            $crate::backend::support::read_column!(self.0, index, uuid::Uuid)
        }
    };
}
pub(crate) use common_row_reader_methods;

/// A connection borrowed from the pool, or one opened for a single owner outside it.
pub(crate) enum Held<C: covet_pool::Connector> {
    Pooled(covet_pool::Pooled<C>),
    Dedicated(C::Connection),
}

impl<C: covet_pool::Connector> Held<C> {
    /// Marks a pooled connection broken so the pool drops it. A dedicated connection closes
    /// when its owner drops it anyway.
    pub(crate) fn mark_broken(&mut self) {
        if let Held::Pooled(pooled) = self {
            pooled.mark_broken();
        }
    }
}

impl<C: covet_pool::Connector> std::ops::Deref for Held<C> {
    type Target = C::Connection;

    fn deref(&self) -> &C::Connection {
        match self {
            Held::Pooled(pooled) => pooled,
            Held::Dedicated(conn) => conn,
        }
    }
}

impl<C: covet_pool::Connector> std::ops::DerefMut for Held<C> {
    fn deref_mut(&mut self) -> &mut C::Connection {
        match self {
            Held::Pooled(pooled) => pooled,
            Held::Dedicated(conn) => conn,
        }
    }
}

/// Leaves bind values as they are, for backends that bind every type directly.
pub(crate) fn values_as_given(values: Values) -> Values {
    values
}

/// Converts an `i64` read from a signed column into the `u64` a field expects.
pub(crate) fn i64_to_u64(column: &str, value: Option<i64>) -> Result<Option<u64>> {
    value
        .map(|number| {
            u64::try_from(number).map_err(|_| {
                Error::decode(column, format!("{number} is negative and cannot be a u64"))
            })
        })
        .transpose()
}

/// Parses decimal text, keeping its scale, with a decode error on overflow.
pub(crate) fn parse_decimal(
    column: &str,
    text: Option<String>,
) -> Result<Option<rust_decimal::Decimal>> {
    text.map(|text| {
        // from_str_exact fails where parse would round away fraction digits.
        rust_decimal::Decimal::from_str_exact(text.trim()).map_err(|error| {
            Error::decode(
                column,
                format!("`{text}` does not fit rust_decimal::Decimal: {error}"),
            )
        })
    })
    .transpose()
}

/// Parses JSON text.
pub(crate) fn parse_json(column: &str, text: Option<String>) -> Result<Option<serde_json::Value>> {
    text.map(|text| serde_json::from_str(&text).map_err(|error| Error::decode(column, error)))
        .transpose()
}

/// Defines a [`BackendConnection`](crate::backend::BackendConnection) over one pooled sqlx
/// connection type. The three built-in backends differ only in the types named here.
macro_rules! sqlx_connection {
    (
        $name:ident,
        options: $options:ty,
        database: $database:ty,
        row_reader: $reader:ident,
        classify: $classify:path,
        prepare: $prepare:path,
        begin: $begin:expr,
        begin_plan: $begin_plan:path $(,)?
    ) => {
        $crate::backend::owned_row::owned_row_reader!(
            OwnedRow,
            row: <$database as sqlx::Database>::Row,
            reader: $reader,
        );

        /// A connection of this backend, pooled or dedicated.
        pub(crate) struct $name {
            conn:
                $crate::backend::support::Held<covet_pool::sqlx_connector::SqlxConnector<$options>>,
            system: &'static str,
            capabilities: $crate::backend::Capabilities,
            /// The database URL without its password, for connection errors.
            target: std::sync::Arc<str>,
            /// Set while an operation awaits the server. A connection dropped with it set
            /// was cancelled midway, its protocol state is unknown, and it is discarded.
            busy: bool,
            /// The statement that undoes a session setting of the open transaction's
            /// options once it ends. A connection dropped with it set is discarded.
            reset_after_transaction: Option<&'static str>,
        }

        impl Drop for $name {
            fn drop(&mut self) {
                if self.busy {
                    tracing::debug!(
                        target: "covet::pool",
                        "discarding a connection whose operation was cancelled midway"
                    );
                    self.conn.mark_broken();
                } else if self.reset_after_transaction.is_some() {
                    tracing::debug!(
                        target: "covet::pool",
                        "discarding a connection whose transaction settings were not reset"
                    );
                    self.conn.mark_broken();
                }
            }
        }

        impl $name {
            /// Fails when an earlier operation on this connection was cancelled midway,
            /// since the server's reply to it may still be on the way.
            fn check_usable(&mut self) -> $crate::error::Result<()> {
                if !self.busy {
                    return Ok(());
                }
                self.conn.mark_broken();
                Err($crate::error::Error::Connection {
                    backend: self.system,
                    target: Some(self.target.to_string()),
                    source: "an earlier operation on this connection was cancelled midway, so \
                             the connection is discarded; start a new transaction"
                        .into(),
                })
            }

            /// Runs the pending reset once no transaction is open. A failed reset discards
            /// the connection, so its setting cannot reach a later transaction.
            async fn reset_if_ended(&mut self) {
                use $crate::backend::BackendConnection as _;
                if self.transaction_depth() > 0 {
                    return;
                }
                let Some(sql) = self.reset_after_transaction else {
                    return;
                };
                self.busy = true;
                let outcome = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *self.conn)
                    .await;
                self.busy = false;
                if let Err(error) = outcome {
                    tracing::warn!(
                        target: "covet::query",
                        %error,
                        sql,
                        "resetting a transaction setting failed; discarding the connection"
                    );
                    self.conn.mark_broken();
                }
                self.reset_after_transaction = None;
            }

            /// Sends the statements of `plan`, recording the reset its `prepare` needs.
            async fn begin_planned(
                &mut self,
                plan: $crate::transaction_options::BeginPlan,
            ) -> std::result::Result<(), sqlx::Error> {
                use sqlx_core::transaction::TransactionManager as _;
                if let Some(prepare) = plan.prepare {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
                        .execute(&mut *self.conn)
                        .await?;
                    self.reset_after_transaction = plan.reset;
                }
                let statement = sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(plan.begin));
                <$database as sqlx::Database>::TransactionManager::begin(
                    &mut *self.conn,
                    Some(statement),
                )
                .await
            }

            fn map_error(&mut self, error: sqlx::Error) -> $crate::error::Error {
                let mut error =
                    $crate::backend::support::map_sqlx_error(self.system, error, $classify);
                if let $crate::error::Error::Connection { target, .. } = &mut error {
                    *target = Some(self.target.to_string());
                    self.conn.mark_broken();
                }
                error
            }
        }

        #[async_trait::async_trait]
        impl $crate::backend::BackendConnection for $name {
            async fn execute(
                &mut self,
                sql: std::sync::Arc<str>,
                values: sea_query::Values,
            ) -> $crate::error::Result<$crate::backend::ExecResult> {
                $crate::backend::support::check_values(&values, &self.capabilities)?;
                let values = $prepare(values);
                let query = sqlx::query_with::<$database, _>(
                    sqlx::AssertSqlSafe(sql),
                    sea_query_sqlx::SqlxValues(values),
                );
                self.check_usable()?;
                self.busy = true;
                let outcome = query.execute(&mut *self.conn).await;
                self.busy = false;
                match outcome {
                    Ok(done) => Ok($crate::backend::ExecResult {
                        rows_affected: done.rows_affected(),
                        last_insert_id: last_insert_id(&done),
                    }),
                    Err(error) => Err(self.map_error(error)),
                }
            }

            async fn execute_unprepared(
                &mut self,
                sql: std::sync::Arc<str>,
            ) -> $crate::error::Result<$crate::backend::ExecResult> {
                let query = sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
                self.check_usable()?;
                self.busy = true;
                let outcome = query.execute(&mut *self.conn).await;
                self.busy = false;
                match outcome {
                    Ok(done) => Ok($crate::backend::ExecResult {
                        rows_affected: done.rows_affected(),
                        last_insert_id: last_insert_id(&done),
                    }),
                    Err(error) => Err(self.map_error(error)),
                }
            }

            async fn fetch(
                &mut self,
                sql: std::sync::Arc<str>,
                values: sea_query::Values,
                sink: &mut $crate::backend::RowSink<'_>,
            ) -> $crate::error::Result<u64> {
                use futures_util::TryStreamExt as _;

                $crate::backend::support::check_values(&values, &self.capabilities)?;
                let values = $prepare(values);
                let query = sqlx::query_with::<$database, _>(
                    sqlx::AssertSqlSafe(sql),
                    sea_query_sqlx::SqlxValues(values),
                );
                let mut rows = 0u64;
                let mut sink_error = None;
                self.check_usable()?;
                self.busy = true;
                let outcome = {
                    let mut stream = query.fetch(&mut *self.conn);
                    loop {
                        match stream.try_next().await {
                            Ok(Some(row)) => {
                                rows += 1;
                                if let Err(error) = sink(&$reader(&row)) {
                                    sink_error = Some(error);
                                    break Ok(());
                                }
                            }
                            Ok(None) => break Ok(()),
                            Err(error) => break Err(error),
                        }
                    }
                };
                self.busy = false;
                if let Err(error) = outcome {
                    return Err(self.map_error(error));
                }
                match sink_error {
                    Some(error) => Err(error),
                    None => Ok(rows),
                }
            }

            fn fetch_stream<'a>(
                &'a mut self,
                sql: std::sync::Arc<str>,
                values: sea_query::Values,
            ) -> $crate::backend::RowStream<'a> {
                Box::pin(async_stream::stream! {
                    use futures_util::TryStreamExt as _;

                    let checked = $crate::backend::support::check_values(&values, &self.capabilities)
                        .and_then(|()| self.check_usable());
                    if let Err(error) = checked {
                        yield Err(error);
                        return;
                    }
                    let query = sqlx::query_with::<$database, _>(
                        sqlx::AssertSqlSafe(sql),
                        sea_query_sqlx::SqlxValues($prepare(values)),
                    );
                    let mut failure = None;
                    self.busy = true;
                    {
                        let mut rows = query.fetch(&mut *self.conn);
                        loop {
                            match rows.try_next().await {
                                Ok(Some(row)) => {
                                    // With a whole row received, the driver can resume: it
                                    // reads and drops the rest of the result before the
                                    // next statement if this stream is dropped here.
                                    self.busy = false;
                                    let row: Box<dyn $crate::row::RowReader + Send> =
                                        Box::new(OwnedRow(row));
                                    yield Ok(row);
                                    self.busy = true;
                                }
                                Ok(None) => break,
                                Err(error) => {
                                    failure = Some(error);
                                    break;
                                }
                            }
                        }
                    }
                    self.busy = false;
                    if let Some(error) = failure {
                        yield Err(self.map_error(error));
                    }
                })
            }

            fn discard(&mut self) {
                self.conn.mark_broken();
            }

            async fn begin(&mut self) -> $crate::error::Result<()> {
                use sqlx_core::transaction::TransactionManager as _;
                let begin: Option<&'static str> = $begin;
                // A custom statement starts only the outermost level; savepoints keep theirs.
                let statement = begin
                    .filter(|_| self.transaction_depth() == 0)
                    .map(sqlx::SqlSafeStr::into_sql_str);
                self.check_usable()?;
                self.busy = true;
                let result = <$database as sqlx::Database>::TransactionManager::begin(
                    &mut *self.conn,
                    statement,
                )
                .await;
                self.busy = false;
                result.map_err(|error| self.map_error(error))
            }

            async fn begin_with(&mut self, statement: &'static str) -> $crate::error::Result<()> {
                use sqlx_core::transaction::TransactionManager as _;
                let statement = sqlx::SqlSafeStr::into_sql_str(statement);
                self.check_usable()?;
                self.busy = true;
                let result = <$database as sqlx::Database>::TransactionManager::begin(
                    &mut *self.conn,
                    Some(statement),
                )
                .await;
                self.busy = false;
                result.map_err(|error| self.map_error(error))
            }

            async fn begin_with_options(
                &mut self,
                options: &$crate::transaction_options::TransactionOptions,
            ) -> $crate::error::Result<()> {
                if *options == $crate::transaction_options::TransactionOptions::default() {
                    return self.begin().await;
                }
                if self.transaction_depth() > 0 {
                    return Err($crate::error::Error::InvalidInput(String::from(
                        "transaction options apply to a new transaction only, and one is \
                         already open on this connection; begin a savepoint without options",
                    )));
                }
                let plan = $begin_plan(options);
                // A setting that has no reset statement (MySQL's SET TRANSACTION) waits for
                // the next transaction, so a failed BEGIN must not return the connection.
                let discard_on_failure = plan.prepare.is_some() && plan.reset.is_none();
                self.check_usable()?;
                self.busy = true;
                let result = self.begin_planned(plan).await;
                self.busy = false;
                let Err(error) = result else {
                    return Ok(());
                };
                let error = self.map_error(error);
                if discard_on_failure {
                    self.conn.mark_broken();
                }
                self.reset_if_ended().await;
                Err(error)
            }

            async fn commit(&mut self) -> $crate::error::Result<()> {
                use sqlx_core::transaction::TransactionManager as _;
                self.check_usable()?;
                self.busy = true;
                let result =
                    <$database as sqlx::Database>::TransactionManager::commit(&mut *self.conn)
                        .await;
                self.busy = false;
                let result = result.map_err(|error| self.map_error(error));
                self.reset_if_ended().await;
                result
            }

            async fn rollback(&mut self) -> $crate::error::Result<()> {
                use sqlx_core::transaction::TransactionManager as _;
                self.check_usable()?;
                self.busy = true;
                let result =
                    <$database as sqlx::Database>::TransactionManager::rollback(&mut *self.conn)
                        .await;
                self.busy = false;
                let result = result.map_err(|error| self.map_error(error));
                self.reset_if_ended().await;
                result
            }

            fn start_rollback(&mut self) {
                use sqlx_core::transaction::TransactionManager as _;
                <$database as sqlx::Database>::TransactionManager::start_rollback(&mut *self.conn);
            }

            async fn flush(&mut self) -> $crate::error::Result<()> {
                self.check_usable()?;
                self.busy = true;
                let result = sqlx::Connection::ping(&mut *self.conn).await;
                self.busy = false;
                let result = result.map_err(|error| self.map_error(error));
                self.reset_if_ended().await;
                result
            }

            fn transaction_depth(&self) -> usize {
                use sqlx_core::transaction::TransactionManager as _;
                <$database as sqlx::Database>::TransactionManager::get_transaction_depth(
                    &*self.conn,
                )
            }
        }
    };
}
pub(crate) use sqlx_connection;

/// Defines `acquire_pooled` and `open_dedicated` for a backend struct with `pool` and
/// `target` fields and a `connection` constructor, so that its `Backend` methods are one
/// line each. (`async_trait` cannot see `async fn`s that a macro writes inside its impl.)
macro_rules! pooled_backend_methods {
    ($backend:ident, system: $system:expr $(,)?) => {
        impl $backend {
            async fn acquire_pooled(
                &self,
            ) -> $crate::error::Result<Box<dyn $crate::backend::BackendConnection>> {
                let conn = self.pool.acquire().await.map_err(|error| {
                    let target = self.pool.connector().label();
                    crate::database::map_pool_error($system(self), target, error, classify)
                })?;
                Ok(Box::new(
                    self.connection($crate::backend::support::Held::Pooled(conn)),
                ))
            }

            async fn open_dedicated(
                &self,
            ) -> $crate::error::Result<Box<dyn $crate::backend::BackendConnection>> {
                if self.pool.is_closed() {
                    return Err($crate::error::Error::PoolClosed);
                }
                let conn = covet_pool::Connector::connect(self.pool.connector())
                    .await
                    .map_err(|error| {
                        let error = covet_pool::PoolError::Connect(error);
                        let target = &self.target;
                        crate::database::map_pool_error($system(self), target, error, classify)
                    })?;
                Ok(Box::new(self.connection(
                    $crate::backend::support::Held::Dedicated(conn),
                )))
            }
        }
    };
}
pub(crate) use pooled_backend_methods;
